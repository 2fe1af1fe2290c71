module github.com/netresilience/resilience

go 1.25

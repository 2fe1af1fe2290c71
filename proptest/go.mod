module github.com/netresilience/resilience/proptest

go 1.25

require (
	github.com/netresilience/resilience v0.0.0
	pgregory.net/rapid v1.3.0
)

replace github.com/netresilience/resilience => ../

module github.com/netresilience/resilience/browsertest

go 1.25

require (
	github.com/chromedp/chromedp v0.23.1
	github.com/netresilience/resilience v0.0.0-00010101000000-000000000000
)

require (
	github.com/chromedp/cdproto v0.160.1 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
)

replace github.com/netresilience/resilience => ../

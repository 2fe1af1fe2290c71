package sim_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/netresilience/resilience/sim"
)

func dur(d time.Duration) sim.Duration { return sim.Duration(d) }

// outage is a scenario of a 20s outage of an upstream that two clients
// call 100 times a second, with two policies: a production
// configuration of retries with a budget and a circuit breaker, and
// retries alone.
func outage() *sim.Scenario {
	return &sim.Scenario{
		Name:     "outage",
		Duration: dur(time.Minute),
		Upstream: sim.Upstream{
			Latency: sim.Latency{Median: dur(20 * time.Millisecond), P99: dur(80 * time.Millisecond)},
			Windows: []sim.Window{{Name: "down", From: dur(20 * time.Second), To: dur(40 * time.Second), Down: true}},
		},
		Load: sim.Load{Rate: 100, Clients: 2, Deadline: dur(5 * time.Second)},
		Policies: []sim.Policy{
			{
				Name:    "retry+budget+breaker",
				Retry:   &sim.RetryConfig{MaxAttempts: 3},
				Budget:  &sim.BudgetConfig{Ratio: 0.1},
				Breaker: &sim.BreakerConfig{FailureThreshold: 5, RecoveryTimeout: dur(2 * time.Second)},
			},
			{Name: "retry", Retry: &sim.RetryConfig{MaxAttempts: 3}},
		},
	}
}

// Run a scenario and read, for each policy, what it did to the upstream
// while it was down and how soon its clients saw it back.
func ExampleRun() {
	res, err := sim.Run(outage())
	if err != nil {
		panic(err)
	}
	for _, p := range res.Policies {
		fmt.Printf("%s: ×%.2f upstream calls per request during the outage, recovered %v after it\n",
			p.Name, p.TroubleAmplification, p.Recovery)
	}
	// Output:
	// retry+budget+breaker: ×0.01 upstream calls per request during the outage, recovered 1s after it
	// retry: ×2.99 upstream calls per request during the outage, recovered 0s after it
}

func ExampleResult_Policy() {
	res, err := sim.Run(outage())
	if err != nil {
		panic(err)
	}
	p := res.Policy("retry")
	fmt.Printf("%d requests, %d upstream calls, %.1f%% succeeded\n", p.Requests, p.Calls, 100*p.SuccessRatio)
	fmt.Println(res.Policy("no such policy") == nil)
	// Output:
	// 5981 requests, 9846 upstream calls, 67.9% succeeded
	// true
}

// The time series of a result: the success ratio second by second around
// the end of the outage, at 40s, through a breaker that probes every 2s.
func ExamplePoint_Ratio() {
	res, err := sim.Run(outage())
	if err != nil {
		panic(err)
	}
	p := res.Policy("retry+budget+breaker")
	for i := 38; i < 44; i++ {
		ratio, ok := p.Series[i].Ratio()
		fmt.Printf("%v: %.2f %v\n", time.Duration(i)*res.Bucket, ratio, ok)
	}
	// Output:
	// 38s: 0.00 true
	// 39s: 0.00 true
	// 40s: 0.75 true
	// 41s: 1.00 true
	// 42s: 1.00 true
	// 43s: 1.00 true
}

func ExampleParse() {
	const file = `{
		"Name": "brown-out",
		"Duration": "1m",
		"Upstream": {"Windows": [{"From": "20s", "To": "40s", "ErrorRate": 0.3}]},
		"Load": {"Rate": 100},
		"Policies": [
			{"Name": "no retry"},
			{"Name": "retry", "Retry": {"MaxAttempts": 3, "Backoff": {"Base": "50ms", "Jitter": "full"}}}
		]
	}`
	scenarios, err := sim.Parse(strings.NewReader(file))
	if err != nil {
		panic(err)
	}
	res, err := sim.Run(scenarios[0])
	if err != nil {
		panic(err)
	}
	for _, p := range res.Policies {
		fmt.Printf("%s: %.1f%% succeeded\n", p.Name, 100*p.SuccessRatio)
	}
	// Output:
	// no retry: 89.9% succeeded
	// retry: 99.1% succeeded
}

// Check names the field that makes no sense, before anything runs; Parse
// and Run check the same.
func ExampleScenario_Check() {
	s := outage()
	s.Upstream.Windows[0].To = s.Upstream.Windows[0].From
	fmt.Println(s.Check())
	s = outage()
	s.Policies[0].Breaker.FailureRate = 2
	fmt.Println(s.Check())
	// Output:
	// sim: scenario outage: Upstream.Windows[0]: From must be at least 0 and To after it
	// sim: scenario outage: Policies[0] (retry+budget+breaker): breaker: FailureRate must be in (0, 1], or 0 for off; not 2
}

func ExampleBuiltins() {
	for _, s := range sim.Builtins() {
		fmt.Printf("%s: %v at %v requests/s, %d policies\n", s.Name, time.Duration(s.Duration), s.Load.Rate, len(s.Policies))
	}
	// Output:
	// outage: 10m0s at 1000 requests/s, 5 policies
	// retry-throttling: 5m0s at 1000 requests/s, 4 policies
	// brownout: 5m0s at 500 requests/s, 5 policies
	// overload: 5m0s at 1000 requests/s, 8 policies
	// capacity-change: 3m0s at 1000 requests/s, 7 policies
	// latency-tail: 2m0s at 500 requests/s, 5 policies
	// herd: 20s at 20 requests/s, 3 policies
	// fleet-outage: 3m0s at 100 requests/s, 2 policies
	// fleet-trickle: 3m0s at 25 requests/s, 2 policies
}

// Start from a built-in scenario and compare a policy of one's own with
// its.
func ExampleBuiltin() {
	s, ok := sim.Builtin("herd")
	if !ok {
		panic("no herd")
	}
	s.Policies = append(s.Policies[2:], sim.Policy{
		Name:  "full jitter, 5 attempts",
		Retry: &sim.RetryConfig{MaxAttempts: 5, Backoff: s.Policies[2].Retry.Backoff},
	})
	res, err := sim.Run(s)
	if err != nil {
		panic(err)
	}
	for _, p := range res.Policies {
		fmt.Printf("%s: %d upstream calls, %.1f%% succeeded\n", p.Name, p.Calls, 100*p.SuccessRatio)
	}
	// Output:
	// full jitter: 7921 upstream calls, 100.0% succeeded
	// full jitter, 5 attempts: 7808 upstream calls, 96.9% succeeded
}

func ExampleWriteText() {
	res, err := sim.Run(outage())
	if err != nil {
		panic(err)
	}
	if err := sim.WriteText(os.Stdout, res); err != nil {
		panic(err)
	}
	// Output:
	// == outage
	//    1m of load · 100 req/s · 2 clients · deadline 5s · trouble: down 20s–40s (down)
	//   policy                requests  calls   ampl  success     p50     p99  p99.9  recov  peak/1s
	//   retry+budget+breaker     5,981  4,050  ×0.68    67.2%  19.9ms  82.1ms  135ms     1s      126
	//   retry                    5,981  9,846  ×1.65    67.9%  19.9ms  85.2ms  258ms     0s      360
	//    calls: upstream calls; ampl: calls per request; p50, p99, p99.9: latency of successful requests;
	//    recov: time to recover after the heal; peak/1s: the most calls started in one 1s bucket
	//    failed requests, by reason:
	//     retry+budget+breaker  open 1,960
	//     retry                 errors 1,920
}

// A Report takes results one at a time and writes one page.
func ExampleReport() {
	var report sim.Report
	for _, s := range []*sim.Scenario{outage()} {
		res, err := sim.Run(s)
		if err != nil {
			panic(err)
		}
		report.Add(res)
	}
	var page bytes.Buffer
	if _, err := report.WriteTo(&page); err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(page.String(), "<!DOCTYPE html>"), strings.Count(page.String(), `<svg class="chart"`), "charts")
	// Output:
	// true 3 charts
}

package sim

import (
	"slices"
	"time"
)

func dur(d time.Duration) Duration { return Duration(d) }

// Policy sections of the built-in scenarios, made afresh for each use.
func retry3() *RetryConfig      { return &RetryConfig{MaxAttempts: 3} }
func someBudget() *BudgetConfig { return &BudgetConfig{} }
func breaker5() *BreakerConfig  { return &BreakerConfig{} }
func breakerRate() *BreakerConfig {
	return &BreakerConfig{Window: dur(10 * time.Second), FailureRate: 0.5, FailureThreshold: 1 << 20}
}
func fullJitter() *BackoffConfig {
	return &BackoffConfig{Base: dur(100 * time.Millisecond), Max: dur(time.Second), Jitter: "full"}
}
func noJitter() *BackoffConfig {
	return &BackoffConfig{Base: dur(100 * time.Millisecond), Max: dur(time.Second), Jitter: "none"}
}
func equalJitter() *BackoffConfig {
	return &BackoffConfig{Base: dur(100 * time.Millisecond), Max: dur(time.Second), Jitter: "equal"}
}
func someThrottle() *ThrottleConfig { return &ThrottleConfig{} }
func gradient() *AdaptiveConfig     { return &AdaptiveConfig{Algorithm: "gradient"} }

// fleetBreaker is the breaker of the fleet-outage scenario: 50% failures
// over 10s (with the default 10 calls at least), failures in a row off.
func fleetBreaker() *BreakerConfig {
	return &BreakerConfig{Window: dur(10 * time.Second), FailureRate: 0.5, FailureThreshold: -1,
		RecoveryTimeout: dur(10 * time.Second)}
}

// builtins are the scenarios of the default suite, in the order it runs
// them. Each call returns fresh values, so a caller may change them.
func builtins() []*Scenario {
	return []*Scenario{
		{
			Name: "outage",
			Description: "The upstream goes down completely for 2m45s (connections refused) and comes back. " +
				"Retries alone triple the load on a service that is down; a budget holds the extra to a tenth; " +
				"a breaker stops nearly every call and probes for the recovery, which the clients see late: " +
				"the longer its recovery timeout, the later.",
			Duration: dur(10 * time.Minute),
			Upstream: Upstream{
				Latency:  Latency{Median: dur(20 * time.Millisecond), P99: dur(80 * time.Millisecond)},
				Capacity: 200,
				Windows:  []Window{{Name: "outage", From: dur(2 * time.Minute), To: dur(4*time.Minute + 45*time.Second), Down: true}},
			},
			Load: Load{Rate: 1000, Clients: 5, Deadline: dur(10 * time.Second)},
			Policies: []Policy{
				{Name: "no retry"},
				{Name: "retry", Retry: retry3()},
				{Name: "retry+budget", Retry: retry3(), Budget: someBudget()},
				{Name: "retry+breaker", Retry: retry3(), Breaker: breaker5()},
				{Name: "retry+breaker(5s)", Retry: retry3(), Breaker: &BreakerConfig{RecoveryTimeout: dur(5 * time.Second)}},
			},
		},
		{
			Name: "retry-throttling",
			Description: "The upstream fails 5% of calls, and for a minute it is down. Every client retries up to three times: " +
				"without a limit, or with a 10% retry budget, or with gRFC A6 retry throttling (gRPC's token bucket: 10 tokens, " +
				"0.1 back per success). During the outage the token bucket lets almost no retry through, the budget a tenth " +
				"more calls, no limit three times the load. After it the token bucket must earn back half its tokens " +
				"through successes before it allows a retry, and the ordinary failures it does not retry meanwhile are lost.",
			Duration: dur(5 * time.Minute),
			Upstream: Upstream{
				Latency:   Latency{Median: dur(20 * time.Millisecond), P99: dur(80 * time.Millisecond)},
				ErrorRate: 0.05,
				Capacity:  200,
				Windows:   []Window{{Name: "outage", From: dur(time.Minute), To: dur(2 * time.Minute), Down: true}},
			},
			Load: Load{Rate: 1000, Clients: 20, Deadline: dur(10 * time.Second)},
			Policies: []Policy{
				{Name: "no retry"},
				{Name: "retry", Retry: retry3()},
				{Name: "retry+budget", Retry: retry3(), Budget: someBudget()},
				{Name: "retry+tokens", Retry: retry3(), Tokens: &TokensConfig{}},
			},
		},
		{
			Name: "brownout",
			Description: "For two minutes 30% of calls fail. Retries win back nearly every failed request for about 40% more calls " +
				"while it lasts; a budget caps the extra calls at a tenth and so wins back fewer. A breaker that opens on five " +
				"failures in a row trips again and again and fails requests that retries would have saved; one that opens " +
				"at a 50% failure rate stays closed.",
			Duration: dur(5 * time.Minute),
			Upstream: Upstream{
				Latency:  Latency{Median: dur(30 * time.Millisecond), P99: dur(120 * time.Millisecond)},
				Capacity: 200,
				Windows:  []Window{{Name: "brown-out", From: dur(time.Minute), To: dur(3 * time.Minute), ErrorRate: 0.3}},
			},
			Load: Load{Rate: 500, Clients: 10, Deadline: dur(5 * time.Second)},
			Policies: []Policy{
				{Name: "no retry"},
				{Name: "retry", Retry: retry3()},
				{Name: "retry+budget", Retry: retry3(), Budget: someBudget()},
				{Name: "retry+breaker(5 in a row)", Retry: retry3(), Breaker: breaker5()},
				{Name: "retry+breaker(50% of 10s)", Retry: retry3(), Breaker: breakerRate()},
			},
		},
		{
			Name: "overload",
			Description: "The upstream serves about 1,100 calls a second and gets 1,000; for two minutes its calls are 30% slower, " +
				"so it serves fewer than it gets: calls wait in line, and it refuses those that would wait too long. " +
				"Retries pile more calls onto it and win back little; a budget keeps the extra load small; client-side " +
				"throttling, which lets through up to twice what the upstream accepts, lies in between, and goes on " +
				"refusing calls after the upstream has recovered, until the overload leaves its two-minute window. " +
				"Without retries, the throttle refuses nothing; a bulkhead of 20 calls per client (200 for the ten) " +
				"keeps the line in the upstream a little shorter, one of 3 (30) wastes half its capacity, and the " +
				"latency gradient keeps it busy with a shorter line still.",
			Duration: dur(5 * time.Minute),
			Upstream: Upstream{
				Latency:       Latency{Median: dur(50 * time.Millisecond), P99: dur(150 * time.Millisecond)},
				Capacity:      60, // about 1,100 calls/s
				MaxQueueDelay: dur(250 * time.Millisecond),
				Windows:       []Window{{Name: "slow spell", From: dur(time.Minute), To: dur(3 * time.Minute), LatencyFactor: 1.3}},
			},
			Load: Load{Rate: 1000, Clients: 10, Deadline: dur(5 * time.Second)},
			Policies: []Policy{
				{Name: "no retry"},
				{Name: "retry", Retry: &RetryConfig{MaxAttempts: 5}},
				{Name: "retry+budget", Retry: &RetryConfig{MaxAttempts: 5}, Budget: someBudget()},
				{Name: "retry+throttle", Retry: &RetryConfig{MaxAttempts: 5}, Throttle: someThrottle()},
				{Name: "throttle", Throttle: someThrottle()},
				{Name: "bulkhead 20 (too high)", Bulkhead: &BulkheadConfig{MaxConcurrent: 20}},
				{Name: "bulkhead 3 (too low)", Bulkhead: &BulkheadConfig{MaxConcurrent: 3}},
				{Name: "gradient", Adaptive: gradient()},
			},
		},
		{
			Name: "capacity-change",
			Description: "One client sends 1,000 requests a second to an upstream that serves about 720 (40 calls at once); " +
				"for a minute it loses half its capacity, then recovers. Without a limit, calls wait in its line until it " +
				"refuses them, and those it serves take 300ms and more. A bulkhead of 80 calls keeps that line shorter; " +
				"one of 20 wastes half the capacity, except while it is halved. The throttle, which lets through up to " +
				"twice what the upstream accepts, refuses nothing here. AIMD, counting calls slower than 200ms as drops, " +
				"and the latency gradient follow the capacity down and back up, and keep the upstream busy with a short " +
				"line; with 50 samples per baseline probe instead of 10, the gradient does no better.",
			Duration: dur(3 * time.Minute),
			Upstream: Upstream{
				Latency:       Latency{Median: dur(50 * time.Millisecond), P99: dur(150 * time.Millisecond)},
				Capacity:      40, // about 720 calls/s
				MaxQueueDelay: dur(250 * time.Millisecond),
				Windows:       []Window{{Name: "half capacity", From: dur(time.Minute), To: dur(2 * time.Minute), CapacityFactor: 0.5}},
			},
			Load: Load{Rate: 1000, Clients: 1, Deadline: dur(5 * time.Second)},
			Policies: []Policy{
				{Name: "no limit"},
				{Name: "bulkhead 80 (too high)", Bulkhead: &BulkheadConfig{MaxConcurrent: 80}},
				{Name: "bulkhead 20 (too low)", Bulkhead: &BulkheadConfig{MaxConcurrent: 20}},
				{Name: "throttle", Throttle: someThrottle()},
				{Name: "aimd, timeout 200ms", Adaptive: &AdaptiveConfig{AIMD: AIMDConfig{Timeout: dur(200 * time.Millisecond)}}},
				{Name: "gradient", Adaptive: gradient()},
				{Name: "gradient, 50 samples", Adaptive: &AdaptiveConfig{Algorithm: "gradient", Gradient: GradientConfig{MinSamples: 50}}},
			},
		},
		{
			Name: "latency-tail",
			Description: "One call in fifty takes about a second instead of 20ms. A hedge sent after the 95th percentile " +
				"cuts the tail for a few percent more calls; a per-attempt timeout with retries cuts it too, " +
				"but waits for the timeout first. Hedging after the 80th percentile asks for more hedges than a " +
				"10% budget allows, and the part of the tail it refuses comes back.",
			Duration: dur(2 * time.Minute),
			Upstream: Upstream{
				Latency: Latency{Median: dur(20 * time.Millisecond), P99: dur(60 * time.Millisecond), TailProbability: 0.02, Tail: dur(time.Second)},
			},
			Load: Load{Rate: 500, Clients: 10, Deadline: dur(5 * time.Second)},
			Policies: []Policy{
				{Name: "plain"},
				{Name: "timeout 200ms+retry", Retry: retry3(), Timeout: dur(200 * time.Millisecond)},
				{Name: "hedge p95", Hedge: &HedgeConfig{}},
				{Name: "hedge p80", Hedge: &HedgeConfig{Percentile: 0.8}},
				{Name: "hedge p80+budget", Retry: retry3(), Budget: someBudget(), Hedge: &HedgeConfig{Percentile: 0.8, UseBudget: true}},
			},
		},
		{
			Name: "herd",
			Description: "A blip drops the connections of 2,000 clients, which all send their request again at the same instant. " +
				"Without jitter their retries collide in lockstep waves and most of them are refused again; " +
				"jitter spreads them out, so fewer calls do the same work.",
			Duration:   dur(20 * time.Second),
			Resolution: dur(100 * time.Millisecond),
			Upstream: Upstream{
				Latency:       Latency{Median: dur(20 * time.Millisecond), P99: dur(40 * time.Millisecond)},
				Capacity:      50, // about 2,500 calls/s
				MaxQueueDelay: dur(50 * time.Millisecond),
			},
			Load: Load{Rate: 20, Clients: 2000, Deadline: dur(10 * time.Second),
				Bursts: []Burst{{At: dur(5 * time.Second), Requests: 2000}}},
			Policies: []Policy{
				{Name: "no jitter", Retry: &RetryConfig{MaxAttempts: 15, Backoff: noJitter()}},
				{Name: "equal jitter", Retry: &RetryConfig{MaxAttempts: 15, Backoff: equalJitter()}},
				{Name: "full jitter", Retry: &RetryConfig{MaxAttempts: 15, Backoff: fullJitter()}},
			},
		},
		{
			Name: "fleet-outage",
			Description: "50 replicas share 100 requests a second, 2 each, and the upstream is down for a minute. Every " +
				"replica's breaker opens at 50% failures over 10s: alone, each sees the rate at its own time, over half a " +
				"second; as one fleet breaker (synced every second) the first to open opens all 50 a round trip later. " +
				"Then the local breakers each probe every 10s, 50 probes a round, where the fleet sends one.",
			Duration:   dur(3 * time.Minute),
			Resolution: dur(100 * time.Millisecond),
			Upstream: Upstream{
				Latency: Latency{Median: dur(20 * time.Millisecond), P99: dur(80 * time.Millisecond)},
				Windows: []Window{{Name: "outage", From: dur(time.Minute), To: dur(2 * time.Minute), Down: true}},
			},
			Load: Load{Rate: 100, Clients: 50, Deadline: dur(10 * time.Second)},
			Policies: []Policy{
				{Name: "local breakers", Breaker: fleetBreaker()},
				{Name: "fleet breaker", Breaker: fleetBreaker(), Fleet: &FleetConfig{}},
			},
		},
		{
			Name: "fleet-trickle",
			Description: "The fleet-outage scenario with a trickle of traffic: 50 replicas share 25 requests a second, half a " +
				"request each. A replica's window of 10s holds about 5 calls, fewer than the 10 its breaker needs to judge " +
				"a rate, so no replica's own breaker ever opens and the whole outage reaches the upstream. The fleet " +
				"breaker judges the sum, 250 calls a window, and opens all 50 replicas within seconds.",
			Duration:   dur(3 * time.Minute),
			Resolution: dur(100 * time.Millisecond),
			Upstream: Upstream{
				Latency: Latency{Median: dur(20 * time.Millisecond), P99: dur(80 * time.Millisecond)},
				Windows: []Window{{Name: "outage", From: dur(time.Minute), To: dur(2 * time.Minute), Down: true}},
			},
			Load: Load{Rate: 25, Clients: 50, Deadline: dur(10 * time.Second)},
			Policies: []Policy{
				{Name: "local breakers", Breaker: fleetBreaker()},
				{Name: "fleet breaker", Breaker: fleetBreaker(), Fleet: &FleetConfig{}},
			},
		},
	}
}

// Builtins returns the built-in scenarios, in the order of the default
// suite. Each call returns fresh values.
func Builtins() []*Scenario { return builtins() }

// Builtin returns the built-in scenario with the given name.
func Builtin(name string) (*Scenario, bool) {
	all := builtins()
	i := slices.IndexFunc(all, func(s *Scenario) bool { return s.Name == name })
	if i < 0 {
		return nil, false
	}
	return all[i], true
}

package sim

import "time"

// Result is what one run of a scenario measured, for every policy.
type Result struct {
	Scenario *Scenario
	// Bucket is the width of each point of the time series.
	Bucket time.Duration
	// Healed is when the last trouble window of the upstream ended, and
	// HasHeal whether there was one: time to recover counts from it.
	Healed  time.Duration
	HasHeal bool
	// Offered is the client requests that arrived in each bucket; the same
	// for every policy.
	Offered  []int
	Policies []PolicyResult
}

// PolicyResult is what one policy configuration did in a scenario.
type PolicyResult struct {
	Name string

	Requests  int // client requests
	Succeeded int // client requests that got a success
	Calls     int // calls sent to the upstream: hedges and refused calls included

	// Failures counts failed requests by why they ended.
	Failures Failures

	// Amplification is Calls / Requests.
	Amplification float64
	// SuccessRatio is Succeeded / Requests.
	SuccessRatio float64
	// P50, P99 and P999 are percentiles of the latency of successful
	// requests, from arrival to answer, retries included (to within 1%).
	P50, P99, P999 time.Duration
	// Recovery is how long after the upstream healed the clients' success
	// ratio got back to 95% of what it was before the trouble and stayed
	// there for five buckets; Recovered is false if it never did, and
	// Recovery is then meaningless. Both are unset without a trouble window.
	Recovery  time.Duration
	Recovered bool
	// PeakLoad is the most upstream calls per second in one bucket.
	PeakLoad float64
	// PeakInFlight is the most calls the upstream held at once.
	PeakInFlight int

	// HasBreaker is whether the policy has a circuit breaker, and so
	// whether Open and HalfOpen mean anything.
	HasBreaker bool

	// Series holds one point per bucket.
	Series []Point
}

// Failures counts failed requests by the reason they ended.
type Failures struct {
	Exhausted    int // retries ran out on upstream errors (or there were none)
	Deadline     int // the client's deadline passed
	BreakerOpen  int // the breaker refused the last attempt
	Throttled    int // the throttle refused the last attempt
	Budget       int // the retry budget refused a retry
	NotRetryable int // the retry policy stopped for another reason (time limit, hint too long)
}

// Point is one bucket of a policy's time series.
type Point struct {
	Calls     int // upstream calls started in the bucket
	Succeeded int // client requests that ended in the bucket with a success
	Failed    int // ... and with a failure
	// Open and HalfOpen are the shares of the clients whose breaker was open
	// or half-open at the end of the bucket.
	Open, HalfOpen float64
}

// Ratio returns the success ratio of the requests that ended in the
// bucket, and false if none did.
func (p Point) Ratio() (float64, bool) {
	n := p.Succeeded + p.Failed
	if n == 0 {
		return 0, false
	}
	return float64(p.Succeeded) / float64(n), true
}

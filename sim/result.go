package sim

import "time"

// Result is what one run of a scenario measured, for every policy, in the
// order of Scenario.Policies. Counts are of requests and calls, durations
// are virtual time, ratios are shares in [0, 1] unless said otherwise.
type Result struct {
	// Scenario is the scenario that ran.
	Scenario *Scenario
	// Bucket is the width of each point of the time series: the scenario's
	// Resolution.
	Bucket time.Duration
	// Healed is when the last trouble window of the upstream ended, from
	// the start of the run, and HasHeal whether there was a window: time to
	// recover counts from Healed.
	Healed  time.Duration
	HasHeal bool
	// Offered is the client requests that arrived in each bucket; the same
	// for every policy.
	Offered  []int
	Policies []PolicyResult
}

// Policy returns the result of the policy named name, or nil if the
// scenario has none of that name.
func (r *Result) Policy(name string) *PolicyResult {
	for i := range r.Policies {
		if r.Policies[i].Name == name {
			return &r.Policies[i]
		}
	}
	return nil
}

// PolicyResult is what one policy configuration did in a scenario: the
// numbers of a row of the table (WriteText), and its time series.
type PolicyResult struct {
	// Name is the policy's Name in the scenario.
	Name string

	Requests  int // client requests: the table's "requests"
	Succeeded int // client requests that got a success
	// Calls is the calls sent to the upstream, hedges and refused calls
	// included: the table's "upstream calls".
	Calls int

	// Failures counts failed requests by why they ended: the table's
	// "failures".
	Failures Failures

	// Amplification is Calls / Requests over the whole run: how many
	// upstream calls the policy made per client request (the table's
	// "amplification", 1 for a policy without retries or hedges, 0 without
	// requests).
	Amplification float64
	// TroubleAmplification is the same ratio during the upstream's trouble:
	// the calls started in the buckets that lie wholly within the span of
	// the trouble windows (from the earliest From to the latest To), per
	// client request that arrived in them — what a policy does to the load
	// on a service that is in trouble. It is 0 without trouble windows, or
	// when no request arrived in that span.
	TroubleAmplification float64
	// SuccessRatio is Succeeded / Requests: the table's "success".
	SuccessRatio float64
	// P50, P99 and P999 are percentiles of the latency of successful
	// requests, from arrival to answer, retries included (to within 1%): the
	// table's "p50", "p99" and "p99.9". They are 0 when no request
	// succeeded.
	P50, P99, P999 time.Duration
	// Recovery is how long after the upstream healed (Result.Healed) the
	// clients' success ratio got back to 95% of what it was before the
	// trouble and stayed there for five buckets, to within a bucket: the
	// table's "recovery". Recovered is false if it never did, and Recovery
	// is then 0 and meaningless ("never" in the table). Both are unset
	// without a trouble window.
	Recovery  time.Duration
	Recovered bool
	// Resumed is how long after the upstream healed (Result.Healed) the
	// retry budget or token bucket went on refusing retries, to within a
	// bucket: from Healed to the end of the run of buckets, from the one
	// that holds Healed, in each of which one refused a retry; 0 if none
	// did in that first bucket. A retry limit that has spent
	// itself in an outage needs calls (the budget) or successes (the token
	// bucket) to allow retries again; while it refuses them, the upstream's
	// ordinary failures are not retried. Unset without a trouble window.
	Resumed time.Duration
	// PeakLoad is the most upstream calls per second in one bucket. The
	// tables show it as the calls of that bucket, under a header that
	// states the bucket's width ("peak/100ms"), so that a short bucket's
	// rate is not read as more calls than the run made.
	PeakLoad float64
	// PeakInFlight is the most calls the upstream held at once.
	PeakInFlight int

	// HasBreaker is whether the policy has a circuit breaker, and so
	// whether Point.Open and Point.HalfOpen mean anything.
	HasBreaker bool
	// HasLimit is whether the policy has a concurrency limit (a Bulkhead
	// or an Adaptive limit), and so whether Point.Limit means anything.
	HasLimit bool
	// FleetOpened is how many times the fleet breaker opened (Policy.Fleet):
	// on the sum of the windows, on a replica's own opening, or on a failed
	// probe; each opening is one round of recovery, with one probe.
	FleetOpened int

	// Series holds one point per bucket of Result.Bucket, from the start of
	// the run.
	Series []Point
}

// Failures counts failed requests by the reason they ended. The counts add
// up to Requests - Succeeded.
type Failures struct {
	Exhausted    int // retries ran out on upstream errors (or there were none): "errors"
	Deadline     int // the client's deadline passed: "deadline"
	BreakerOpen  int // the breaker refused the last attempt: "open"
	Throttled    int // the throttle refused the last attempt: "throttled"
	Budget       int // the retry budget refused a retry: "budget"
	Tokens       int // the token bucket (gRFC A6 retry throttling) refused a retry: "tokens"
	NotRetryable int // the retry policy stopped for another reason (time limit, hint too long): "other"
	Limited      int // the concurrency limit (bulkhead or adaptive) refused the last attempt: "limited"
}

// Point is one bucket of a policy's time series.
type Point struct {
	Calls     int // upstream calls started in the bucket
	Succeeded int // client requests that ended in the bucket with a success
	Failed    int // ... and with a failure
	// Retries is the failed attempts in the bucket after which the retry
	// policy decided to try again.
	Retries int
	// Probes is the attempts in the bucket that a half-open breaker
	// admitted: its probes of the upstream.
	Probes int
	// Open and HalfOpen are the shares of the clients whose breaker was open
	// or half-open at the end of the bucket.
	Open, HalfOpen float64
	// Limit is the clients' concurrency limits at the end of the bucket,
	// summed over the clients: how many attempts they may run at once
	// together, to compare with the upstream's capacity. It is 0 for a
	// policy without a limit (PolicyResult.HasLimit).
	Limit int
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

// Package retry retries calls that fail transiently, waiting longer after
// each failure — the retry policy of the original design, with its
// max_attempts, backoff_factor and max_delay.
//
// Make a [Policy] once with [New] and share it: it holds no per-call state
// and is safe for concurrent use. Run calls through it with [Do] or [Run], or
// compose it with other policies through resilience.Compose.
//
// A Policy retries only what its classifier calls transient (by default
// resilience.Classify: network errors, timeouts, errors marked with
// resilience.Transient) and returns anything else at once. It never waits
// past the caller's deadline, never retries sooner than a server's
// Retry-After hint asks, and stops when a hint asks for longer than
// Config.MaxRetryAfter. When it gives up, the *[Error] says why.
//
// Composed right outside a guard that foresees its rejections — a circuit
// breaker, a rate limiter that does not wait (resilience.ForeseeingGuard) —
// as in resilience.Compose(retryPolicy, breaker), a Policy does not wait for
// an attempt that the guard would certainly reject: once the breaker is open
// until after the next attempt would start, it stops at once with an *Error
// whose Reason is [Rejected], which counts only the attempts that ran,
// matches the guard's rejection (breaker.ErrOpen) and carries its RetryAfter
// hint (the time until the breaker lets a probe through). If the next
// attempt would start when a probe may go, or later, it waits as usual. A
// function that goes through a guard by itself, inside [Do], is not foreseen:
// the guard's rejection ends the call when it comes, without a retry.
//
// Across calls, a Policy's retries can be bounded by a ratio budget
// (Config.Budget: retries at most a share of recent calls), by gRFC A6
// retry throttling (Config.Tokens: gRPC's token bucket, which stops all
// retries once failures outweigh successes, and allows them again as calls
// succeed), or by both. Either stops a call with Reason [BudgetExhausted]
// and an error matching budget.ErrExhausted; the bucket's matches
// [ErrThrottled] too.
//
// The decision is callable on its own: [Policy.Decide] answers "after this
// failure, wait how long, or stop and why" from the attempt count, the error
// and the times involved, without sleeping. [Do] uses it; so can a simulator
// running on virtual time.
//
// Config fields follow the standard library's convention (net.Dialer's
// KeepAlive): zero means the documented default, and for a field whose
// default can be turned off — the field's doc says so — a negative value
// turns it off; any other negative value is an error.
package retry

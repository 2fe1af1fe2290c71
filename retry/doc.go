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

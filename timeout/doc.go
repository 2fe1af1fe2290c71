// Package timeout gives each attempt of a call its own deadline, inside the
// caller's: a per-attempt timeout. An attempt that overruns it fails with an
// error matching [ErrTimeout] that is transient, so a retry policy outside
// the timeout tries again, and a circuit breaker counts it as a failure —
// while the caller's own deadline or cancellation stays the caller's: it is
// returned as it is, never turned into a timeout, and the attempt's deadline
// never extends it.
//
// Most callers make one [Timeout] per kind of call with [New] and compose it
// inside a retry policy (and a breaker) through resilience.Compose, so that
// every attempt gets the full Timeout:
//
//	p := resilience.Compose(retryPolicy, breaker, perAttempt)
//
// or run single attempts through it with [Do] or [Run].
//
// By default the timeout is cooperative: the function receives a context
// that ends at the attempt's deadline (its context.Cause is an *[Error]), and
// Do returns when the function returns. A function that honours its context
// returns at the deadline; one that ignores it makes Do wait for it, however
// long it takes, and then fails with a timeout error if it failed. In
// Abandon mode ([Config].Abandon) Do returns at the deadline whatever the
// function does, leaving it running in its own goroutine and dropping its
// result; at most MaxAbandoned calls may be left running at once, beyond
// which the timeout waits, as in cooperative mode, rather than pile up
// goroutines. Its observer ([Config].Observer) and [Timeout.Snapshot]
// report timeouts and abandoned calls.
//
// A Timeout holds no per-call state beyond counters, and is safe for
// concurrent use. Unlike most policies of this module, an attempt through it
// cannot be free: the attempt's context costs the allocations of
// context.WithTimeout, except when the caller's deadline comes first and the
// attempt simply runs with the caller's context.
//
// Config fields follow the standard library's convention (net.Dialer's
// KeepAlive): zero means the documented default, and for a field whose
// default can be turned off — the field's doc says so — a negative value
// turns it off; any other negative value is an error.
package timeout

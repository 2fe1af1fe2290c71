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
// concurrent use.
//
// # What an attempt costs
//
// Unlike most policies of this module, an attempt through a Timeout cannot
// be free. The function needs a context whose Deadline and Done report the
// attempt's own deadline, whose [context.Cause] is the timeout's *[Error],
// and that ends when the caller's does; only context.WithDeadline makes one,
// and its cost is the floor. In cooperative mode an attempt costs that and
// nothing more, through [Do] and [Run] as inside resilience.Compose, whose
// executor drives a Timeout as a resilience.Scope. With Go 1.26 on 64-bit
// Linux the floor is 4 allocations and 272 bytes:
//
//   - the context (112 bytes: a cancelable context with its timer and
//     deadline);
//   - its timer (112 bytes), which the runtime puts into its timer heap
//     under a lock, and which the context's cancel function stops;
//   - the function the timer runs at the deadline (32 bytes);
//   - the cancel function (16 bytes);
//
// and two clock reads: the deadline, from time.Now, and time.Until it. On a
// small machine that is hundreds of nanoseconds an attempt, much more than
// the other policies of a composition together (benchmarks/README.md
// measures it beside a bare context.WithDeadline). A context of another
// type, which made its timer only when Done is first called, would be
// cheaper but would not behave as the context package's do: context.Cause
// finds the cause of the context package's own contexts only, and a context
// derived from one of another type needs a goroutine, or an AfterFunc
// method, to follow it. Nor can a context be reused, since the function may
// keep it beyond the attempt.
//
// When the caller's deadline comes no later than the attempt's would, the
// attempt runs with the caller's context itself: it then costs a read of the
// monotonic clock and allocates nothing.
//
// Config fields follow the standard library's convention (net.Dialer's
// KeepAlive): zero means the documented default, and for a field whose
// default can be turned off — the field's doc says so — a negative value
// turns it off; any other negative value is an error.
package timeout

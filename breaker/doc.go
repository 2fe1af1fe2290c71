// Package breaker is a circuit breaker: it stops calling a service that keeps
// failing, so that callers fail fast instead of waiting on it, and the
// service gets room to recover — the circuit breaker of the original design,
// with its failure_threshold, recovery_timeout and single half-open probe.
//
// A [Breaker] is closed while calls succeed. It opens after FailureThreshold
// failures in a row (and, when configured, when the failure rate or the rate
// of slow calls over a sliding window passes a limit). While open it rejects
// every call at once with an error matching [ErrOpen] that carries how long
// until a probe is allowed. After RecoveryTimeout it is half-open: it admits
// HalfOpenProbes calls at once and rejects the rest; if they all succeed it
// closes, if one fails it opens again, for longer each time when
// MaxRecoveryTimeout allows.
//
// Most callers make one Breaker per service with [New] and run calls through
// it with [Do] or [Run], or compose it with a retry policy through
// resilience.Compose — retry outside, breaker inside, so every attempt is
// counted, and once the breaker opens the retries stop at once, with its
// rejection, rather than wait for an attempt it would reject
// ([Breaker.Foresee]). Callers that cannot wrap a function use the two-step
// API: [Breaker.Allow] for a [Permit], and [Permit.Done] with the outcome.
// A long-lived connection reports its permit at the handshake, never when
// the connection ends (see [Permit] for why); when a connection that dies
// soon after its handshake should count as a failure, it releases the permit
// at the handshake ([Permit.Release]) and records the verdict later
// ([Breaker.Record]). Package reconnect supervises such connections this way.
//
// The breaker never gets stuck: it turns half-open by the clock, not by a
// timer or a goroutine, so [Breaker.State] reports half-open once the
// recovery timeout has passed even if no call came; a probe that never
// reports back is counted as failed after ProbeTimeout; results of calls
// admitted before a state change cannot move the new state; and its
// observer ([Config].Observer), which hears of every change of state and
// every rejection, runs outside the breaker's lock, in order, so it may call
// back into the breaker. [Breaker.Snapshot] gives the state and the counts
// for metrics without events.
//
// Every method that reads the clock has a form that takes the time as an
// argument ([Breaker.AllowAt], [Permit.DoneAt], [Breaker.StateAt],
// [Breaker.SnapshotAt], [Breaker.ForceOpenAt], [Breaker.ResetAt],
// [Breaker.HalfOpenAt], [Error.RetryAfterAt]) so that tests and simulators can drive a breaker on
// virtual time.
//
// # Steering a breaker live
//
// [Breaker.Reconfigure] (and [Breaker.ReconfigureAt]) changes the
// configuration of a running breaker: it validates the new Config as New
// does, changes nothing if it is invalid, and otherwise keeps the state —
// closed, open or half-open, the failures in a row, the window's counts,
// the probes in flight — and judges it by the new thresholds from then on;
// its documentation says what carries over in each case. [Breaker.Config]
// returns the Config in use, as given; its WithDefaults method fills in the
// defaults.
//
// # Shadow mode
//
// A breaker whose Config has Shadow set decides as usual and reports what
// it decides, but admits every call. It counts failures, opens, turns
// half-open after the recovery timeout and closes after its probes, as it
// would if it were on, and reports every change of state (StateChange
// events with Shadow set). A call that it would have rejected — open, or
// half-open with every probe slot taken — runs all the same: the breaker
// reports a Reject event with Shadow set and counts it in
// Snapshot.ShadowRejected (Snapshot.Rejected counts real rejections only),
// and the call's outcome counts as nothing, since the breaker would not
// have run it. [Breaker.Foresee] foresees no rejection, so a retry outside
// a shadow breaker goes on. Watch a breaker in shadow, then turn it on with
// Reconfigure and Shadow false: from the next call, it rejects.
//
// Config fields follow the standard library's convention (net.Dialer's
// KeepAlive): zero means the documented default, and for a field whose
// default can be turned off — the field's doc says so — a negative value
// turns it off; any other negative value is an error.
package breaker

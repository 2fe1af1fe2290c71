// Package ratelimit keeps a client within its own quota: so many requests —
// or weighted units, such as the model tokens an LLM client spends — per
// interval, with bursts. Calls over the quota wait for their turn, as long as
// the caller allows, or are rejected at once.
//
// A [Limiter] is a token bucket. The bucket holds up to Burst tokens and gains
// Limit tokens per Per, continuously; a call goes when the bucket holds its
// tokens, and spends them. A call costs one token, or what its context says
// for this limiter through [Limiter.WithCost], so that limiters of requests
// and of tokens stacked on one call charge it each their own. When the tokens
// are not there, a call waits for them up to MaxWait, and never past its
// context's deadline: a call whose tokens would come too late is rejected at
// once, without waiting and without spending them, with an error matching
// [ErrLimited] whose RetryAfter method says when they will be there. A wait
// that ends because the caller's context is done returns an error that wraps
// context.Cause of the context — the caller's doing, not a rejection — and
// gives the tokens back, as far as the callers already waiting behind it
// allow, so that the next caller is not held up by a call that did not go.
//
// Most callers make one Limiter per quota with [New] and run calls through
// it with [Do] or [Run], or compose it with other policies through
// resilience.Compose. To limit the requests a service sees, put the limiter
// inside a retry policy (resilience.Compose(retryPolicy, limiter)): every
// attempt then spends tokens. [Limiter.Wait] waits for tokens without
// running a function; [Limiter.Allow] and [Limiter.Reserve] are the
// decisions beneath, which never block, for callers that wait in their own
// way.
//
// Every method that reads the clock has a form that takes the time as an
// argument ([Limiter.AllowAt], [Limiter.ReserveAt], [Limiter.TokensAt],
// [Reservation.DelayAt], [Reservation.CancelAt], [Error.RetryAfterAt], [Limiter.SnapshotAt]), so
// that tests and simulators can drive a limiter on virtual time.
//
// The bucket counts in exact integer arithmetic: a token's refill time,
// Per/Limit, is kept as a fraction, so a limiter of 3 per second lets
// exactly 3 calls a second through however long it runs, with no drift, and
// no idle time or rate is too large for it. A Limiter is safe for concurrent
// use; each decision takes a mutex for a few nanoseconds. A call that goes at
// once and a rejection allocate nothing; only a wait does. The funcs of the
// limiter's observer ([Config].Observer) run outside its lock and may call
// any of its methods; [Limiter.Snapshot] gives its tokens and counts for
// metrics without events.
//
// # Steering a limiter live
//
// [Limiter.Reconfigure] (and [Limiter.ReconfigureAt]) changes the rate, the
// burst or the wait of a running limiter: it validates the new Config as
// New does, changes nothing if it is invalid, and otherwise keeps the
// bucket's tokens — capped at the new Burst, refilled at the new rate from
// then on — and any debt of the calls waiting for theirs. [Limiter.Config]
// returns the Config in use, as given; its WithDefaults method fills in
// the defaults.
//
// # Shadow mode
//
// A limiter whose Config has Shadow set decides every call through Enter,
// Wait, Do and Run as usual and reports the decision, but never makes a
// call wait and never rejects one. A call whose tokens are there spends
// them and goes, as always. A call that would have been rejected goes at
// once without spending tokens (a real rejection spends none): it comes as
// a Reject event with Shadow set, followed by an Admit event with Shadow
// set, and counts in Snapshot.ShadowRejected, not in Snapshot.Rejected. A
// call that would have waited reserves its tokens, as it would have, and
// goes at once: its Admit event has Shadow set and, as Delay, the wait it
// was spared. So the bucket's tokens follow what the limiter would have
// let through. [Limiter.Allow] and [Limiter.Reserve], the decisions
// beneath, whose callers act on the answer themselves, answer as usual in
// shadow mode, and [Limiter.Foresee] foresees no rejection. A cost above
// Burst fails with [ErrBadCost] in shadow mode too: it is a mistake, not a
// rejection.
//
// Config fields follow the standard library's convention (net.Dialer's
// KeepAlive): zero means the documented default, and for a field whose
// default can be turned off — the field's doc says so — a negative value
// turns it off; any other negative value is an error.
package ratelimit

// Package hedge sends hedged requests ("The Tail at Scale", Dean and Barroso):
// when a call has had no answer after a delay, it starts another attempt of
// the same idempotent call; the first attempt to succeed wins, and the others
// are canceled — their contexts end with the cause [ErrLost].
//
// The delay is fixed (Config.Delay), or adaptive: a percentile of the
// latencies of recent calls (default the 95th), estimated in constant memory
// by a log-bucketed histogram over a sliding window of two rotating halves.
// Until MinSamples latencies are known, InitialDelay is used. With the 95th
// percentile, about 5% of calls send a hedge, and the slowest calls — the
// tail — end as soon as their hedge answers.
//
// Extra load is bounded twice: at most MaxHedges extra attempts per call
// (default 1), and, when Config.Budget is set, each hedge must be allowed by
// the same *budget.Budget that the retry policy spends, so hedging and
// retrying together stay within one ratio of the traffic. A refused hedge is
// not an error: the call just goes on without it.
//
// Most callers make one [Hedger] per service with [New] and run calls with
// [Do] (or [DoRelease], which hands back losing values such as an
// *http.Response to close), or put the Hedger inside resilience.Compose, after
// a retry policy. The decisions that Do makes are callable on their own, for
// an executor of one's own such as a simulator, each with its At form that
// takes the time as an argument: [Hedger.Start] when a call starts (the
// budget's count and the delay), [Hedger.AllowHedge] when a hedge is due,
// [Hedger.ObserveFirst] when the first attempt ends (what the adaptive delay
// learns from).
//
// A Hedger is safe for concurrent use. Do returns only after every attempt it
// started has returned: losers are canceled and are expected to return
// promptly; no goroutine that Do started outlives it. Its observer
// ([Config].Observer) hears of every hedge and every refusal, and
// [Hedger.Snapshot] gives the current delay and the counts for metrics.
//
// Config fields follow the standard library's convention (net.Dialer's
// KeepAlive): zero means the documented default, and for a field whose
// default can be turned off — the field's doc says so — a negative value
// turns it off; any other negative value is an error.
package hedge

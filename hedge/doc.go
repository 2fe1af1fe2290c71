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
// # Hedging as gRPC does (gRFC A6)
//
// By default a failed attempt does not start a hedge early: hedges are for
// slow calls, and a retry policy around the hedger is for failed ones. gRPC's
// hedging policy (gRFC A6) also reacts to failures, and Config.Failures,
// a resilience.Classifier, turns its rules on:
//
//   - a success cancels the other attempts, as always;
//   - a transient (non-fatal) failure sends the next hedge at once, and the
//     hedges after it resume a delay apart;
//   - a server's pushback (resilience.WithPushback, gRPC's
//     grpc-retry-pushback-ms) of d sends the next hedge d after the failure,
//     and the ones after it d plus a delay; a pushback that asks for no
//     retry (d < 0) sends no further hedge, while the attempts running go
//     on;
//   - a permanent (fatal) failure cancels every other attempt, whose contexts
//     end with a cause that matches both [ErrLost] and the failure, and the
//     call returns it at once;
//   - an ignored failure, such as the caller's own cancellation, changes
//     nothing;
//   - when every attempt has failed, the call returns their failures: a
//     hedged call is not retried.
//
// Config.Tokens is A6's throttling, a *budget.Tokens shared per server with
// the retry policy: the first attempt always goes, each hedge only while
// the bucket holds more than half its tokens, and each attempt's outcome
// counts in it (a success gives back a fraction of a token; a transient
// failure, or one whose server asked for no retry, takes one). A hedge it
// refuses is not sent; the call goes on with the attempts running, or
// returns the last failure if none is.
//
// [Hedger.AfterFailure] is the decision on each failure, and
// [Hedger.AfterSuccess] counts each success; the executors only carry them
// out, and a simulator calls them as they do.
//
// # Use
//
// Most callers make one [Hedger] per service with [New] and run calls with
// [Do] (or [DoRelease], which hands back losing values such as an
// *http.Response to close), or put the Hedger inside resilience.Compose, after
// a retry policy. The decisions that Do makes are callable on their own, for
// an executor of one's own such as a simulator, each with its At form that
// takes the time as an argument where the decision depends on it: [Hedger.Start] when a call starts (the
// budget's count and the delay), [Hedger.AllowHedge] when a hedge is due,
// [Hedger.ObserveFirst] when the first attempt ends (what the adaptive delay
// learns from), [Hedger.AfterFailure] and [Hedger.AfterSuccess] when any
// attempt ends.
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

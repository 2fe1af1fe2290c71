// Package fallback answers a failed call with an alternative: a fixed value,
// a cached answer, or the result of another function — such as a second LLM
// provider when the first one's circuit breaker is open.
//
// A [Fallback] decides which failures deserve the alternative. The call's
// error is sorted by a resilience.Classifier (resilience.Classify by
// default), and the call falls back when its class is one of Config.On. By
// default that is every failure — transient, permanent, and ignored — because
// the main use is to fall back when a policy of this process refused the call
// (an open breaker, a full bulkhead), which the default classifier calls
// ignored. Whatever the classes, a call never falls back when the caller's
// own context was canceled: the caller no longer wants an answer.
//
// Most callers make one Fallback with [New] and run calls through it with
// [Do], giving the alternative per call:
//
//	reply, err := fallback.Do(ctx, fb, providerA.Complete, func(ctx context.Context, err error) (string, error) {
//		return providerB.Complete(ctx)
//	})
//
// [Value] falls back to a fixed value, [Run] serves functions that return
// only an error. When the alternative fails too, the error returned is an
// *[Error] that holds both failures, so errors.Is and errors.As find either.
//
// A Fallback is also a resilience.Policy, composable in any order with the
// other policies, for calls that return only an error: Config.Alternative is
// then the alternative. A Policy sees no typed values, so a composition run
// through resilience.Do cannot hand back an alternative value of type T;
// use this package's Do for that.
//
// A Fallback is immutable once made and safe for concurrent use. A call
// whose first attempt succeeds allocates nothing; panics in the call or the
// alternative are not recovered.
//
// Config fields follow the standard library's convention (net.Dialer's
// KeepAlive): zero means the documented default, and for a field whose
// default can be turned off — the field's doc says so — a negative value
// turns it off; any other negative value is an error.
package fallback

// Package throttle is adaptive client-side throttling, as Google's SRE book
// describes it in "Handling Overload": a client that sees its backend reject
// much of what it sends starts rejecting requests itself, before they leave,
// so that an overloaded backend spends nothing on requests it would refuse
// anyway.
//
// A [Throttle] remembers, over a sliding window (two minutes by default),
// how many requests the client attempted and how many the backend accepted,
// and rejects each new request locally with probability
//
//	p = max(0, (requests − K·accepts) / (requests + 1))
//
// With the default K = 2 the client keeps sending until the backend
// receives about twice what it accepts; whatever more the callers ask for is
// rejected at once with an error matching [ErrThrottled]. Local rejections
// count as requests too: that is what makes the client back off further the
// longer the backend refuses. While the backend accepts everything, p is 0.
//
// What counts as accepted comes from the classifier (resilience.Classify by
// default): a success, and a permanent failure — the backend processed the
// request; a 400 says nothing of overload — are accepts; a transient failure
// (the backend could not take it, or the connection failed) and a panic are
// requests that were not accepted; an ignored outcome, such as the caller's
// own cancellation, counts as nothing at all, neither request nor accept.
// An admitted request is counted when it ends, so a request whose outcome is
// ignored leaves no trace, and a local rejection when it is made.
//
// Most callers make one Throttle per backend with [New] and run calls
// through it with [Do] or [Run], or compose it with other policies through
// resilience.Compose. Put it close to the call: everything inside it counts
// as the backend's answer — except the rejections of this module's other
// policies, which the default classifier calls ignored, so that a circuit
// breaker's rejection inside a throttle counts as nothing. Callers that
// cannot wrap a function use the two-step API: [Throttle.Allow] for a
// [Permit], and [Permit.Done] with the outcome.
//
// Decisions never block. Every decision has a form that takes the time as
// an argument ([Throttle.AllowAt], [Permit.DoneAt], [Throttle.ProbabilityAt],
// [Throttle.SnapshotAt]) so that tests and simulators drive a throttle on
// virtual time; AllowAt also takes the uniform random number it decides on,
// so its decisions are reproducible. The executors draw that number from
// math/rand/v2, or from a generator seeded by Config.Seed for reproducible
// simulations.
//
// A Throttle is safe for concurrent use. Its observer ([Config].Observer)
// runs outside its lock, so it may call back into the throttle;
// [Throttle.Snapshot] gives its counts for metrics without events. An
// admitted call that succeeds, and a rejection, allocate nothing.
//
// # Steering a throttle live
//
// [Throttle.Reconfigure] (and [Throttle.ReconfigureAt]) changes K, the
// window, MinRequests or the cap of a running throttle: it validates the
// new Config as New does, changes nothing if it is invalid, and otherwise
// keeps the window's requests and accepts, to which the new formula
// applies at once. [Throttle.Config] returns the Config in use, as given;
// its WithDefaults method fills in the defaults.
//
// # Shadow mode
//
// A throttle whose Config has Shadow set computes its probability and
// draws as usual, but admits every call. A call it would have rejected
// comes as a Reject event with Shadow set, with the probability it would
// have been refused at, and counts in Snapshot.ShadowRejected, not in
// Snapshot.Rejected; it then runs, and its outcome counts as its request,
// accepted or not, as every admitted call's does. (A real rejection counts
// as a request that was not accepted instead; in shadow the window holds
// the traffic that reached the backend, so the probability is the
// formula's for that traffic.) Turning Shadow off with Reconfigure makes
// the next draw below the probability a rejection.
//
// Config fields follow the standard library's convention (net.Dialer's
// KeepAlive): zero means the documented default, and for a field whose
// default can be turned off — the field's doc says so — a negative value
// turns it off; any other negative value is an error.
package throttle

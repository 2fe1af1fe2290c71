// Package adaptive limits how many calls run at once through one path, like
// package bulkhead, but finds the limit by itself from what the calls show:
// their latency and their drops. A static bulkhead limit is a guess: too low
// and it rejects work the service could take, too high and calls queue
// inside the service until its latency explodes. An adaptive [Limiter]
// keeps the limit near the concurrency the service takes without queueing,
// and follows it when it changes.
//
// Make one with [New] and run calls through it with [Do] or [Run], compose
// it with other policies through resilience.Compose (it is a
// resilience.Guard, so an HTTP or gRPC server that sheds through a Guard
// takes it as it takes a bulkhead), or use the two-step API:
// [Limiter.Acquire] or [Limiter.TryAcquire] for a [Permit], and
// [Permit.Release] with how the call ended. A rejection matches [ErrLimited]
// and bulkhead.ErrFull.
//
// # The model
//
// A service takes C calls at once at its unloaded latency S; calls beyond C
// queue inside it, and every call then takes about S × inflight / C. The
// limiter learns from every call that ends: its latency, measured from its
// admission (a wait in the limiter's own queue is not the service's), the
// calls in flight when it was admitted (itself included), and whether it
// was dropped — a transient failure by [Config].Classify (a timeout, a
// reset, a 503 marked transient). A call that panicked, whose caller
// canceled it, or that a policy inside this one rejected teaches nothing.
//
// All of it is a pure decision on explicit time: [Limiter.RecordAt] feeds
// one sample, [Limiter.TryAcquireAt] and [Permit.ReleaseAt] admit and end
// calls at given times, so a simulator drives the limiter on virtual time
// with the latencies it models, and tests step it through tables.
//
// # AIMD
//
// For a client in front of a service that says when it is overloaded. With
// L the limit, a call that was admitted with at least L/2 in flight and
// ends well raises it,
//
//	L ← min(Max, L + Increase/L)
//
// so the limit grows by Increase over a round of L calls that used it (a
// limit nobody uses does not grow). A dropped call (or, with
// [AIMDConfig].Timeout, one slower than it) cuts it,
//
//	L ← max(Min, L × Backoff)
//
// once per round: a drop of a call that was admitted before the last cut
// does not cut again, since the calls in flight at a cut answer the
// overload that caused it. Latency below the Timeout never lowers the limit.
//
// # Gradient
//
// For a server, or a client of a service that slows down before it fails.
// Samples gather in windows, closed after [GradientConfig].Window (100ms)
// once they hold MinSamples (10), or as soon as they hold WindowSamples
// (250); so the limit moves ten times a second under load and reacts to a
// change of capacity within a few windows. With s the window's mean latency
// (a dropped call counts as at least twice the baseline), B the baseline,
// T the Tolerance (1.2) and α the Smoothing (0.5):
//
//	g      = clamp(T × B / s, 0.5, 1)
//	target = L × g + √L
//	L      ← clamp(L + α × (target − L), Min, Max)
//
// Below capacity s ≈ B, g = 1, and the limit grows by α√L a window; above
// it, s grows with the calls queued in the service and g pulls the limit
// back, at most halving it. It settles where T × B / s × L + √L = L, at
// about T × C + √L: latency about T times the unloaded one, the √L a small
// queue that keeps the service busy. A window in which fewer than L/2 calls
// were in flight may lower the limit but does not raise it. Since g is at
// least 0.5, the gradient does not take the limit below 4 (where
// L/2 + √L = L): for a service that takes fewer calls at once, use AIMD or
// a bulkhead. (In the tests,
// a service of capacity 20 offered twice that settles at a limit of about
// 30, with 99.5% of its capacity used and a p99 latency 1.6 times the
// unloaded one; halving its capacity brings the limit down within a second,
// and it is back within a second of the recovery. The limit settles above
// the capacity, 1.2 to 1.4 times it, by design: the Tolerance and the √L
// are the short queue that keeps the service busy.)
//
// # What keeps the baseline from drifting
//
// Gradient algorithms that take their baseline from the latencies they see
// at the limit drift under a long overload: the queue of √L calls raises
// the latency a little above the baseline, the baseline follows it, the
// ratio returns to 1, the limit grows by √L, and so on without end. Here B
// comes only from calls measured with the service certainly unloaded:
//
//   - Every BaselinePeriod (10s) the limiter probes: for a moment it admits
//     at most ⌈L/2⌉ calls at once. Since L settles near T × C, L/2 is below
//     C for any Tolerance below 2, so the calls admitted during the probe
//     meet no queue in the service. The probe's sample is the first
//     MinSamples calls admitted during it, and it ends when they have all
//     ended (about two latencies) — not when the first MinSamples calls
//     end, which would be the fastest of those in flight and read the
//     baseline too low when latencies vary —, or after BaselinePeriod/20 (or, if
//     longer, two latencies and the time MinSamples calls take at ⌈L/2⌉ at
//     once); the next probe comes BaselinePeriod, or twenty probes'
//     lengths, later. So probes take at most 5% of the time, and half the
//     admissions during them: with calls of 10ms, about 20ms in 10s, or
//     0.1% of the throughput. Under light load they cost nothing. The calls
//     admitted during a probe count in no window.
//   - With u the mean latency of the probe's calls, B falls to u if
//     T × u < B. It rises to u (or falls by less) only if the windows that
//     used the limit just before and just after the probe were not slower
//     than T × u: load then does not raise the latency beyond the
//     tolerance, so u is the service's own latency, which has changed.
//     Two windows around the probe guard against a change of capacity
//     during it.
//   - A window clearly faster than the baseline (T × s < B) lowers B at once.
//
// So B never rises from latencies taken with the service queueing, and the
// limit under a constant overload stays near T × C + √L for as long as the
// overload lasts (the tests run an hour of it). A service that really gets
// slower is followed within one period: the limit falls first, the probe
// then finds the new unloaded latency, and the limit grows back.
//
// This holds for a limiter that carries all of the service's load: a
// server's, or the only client's. A limiter in one of several clients of a
// service cannot tell the queue the other clients keep in it from a
// service that got slower: its probe at half its own limit meets that
// queue, takes it for the service's latency, and raises B. In the
// simulator, four clients with a Gradient limiter each, offered 1.4 times
// a service's capacity, drift within ten minutes to limits that add up to
// 13 times the capacity, and stop limiting; with AIMD (and a Timeout) the
// same four hold their limits within 0.2% of their mean for an hour. For
// clients that share a service, use AIMD.
//
// # Priorities
//
// With [Config].Priorities, a call carries a [Priority] in its context
// ([WithPriority]); a call of priority p is admitted only while fewer than
// ⌊L × Shares[p]⌋ calls (at least 1) are in flight, with shares 0.5, 0.75,
// 0.9 and 1 for [Low], [Normal], [High] and [Critical] by default. Near the
// limit, low-priority calls are refused first; critical ones may fill it.
// Waiters are admitted highest priority first, first come first served
// within one.
//
// # When to choose it over a static bulkhead
//
// Choose a bulkhead when the limit is a fact: the size of a connection pool,
// a licence, memory for N calls. Choose the adaptive limit when it is a
// guess about the service's capacity that changes with deploys, load on
// the service from others, or failover: AIMD for a client of a service that
// fails fast when overloaded (503, RESOURCE_EXHAUSTED, timeouts; with
// [AIMDConfig].Timeout for one that slows down first), Gradient for a
// server protecting itself, or the only client of a service (see above). [Config].Shadow runs it without rejecting anything, to watch the
// limit it finds before enforcing it.
//
// # Cost
//
// A Limiter is safe for concurrent use. Admitting a call and ending one take
// its lock once each; an admitted call and a rejection allocate nothing,
// only a wait does. Observer funcs run outside the lock. [Limiter.Limit],
// [Limiter.InFlight] and [Limiter.Waiting] read atomics; [Limiter.Snapshot]
// takes the lock.
package adaptive

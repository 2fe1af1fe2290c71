// Package bulkhead limits how many calls run at once through one path, so
// that a slow or stuck dependency can hold at most a bounded share of a
// program's goroutines, connections and memory, and the rest of the program
// keeps working — the watertight compartments of a ship's hull.
//
// A [Bulkhead] has MaxConcurrent slots. A call takes a slot when it starts
// and gives it back when it ends, however it ends: success, failure or
// panic. When every slot is taken, a call is rejected at once with an error
// matching [ErrFull] — or, if MaxWait is set, it waits up to MaxWait for a
// slot in a queue of at most MaxQueue callers, served first come, first
// served, so that a steady stream of new callers cannot starve one that is
// already waiting. A wait that ends because the caller's context is done is
// the caller's doing, not a rejection: its error wraps context.Cause of the
// context and does not match ErrFull.
//
// Most callers make one Bulkhead per protected dependency with [New] and run
// calls through it with [Do] or [Run], or compose it with other policies
// through resilience.Compose. Put a bulkhead inside a retry policy
// (resilience.Compose(retryPolicy, bulkhead)) so that a call holds no slot
// while it waits between attempts. Callers that cannot wrap a function, such
// as a handler that hands work to another goroutine, use the two-step API:
// [Bulkhead.Acquire] or [Bulkhead.TryAcquire] for a [Permit], and
// [Permit.Release] when done.
//
// A Bulkhead is safe for concurrent use. Admitting a call while a slot is
// free, and releasing one while nobody waits, take no lock: a
// compare-and-swap each, and an atomic count of the admission. An admitted
// call and a rejection allocate nothing; only a wait does. The funcs of the
// bulkhead's observer ([Config].Observer) run outside its lock and may call
// any of its methods; [Bulkhead.Snapshot] gives its counts for metrics
// without events.
//
// A bulkhead decides by counting, never by the clock: [Bulkhead.TryAcquire]
// answers at once and reads no time (but for an observer's event), so a simulator can drive it on virtual
// time without goroutines. Only a wait reads the clock, through a timer, and
// so runs on the virtual time of testing/synctest too.
//
// # Steering a bulkhead live
//
// [Bulkhead.Reconfigure] changes the limits of a running bulkhead: it
// validates the new Config as New does, changes nothing if it is invalid,
// and otherwise keeps the calls in flight and the callers waiting. A limit
// raised hands the new slots to the callers waiting at once; a limit
// lowered below the calls in flight cuts none of them, and new calls wait
// or are rejected until fewer than the new limit are in flight.
// [Bulkhead.Config] returns the Config in use, as given; its WithDefaults
// method fills in the defaults.
//
// # Shadow mode
//
// A bulkhead whose Config has Shadow set counts its calls as usual but
// admits every one at once: it never blocks, never queues and never
// rejects. A call that finds every slot taken takes one more, so InFlight
// may exceed MaxConcurrent, and is reported as what it would have met:
// with MaxWait zero, a rejection ([NoWait]); with MaxWait set, a wait, which
// is not reported, unless the calls already beyond the limit number
// MaxQueue, which is a rejection ([QueueFull]). Such a rejection comes as a
// Reject event with Shadow set and counts in Snapshot.ShadowRejected, not
// in Snapshot.Rejected. A bulkhead in shadow cannot know which waits would
// have timed out, so it reports no [WaitTimeout]. Turning Shadow on admits
// the callers waiting at once; turning it off makes the next calls wait or
// be rejected until fewer than MaxConcurrent are in flight.
//
// Config fields follow the standard library's convention (net.Dialer's
// KeepAlive): zero means the documented default, and for a field whose
// default can be turned off — the field's doc says so — a negative value
// turns it off; any other negative value is an error.
package bulkhead

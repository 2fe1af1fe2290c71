package bulkhead

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/internal/clock"
	"github.com/netresilience/resilience/internal/novalue"
	"github.com/netresilience/resilience/internal/observe"
	"github.com/netresilience/resilience/internal/once"
)

// The state word packs the number of callers waiting (high half) and the
// number of calls in flight (low half). So one compare-and-swap admits a
// call only if a slot is free and nobody is waiting for one — the word is
// then below the limit — and releases a slot only if nobody is waiting;
// otherwise the slot goes to the first waiter, under the lock.
//
// Invariants: the waiting count changes only under mu and always equals the
// length of the queue; while anybody waits, every slot is taken, since a
// caller queues only when it finds every slot taken and a release with
// waiters hands its slot on instead of freeing it.
const (
	waitingShift = 32
	inFlightMask = 1<<waitingShift - 1
	oneWaiting   = 1 << waitingShift
	lessWaiting  = ^uint64(oneWaiting - 1) // adding it subtracts oneWaiting
)

// Bulkhead limits the calls in flight through it. Make one with [New]; the
// zero Bulkhead is not valid, and a nil *Bulkhead never panics: a method that
// would run or admit a call refuses it, with an error matching
// resilience.ErrNilPolicy where it returns one, and the other methods do
// nothing and report zero values. A Bulkhead is safe for concurrent use; share
// one per protected dependency. It is a resilience.Policy and a
// resilience.Guard; [Do] and [Run] are what most callers want, and
// [Bulkhead.Acquire] is the two-step alternative.
type Bulkhead struct {
	clock *clock.Clock // set by New, then read-only

	// cf is what the Config says, as the bulkhead uses it: replaced whole,
	// under mu, by Reconfigure, and read with one atomic load.
	cf atomic.Pointer[settings]

	state     atomic.Uint64 // waiting<<waitingShift | in flight
	admitted  atomic.Uint64 // beside state: an admission writes both
	rejected  atomic.Uint64
	abandoned atomic.Uint64
	shadowed  atomic.Uint64 // calls a shadow bulkhead would have rejected

	mu         sync.Mutex // guards the queue and every change of the waiting count
	head, tail *waiter    // the queue, first come first

	marks once.Pool // tell a permit's first Release from later ones
}

// testHookBeforeQueue, if set, is called by wait after the lock-free
// admission has failed and before the lock is taken: the window in which a
// slot may come free with nobody waiting, which wait must then take rather
// than queue beside it. Only tests set it.
var testHookBeforeQueue func()

// waiter is one caller waiting for a slot.
type waiter struct {
	ready      chan struct{} // closed when the waiter is handed a slot
	granted    bool          // under mu: it has been handed a slot
	prev, next *waiter
}

// New returns a Bulkhead configured by cfg, or an error if a field makes no
// sense: a negative count or duration, or a queue without a wait.
func New(cfg Config) (*Bulkhead, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Bulkhead{clock: clock.New()}
	b.cf.Store(newSettings(cfg))
	return b, nil
}

// MustNew is [New] for configurations known to be valid; it panics on an
// invalid one.
func MustNew(cfg Config) *Bulkhead {
	b, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return b
}

// Name returns the bulkhead's name.
func (b *Bulkhead) Name() string {
	if b == nil {
		return ""
	}
	return b.cf.Load().name
}

// InFlight returns how many calls hold a slot now.
func (b *Bulkhead) InFlight() int {
	if b == nil {
		return 0
	}
	return int(b.state.Load() & inFlightMask)
}

// Waiting returns how many callers are waiting for a slot now.
func (b *Bulkhead) Waiting() int {
	if b == nil {
		return 0
	}
	return int(b.state.Load() >> waitingShift)
}

// Snapshot is a bulkhead's counts at one moment, for metrics: a plain value,
// whose zero value is the snapshot of a nil *Bulkhead.
type Snapshot struct {
	Name          string // the bulkhead's name
	MaxConcurrent int    // the number of slots
	InFlight      int    // calls holding a slot
	Waiting       int    // callers waiting for a slot

	Admitted  uint64 // calls admitted since New
	Rejected  uint64 // calls rejected since New
	Abandoned uint64 // acquisitions that the caller's context ended, before or while waiting, since New

	// Shadow says the bulkhead is in shadow mode, and ShadowRejected counts
	// the calls it would have rejected at once in shadow mode since New,
	// and admitted. In shadow mode InFlight may exceed MaxConcurrent.
	Shadow         bool
	ShadowRejected uint64
}

// Snapshot returns the bulkhead's counts now. InFlight and Waiting are read
// together, so they are consistent with each other; the totals are read
// just after.
func (b *Bulkhead) Snapshot() Snapshot {
	if b == nil {
		return Snapshot{}
	}
	cf := b.cf.Load()
	s := b.state.Load()
	return Snapshot{
		Name:           cf.name,
		MaxConcurrent:  int(cf.limit),
		Shadow:         cf.shadow,
		ShadowRejected: b.shadowed.Load(),
		InFlight:       int(s & inFlightMask),
		Waiting:        int(s >> waitingShift),
		Admitted:       b.admitted.Load(),
		Rejected:       b.rejected.Load(),
		Abandoned:      b.abandoned.Load(),
	}
}

// Enter implements resilience.Guard: it admits a call, waiting for a slot
// as configured, or rejects it. Most callers use [Do] or [Bulkhead.Acquire]
// instead. The ticket carries nothing.
func (b *Bulkhead) Enter(ctx context.Context) (resilience.Ticket, error) {
	if b == nil {
		return resilience.Ticket{}, errNilBulkhead
	}
	return resilience.Ticket{}, b.enter(ctx)
}

// Exit implements resilience.Guard: it releases the call's slot, whatever
// the outcome — a failure or a panic frees it as a success does. If
// callers are waiting, the slot goes to the first of them.
func (b *Bulkhead) Exit(resilience.Ticket, resilience.Outcome) {
	if b == nil {
		return
	}
	b.release()
}

// Execute runs op through the bulkhead, as [Run] does; it makes the
// bulkhead a resilience.Policy.
func (b *Bulkhead) Execute(ctx context.Context, op resilience.Operation) error {
	if op == nil {
		return resilience.ErrNilFunc
	}
	return resilience.Run(ctx, b, op.Call)
}

// Do runs fn in a slot of the bulkhead: it takes a slot, waiting for one as
// configured, runs fn, and releases the slot when fn returns or panics (the
// panic then goes on). If the bulkhead rejects the call, fn does not run and
// the error matches [ErrFull]; if ctx ends the wait, fn does not run and the
// error wraps context.Cause(ctx). Do never stores fn, so a closure passed to
// it stays on the caller's stack, and a call admitted without waiting
// allocates nothing.
func Do[T any](ctx context.Context, b *Bulkhead, fn func(context.Context) (T, error)) (T, error) {
	return resilience.Guarded(ctx, b, fn)
}

// Run is [Do] for a function that returns only an error.
func Run(ctx context.Context, b *Bulkhead, fn func(context.Context) error) error {
	_, err := resilience.Guarded(ctx, b, novalue.Wrap(fn))
	return err
}

// Permit is a slot of a bulkhead, from [Bulkhead.Acquire] or
// [Bulkhead.TryAcquire]. Release it when the call is done. Only the first
// Release of a permit, or of any copy of it, frees the slot; later ones do
// nothing, even if the slot has been admitted to another call since. The zero
// Permit holds no slot. A Permit may be released from any goroutine, and
// concurrent Releases of copies of one permit free one slot.
type Permit struct {
	b *Bulkhead
	m once.Mark // pooled, so a permit allocates nothing
}

// Acquire takes a slot, waiting for one as configured: it returns a Permit
// to release when the call is done, or a rejection matching [ErrFull], or —
// when ctx ends the wait — an error that wraps context.Cause(ctx) and does
// not match ErrFull. A ctx that is already done takes no slot, free or not,
// and gets that error at once (as rate.Limiter's Wait does); a slot handed
// over to a waiter whose ctx is done by the time it wakes goes on to the next
// waiter.
func (b *Bulkhead) Acquire(ctx context.Context) (Permit, error) {
	if b == nil {
		return Permit{}, errNilBulkhead
	}
	if ctx == nil {
		return Permit{}, resilience.ErrNilContext
	}
	if ctx.Err() != nil {
		return Permit{}, b.abandon(ctx)
	}
	if err := b.enter(ctx); err != nil {
		return Permit{}, err
	}
	return b.permit(), nil
}

// TryAcquire takes a slot if one is free and nobody is waiting for one, and
// otherwise rejects the call at once with reason [NoWait], whatever
// MaxWait says. It never blocks and reads no clock.
func (b *Bulkhead) TryAcquire() (Permit, error) {
	if b == nil {
		return Permit{}, errNilBulkhead
	}
	cf := b.cf.Load()
	switch {
	case b.tryEnter(cf):
		b.admit(cf, nil, 0)
	case cf.shadow:
		b.shadowEnter(cf, nil, NoWait)
	default:
		return Permit{}, b.reject(cf, nil, NoWait, 0)
	}
	return b.permit(), nil
}

// permit issues a Permit for a slot just taken.
func (b *Bulkhead) permit() Permit {
	return Permit{b: b, m: b.marks.Issue()}
}

// Release gives the permit's slot back to its bulkhead, or to the first
// caller waiting for one. It does nothing for the zero Permit and for a
// permit already released.
func (p Permit) Release() {
	if p.b == nil || !p.b.marks.Spend(p.m) {
		return
	}
	p.b.release()
}

// enter admits a call, waiting as configured, or returns why not.
func (b *Bulkhead) enter(ctx context.Context) error {
	cf := b.cf.Load()
	switch {
	case b.tryEnter(cf):
		b.admit(cf, ctx, 0)
		return nil
	case cf.shadow:
		r := NoWait
		if cf.maxWait > 0 {
			r = waitsFor
		}
		b.shadowEnter(cf, ctx, r)
		return nil
	case cf.maxWait == 0:
		return b.reject(cf, ctx, NoWait, 0)
	}
	return b.wait(ctx, cf)
}

// waitsFor stands for a call that would have queued, for shadowEnter.
const waitsFor Reason = 255

// tryEnter takes a slot if one is free and nobody waits for one: the lock-free
// path. The word is below the limit exactly then, since waiters count in its
// high half.
func (b *Bulkhead) tryEnter(cf *settings) bool {
	for {
		s := b.state.Load()
		if s >= cf.limit {
			return false
		}
		if b.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// shadowEnter admits, beyond the limit, a call with context ctx (nil for
// none) that a bulkhead in shadow mode would have rejected for reason r,
// or made wait (r is waitsFor): a call that would have waited counts as
// rejected if the calls beyond the limit already number MaxQueue.
func (b *Bulkhead) shadowEnter(cf *settings, ctx context.Context, r Reason) {
	s := b.state.Add(1)
	if r == waitsFor {
		if over := s&inFlightMask - min(s&inFlightMask, cf.limit+1); over < cf.maxQueue {
			b.admit(cf, ctx, 0)
			return
		}
		r = QueueFull
	}
	b.shadowed.Add(1)
	if cf.obs != nil && cf.obs.Reject != nil {
		e := b.event(cf, resilience.EventReject, ctx, 0)
		e.Err, e.Reason, e.Shadow = cf.errs[r], r.String(), true
		observe.Call(cf.obs.Reject, e)
	}
	b.admit(cf, ctx, 0)
}

// admit counts an admission of a call with context ctx (nil for none) that
// waited for its slot, and reports it to the observer.
func (b *Bulkhead) admit(cf *settings, ctx context.Context, waited time.Duration) {
	b.admitted.Add(1)
	if cf.obs != nil && cf.obs.Admit != nil {
		observe.Call(cf.obs.Admit, b.event(cf, resilience.EventAdmit, ctx, waited))
	}
}

// reject counts a rejection of a call with context ctx (nil for none),
// reports it to the observer, and returns its error.
func (b *Bulkhead) reject(cf *settings, ctx context.Context, r Reason, waited time.Duration) error {
	b.rejected.Add(1)
	err := cf.errs[r]
	if cf.obs != nil && cf.obs.Reject != nil {
		e := b.event(cf, resilience.EventReject, ctx, waited)
		e.Err, e.Reason = err, r.String()
		observe.Call(cf.obs.Reject, e)
	}
	return err
}

// event returns an event of type t for a call with context ctx that waited.
func (b *Bulkhead) event(cf *settings, t resilience.EventType, ctx context.Context, waited time.Duration) resilience.Event {
	if ctx == nil {
		ctx = context.Background()
	}
	return resilience.Event{Type: t, Kind: resilience.KindBulkhead, Policy: cf.name, Context: ctx, Time: time.Now(), Delay: waited}
}

// wait queues for a slot, every slot being taken, and waits until one is
// handed over, MaxWait passes, or ctx is done.
func (b *Bulkhead) wait(ctx context.Context, cf *settings) error {
	if ctx == nil {
		return resilience.ErrNilContext
	}
	if b.state.Load()>>waitingShift >= cf.maxQueue {
		return b.reject(cf, ctx, QueueFull, 0) // without the lock, and without allocating
	}
	if ctx.Err() != nil {
		return b.abandon(ctx)
	}
	w := &waiter{ready: make(chan struct{})}
	if testHookBeforeQueue != nil {
		testHookBeforeQueue()
	}
	b.mu.Lock()
	cf = b.cf.Load() // the configuration cannot change while mu is held
	for {
		s := b.state.Load()
		if s < cf.limit || cf.shadow { // a slot came free meanwhile, and nobody waits
			if s >= cf.limit {
				b.mu.Unlock()
				b.shadowEnter(cf, ctx, waitsFor)
				return nil
			}
			if b.state.CompareAndSwap(s, s+1) {
				b.mu.Unlock()
				b.admit(cf, ctx, 0)
				return nil
			}
			continue
		}
		if cf.maxWait == 0 { // reconfigured meanwhile: no waiting
			b.mu.Unlock()
			return b.reject(cf, ctx, NoWait, 0)
		}
		if s>>waitingShift >= cf.maxQueue {
			b.mu.Unlock()
			return b.reject(cf, ctx, QueueFull, 0)
		}
		if b.state.CompareAndSwap(s, s+oneWaiting) {
			break
		}
	}
	b.push(w)
	b.mu.Unlock()

	start := b.clock.Now()
	timer := time.NewTimer(cf.maxWait)
	select {
	case <-w.ready:
	case <-timer.C:
	case <-ctx.Done():
	}
	timer.Stop()
	waited := time.Duration(b.clock.Now() - start)

	// A slot may have been handed over after the timer fired or ctx ended
	// and before the lock is taken: granted says, under the lock, which
	// happened first, so the slot is neither lost nor counted twice.
	b.mu.Lock()
	granted := w.granted
	if !granted {
		b.unlink(w)
		b.state.Add(lessWaiting)
	}
	b.mu.Unlock()
	switch {
	case ctx.Err() != nil:
		if granted {
			b.release() // to the next waiter, if any
		}
		return b.abandon(ctx)
	case granted:
		b.admit(cf, ctx, waited)
		return nil
	}
	return b.reject(cf, ctx, WaitTimeout, waited)
}

// abandon counts a wait that ctx ended and returns its error.
func (b *Bulkhead) abandon(ctx context.Context) error {
	b.abandoned.Add(1)
	return &abandonedError{name: b.cf.Load().name, cause: context.Cause(ctx)}
}

// release frees a slot, or hands it to the first waiter.
func (b *Bulkhead) release() {
	for {
		s := b.state.Load()
		if s < oneWaiting { // nobody waits
			if s == 0 {
				return // nothing in flight: a release without an admission
			}
			if b.state.CompareAndSwap(s, s-1) {
				return
			}
			continue
		}
		if b.handOff() {
			return
		}
		// The waiters left before the lock was taken: free the slot.
	}
}

// handOff gives a slot that is being released to the first waiter, if any
// is still waiting, and reports whether it did.
func (b *Bulkhead) handOff() bool {
	b.mu.Lock()
	w := b.head
	if w != nil && b.state.Load()&inFlightMask > b.cf.Load().limit {
		// More in flight than the limit, lowered by Reconfigure: the slot
		// goes, and the waiters wait until fewer are in flight than the
		// limit. Only this path lowers the in-flight count while anybody
		// waits, under the lock, so the add cannot underflow.
		b.state.Add(^uint64(0))
		b.mu.Unlock()
		return true
	}
	if w != nil {
		b.unlink(w)
		b.state.Add(lessWaiting) // its slot stays in flight, now its own
		w.granted = true
		close(w.ready)
	}
	b.mu.Unlock()
	return w != nil
}

// push puts w at the back of the queue; the caller holds mu.
func (b *Bulkhead) push(w *waiter) {
	w.prev = b.tail
	if b.tail == nil {
		b.head = w
	} else {
		b.tail.next = w
	}
	b.tail = w
}

// unlink takes w out of the queue; the caller holds mu.
func (b *Bulkhead) unlink(w *waiter) {
	if w.prev == nil {
		b.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		b.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next = nil, nil
}

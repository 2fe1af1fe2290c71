package breaker

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/internal/clock"
	"github.com/netresilience/resilience/internal/novalue"
	"github.com/netresilience/resilience/internal/observe"
	"github.com/netresilience/resilience/internal/once"
	"github.com/netresilience/resilience/internal/window"
)

// State is a breaker's state.
type State uint8

const (
	// Closed: calls go through; failures are counted.
	Closed State = iota
	// Open: calls are rejected at once, until the recovery timeout passes.
	Open
	// HalfOpen: a few probe calls go through to test the service; the rest
	// are rejected.
	HalfOpen
)

// String returns "closed", "open" or "half-open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// The breaker's state word packs the generation, the state and the count of
// consecutive failures, so that the closed state's successes are decided and
// recorded with one atomic load, and at most one compare-and-swap.
const (
	countBits = 24
	stateBits = 2
	genShift  = countBits + stateBits
	countMask = 1<<countBits - 1
)

func pack(gen uint64, s State, count uint64) uint64 {
	return gen<<genShift | uint64(s)<<countBits | count
}
func genOf(w uint64) uint64        { return w >> genShift }
func stateOf(w uint64) State       { return State(w >> countBits & (1<<stateBits - 1)) }
func countOf(w uint64) uint64      { return w & countMask }
func withCount(w, n uint64) uint64 { return w&^countMask | n }

// noSlot marks a ticket of the closed state, which holds no probe slot.
const noSlot = -1

// shadowSlot marks the ticket of a call that only shadow mode admitted: its
// outcome counts as nothing.
const shadowSlot = -2

// forever is the open deadline of a breaker forced open.
const forever = math.MaxInt64

// Breaker is a circuit breaker. Make one with [New]; the zero Breaker is not
// valid, and a nil *Breaker never panics: a method that would run or admit a
// call refuses it, with an error matching resilience.ErrNilPolicy where it
// returns one, and the other methods do nothing and report zero values. A
// Breaker is safe for concurrent use; share one per guarded service. It is a
// resilience.Policy and a resilience.Guard; [Do] and [Run] are what most
// callers want, and [Breaker.Allow] is the two-step alternative.
type Breaker struct {
	clock *clock.Clock // set by New, then read-only

	// cf is what the Config says, as the breaker uses it: replaced whole,
	// under mu, by Reconfigure, and read with one atomic load.
	cf atomic.Pointer[settings]

	word     atomic.Uint64         // generation | state | consecutive failures
	until    atomic.Int64          // while open: when it turns half-open
	openErr  atomic.Pointer[Error] // returned by rejections while open
	rejected atomic.Uint64
	shadowed atomic.Uint64 // calls a shadow breaker would have rejected
	opened   atomic.Uint64

	mu          sync.Mutex // guards what follows, and every change of state
	rng         *rand.Rand
	win         *window.Window // nil without a Window
	failedTries int            // failed probes in a row, for growing open times
	slots       []probeSlot    // at least HalfOpenProbes long
	successes   int            // half-open successes in this generation
	probeSeq    int            // probes admitted since New
	since       int64          // when the current state began
	forced      bool           // forced open
	events      []resilience.Event
	queued      atomic.Bool // events is not empty: lets dispatch skip the lock
	dispatching bool

	marks once.Pool // tell a permit's first report from later ones
}

// probeSlot is one half-open probe in flight.
type probeSlot struct {
	busy     bool
	admitted int64
	seq      int // which probe: tickets carry it, so a report cannot be taken for a later probe's
}

// A probe's ticket Index holds its slot in the low bits and its sequence
// number above them.
const slotBits = 16

func probeIndex(slot, seq int) int { return seq<<slotBits | slot }
func slotOf(index int) int         { return index & (1<<slotBits - 1) }

// New returns a Breaker configured by cfg, or an error if a field makes no
// sense: negative counts or durations, rates outside (0, 1], a rate without
// a window.
func New(cfg Config) (*Breaker, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Breaker{clock: clock.New()}
	cf := newSettings(cfg, math.MinInt64)
	b.cf.Store(cf)
	if cfg.Window > 0 {
		b.win = window.New(cfg.Window)
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	b.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b.slots = make([]probeSlot, cf.probes)
	return b, nil
}

// MustNew is [New] for configurations known to be valid; it panics on an
// invalid one.
func MustNew(cfg Config) *Breaker {
	b, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return b
}

// Name returns the breaker's name.
func (b *Breaker) Name() string {
	if b == nil {
		return ""
	}
	return b.cf.Load().name
}

// nanos and sampled read the breaker's clock; fromTime and toTime convert.
func (b *Breaker) nanos() int64               { return b.clock.Now() }
func (b *Breaker) sampled() int64             { return b.clock.Sampled() }
func (b *Breaker) fromTime(t time.Time) int64 { return b.clock.From(t) }
func (b *Breaker) toTime(n int64) time.Time   { return b.clock.Time(n) }

// Permit is the breaker's permission for one call, from [Breaker.Allow]. Report
// the call's outcome with [Permit.Done], or, when the outcome is not known
// yet, let the permit go with [Permit.Release] and report the outcome later
// with [Breaker.Record]. Only the first report of a permit, or of any copy of
// it, counts; later ones do nothing. A Permit is a small value that may be
// copied and reported from any goroutine. The zero Permit reports nothing.
//
// Report a permit as soon as the call it permits is over, and no later. For
// a long-lived connection the call is the connection attempt: report the
// permit at the handshake, when the dial has succeeded or failed, never when
// the connection ends. A half-open breaker holds a probe slot for each
// unreported permit, rejecting other calls meanwhile, and counts a probe
// that has not reported within ProbeTimeout as failed: a probe's permit held
// for the life of a healthy connection reopens the breaker at ProbeTimeout,
// while the connection works. If a connection that dies soon after its
// handshake should count as a failure, release the permit at the handshake
// and record the connection's verdict with Record once it is known. Package
// reconnect's Supervisor does all of this.
type Permit struct {
	b *Breaker
	t resilience.Ticket
	m once.Mark
}

// Allow asks permission for one call now. If the breaker admits it, report
// the call's outcome on the returned Permit; if not, the error matches
// [ErrOpen] and carries how long until a probe is allowed.
func (b *Breaker) Allow() (Permit, error) {
	if b == nil {
		return Permit{}, errNilBreaker
	}
	t, err := b.enter(nil, b.nanos)
	if err != nil {
		return Permit{}, err
	}
	return Permit{b, t, b.marks.Issue()}, nil
}

// AllowAt is [Breaker.Allow] at the time now, for virtual time.
func (b *Breaker) AllowAt(now time.Time) (Permit, error) {
	if b == nil {
		return Permit{}, errNilBreaker
	}
	n := b.fromTime(now)
	t, err := b.enter(nil, func() int64 { return n })
	if err != nil {
		return Permit{}, err
	}
	return Permit{b, t, b.marks.Issue()}, nil
}

// Done reports the outcome of the permitted call: err is what the call
// returned, classified by the breaker's classifier. Report
// context.Canceled (or an error wrapping it) when the caller gave up, so that
// it counts as neither success nor failure. A second report of the permit
// does nothing.
func (p Permit) Done(err error) {
	if p.b == nil || !p.b.marks.Spend(p.m) {
		return
	}
	p.b.exit(p.t, p.b.classOf(resilience.Outcome{Err: err}), p.b.nanos)
}

// DoneAt is [Permit.Done] at the time now, for virtual time.
func (p Permit) DoneAt(now time.Time, err error) {
	if p.b == nil || !p.b.marks.Spend(p.m) {
		return
	}
	n := p.b.fromTime(now)
	p.b.exit(p.t, p.b.classOf(resilience.Outcome{Err: err}), func() int64 { return n })
}

// Probe reports whether the permit is a half-open breaker's probe, which
// holds one of its HalfOpenProbes slots until it is reported or released, or
// ProbeTimeout passes; a permit of the closed state holds none. An executor
// whose call outlasts its permit's report asks it to choose between the two:
// a probe's permit is better released, and its outcome recorded with
// [Breaker.Record] when it is known.
func (p Permit) Probe() bool {
	return p.b != nil && p.t.Index != noSlot
}

// Release lets the permit go without an outcome: the call counts as neither
// a success nor a failure, and a half-open probe's slot is freed at once, as
// by a report of context.Canceled to [Permit.Done]. Use it when the call's
// outcome comes later than its permit must be reported — a connection whose
// handshake succeeded but which may yet die at once — and report that
// outcome with [Breaker.Record] when it is known. A second report of the
// permit does nothing.
func (p Permit) Release() {
	if p.b == nil || !p.b.marks.Spend(p.m) {
		return
	}
	p.b.exit(p.t, resilience.ClassIgnored, p.b.sampled)
}

// Record reports the outcome of a call that holds no permit (its permit was
// released, or it never asked for one), classified as [Permit.Done]
// classifies: in the closed state it counts as an admitted call's outcome
// would; in the half-open state a failure opens the breaker again, as a
// failed probe does, and a success counts toward closing it, as a probe's
// does, though it held no slot; while open it does nothing. It tells a
// connection's verdict, known only after its handshake: failed if the
// connection died soon after it was made, a success if it lasted. Ignored
// outcomes (context.Canceled) do nothing.
func (b *Breaker) Record(err error) {
	if b == nil {
		return
	}
	b.record(b.classOf(resilience.Outcome{Err: err}), b.nanos)
}

// RecordAt is [Breaker.Record] at the time now, for virtual time.
func (b *Breaker) RecordAt(now time.Time, err error) {
	if b == nil {
		return
	}
	n := b.fromTime(now)
	b.record(b.classOf(resilience.Outcome{Err: err}), func() int64 { return n })
}

// record counts an outcome that holds no permit, in the state at the time
// clock returns.
func (b *Breaker) record(c resilience.Class, clock func() int64) {
	if c == resilience.ClassIgnored {
		return
	}
	now := clock()
	b.mu.Lock()
	b.refreshLocked(now)
	w := b.word.Load()
	switch stateOf(w) {
	case Closed:
		b.exitLocked(resilience.Ticket{ID: genOf(w), Time: now, Index: noSlot}, c, now)
	case HalfOpen:
		switch c {
		case resilience.ClassTransient, resilience.ClassPermanent:
			b.failedTries++
			b.setLocked(Open, now)
		case resilience.ClassSuccess:
			if b.successes++; b.successes >= b.cf.Load().probes {
				b.setLocked(Closed, now)
			}
		}
	}
	b.mu.Unlock()
	b.dispatch()
}

// Enter implements resilience.Guard; most callers use [Do] or
// [Breaker.Allow] instead. The breaker never waits: ctx is only passed on to
// the observer of a rejection.
func (b *Breaker) Enter(ctx context.Context) (resilience.Ticket, error) {
	if b == nil {
		return resilience.Ticket{}, errNilBreaker
	}
	if !b.cf.Load().timed {
		if w := b.word.Load(); stateOf(w) == Closed {
			return resilience.Ticket{ID: genOf(w), Index: noSlot}, nil
		}
	}
	return b.enter(ctx, b.nanos)
}

// Exit implements resilience.Guard.
func (b *Breaker) Exit(t resilience.Ticket, o resilience.Outcome) {
	if b == nil || t.Index == shadowSlot {
		return
	}
	if t.Index == noSlot && o.Err == nil && !o.Panicked {
		cf := b.cf.Load()
		if cf.lockFree {
			b.closedSuccess(t.ID)
			return
		}
		if !cf.timed {
			b.exit(t, resilience.ClassSuccess, b.sampled)
			return
		}
	}
	b.exit(t, b.classOf(o), b.nanos)
}

// Foresee implements resilience.ForeseeingGuard: while the breaker is open
// at now, it returns the rejection that every call gets until a probe is
// allowed, and when that is (zero if the breaker was forced open); else a
// nil error, since a closed breaker admits calls and a half-open one may. A
// retry policy composed right outside the breaker uses it to stop at once
// rather than wait for an attempt that the breaker would reject. The
// breaker never reads ctx.
func (b *Breaker) Foresee(ctx context.Context, now time.Time) (until time.Time, err error) {
	if b == nil {
		return time.Time{}, errNilBreaker
	}
	w := b.word.Load()
	if stateOf(w) != Open || b.fromTime(now) >= b.until.Load() || b.cf.Load().shadow {
		return time.Time{}, nil
	}
	e := b.openErr.Load()
	if b.word.Load() != w {
		return time.Time{}, nil // the state changed meanwhile: ask again next time
	}
	return e.Until, e
}

// Execute runs op through the breaker, as [Run] does; it makes the breaker a
// resilience.Policy.
func (b *Breaker) Execute(ctx context.Context, op resilience.Operation) error {
	if op == nil {
		return resilience.ErrNilFunc
	}
	return resilience.Run(ctx, b, op.Call)
}

// Do runs fn if the breaker admits the call, and reports its outcome: the
// error fn returns, classified; a panic, as a failure (the panic then goes
// on); a failure after the caller's own context was canceled, as nothing.
// If the breaker rejects the call, fn does not run and the error matches
// [ErrOpen]. Do never stores fn, so a closure passed to it stays on the
// caller's stack, and an admitted successful call allocates nothing.
func Do[T any](ctx context.Context, b *Breaker, fn func(context.Context) (T, error)) (T, error) {
	return guarded(ctx, b, fn)
}

// Run is [Do] for a function that returns only an error.
func Run(ctx context.Context, b *Breaker, fn func(context.Context) error) error {
	_, err := guarded(ctx, b, novalue.Wrap(fn))
	return err
}

// guarded is resilience.Guarded, with a path of its own for the closed
// state of a breaker that needs no lock and no clock there (no window, no
// slow calls): the same steps, but with the breaker's decisions called
// directly, not through the resilience.Guard interface, so that such a
// call costs two atomic loads, one deferred call and no clock read.
func guarded[T any](ctx context.Context, b *Breaker, fn func(context.Context) (T, error)) (v T, err error) {
	if b == nil || ctx == nil || fn == nil || !b.cf.Load().lockFree || ctx.Err() != nil {
		return resilience.Guarded(ctx, b, fn)
	}
	w := b.word.Load()
	if stateOf(w) != Closed {
		return resilience.Guarded(ctx, b, fn)
	}
	t := resilience.Ticket{ID: genOf(w), Index: noSlot}
	// A panic in fn (or runtime.Goexit) is reported as Guarded reports it;
	// no way to see one is cheaper than a deferred call.
	returned := false
	defer func() {
		if !returned {
			b.Exit(t, resilience.Outcome{Panicked: true})
		}
	}()
	v, err = fn(ctx)
	returned = true
	if err == nil {
		b.closedSuccess(t.ID)
		return v, nil
	}
	b.Exit(t, resilience.Outcome{Err: err, Canceled: ctx.Err() == context.Canceled})
	return v, err
}

// classOf turns an outcome into a class.
func (b *Breaker) classOf(o resilience.Outcome) resilience.Class {
	switch {
	case o.Panicked:
		return resilience.ClassPermanent
	case o.Canceled:
		return resilience.ClassIgnored
	case o.Err == nil:
		return resilience.ClassSuccess
	}
	return b.cf.Load().classify(o.Err)
}

// closedSuccess records a success of the closed state without a lock: it
// clears the consecutive-failure count of generation gen, if there is one.
func (b *Breaker) closedSuccess(gen uint64) {
	for {
		w := b.word.Load()
		if genOf(w) != gen || countOf(w) == 0 {
			return
		}
		if b.word.CompareAndSwap(w, withCount(w, 0)) {
			return
		}
	}
}

// enter decides whether to admit a call at the time clock returns; ctx is
// the call's context, if the caller has one, for the observer.
func (b *Breaker) enter(ctx context.Context, clock func() int64) (resilience.Ticket, error) {
	cf := b.cf.Load()
	w := b.word.Load()
	switch stateOf(w) {
	case Closed:
		t := resilience.Ticket{ID: genOf(w), Index: noSlot}
		if cf.timed {
			t.Time = clock()
		}
		return t, nil
	}
	now := clock()
	if stateOf(w) == Open && now < b.until.Load() {
		return b.reject(ctx, cf, b.openErr.Load(), now)
	}
	b.mu.Lock()
	t, err := b.admitLocked(now)
	b.mu.Unlock()
	b.dispatch()
	if err != nil {
		return b.reject(ctx, cf, err, now)
	}
	return t, nil
}

// reject counts the rejection err, at now, of a call with context ctx (nil
// for none), reports it to the observer, and returns it; or, in shadow
// mode, the ticket of a call admitted all the same.
func (b *Breaker) reject(ctx context.Context, cf *settings, err *Error, now int64) (resilience.Ticket, error) {
	if cf.shadow {
		b.shadowed.Add(1)
	} else {
		b.rejected.Add(1)
	}
	if cf.obs != nil && cf.obs.Reject != nil {
		b.notifyReject(ctx, cf, err, now)
	}
	if cf.shadow {
		return resilience.Ticket{Index: shadowSlot}, nil
	}
	return resilience.Ticket{}, err
}

// notifyReject reports the rejection err, at now, of a call with context
// ctx (nil for none) to the observer.
func (b *Breaker) notifyReject(ctx context.Context, cf *settings, err *Error, now int64) {
	if ctx == nil {
		ctx = context.Background()
	}
	e := resilience.Event{
		Type:    resilience.EventReject,
		Kind:    resilience.KindBreaker,
		Policy:  cf.name,
		Context: ctx,
		Time:    b.toTime(now),
		Err:     err,
		Reason:  "open",
		Shadow:  cf.shadow,
	}
	if err.State == HalfOpen {
		e.Reason = "half-open full"
	} else if until := b.until.Load(); until != forever {
		e.Delay = time.Duration(max(clock.Elapsed(now, until), 0))
	}
	observe.Call(cf.obs.Reject, e)
}

// admitLocked decides under the lock, for the open and half-open states.
func (b *Breaker) admitLocked(now int64) (resilience.Ticket, *Error) {
	b.refreshLocked(now)
	cf := b.cf.Load()
	w := b.word.Load()
	switch stateOf(w) {
	case Closed:
		t := resilience.Ticket{ID: genOf(w), Index: noSlot}
		if cf.timed {
			t.Time = now
		}
		return t, nil
	case Open:
		return resilience.Ticket{}, b.openErr.Load()
	}
	busy, free := 0, -1
	for i := range b.slots {
		if b.slots[i].busy {
			busy++
		} else if free < 0 {
			free = i
		}
	}
	if busy >= cf.probes || free < 0 {
		return resilience.Ticket{}, cf.fullErr
	}
	b.probeSeq++
	sl := &b.slots[free]
	sl.busy, sl.admitted, sl.seq = true, now, b.probeSeq
	return resilience.Ticket{ID: genOf(w), Time: now, Index: probeIndex(free, sl.seq)}, nil
}

// refreshLocked makes the changes that time alone brings: open turns
// half-open after the recovery timeout, and a half-open probe that has not
// reported within the probe timeout fails.
func (b *Breaker) refreshLocked(now int64) {
	w := b.word.Load()
	switch stateOf(w) {
	case Open:
		if !b.forced && now >= b.until.Load() {
			b.setLocked(HalfOpen, b.until.Load())
		}
		fallthrough
	case HalfOpen:
		probeTimeout := b.cf.Load().probeTimeout
		if stateOf(b.word.Load()) != HalfOpen || probeTimeout == 0 {
			return // not half-open, or no probe timeout
		}
		// The probe admitted first is the first to run out of time.
		oldest, found := int64(0), false
		for _, s := range b.slots {
			if s.busy && (!found || s.admitted < oldest) {
				oldest, found = s.admitted, true
			}
		}
		if found && clock.Elapsed(oldest, now) >= probeTimeout {
			b.failedTries++
			b.setLocked(Open, oldest+probeTimeout)
			b.refreshLocked(now) // the new open time may have passed too
		}
	}
}

// exit records the outcome of an admitted call.
func (b *Breaker) exit(t resilience.Ticket, c resilience.Class, clock func() int64) {
	if t.Index == noSlot && c == resilience.ClassSuccess && b.cf.Load().lockFree {
		b.closedSuccess(t.ID)
		return
	}
	if c == resilience.ClassIgnored && t.Index == noSlot || t.Index == shadowSlot {
		return // counts as nothing, and holds no slot
	}
	now := clock()
	b.mu.Lock()
	b.exitLocked(t, c, now)
	b.mu.Unlock()
	b.dispatch()
}

func (b *Breaker) exitLocked(t resilience.Ticket, c resilience.Class, now int64) {
	w := b.word.Load()
	if genOf(w) != t.ID {
		return // admitted before a change of state: it cannot move the new one
	}
	cf := b.cf.Load()
	failed := c == resilience.ClassTransient || c == resilience.ClassPermanent
	// A ticket issued before slow-call detection was turned on holds no
	// start time.
	slow := cf.timed && t.Time >= cf.timedSince && clock.Elapsed(t.Time, now) > cf.slowCall
	switch stateOf(w) {
	case Closed:
		if t.Index != noSlot {
			return
		}
		trip := false
		if failed {
			n := b.addFailure(w)
			trip = n >= cf.threshold
		} else if c == resilience.ClassSuccess {
			b.closedSuccess(t.ID)
		}
		if b.win != nil && c != resilience.ClassIgnored {
			b.win.Add(now, window.Counts{1, count(failed), count(slow)})
			trip = trip || b.rateTripped(cf, now, failed, slow)
		}
		if trip {
			b.failedTries = 0
			b.setLocked(Open, now)
		}
	case HalfOpen:
		if t.Index < 0 || slotOf(t.Index) >= len(b.slots) {
			return
		}
		s := &b.slots[slotOf(t.Index)]
		if !s.busy || probeIndex(slotOf(t.Index), s.seq) != t.Index {
			return // reported twice, or already given up on
		}
		s.busy = false
		switch {
		case failed:
			b.failedTries++
			b.setLocked(Open, now)
		case c == resilience.ClassSuccess:
			if b.successes++; b.successes >= cf.probes {
				b.setLocked(Closed, now)
			}
		}
	}
}

// addFailure counts one more failure in a row in the state word w (whose
// generation the caller has checked) and returns the new count.
func (b *Breaker) addFailure(w uint64) uint64 {
	for {
		n := min(countOf(w)+1, countMask)
		if b.word.CompareAndSwap(w, withCount(w, n)) {
			return n
		}
		w = b.word.Load() // a success cleared the count meanwhile
		if stateOf(w) != Closed {
			return 0
		}
	}
}

// rateTripped reports whether the window's rates open the breaker, checked
// when an outcome that can raise them arrives.
func (b *Breaker) rateTripped(cf *settings, now int64, failed, slow bool) bool {
	if !failed && !slow {
		return false
	}
	tot := b.win.Totals(now)
	calls, failures, slows := tot[0], tot[1], tot[2]
	if calls < cf.minCalls || calls == 0 {
		return false
	}
	return (cf.failureRate > 0 && float64(failures) >= cf.failureRate*float64(calls)) ||
		(cf.slowRate > 0 && float64(slows) >= cf.slowRate*float64(calls))
}

// setLocked changes the state at time now: the one place where state
// changes. It starts a new generation, so results of calls admitted before
// cannot move the new state.
func (b *Breaker) setLocked(to State, now int64) {
	cf := b.cf.Load()
	old := b.word.Load()
	gen := genOf(old) + 1
	b.since = now
	b.successes = 0
	if len(b.slots) != cf.probes {
		b.slots = make([]probeSlot, cf.probes) // HalfOpenProbes was reconfigured
	} else {
		clear(b.slots)
	}
	switch to {
	case Open:
		until := int64(forever)
		var untilTime time.Time
		if !b.forced {
			until = saturatingAdd(now, b.openFor(cf))
			untilTime = b.toTime(until)
		}
		b.until.Store(until)
		b.openErr.Store(&Error{Name: cf.name, State: Open, Until: untilTime})
		b.opened.Add(1)
	case Closed:
		b.failedTries = 0
		if b.win != nil {
			b.win.Reset()
		}
	}
	b.word.Store(pack(gen, to, 0))
	if cf.obs != nil && cf.obs.StateChange != nil {
		b.events = append(b.events, resilience.Event{
			Type:    resilience.EventStateChange,
			Kind:    resilience.KindBreaker,
			Policy:  cf.name,
			Context: context.Background(),
			Time:    b.toTime(now),
			Attempt: int(gen),
			From:    stateOf(old).String(),
			To:      to.String(),
			Shadow:  cf.shadow,
		})
		b.queued.Store(true)
	}
}

// openFor returns how long to stay open: RecoveryTimeout, or after failed
// probes in a row, twice as long per failure with equal jitter, capped at
// MaxRecoveryTimeout and never below RecoveryTimeout.
func (b *Breaker) openFor(cf *settings) int64 {
	if b.failedTries == 0 || cf.maxRecovery <= cf.recovery {
		return cf.recovery
	}
	e := backoff.Exponential{
		Base:       time.Duration(cf.recovery),
		Multiplier: 2,
		Max:        time.Duration(cf.maxRecovery),
		Jitter:     backoff.EqualJitter,
	}
	return max(int64(e.Delay(b.failedTries+1, 0, b.rng.Float64())), cf.recovery)
}

// count is 1 for true.
func count(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func saturatingAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// dispatch calls the observer for the queued state changes, in order,
// outside the lock. While one goroutine dispatches, others only queue: the
// dispatching one delivers their changes too, so order holds and an
// observer that changes the state does not deadlock.
func (b *Breaker) dispatch() {
	if !b.queued.Load() {
		return // nothing queued: the goroutine that queues an event dispatches it
	}
	b.mu.Lock()
	if b.dispatching || len(b.events) == 0 {
		b.mu.Unlock()
		return
	}
	b.dispatching = true
	defer func() {
		b.dispatching = false
		b.mu.Unlock()
	}()
	for len(b.events) > 0 {
		ev := b.events[0]
		b.events = b.events[1:]
		b.mu.Unlock()
		if obs := b.cf.Load().obs; obs != nil && obs.StateChange != nil {
			observe.Call(obs.StateChange, ev)
		}
		b.mu.Lock()
	}
	b.events = b.events[:0:0]
	b.queued.Store(false)
}

// State returns the breaker's state now. An open breaker whose recovery
// timeout has passed reports half-open, whether or not a call came since.
func (b *Breaker) State() State {
	if b == nil {
		return Closed
	}
	return b.StateAt(time.Now())
}

// StateAt is [Breaker.State] at the time now, for virtual time.
func (b *Breaker) StateAt(now time.Time) State {
	if b == nil {
		return Closed
	}
	w := b.word.Load()
	n := b.fromTime(now)
	switch stateOf(w) {
	case Closed:
		return Closed
	case Open:
		if n < b.until.Load() {
			return Open
		}
	}
	b.mu.Lock()
	b.refreshLocked(n)
	s := stateOf(b.word.Load())
	b.mu.Unlock()
	b.dispatch()
	return s
}

// ForceOpen opens the breaker and keeps it open, rejecting every call, until
// [Breaker.Reset]. Use it to take a service out of rotation by hand.
func (b *Breaker) ForceOpen() {
	if b == nil {
		return
	}
	b.forceOpen(b.nanos())
}

// ForceOpenAt is [Breaker.ForceOpen] at the time now, for virtual time.
func (b *Breaker) ForceOpenAt(now time.Time) {
	if b == nil {
		return
	}
	b.forceOpen(b.fromTime(now))
}

func (b *Breaker) forceOpen(now int64) {
	b.mu.Lock()
	b.forced = true
	b.setLocked(Open, now)
	b.mu.Unlock()
	b.dispatch()
}

// Trip opens the breaker now, as crossing its own threshold would: it
// stays open for its recovery timeout and then lets probes through as
// usual. Use it when evidence from outside the breaker says the service is
// down — the other replicas of a fleet, a failed health check. A breaker
// that is already open, or forced open, is left as it is; a half-open one
// opens again, and its probes in flight no longer count.
func (b *Breaker) Trip() {
	if b == nil {
		return
	}
	b.trip(b.nanos())
}

// TripAt is [Breaker.Trip] at the time now, for virtual time.
func (b *Breaker) TripAt(now time.Time) {
	if b == nil {
		return
	}
	b.trip(b.fromTime(now))
}

func (b *Breaker) trip(now int64) {
	b.mu.Lock()
	b.refreshLocked(now)
	if stateOf(b.word.Load()) != Open {
		b.setLocked(Open, now)
	}
	b.mu.Unlock()
	b.dispatch()
}

// HalfOpen moves the breaker to half-open now, as the end of its recovery
// timeout would: it admits up to HalfOpenProbes probes, closes when they
// succeed and opens again when one fails, with a new generation, so that
// calls admitted before no longer count. Use it when evidence from outside
// the breaker says a probe is due — a fleet that grants this replica its
// single probe. It ends [Breaker.ForceOpen]. A breaker that is already
// half-open is left as it is, its probes in flight still counting. Unlike
// [Breaker.Reset] followed by [Breaker.Trip], it never passes through the
// closed state, so no call is admitted beyond the probes.
func (b *Breaker) HalfOpen() {
	if b == nil {
		return
	}
	b.halfOpen(b.nanos())
}

// HalfOpenAt is [Breaker.HalfOpen] at the time now, for virtual time.
func (b *Breaker) HalfOpenAt(now time.Time) {
	if b == nil {
		return
	}
	b.halfOpen(b.fromTime(now))
}

func (b *Breaker) halfOpen(now int64) {
	b.mu.Lock()
	b.forced = false
	b.refreshLocked(now)
	if stateOf(b.word.Load()) != HalfOpen {
		b.setLocked(HalfOpen, now)
	}
	b.mu.Unlock()
	b.dispatch()
}

// Reset closes the breaker and clears its counts, as if it had just been
// made; it also ends [Breaker.ForceOpen]. Resetting a closed breaker clears
// its counts without a change of state, so calls admitted before it still
// report into it.
func (b *Breaker) Reset() {
	if b == nil {
		return
	}
	b.reset(b.nanos())
}

// ResetAt is [Breaker.Reset] at the time now, for virtual time.
func (b *Breaker) ResetAt(now time.Time) {
	if b == nil {
		return
	}
	b.reset(b.fromTime(now))
}

func (b *Breaker) reset(now int64) {
	b.mu.Lock()
	b.forced = false
	if w := b.word.Load(); stateOf(w) == Closed {
		// Already closed: clear the counts, but there is no change of state
		// to report.
		b.word.Store(pack(genOf(w), Closed, 0))
		b.failedTries = 0
		if b.win != nil {
			b.win.Reset()
		}
	} else {
		b.setLocked(Closed, now)
	}
	b.mu.Unlock()
	b.dispatch()
}

// Snapshot is a breaker's state and counts at one moment, for metrics: a
// plain value, whose zero value is the snapshot of a nil *Breaker.
type Snapshot struct {
	Name                string    // the breaker's name
	State               State     // the state at the snapshot's time
	Generation          uint64    // grows by one with every change of state
	Since               time.Time // when the current state began
	OpenUntil           time.Time // while open: when a probe will be allowed; zero if forced open
	Forced              bool      // opened by ForceOpen
	ConsecutiveFailures int       // in the closed state
	ProbesInFlight      int       // in the half-open state

	// Calls, Failures and SlowCalls count the sliding window (zero without
	// one).
	Calls, Failures, SlowCalls int

	Opened   uint64 // times the breaker has opened since New
	Rejected uint64 // calls it has rejected since New

	// Shadow says the breaker is in shadow mode, and ShadowRejected counts
	// the calls it would have rejected in shadow mode since New, and
	// admitted.
	Shadow         bool
	ShadowRejected uint64
}

// Snapshot returns the breaker's state and counts now.
func (b *Breaker) Snapshot() Snapshot {
	if b == nil {
		return Snapshot{}
	}
	return b.SnapshotAt(time.Now())
}

// SnapshotAt is [Breaker.Snapshot] at the time now, for virtual time.
func (b *Breaker) SnapshotAt(now time.Time) Snapshot {
	if b == nil {
		return Snapshot{}
	}
	n := b.fromTime(now)
	b.mu.Lock()
	b.refreshLocked(n)
	w := b.word.Load()
	s := Snapshot{
		Name:                b.cf.Load().name,
		State:               stateOf(w),
		Generation:          genOf(w),
		Since:               b.toTime(b.since),
		Forced:              b.forced,
		ConsecutiveFailures: int(countOf(w)),
		Opened:              b.opened.Load(),
		Rejected:            b.rejected.Load(),
		Shadow:              b.cf.Load().shadow,
		ShadowRejected:      b.shadowed.Load(),
	}
	if s.State == Open && !b.forced {
		s.OpenUntil = b.toTime(b.until.Load())
	}
	for _, p := range b.slots {
		if p.busy {
			s.ProbesInFlight++
		}
	}
	if b.win != nil {
		tot := b.win.Totals(n)
		s.Calls, s.Failures, s.SlowCalls = int(tot[0]), int(tot[1]), int(tot[2])
	}
	b.mu.Unlock()
	b.dispatch()
	return s
}

package adaptive

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/internal/clock"
	"github.com/netresilience/resilience/internal/novalue"
	"github.com/netresilience/resilience/internal/observe"
	"github.com/netresilience/resilience/internal/once"
)

// reportEvery is the least time between two StateChange events.
const reportEvery = int64(time.Second)

// Limiter limits the calls in flight through it to a limit that it moves
// with what the calls show: their latency and their drops. Make one with
// [New]; the zero Limiter is not valid, and a nil *Limiter never panics: a
// method that would admit a call refuses it with an error matching
// resilience.ErrNilPolicy, and the others do nothing and report zero
// values. A Limiter is safe for concurrent use; share one per protected
// dependency (a client) or per served capacity (a server). It is a
// resilience.Policy and a resilience.Guard; [Do] and [Run] are what most
// callers want, [Limiter.Acquire] the two-step alternative, and
// [Limiter.TryAcquireAt] with [Permit.ReleaseAt] the form for a simulator
// on virtual time.
type Limiter struct {
	clock *clock.Clock
	cf    atomic.Pointer[settings] // replaced whole by Reconfigure, under mu

	mu         sync.Mutex // guards what follows, up to the atomics
	d          decision
	inflight   int
	waiting    int
	queues     [NumPriorities]queue // by priority index; Normal's only, without priorities
	reported   int                  // the limit last reported in a StateChange
	reportedAt int64

	limitA, inflightA, waitingA         atomic.Int64 // copies, for reads without the lock
	admitted, rejected, abandoned, shad atomic.Uint64

	marks once.Pool // tell a permit's first Release from later ones
}

// waiter is one caller waiting for room.
type waiter struct {
	ready      chan struct{} // closed when the waiter is admitted
	granted    bool          // under mu: it has been admitted
	inflight   int           // under mu: the calls in flight when it was, itself included
	prev, next *waiter
}

// settings are what a Config says, apart from the limit decision's
// parameters: replaced whole by Reconfigure, read with one atomic load.
type settings struct {
	name       string
	cfg        Config // as given
	obs        *resilience.Observer
	classify   resilience.Classifier
	shadow     bool
	maxWait    time.Duration
	maxQueue   int // < 0: no bound; 0: the limit
	priorities bool
	shares     [NumPriorities]float64
	errs       [numReasons][NumPriorities + 1]*Error // by Reason and Priority (0 without priorities)
}

// newSettings returns the settings of a valid Config.
func newSettings(cfg Config) *settings {
	d := cfg.WithDefaults()
	s := &settings{
		name:       cfg.Name,
		cfg:        cfg,
		obs:        cfg.Observer,
		classify:   d.Classify,
		shadow:     cfg.Shadow,
		maxWait:    cfg.MaxWait,
		maxQueue:   cfg.MaxQueue,
		priorities: cfg.Priorities,
		shares:     d.Shares,
	}
	for r := range s.errs {
		for p := range s.errs[r] {
			s.errs[r][p] = &Error{Name: cfg.Name, Reason: Reason(r), Priority: Priority(p)}
		}
	}
	return s
}

// queue is a first-come first-served list of waiters.
type queue struct{ head, tail *waiter }

// New returns a Limiter configured by cfg, or an error if a field makes no
// sense: a negative count or duration, Min above Max, an Initial outside
// them, a factor out of its range, a queue without a wait.
func New(cfg Config) (*Limiter, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := cfg.WithDefaults()
	l := &Limiter{
		clock:      clock.New(),
		d:          newDecision(d),
		reported:   d.Initial,
		reportedAt: math.MinInt64 / 2,
	}
	l.cf.Store(newSettings(cfg))
	l.limitA.Store(int64(l.d.current()))
	return l, nil
}

// MustNew is [New] for configurations known to be valid; it panics on an
// invalid one.
func MustNew(cfg Config) *Limiter {
	l, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return l
}

// Name returns the limiter's name.
func (l *Limiter) Name() string {
	if l == nil {
		return ""
	}
	return l.cf.Load().name
}

// Config returns the Config the limiter runs with: the one given to New or
// to the latest [Limiter.Reconfigure], as given; its WithDefaults method
// fills in the defaults.
func (l *Limiter) Config() Config {
	if l == nil {
		return Config{}
	}
	return l.cf.Load().cfg
}

// Limit returns the limit now: at most this many calls are admitted at
// once (but in shadow mode).
func (l *Limiter) Limit() int {
	if l == nil {
		return 0
	}
	return int(l.limitA.Load())
}

// InFlight returns how many admitted calls have not ended yet.
func (l *Limiter) InFlight() int {
	if l == nil {
		return 0
	}
	return int(l.inflightA.Load())
}

// Waiting returns how many callers wait for room now.
func (l *Limiter) Waiting() int {
	if l == nil {
		return 0
	}
	return int(l.waitingA.Load())
}

// Snapshot is a limiter's state at one moment, for metrics: a plain value,
// whose zero value is the snapshot of a nil *Limiter.
type Snapshot struct {
	Name      string
	Algorithm Algorithm
	Limit     int // the limit now
	InFlight  int // admitted calls not yet ended
	Waiting   int // callers waiting for room

	Admitted  uint64 // calls admitted since New
	Rejected  uint64 // calls rejected since New
	Abandoned uint64 // waits that the caller's context ended, since New

	// Baseline is the Gradient algorithm's latency without load, and
	// Latency the mean latency of its last window; both are zero for AIMD,
	// and until the first window closes. Probing says the limiter admits
	// at most half its limit, to measure the baseline afresh.
	Baseline, Latency time.Duration
	Probing           bool

	// Shadow says the limiter is in shadow mode, and ShadowRejected counts
	// the calls it would have rejected since New, and admitted.
	Shadow         bool
	ShadowRejected uint64
}

// Snapshot returns the limiter's state now.
func (l *Limiter) Snapshot() Snapshot {
	if l == nil {
		return Snapshot{}
	}
	l.mu.Lock()
	s := Snapshot{
		Name:      l.cf.Load().name,
		Algorithm: l.d.alg,
		Limit:     l.d.current(),
		InFlight:  l.inflight,
		Waiting:   l.waiting,
		Baseline:  time.Duration(l.d.baseline),
		Latency:   time.Duration(l.d.short),
		Probing:   l.d.probing,
		Shadow:    l.cf.Load().shadow,
	}
	l.mu.Unlock()
	s.Admitted, s.Rejected, s.Abandoned, s.ShadowRejected = l.admitted.Load(), l.rejected.Load(), l.abandoned.Load(), l.shad.Load()
	return s
}

// Enter implements resilience.Guard: it admits a call, waiting for room as
// configured, or rejects it. The call's priority comes from ctx. Most
// callers use [Do] or [Limiter.Acquire] instead. The Ticket carries when
// the call was admitted (Time) and how many calls were then in flight
// (Index), for Exit.
func (l *Limiter) Enter(ctx context.Context) (resilience.Ticket, error) {
	if l == nil {
		return resilience.Ticket{}, errNilLimiter
	}
	start, n, err := l.enter(ctx, l.clock.Now(), l.priorityOf(ctx), true)
	return resilience.Ticket{Time: start, Index: n}, err
}

// Exit implements resilience.Guard: it frees the call's room, learns from
// how the call ended (see [Config].Classify) and how long it took since
// Enter admitted it, and admits the callers waiting that now fit.
func (l *Limiter) Exit(t resilience.Ticket, o resilience.Outcome) {
	if l == nil {
		return
	}
	l.exit(l.clock.Now(), t.Time, t.Index, o)
}

// Execute runs op through the limiter, as [Run] does; it makes the limiter
// a resilience.Policy.
func (l *Limiter) Execute(ctx context.Context, op resilience.Operation) error {
	if op == nil {
		return resilience.ErrNilFunc
	}
	return resilience.Run(ctx, l, op.Call)
}

// Do runs fn within the limit: it is admitted, waiting for room as
// configured, runs fn, and ends when fn returns or panics (the panic then
// goes on). If the limiter rejects the call, fn does not run and the error
// matches [ErrLimited]; if ctx ends the wait, fn does not run and the error
// wraps context.Cause(ctx). Do never stores fn, and a call admitted without
// waiting allocates nothing.
func Do[T any](ctx context.Context, l *Limiter, fn func(context.Context) (T, error)) (T, error) {
	return resilience.Guarded(ctx, l, fn)
}

// Run is [Do] for a function that returns only an error.
func Run(ctx context.Context, l *Limiter, fn func(context.Context) error) error {
	_, err := resilience.Guarded(ctx, l, novalue.Wrap(fn))
	return err
}

// Permit is an admitted call's room in a limiter, from [Limiter.Acquire],
// [Limiter.TryAcquire] or [Limiter.TryAcquireAt]. Release it, with how the
// call ended, when the call is done. Only the first Release of a permit,
// or of any copy of it, counts; later ones do nothing. The zero Permit
// holds nothing. A Permit may be released from any goroutine.
type Permit struct {
	l        *Limiter
	m        once.Mark // pooled, so a permit allocates nothing
	start    int64
	inflight int
}

// Acquire admits a call, waiting for room as configured: it returns a
// Permit to release when the call is done, or a rejection matching
// [ErrLimited], or — when ctx ends the wait — an error that wraps
// context.Cause(ctx) and does not match ErrLimited. A ctx that is already
// done is admitted nowhere and gets that error at once. The call's priority
// comes from ctx.
func (l *Limiter) Acquire(ctx context.Context) (Permit, error) {
	if l == nil {
		return Permit{}, errNilLimiter
	}
	if ctx == nil {
		return Permit{}, resilience.ErrNilContext
	}
	if ctx.Err() != nil {
		return Permit{}, l.abandon(ctx)
	}
	start, n, err := l.enter(ctx, l.clock.Now(), l.priorityOf(ctx), true)
	if err != nil {
		return Permit{}, err
	}
	return Permit{l: l, m: l.marks.Issue(), start: start, inflight: n}, nil
}

// TryAcquire admits a call of priority [Normal] if there is room now, and
// otherwise rejects it at once with reason [NoWait], whatever MaxWait says.
// It never blocks.
func (l *Limiter) TryAcquire() (Permit, error) {
	if l == nil {
		return Permit{}, errNilLimiter
	}
	return l.tryAcquire(l.clock.Now(), Normal)
}

// TryAcquireAt is [TryAcquire] at the time now, for a call of priority p:
// the form for a simulator, which admits calls on its own virtual time and
// releases their permits with [Permit.ReleaseAt]. Times given to a limiter
// must not go back by much: a latency is measured between them. A call
// that ends before the last one ended (a simulator's clock reset) starts
// the limit decision's timing afresh: its open window, probe schedule and
// last cut are forgotten, its limit and baseline kept.
func (l *Limiter) TryAcquireAt(now time.Time, p Priority) (Permit, error) {
	if l == nil {
		return Permit{}, errNilLimiter
	}
	return l.tryAcquire(l.clock.From(now), p)
}

func (l *Limiter) tryAcquire(now int64, p Priority) (Permit, error) {
	if !l.cf.Load().priorities {
		p = Normal
	}
	start, n, err := l.enter(nil, now, p, false)
	if err != nil {
		return Permit{}, err
	}
	return Permit{l: l, m: l.marks.Issue(), start: start, inflight: n}, nil
}

// Release ends the permit's call with outcome o, now: the limiter learns
// from o (see [Config].Classify) and from the time since the call was
// admitted, and admits the callers waiting that now fit. It does nothing
// for the zero Permit and for a permit already released.
func (p Permit) Release(o resilience.Outcome) {
	if p.l == nil || !p.l.marks.Spend(p.m) {
		return
	}
	p.l.exit(p.l.clock.Now(), p.start, p.inflight, o)
}

// ReleaseAt is [Permit.Release] at the time now, for a permit from
// [Limiter.TryAcquireAt]: the latency it learns is now less the time
// given to TryAcquireAt.
func (p Permit) ReleaseAt(now time.Time, o resilience.Outcome) {
	if p.l == nil || !p.l.marks.Spend(p.m) {
		return
	}
	p.l.exit(p.l.clock.From(now), p.start, p.inflight, o)
}

// RecordAt feeds the limit decision one sample without admitting anything:
// a call that ended at now after latency, that was admitted when inflight
// calls (itself included) were in flight, and that was dropped (timed out,
// failed for overload) or not. It is the pure step under Release, for a
// simulator or an executor that counts its calls itself: it moves the
// limit and admits the callers waiting that then fit, but changes no count
// of calls in flight.
func (l *Limiter) RecordAt(now time.Time, latency time.Duration, inflight int, dropped bool) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.d.record(l.clock.From(now), latency, inflight, dropped)
	l.settle(l.clock.From(now)) // unlocks
}

// priorityOf returns the priority of a call with context ctx.
func (l *Limiter) priorityOf(ctx context.Context) Priority {
	if !l.cf.Load().priorities {
		return Normal
	}
	return PriorityFrom(ctx)
}

// threshold returns how many calls may be in flight for a call of the
// priority index i to be admitted; the caller holds mu.
func (l *Limiter) threshold(i int) int {
	n := l.d.current()
	if c, ok := l.d.probeCap(); ok {
		n = min(n, c)
	}
	if !l.cf.Load().priorities {
		return n
	}
	return max(int(float64(n)*l.cf.Load().shares[i]), 1)
}

// queuedFrom reports whether anybody waits at the priority index i or
// above; the caller holds mu.
func (l *Limiter) queuedFrom(i int) bool {
	for ; i < NumPriorities; i++ {
		if l.queues[i].head != nil {
			return true
		}
	}
	return false
}

// enter admits a call of priority p at now, waiting if it may, and returns
// when it was admitted and how many calls were then in flight, itself
// included. ctx is nil for a call that cannot wait.
func (l *Limiter) enter(ctx context.Context, now int64, p Priority, mayWait bool) (int64, int, error) {
	i := p.index()
	l.mu.Lock()
	if l.inflight < l.threshold(i) && !l.queuedFrom(i) {
		l.inflight++
		l.d.admitted(now)
		n := l.inflight
		l.inflightA.Store(int64(n))
		l.mu.Unlock()
		l.admit(ctx, now, 0)
		return now, n, nil
	}
	if l.cf.Load().shadow {
		l.inflight++
		l.d.admitted(now)
		n := l.inflight
		l.inflightA.Store(int64(n))
		l.mu.Unlock()
		if !mayWait || l.cf.Load().maxWait == 0 {
			l.shad.Add(1)
			if l.cf.Load().obs != nil && l.cf.Load().obs.Reject != nil {
				e := l.event(resilience.EventReject, ctx, now, 0)
				e.Err, e.Reason, e.Shadow = l.errOf(NoWait, p), NoWait.String(), true
				observe.Call(l.cf.Load().obs.Reject, e)
			}
		}
		l.admit(ctx, now, 0)
		return now, n, nil
	}
	if !mayWait || l.cf.Load().maxWait == 0 {
		l.mu.Unlock()
		return 0, 0, l.reject(ctx, now, NoWait, p, 0)
	}
	if capacity := l.queueCap(); l.waiting >= capacity {
		l.mu.Unlock()
		return 0, 0, l.reject(ctx, now, QueueFull, p, 0)
	}
	if ctx == nil {
		l.mu.Unlock()
		return 0, 0, resilience.ErrNilContext
	}
	if ctx.Err() != nil {
		l.mu.Unlock()
		return 0, 0, l.abandon(ctx)
	}
	w := &waiter{ready: make(chan struct{})}
	l.queues[i].push(w)
	l.waiting++
	l.waitingA.Store(int64(l.waiting))
	l.mu.Unlock()

	timer := time.NewTimer(l.cf.Load().maxWait)
	select {
	case <-w.ready:
	case <-timer.C:
	case <-ctx.Done():
	}
	timer.Stop()
	end := l.clock.Now()
	waited := time.Duration(clock.Elapsed(now, end))

	// The waiter may have been admitted after the timer fired or ctx ended
	// and before the lock is taken: granted says, under the lock, which
	// came first, so its room is neither lost nor counted twice.
	l.mu.Lock()
	granted, n := w.granted, w.inflight
	if granted {
		l.d.admitted(end) // the call starts now, as its latency does
	} else {
		l.queues[i].unlink(w)
		l.waiting--
		l.waitingA.Store(int64(l.waiting))
	}
	l.mu.Unlock()
	switch {
	case ctx.Err() != nil:
		if granted {
			l.exit(end, end, n, resilience.Outcome{Canceled: true}) // to the next waiter, if any
		}
		return 0, 0, l.abandon(ctx)
	case granted:
		l.admit(ctx, end, waited)
		return end, n, nil
	}
	return 0, 0, l.reject(ctx, end, WaitTimeout, p, waited)
}

// queueCap returns how many callers may wait; the caller holds mu.
func (l *Limiter) queueCap() int {
	switch {
	case l.cf.Load().maxQueue < 0:
		return maxLimit
	case l.cf.Load().maxQueue == 0:
		return l.d.current()
	}
	return l.cf.Load().maxQueue
}

// exit ends a call admitted at start with n calls in flight: it frees its
// room, feeds the decision, admits the waiters that fit, and reports a
// change of the limit.
func (l *Limiter) exit(now, start int64, n int, o resilience.Outcome) {
	sample, dropped := true, false
	switch {
	case o.Panicked || o.Canceled:
		sample = false
	case o.Err != nil:
		switch l.cf.Load().classify(o.Err) {
		case resilience.ClassTransient:
			dropped = true
		case resilience.ClassIgnored:
			sample = false
		}
	}
	l.mu.Lock()
	if l.inflight > 0 {
		l.inflight--
	}
	if sample {
		l.d.record(now, time.Duration(clock.Elapsed(start, now)), n, dropped)
	} else {
		l.d.unsampled(now, start)
	}
	l.settle(now)
}

// settle admits the waiters that fit, stores the copies for reads without
// the lock, unlocks, and reports a change of the limit if one is due. The
// caller holds mu.
func (l *Limiter) settle(now int64) {
	// Higher priorities first; a priority whose head still waits keeps the
	// lower ones waiting too, as new calls would.
	cf := l.cf.Load()
	for i := NumPriorities - 1; i >= 0 && l.waiting > 0; i-- {
		q := &l.queues[i]
		for q.head != nil && (cf.shadow || l.inflight < l.threshold(i)) { // shadow: turned on by Reconfigure
			w := q.head
			q.unlink(w)
			l.waiting--
			l.inflight++
			w.granted, w.inflight = true, l.inflight
			close(w.ready)
		}
		if q.head != nil {
			break
		}
	}
	// The copies are stored only when they change: a store is a full
	// barrier, a load is not.
	limit := l.d.current()
	storeIfChanged(&l.limitA, int64(limit))
	storeIfChanged(&l.inflightA, int64(l.inflight))
	storeIfChanged(&l.waitingA, int64(l.waiting))
	from := l.reported
	obs := cf.obs
	report := limit != from && obs != nil && obs.StateChange != nil && clock.Elapsed(l.reportedAt, now) >= reportEvery
	if report {
		l.reported, l.reportedAt = limit, now
	}
	l.mu.Unlock()
	if report {
		e := l.event(resilience.EventStateChange, nil, now, 0)
		e.From, e.To, e.Attempt, e.Shadow = strconv.Itoa(from), strconv.Itoa(limit), limit, cf.shadow
		observe.Call(obs.StateChange, e)
	}
}

// storeIfChanged stores v in a unless it holds v already; the caller holds
// mu, under which alone a is stored.
func storeIfChanged(a *atomic.Int64, v int64) {
	if a.Load() != v {
		a.Store(v)
	}
}

// errOf returns the rejection for reason r of a call of priority p.
func (l *Limiter) errOf(r Reason, p Priority) *Error {
	if !l.cf.Load().priorities {
		p = 0
	}
	return l.cf.Load().errs[r][p]
}

// admit counts an admission and reports it.
func (l *Limiter) admit(ctx context.Context, now int64, waited time.Duration) {
	l.admitted.Add(1)
	if l.cf.Load().obs != nil && l.cf.Load().obs.Admit != nil {
		observe.Call(l.cf.Load().obs.Admit, l.event(resilience.EventAdmit, ctx, now, waited))
	}
}

// reject counts a rejection, reports it, and returns its error.
func (l *Limiter) reject(ctx context.Context, now int64, r Reason, p Priority, waited time.Duration) error {
	l.rejected.Add(1)
	err := l.errOf(r, p)
	if l.cf.Load().obs != nil && l.cf.Load().obs.Reject != nil {
		e := l.event(resilience.EventReject, ctx, now, waited)
		e.Err, e.Reason = err, r.String()
		observe.Call(l.cf.Load().obs.Reject, e)
	}
	return err
}

// abandon counts a wait that ctx ended and returns its error.
func (l *Limiter) abandon(ctx context.Context) error {
	l.abandoned.Add(1)
	return &abandonedError{name: l.cf.Load().name, cause: context.Cause(ctx)}
}

// event returns an event of type t at now for a call with context ctx (nil
// for none) that waited.
func (l *Limiter) event(t resilience.EventType, ctx context.Context, now int64, waited time.Duration) resilience.Event {
	if ctx == nil {
		ctx = context.Background()
	}
	return resilience.Event{Type: t, Kind: resilience.KindAdaptive, Policy: l.cf.Load().name, Context: ctx, Time: l.clock.Time(now), Delay: waited}
}

// push puts w at the back of q.
func (q *queue) push(w *waiter) {
	w.prev = q.tail
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
	}
	q.tail = w
}

// unlink takes w out of q.
func (q *queue) unlink(w *waiter) {
	if w.prev == nil {
		q.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		q.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next = nil, nil
}

// errHandlerPanicked is the drop [ServerOutcome] makes of a handler's panic.
var errHandlerPanicked = resilience.Transient(errors.New("adaptive: the handler panicked"))

// ServerOutcome returns what a server tells its limiter of a call that
// ended with o, its client's context being ctx: a handler that panicked
// could not take the call, a drop, where a client's panicking call teaches
// nothing; and a call whose client went away (ctx canceled) teaches nothing
// either, whatever the handler answered, its latency saying nothing of the
// server. resiliencehttp.Shed and the gRPC server report through it.
func ServerOutcome(ctx context.Context, o resilience.Outcome) resilience.Outcome {
	switch {
	case o.Panicked:
		return resilience.Outcome{Err: errHandlerPanicked}
	case ctx.Err() == context.Canceled:
		o.Canceled = true
	}
	return o
}

package hedge

import (
	"cmp"
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/internal/clock"
	"github.com/netresilience/resilience/internal/novalue"
	"github.com/netresilience/resilience/internal/observe"
)

// Hedger decides when to hedge a call and runs hedged calls. Make one with
// [New]; one Hedger per service, since its adaptive delay learns that
// service's latencies. It is safe for concurrent use. The zero Hedger is not
// valid; a nil *Hedger never panics: a method that would run or admit a call
// refuses it, with an error matching resilience.ErrNilPolicy where it returns
// one, and the other methods do nothing and report zero values.
//
// A Hedger is a resilience.Policy, so it composes with the other policies;
// it is not a resilience.Guard, since it runs attempts concurrently.
type Hedger struct {
	name         string
	delay        time.Duration // fixed delay, or 0 for adaptive
	percentile   float64
	initialDelay time.Duration
	minSamples   int
	maxHedges    int
	budget       *budget.Budget
	deposit      bool
	failures     resilience.Classifier
	tokens       *budget.Tokens
	obs          *resilience.Observer
	clock        *clock.Clock

	// For snapshots.
	calls, hedges, refused, won atomic.Uint64
	inFlight                    atomic.Int64 // hedges running

	slots sync.Pool // of *slot, so that calls reuse timers

	mu  sync.Mutex
	est estimator
}

// slot is a reusable timer for the hedges of one call at a time: its
// function calls the hedge method of the call it serves, so that a call
// allocates neither a timer nor a closure.
type slot struct {
	timer  *time.Timer
	target interface{ hedge() }
}

func (s *slot) fire() { s.target.hedge() }

// getSlot returns a stopped slot from the pool, or a new one.
func (h *Hedger) getSlot() *slot {
	if s, ok := h.slots.Get().(*slot); ok {
		return s
	}
	s := &slot{}
	s.timer = time.AfterFunc(time.Duration(math.MaxInt64), s.fire)
	s.timer.Stop()
	return s
}

// New returns a Hedger configured by cfg, or an error if a field makes no
// sense.
func New(cfg Config) (*Hedger, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	h := &Hedger{
		name:         cfg.Name,
		delay:        cfg.Delay,
		percentile:   cmp.Or(cfg.Percentile, DefaultPercentile),
		initialDelay: cmp.Or(cfg.InitialDelay, DefaultInitialDelay),
		minSamples:   max(cmp.Or(cfg.MinSamples, DefaultMinSamples), 1), // negative: off, from the first
		maxHedges:    max(cmp.Or(cfg.MaxHedges, DefaultMaxHedges), 0),   // negative: off
		budget:       cfg.Budget,
		deposit:      cfg.Deposit,
		failures:     cfg.Failures,
		tokens:       cfg.Tokens,
		obs:          cfg.Observer,
		clock:        clock.New(),
	}
	h.est.half = int64(max(cmp.Or(cfg.Window, DefaultWindow)/2, 1))
	return h, nil
}

// MustNew is [New] for configurations known to be valid; it panics on an
// invalid one.
func MustNew(cfg Config) *Hedger {
	h, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return h
}

// Delay returns the delay after which a call starting now would be hedged.
func (h *Hedger) Delay() time.Duration {
	if h == nil {
		return 0
	}
	return h.delayAt(h.clock.Now())
}

// DelayAt is [Hedger.Delay] at the time now, for simulators and virtual time:
// the fixed delay, or the Percentile of the latencies observed in the window
// before now, or InitialDelay while fewer than MinSamples are known. A nil
// Hedger returns 0.
func (h *Hedger) DelayAt(now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	return h.delayAt(h.clock.From(now))
}

func (h *Hedger) delayAt(now int64) time.Duration {
	d, _ := h.estimate(now)
	return d
}

// estimate returns the delay for a call starting at now, and the number of
// latencies the adaptive delay rests on (zero with a fixed delay).
func (h *Hedger) estimate(now int64) (time.Duration, int) {
	if h.delay > 0 {
		return h.delay, 0
	}
	h.mu.Lock()
	v, n := h.est.percentile(now, h.percentile)
	h.mu.Unlock()
	if n < h.minSamples {
		return h.initialDelay, n
	}
	return time.Duration(v), n
}

// Observe records the latency of a call that ended now. The executors ([Do],
// [DoRelease], Execute) record their calls themselves; Observe is for calls
// made without them. With a fixed delay it does nothing. A negative latency
// (a clock that went back) counts as zero.
func (h *Hedger) Observe(latency time.Duration) {
	if h == nil || h.delay > 0 {
		return
	}
	h.observeAt(h.clock.Now(), latency)
}

// ObserveAt is [Hedger.Observe] for a call that ended at the time now.
func (h *Hedger) ObserveAt(now time.Time, latency time.Duration) {
	if h == nil || h.delay > 0 {
		return
	}
	h.observeAt(h.clock.From(now), latency)
}

func (h *Hedger) observeAt(now int64, latency time.Duration) {
	h.mu.Lock()
	h.est.observe(now, int64(latency))
	h.mu.Unlock()
}

// Start begins a hedged call now, as the executors do: it counts the call in
// the Budget when Config.Deposit is set, and returns the delay after which
// its first hedge is due ([Hedger.Delay]). A nil Hedger returns 0. Use it,
// with [Hedger.AllowHedge] and [Hedger.ObserveFirst], to run hedged calls
// without [Do].
func (h *Hedger) Start() time.Duration {
	if h == nil {
		return 0
	}
	return h.start(h.clock.Now())
}

// start is Start at the reading now, which the budget reads itself: its
// Deposit is cheaper than DepositAt.
func (h *Hedger) start(now int64) time.Duration {
	if h.deposit {
		h.budget.Deposit()
	}
	return h.delayAt(now)
}

// StartAt is [Hedger.Start] for a call that starts at the time now.
func (h *Hedger) StartAt(now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	if h.deposit {
		h.budget.DepositAt(now)
	}
	return h.delayAt(h.clock.From(now))
}

// AllowHedge decides whether hedge number n of a call (1 for the first)
// may start now, its delay having passed with no success (or a failure
// having brought it forward, see [Hedger.AfterFailure]): ok is true if n is
// at most MaxHedges, the Tokens, if any, allow a hedge, and the Budget, if
// any, lets it go (a retry is withdrawn for it); more is true if a hedge
// n+1 may follow, a delay later.
// A refused hedge ends the hedging of its call, which goes on with the
// attempts already running. A nil Hedger allows none.
func (h *Hedger) AllowHedge(n int) (ok, more bool) {
	if h == nil {
		return false, false
	}
	ok, more, _ = h.allowHedge(h.clock.Time(h.clock.Now()), n)
	return ok, more
}

// AllowHedgeAt is [Hedger.AllowHedge] at the time now.
func (h *Hedger) AllowHedgeAt(now time.Time, n int) (ok, more bool) {
	if h == nil {
		return false, false
	}
	ok, more, _ = h.allowHedge(now, n)
	return ok, more
}

// Why allowHedge refused a hedge.
const (
	refusedLimit  = iota // past MaxHedges
	refusedTokens        // by Tokens
	refusedBudget        // by Budget
)

// allowHedge is AllowHedgeAt; when it refuses, why says why.
func (h *Hedger) allowHedge(now time.Time, n int) (ok, more bool, why int) {
	if n < 1 || n > h.maxHedges {
		return false, false, refusedLimit
	}
	if h.tokens != nil && !h.tokens.Allow() {
		return false, false, refusedTokens
	}
	if h.budget != nil && !h.budget.WithdrawAt(now) {
		return false, false, refusedBudget
	}
	return true, n < h.maxHedges, 0
}

// ObserveFirst records, for the adaptive delay, the first attempt of a
// hedged call that ended now after latency, by the rule of the executors:
// err is how it ended, and only two endings count. A first attempt that
// succeeded (err nil) gives its latency; one that a hedge beat, cut short
// with [ErrLost] (err matching it), gives a lower bound of its latency that
// lies above the delay, which ranks right for the percentile. One that
// failed, or whose caller's context ended, tells nothing of how long a call
// takes, and is not recorded. With a fixed delay ObserveFirst does nothing.
func (h *Hedger) ObserveFirst(latency time.Duration, err error) {
	if h == nil || !h.learnsFrom(err) {
		return
	}
	h.observeAt(h.clock.Now(), latency)
}

// ObserveFirstAt is [Hedger.ObserveFirst] for a first attempt that ended at
// the time now.
func (h *Hedger) ObserveFirstAt(now time.Time, latency time.Duration, err error) {
	if h == nil || !h.learnsFrom(err) {
		return
	}
	h.observeAt(h.clock.From(now), latency)
}

// learnsFrom reports whether the adaptive delay learns from a first attempt
// that ended with err: see [Hedger.ObserveFirst].
func (h *Hedger) learnsFrom(err error) bool {
	return h.delay == 0 && (err == nil || err == ErrLost || errors.Is(err, ErrLost))
}

// Execute runs op under the hedger: op.Call may be called concurrently, once
// per attempt, and the Operation keeps the value of the first attempt that
// succeeds (as the root package's executors do). It implements
// resilience.Policy; see [DoRelease] for what it returns and when.
func (h *Hedger) Execute(ctx context.Context, op resilience.Operation) error {
	if op == nil {
		return resilience.ErrNilFunc
	}
	_, err := DoRelease(ctx, h, novalue.Wrap(op.Call), nil)
	return err
}

// Do runs fn with hedging under h and returns the value of the first attempt
// that succeeds. It is [DoRelease] with no release function: the values of
// successful attempts that lost are dropped.
func Do[T any](ctx context.Context, h *Hedger, fn func(context.Context) (T, error)) (T, error) {
	return DoRelease(ctx, h, fn, nil)
}

// Run is [Do] for a function that returns only an error.
func Run(ctx context.Context, h *Hedger, fn func(context.Context) error) error {
	_, err := DoRelease(ctx, h, novalue.Wrap(fn), nil)
	return err
}

// DoRelease runs fn on the caller's goroutine and, each time the delay passes
// with no success yet, starts another attempt of fn on a goroutine of its own,
// up to MaxHedges of them and as the budget allows. The first attempt to
// succeed wins: DoRelease returns its value, and cancels the contexts of the
// other attempts with the cause [ErrLost]. A successful attempt that lost has
// its value passed to release (if not nil), e.g. to close an *http.Response
// body; release runs on the loser's goroutine, before DoRelease returns.
//
// DoRelease returns only when every attempt it started has returned, so that
// no goroutine outlives it: a loser that ignores its context delays the
// return. The winner's context is not canceled, so a value tied to it (a
// response body) can still be read; derive ctx per request, since a context
// that is never canceled stays registered with a cancellable parent until
// that parent ends.
//
// If no attempt succeeds, DoRelease returns the error of the only attempt, or
// errors.Join of the errors of all attempts in the order they started, so
// errors.Is finds each; if ctx ended, it returns context.Cause(ctx). Each
// failure goes to [Hedger.AfterFailure], and DoRelease does what it says.
// By default a failure does not start a hedge early: hedges are for slow
// calls, retries for failed ones; and a failure of the first attempt ends
// the hedging. With Config.Failures, DoRelease follows gRFC A6: a transient
// failure sends the next hedge at once (or after the server's pushback), and
// a fatal one cancels the other attempts, whose contexts end with a cause
// that matches both [ErrLost] and the failure, and is returned as it is.
//
// A panic in an attempt (or runtime.Goexit) cancels the others, and once they
// have returned goes on on the caller's goroutine. A nil ctx, h or fn is
// reported as an error, not a panic.
//
// A call whose first attempt succeeds before the delay starts no goroutine;
// it allocates the call's state and the attempt's cancellable context (three
// allocations; timers are pooled).
func DoRelease[T any](ctx context.Context, h *Hedger, fn func(context.Context) (T, error), release func(T)) (T, error) {
	var zero T
	switch {
	case h == nil:
		return zero, errNilHedger
	case ctx == nil:
		return zero, resilience.ErrNilContext
	case fn == nil:
		return zero, resilience.ErrNilFunc
	}
	if err := ctx.Err(); err != nil {
		return zero, context.Cause(ctx)
	}
	h.calls.Add(1)
	start := h.clock.Now()
	r := &race[T]{h: h, ctx: ctx, fn: fn, release: release, delay: h.start(start), stopped: h.maxHedges == 0}
	actx, cancel := context.WithCancelCause(ctx)
	r.first = cancel
	r.slot = h.getSlot()
	r.slot.target = r
	if h.maxHedges > 0 {
		r.due, r.armed = after(start, r.delay), true
		r.wg.Add(1)
		r.slot.timer.Reset(r.delay)
	}
	v, err := r.runFirst(actx)
	first := err // how the first attempt ended: ErrLost if a hedge beat it
	if err != nil {
		if c := context.Cause(actx); c != nil {
			first = c
		}
	}
	if h.learnsFrom(first) {
		end := h.clock.Now()
		h.observeAt(end, time.Duration(end-start))
	}
	return r.result(v, err)
}

// after returns the reading d after now, saturated: a pushback may be as
// long as a Duration holds.
func after(now int64, d time.Duration) int64 {
	if int64(d) > math.MaxInt64-now {
		return math.MaxInt64
	}
	return now + int64(d)
}

// done returns the call's timer to the pool: its function has returned, if
// it ran, and will not run again until the next call arms it.
func (r *race[T]) done() {
	r.slot.target = nil
	r.h.slots.Put(r.slot)
	r.slot = nil
}

// race is one hedged call.
type race[T any] struct {
	h       *Hedger
	ctx     context.Context
	fn      func(context.Context) (T, error)
	release func(T)
	delay   time.Duration
	first   context.CancelCauseFunc // the first attempt's
	wg      sync.WaitGroup          // the armed timer and the running hedges

	slot *slot // the timer; read-only while the call runs

	mu       sync.Mutex
	stopped  bool  // no more hedges may start
	armed    bool  // the timer is set, or its function is due to run: it holds a count of wg
	over     bool  // a winner, a fatal failure or a panic settled the call
	won      bool  // an attempt succeeded first
	panicked bool  // an attempt panicked, with panicVal
	due      int64 // the clock's reading when the next hedge is due
	hedges   int   // hedges started
	winner   int
	value    T
	fatal    error                     // the fatal failure, if one settled the call
	cancels  []context.CancelCauseFunc // by attempt, once a hedge starts
	errs     []error                   // by attempt, once one fails
	panicVal any
}

// runFirst runs the first attempt; if it panics, it stops the hedges and
// waits for them before the panic goes on.
func (r *race[T]) runFirst(actx context.Context) (v T, err error) {
	ok := false
	defer func() {
		if !ok {
			r.mu.Lock()
			r.over = true
			r.mu.Unlock()
			r.stop(0, ErrLost)
			r.wg.Wait()
			r.first(ErrLost)
		}
	}()
	v, err = r.fn(actx)
	ok = true
	return v, err
}

// result records the first attempt's outcome, waits for the hedges, and
// makes the call's outcome.
func (r *race[T]) result(v T, err error) (T, error) {
	r.finish(0, v, err)
	r.wait()
	// No other goroutine touches r now.
	r.done()
	if r.panicked {
		if r.panicVal != nil {
			panic(r.panicVal)
		}
		runtime.Goexit()
	}
	if r.won {
		if r.winner != 0 {
			r.h.won.Add(1)
			r.first(ErrLost)
		}
		return r.value, nil
	}
	r.first(nil)
	for _, c := range r.cancels {
		if c != nil {
			c(nil)
		}
	}
	var zero T
	switch {
	case r.fatal != nil:
		return zero, r.fatal
	case r.ctx.Err() != nil:
		return zero, context.Cause(r.ctx)
	case r.hedges == 0:
		return zero, err
	}
	return zero, errors.Join(r.errs...)
}

// wait waits, once the first attempt has returned, for the hedges: those
// running, and those still to come if the first attempt's failure did not
// end the hedging (under Config.Failures), unless the caller gives up.
func (r *race[T]) wait() {
	r.mu.Lock()
	settled := r.stopped
	r.mu.Unlock()
	if settled || r.ctx.Err() != nil {
		r.halt()
		r.wg.Wait()
		return
	}
	// The next hedge may be due after a pushback, with no attempt
	// running: the caller's cancellation must not wait for it.
	idle := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-r.ctx.Done():
		r.halt()
		<-idle
	}
}

// finish records the outcome of attempt i, and carries out what the
// hedger decides of it.
func (r *race[T]) finish(i int, v T, err error) {
	r.mu.Lock()
	if err == nil {
		if r.over {
			r.mu.Unlock()
			r.h.AfterSuccess()
			if r.release != nil {
				r.release(v)
			}
			return
		}
		r.over, r.won, r.winner, r.value = true, true, i, v
		r.mu.Unlock()
		r.h.AfterSuccess()
		r.stop(i, ErrLost)
		return
	}
	if r.errs == nil {
		r.errs = make([]error, 0, r.h.maxHedges+1)
	}
	for len(r.errs) <= i {
		r.errs = append(r.errs, nil)
	}
	r.errs[i] = err
	over := r.over
	r.mu.Unlock()
	if over || r.ctx.Err() != nil {
		return // canceled by the executor or by the caller: it tells nothing
	}
	switch d := r.h.AfterFailure(i, err); d.Action {
	case NextHedge:
		r.reschedule(d.After)
	case StopHedges:
		r.halt()
	case Fatal:
		r.mu.Lock()
		if r.over {
			r.mu.Unlock()
			return
		}
		r.over, r.fatal = true, err
		r.mu.Unlock()
		r.stop(i, &abortError{err})
	}
}

// stop ends the hedging and cancels every attempt but attempt except with
// cause.
func (r *race[T]) stop(except int, cause error) {
	r.halt()
	r.mu.Lock()
	cancels := r.cancels // no hedge starts once halted
	r.mu.Unlock()
	if except != 0 {
		r.first(cause)
	}
	for i, c := range cancels {
		if i != except && c != nil {
			c(cause)
		}
	}
}

// halt stops the hedging: no hedge starts after it returns.
func (r *race[T]) halt() {
	r.mu.Lock()
	r.stopped = true
	if r.armed && r.slot.timer.Stop() {
		r.armed = false
		r.mu.Unlock()
		r.wg.Done() // the timer's function will not run
		return
	}
	r.mu.Unlock()
}

// reschedule makes the next hedge due d from now, if hedging goes on.
func (r *race[T]) reschedule(d time.Duration) {
	now := r.h.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	r.due = after(now, d)
	switch {
	case !r.armed:
		r.armed = true
		r.wg.Add(1)
		r.slot.timer.Reset(d)
	case r.slot.timer.Stop():
		r.slot.timer.Reset(d)
	}
	// Otherwise the timer has fired and its function waits for r.mu: it
	// finds the new due time and waits for it.
}

// hedge is the timer's function: it starts one hedge, arms the timer for the
// next, and runs the hedge's attempt on the timer's goroutine.
func (r *race[T]) hedge() {
	h := r.h
	r.mu.Lock()
	if r.stopped {
		r.armed = false
		r.mu.Unlock()
		r.wg.Done()
		return
	}
	now := h.clock.Now()
	if now < r.due { // rescheduled later while the timer fired
		r.slot.timer.Reset(time.Duration(r.due - now))
		r.mu.Unlock()
		return
	}
	n := r.hedges + 1
	r.mu.Unlock()
	// Decided outside the lock, since Budget and Tokens call their
	// observers. The timer stays armed meanwhile, so that no other hedge
	// starts; a winner, or a failure that moves the hedge, may come in
	// between, and then the hedge does not start.
	allowed, more, why := h.allowHedge(h.clock.Time(now), n)
	r.mu.Lock()
	if later := h.clock.Now(); !r.stopped && later < r.due {
		r.slot.timer.Reset(time.Duration(r.due - later))
		r.mu.Unlock()
		return
	}
	r.armed = false
	defer r.wg.Done() // the timer's count is the hedge's now
	if r.stopped {
		r.mu.Unlock()
		return
	}
	if !allowed {
		r.stopped = true
		r.mu.Unlock()
		h.refused.Add(1)
		if h.obs != nil && h.obs.Reject != nil {
			e := r.event(resilience.EventReject, n)
			e.Err, e.Reason = budget.ErrExhausted, "budget exhausted"
			if why == refusedTokens {
				e.Reason = "throttled"
			}
			observe.Call(h.obs.Reject, e)
		}
		return
	}
	r.hedges++
	i := r.hedges
	actx, cancel := context.WithCancelCause(r.ctx)
	if r.cancels == nil {
		r.cancels = make([]context.CancelCauseFunc, h.maxHedges+1)
	}
	r.cancels[i] = cancel
	if more {
		r.armed, r.due = true, after(now, r.delay)
		r.wg.Add(1)
		r.slot.timer.Reset(r.delay)
	} else {
		r.stopped = true
	}
	r.mu.Unlock()
	h.hedges.Add(1)
	h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	if h.obs != nil && h.obs.Hedge != nil {
		observe.Call(h.obs.Hedge, r.event(resilience.EventHedge, i))
	}
	ok := false
	defer func() {
		if !ok {
			p := recover()
			r.mu.Lock()
			r.panicked, r.panicVal, r.over = true, p, true
			r.mu.Unlock()
			r.stop(i, ErrLost)
			cancel(ErrLost)
		}
	}()
	v, err := r.fn(actx)
	ok = true
	r.finish(i, v, err)
}

// event returns an event of type t about hedge number n of the call.
func (r *race[T]) event(t resilience.EventType, n int) resilience.Event {
	return resilience.Event{
		Type:    t,
		Kind:    resilience.KindHedge,
		Policy:  r.h.name,
		Context: r.ctx,
		Time:    time.Now(),
		Attempt: n,
		Delay:   r.delay,
	}
}

// Snapshot is a hedger's state at one moment, for metrics, from
// [Hedger.Snapshot]: a plain value, whose zero value is the snapshot of a nil
// *Hedger.
type Snapshot struct {
	Name string // the hedger's name
	// Delay is the delay after which a call starting at the snapshot's
	// time would be hedged, as [Hedger.DelayAt] says: the fixed delay, or
	// the adaptive estimate.
	Delay time.Duration
	// Samples counts the latencies in the window of the adaptive delay;
	// zero with a fixed delay. Below MinSamples, Delay is InitialDelay.
	Samples int
	// Calls counts the calls run through the hedger's executors since New.
	Calls uint64
	// Hedges counts the hedges started since New, Refused those that
	// Budget or Tokens refused, and Won the hedges that succeeded first and won their call.
	Hedges, Refused, Won uint64
	// InFlight counts the hedges running now.
	InFlight int
}

// Snapshot returns the hedger's state now.
func (h *Hedger) Snapshot() Snapshot {
	if h == nil {
		return Snapshot{}
	}
	return h.snapshot(h.clock.Now())
}

// SnapshotAt is [Hedger.Snapshot] at the time now, for virtual time.
func (h *Hedger) SnapshotAt(now time.Time) Snapshot {
	if h == nil {
		return Snapshot{}
	}
	return h.snapshot(h.clock.From(now))
}

func (h *Hedger) snapshot(now int64) Snapshot {
	s := Snapshot{
		Name:     h.name,
		Calls:    h.calls.Load(),
		Hedges:   h.hedges.Load(),
		Refused:  h.refused.Load(),
		Won:      h.won.Load(),
		InFlight: int(h.inFlight.Load()),
	}
	s.Delay, s.Samples = h.estimate(now)
	return s
}

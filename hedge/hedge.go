package hedge

import (
	"cmp"
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/internal/clock"
	"github.com/netresilience/resilience/internal/novalue"
)

// Hedger decides when to hedge a call and runs hedged calls. Make one with
// [New]; one Hedger per service, since its adaptive delay learns that
// service's latencies. It is safe for concurrent use. The zero Hedger is not
// valid; a nil *Hedger returns an error from every call.
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
	onHedge      func(Event)
	clock        *clock.Clock

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
		minSamples:   cmp.Or(cfg.MinSamples, DefaultMinSamples),
		maxHedges:    cmp.Or(cfg.MaxHedges, DefaultMaxHedges),
		budget:       cfg.Budget,
		deposit:      cfg.Deposit,
		onHedge:      cfg.OnHedge,
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
	if h.delay > 0 {
		return h.delay
	}
	h.mu.Lock()
	v, n := h.est.percentile(now, h.percentile)
	h.mu.Unlock()
	if n < h.minSamples {
		return h.initialDelay
	}
	return time.Duration(v)
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
// errors.Is finds each; if ctx ended, it returns context.Cause(ctx). A
// failure does not start a hedge early: hedges are for slow calls, retries for
// failed ones.
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
	if h.deposit {
		h.budget.Deposit()
	}
	start := h.clock.Now()
	r := &race[T]{h: h, ctx: ctx, fn: fn, release: release, delay: h.delayAt(start)}
	actx, cancel := context.WithCancelCause(ctx)
	r.first = cancel
	r.slot = h.getSlot()
	r.slot.target = r
	r.wg.Add(1)
	r.slot.timer.Reset(r.delay)
	v, err := r.runFirst(actx)
	if h.delay == 0 && (err == nil || context.Cause(actx) == ErrLost) {
		// The first attempt's latency, or, if it lost, a lower bound of it
		// that lies above the delay: either way it ranks right for the
		// percentile.
		end := h.clock.Now()
		h.observeAt(end, time.Duration(end-start))
	}
	return r.result(v, err)
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
	stopped  bool // no more hedges may start
	hedges   int  // hedges started
	won      bool
	winner   int
	value    T
	cancels  []context.CancelCauseFunc // by attempt, once a hedge starts
	errs     []error                   // by attempt, once one fails
	panicked bool
	panicVal any
}

// runFirst runs the first attempt; if it panics, it stops the hedges and
// waits for them before the panic goes on.
func (r *race[T]) runFirst(actx context.Context) (v T, err error) {
	ok := false
	defer func() {
		if !ok {
			r.stop(0)
			r.halt()
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
	r.halt()
	r.wg.Wait()
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
	if r.ctx.Err() != nil {
		return zero, context.Cause(r.ctx)
	}
	if r.hedges == 0 {
		return zero, err
	}
	return zero, errors.Join(r.errs...)
}

// finish records the outcome of attempt i.
func (r *race[T]) finish(i int, v T, err error) {
	r.mu.Lock()
	if err != nil {
		if r.errs == nil {
			r.errs = make([]error, 0, r.h.maxHedges+1)
		}
		for len(r.errs) <= i {
			r.errs = append(r.errs, nil)
		}
		r.errs[i] = err
		r.mu.Unlock()
		return
	}
	if r.won {
		r.mu.Unlock()
		if r.release != nil {
			r.release(v)
		}
		return
	}
	r.won, r.winner, r.value = true, i, v
	r.mu.Unlock()
	r.stop(i)
}

// stop ends the hedging and cancels every attempt but the winner with
// ErrLost. The first attempt's context is canceled by its own goroutine.
func (r *race[T]) stop(winner int) {
	r.mu.Lock()
	r.stopped = true
	cancels := r.cancels
	r.mu.Unlock()
	if winner != 0 {
		r.first(ErrLost)
	}
	for i, c := range cancels {
		if i != winner && c != nil {
			c(ErrLost)
		}
	}
}

// halt stops the hedging: no hedge starts after it returns.
func (r *race[T]) halt() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	if r.slot.timer.Stop() {
		r.wg.Done() // the timer's function will not run
	}
}

// hedge is the timer's function: it starts one hedge, arms the timer for the
// next, and runs the hedge's attempt on the timer's goroutine.
func (r *race[T]) hedge() {
	defer r.wg.Done()
	h := r.h
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	if h.budget != nil && !h.budget.WithdrawAt(h.clock.Time(h.clock.Now())) {
		r.stopped = true
		r.mu.Unlock()
		if h.onHedge != nil {
			h.onHedge(Event{Name: h.name, Attempt: r.hedges + 1, Delay: r.delay, Refused: true})
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
	if i < h.maxHedges {
		r.wg.Add(1)
		r.slot.timer.Reset(r.delay)
	}
	r.mu.Unlock()
	if h.onHedge != nil {
		h.onHedge(Event{Name: h.name, Attempt: i, Delay: r.delay})
	}
	ok := false
	defer func() {
		if !ok {
			p := recover()
			r.mu.Lock()
			r.panicked, r.panicVal = true, p
			r.mu.Unlock()
			r.stop(i)
			cancel(ErrLost)
		}
	}()
	v, err := r.fn(actx)
	ok = true
	r.finish(i, v, err)
}

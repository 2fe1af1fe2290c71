package timeout

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/internal/observe"
)

// Timeout gives each attempt of a call its own deadline within the caller's.
// Make one with [New]; the zero Timeout is not valid, and a nil *Timeout never
// panics: a method that would run or admit a call refuses it, with an error
// matching resilience.ErrNilPolicy where it returns one, and the other methods
// do nothing and report zero values. A Timeout is safe for concurrent use;
// share one per kind of call. It is a resilience.Policy; [Do] and [Run] are
// what most callers want.
type Timeout struct {
	// Set by New, then read-only.
	name         string
	timeout      time.Duration
	abandon      bool
	maxAbandoned int64
	obs          *resilience.Observer
	cause        *Error // the cause with which attempt contexts end
	abandoned    *Error // returned when a call is left running

	timedOut  atomic.Uint64
	left      atomic.Uint64 // calls abandoned since New
	running   atomic.Int64  // abandoned calls still running
	waitedFor atomic.Uint64
}

// Snapshot is a timeout's counts at one moment, for metrics, from
// [Timeout.Snapshot]. It is a plain value; the zero Snapshot is that of a nil
// *Timeout.
type Snapshot struct {
	Name    string        // the timeout's name
	Timeout time.Duration // the attempt timeout
	// TimedOut counts the attempts that timed out since New.
	TimedOut uint64
	// Abandoned counts the calls left running since New, and
	// AbandonedRunning those of them still running now; it is at most
	// MaxAbandoned.
	Abandoned        uint64
	AbandonedRunning int
	// WaitedFor counts the attempts, in Abandon mode, that outlived their
	// context and were waited for because MaxAbandoned abandoned calls were
	// still running.
	WaitedFor uint64
}

// New returns a Timeout configured by cfg, or an error if a field makes no
// sense: a Timeout that is not positive, or a MaxAbandoned without Abandon.
func New(cfg Config) (*Timeout, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	t := &Timeout{
		name:         cfg.Name,
		timeout:      cfg.Timeout,
		abandon:      cfg.Abandon,
		maxAbandoned: int64(cfg.MaxAbandoned),
		obs:          cfg.Observer,
	}
	switch {
	case t.maxAbandoned == 0:
		t.maxAbandoned = DefaultMaxAbandoned
	case t.maxAbandoned < 0:
		t.maxAbandoned = math.MaxInt64 // off
	}
	t.cause = &Error{Name: t.name, Limit: t.timeout, Err: context.DeadlineExceeded}
	t.abandoned = &Error{Name: t.name, Limit: t.timeout, Abandoned: true, Err: context.DeadlineExceeded}
	return t, nil
}

// MustNew is [New] for configurations known to be valid; it panics on an
// invalid one.
func MustNew(cfg Config) *Timeout {
	t, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return t
}

// Name returns the timeout's name.
func (t *Timeout) Name() string {
	if t == nil {
		return ""
	}
	return t.name
}

// Snapshot returns the timeout's counts now.
func (t *Timeout) Snapshot() Snapshot {
	if t == nil {
		return Snapshot{}
	}
	return Snapshot{
		Name:             t.name,
		Timeout:          t.timeout,
		TimedOut:         t.timedOut.Load(),
		Abandoned:        t.left.Load(),
		AbandonedRunning: int(t.running.Load()),
		WaitedFor:        t.waitedFor.Load(),
	}
}

// Do runs fn as one attempt with its own deadline: fn receives a context
// that ends after the Timeout, or when ctx ends if that is sooner — the
// attempt's deadline never extends the caller's. Do returns what fn
// returned, except that an error fn returns after the attempt's deadline
// passed, while ctx is still alive, comes back as an *[Error] that matches
// [ErrTimeout], is transient to resilience.Classify (unless the error fn
// returned is explicitly marked permanent), and unwraps to fn's error. When
// ctx itself has ended, fn's error is returned untouched: the caller's
// deadline or cancellation is the caller's, not a timeout. A success is a
// success, even after the deadline. If ctx has ended before Do is called, fn
// does not run and Do returns [context.Cause] of ctx.
//
// In cooperative mode (the default) Do returns when fn returns, so a
// function that ignores its context makes Do wait for it. In Abandon mode Do
// returns at the deadline, or as soon as ctx ends, with fn still running in
// its own goroutine and its result dropped, as long as fewer than
// MaxAbandoned abandoned calls are running; otherwise it waits for fn.
//
// A panic in fn goes on up the stack of the caller of Do; in Abandon mode it
// is carried over from fn's goroutine, with its original value (the stack
// trace is then that of Do). A panic in a call already abandoned has no
// caller to go to: it is reported to the observer's AbandonedReturn and then
// ends the program, as the panic of any goroutine does; it is never
// swallowed.
//
// The attempt's context costs the allocations of context.WithTimeout (four
// on 64-bit Linux with Go 1.26) on every call, and a successful call in
// cooperative mode costs nothing more (see the package doc), except when
// ctx's deadline comes first: fn then receives ctx itself and a successful
// call allocates nothing. A closure passed to Do escapes to the heap, since
// Abandon mode hands it to a goroutine. Abandon mode adds a goroutine and
// its allocations. A nil ctx, t or fn is reported as an error, not a panic.
func Do[T any](ctx context.Context, t *Timeout, fn func(context.Context) (T, error)) (T, error) {
	if err := check(ctx, t, fn == nil); err != nil {
		var zero T
		return zero, err
	}
	return run[T](ctx, t, valueAttempt[T](fn))
}

// Run is [Do] for a function that returns only an error.
func Run(ctx context.Context, t *Timeout, fn func(context.Context) error) error {
	if err := check(ctx, t, fn == nil); err != nil {
		return err
	}
	_, err := run[struct{}](ctx, t, errorAttempt(fn))
	return err
}

// Execute runs op as [Run] does; it makes t a resilience.Policy. Inside a
// resilience.Compose, each attempt of a retry policy outside t gets its own
// deadline. In Abandon mode, an attempt left running goes on through the
// policies inside t, and its value is dropped.
func (t *Timeout) Execute(ctx context.Context, op resilience.Operation) error {
	if err := check(ctx, t, op == nil); err != nil {
		return err
	}
	_, err := run[struct{}](ctx, t, operationAttempt{op})
	return err
}

// Begin implements resilience.Scope, through which resilience.Do runs a
// Timeout inside a resilience.Compose without allocating beyond the
// attempt's context: it returns the attempt's context, as Do gives it to
// its function, and its cancel function. In Abandon mode, or for a nil t,
// it returns ok false, and the attempt goes through [Timeout.Execute].
func (t *Timeout) Begin(ctx context.Context) (actx context.Context, cancel context.CancelFunc, ok bool) {
	if t == nil || t.abandon {
		return nil, nil, false
	}
	if t.callerFirst(ctx) {
		return ctx, nil, true
	}
	actx, cancel = context.WithTimeoutCause(ctx, t.timeout, t.cause)
	return actx, cancel, true
}

// End implements resilience.Scope: it returns the error of an attempt that
// ran with the context actx from [Timeout.Begin] and returned err, as Do
// returns it.
func (t *Timeout) End(ctx, actx context.Context, err error) error {
	if t == nil { // Begin admits no pass through a nil Timeout
		return errNilTimeout
	}
	if err != nil {
		err = t.outcome(ctx, actx, err)
	}
	return err
}

// callerFirst reports whether ctx's deadline comes no later than the
// attempt's would: it is then the attempt's, as the attempt can only end
// with the caller's context, which it gets as it is. It reads only the
// monotonic clock when the deadline carries a monotonic reading, as those
// of context.WithTimeout do.
func (t *Timeout) callerFirst(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && time.Until(d) <= t.timeout
}

// check returns the error for a missing context, timeout or function.
func check(ctx context.Context, t *Timeout, noFunc bool) error {
	switch {
	case ctx == nil:
		return resilience.ErrNilContext
	case t == nil:
		return errNilTimeout
	case noFunc:
		return resilience.ErrNilFunc
	}
	return nil
}

// attempt is the function that Do, Run and Execute run: a type parameter of
// run, not an interface value, so that Run and Execute need no wrapping
// closure.
type attempt[T any] interface {
	run(ctx context.Context) (T, error)
}

type valueAttempt[T any] func(context.Context) (T, error)

func (f valueAttempt[T]) run(ctx context.Context) (T, error) { return f(ctx) }

type errorAttempt func(context.Context) error

func (f errorAttempt) run(ctx context.Context) (struct{}, error) { return struct{}{}, f(ctx) }

type operationAttempt struct{ op resilience.Operation }

func (o operationAttempt) run(ctx context.Context) (struct{}, error) {
	return struct{}{}, o.op.Call(ctx)
}

// run runs a as one attempt of t.
func run[T any, A attempt[T]](ctx context.Context, t *Timeout, a A) (T, error) {
	if ctx.Err() != nil {
		var zero T
		return zero, context.Cause(ctx)
	}
	if !t.abandon {
		actx, cancel, _ := t.Begin(ctx)
		if cancel != nil {
			defer cancel()
		}
		v, err := a.run(actx)
		return v, t.End(ctx, actx, err)
	}
	if d, ok := ctx.Deadline(); ok {
		if now := time.Now(); !d.After(now.Add(t.timeout)) {
			// The caller's deadline comes first, so it is the attempt's.
			return runAbandonable[T](ctx, ctx, t, a, now)
		}
	}
	actx, cancel := context.WithTimeoutCause(ctx, t.timeout, t.cause)
	defer cancel()
	return runAbandonable[T](ctx, actx, t, a, startOf(actx, t))
}

// startOf returns when the attempt whose context is actx started.
func startOf(actx context.Context, t *Timeout) time.Time {
	d, _ := actx.Deadline()
	return d.Add(-t.timeout)
}

// outcome turns err, returned by an attempt whose context is actx, into
// the attempt's error: an *Error if the attempt's own deadline passed while
// the caller's context, ctx, is alive; err itself otherwise.
func (t *Timeout) outcome(ctx, actx context.Context, err error) error {
	if err == nil || ctx.Err() != nil || actx == ctx || context.Cause(actx) != error(t.cause) {
		return err
	}
	t.timedOut.Add(1)
	timedOut := err
	if !errors.Is(err, t.cause) { // fn did not return its context's cause
		timedOut = &Error{Name: t.name, Limit: t.timeout, Err: err}
	}
	if t.obs != nil && t.obs.Timeout != nil {
		t.notify(t.obs.Timeout, resilience.EventTimeout, ctx, startOf(actx, t), timedOut)
	}
	return timedOut
}

// notify reports to f an event of type typ of the call with context ctx
// whose attempt began at start.
func (t *Timeout) notify(f func(resilience.Event), typ resilience.EventType, ctx context.Context, start time.Time, err error) {
	now := time.Now()
	observe.Call(f, resilience.Event{
		Type:    typ,
		Kind:    resilience.KindTimeout,
		Policy:  t.name,
		Context: ctx,
		Time:    now,
		Err:     err,
		Delay:   now.Sub(start),
	})
}

// A call's state, in Abandon mode: it changes once, from running to
// returned (by the call's goroutine) or to abandoned (by the caller).
const (
	running uint32 = iota
	returned
	abandoned
)

// call is one attempt that runs on its own goroutine, in Abandon mode, with
// what that goroutine needs.
type call[T any, A attempt[T]] struct {
	t     *Timeout
	actx  context.Context
	a     A
	start time.Time

	state    atomic.Uint32
	done     chan struct{} // closed when the function returned, unless abandoned
	v        T
	err      error
	panicked bool
	panicVal any
}

// runAbandonable runs a in Abandon mode: on its own goroutine if there is
// room for one more abandoned call, or else on this one, counting it as
// waited for if it outlives its context.
func runAbandonable[T any, A attempt[T]](ctx, actx context.Context, t *Timeout, a A, start time.Time) (T, error) {
	if t.running.Load() < t.maxAbandoned {
		return abandonable[T](ctx, actx, t, a, start)
	}
	v, err := a.run(actx)
	if actx.Err() != nil {
		t.waitedFor.Add(1)
	}
	return v, t.outcome(ctx, actx, err)
}

// abandonable runs a on its own goroutine and waits for it, or for actx to
// end, whichever comes first; in the second case it leaves a running, if t
// has room for one more abandoned call.
func abandonable[T any, A attempt[T]](ctx, actx context.Context, t *Timeout, a A, start time.Time) (T, error) {
	c := &call[T, A]{t: t, actx: actx, a: a, start: start, done: make(chan struct{})}
	go c.run()
	select {
	case <-c.done:
	case <-actx.Done():
		if t.leave(&c.state) {
			var zero T
			if ctx.Err() != nil {
				return zero, context.Cause(ctx)
			}
			t.timedOut.Add(1)
			if t.obs != nil && t.obs.Timeout != nil {
				t.notify(t.obs.Timeout, resilience.EventTimeout, ctx, start, t.abandoned)
			}
			return zero, t.abandoned
		}
		<-c.done
	}
	if c.panicked {
		if c.panicVal != nil {
			panic(c.panicVal)
		}
		runtime.Goexit()
	}
	return c.v, t.outcome(ctx, actx, c.err)
}

// leave abandons the call whose state is state, if there is room for one
// more abandoned call and the call has not returned yet.
func (t *Timeout) leave(state *atomic.Uint32) bool {
	for {
		n := t.running.Load()
		if n >= t.maxAbandoned {
			t.waitedFor.Add(1)
			return false
		}
		if t.running.CompareAndSwap(n, n+1) {
			break
		}
	}
	if state.CompareAndSwap(running, abandoned) {
		t.left.Add(1)
		return true
	}
	t.running.Add(-1) // it has just returned
	return false
}

// run is the goroutine of an attempt in Abandon mode. It hands the result,
// or a panic, to the caller if the caller still waits. If the call was
// abandoned, it reports the return and lets a panic go on.
func (c *call[T, A]) run() {
	ok := false
	defer func() {
		if c.state.CompareAndSwap(running, returned) {
			if !ok {
				c.panicked = true
				c.panicVal = recover()
			}
			close(c.done)
			return
		}
		t := c.t
		t.running.Add(-1)
		if t.obs != nil && t.obs.AbandonedReturn != nil {
			now := time.Now()
			e := resilience.Event{
				Type:    resilience.EventAbandonedReturn,
				Kind:    resilience.KindTimeout,
				Policy:  t.name,
				Context: c.actx,
				Time:    now,
				Err:     c.err,
				Delay:   now.Sub(c.start),
			}
			if !ok {
				e.Reason = "panicked"
			}
			observe.Call(t.obs.AbandonedReturn, e)
		}
	}()
	c.v, c.err = c.a.run(c.actx)
	ok = true
}

package reconnect

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/internal/clock"
	"github.com/netresilience/resilience/internal/nilpolicy"
	"github.com/netresilience/resilience/internal/observe"
)

// DefaultMinUptime is the default of [Config].MinUptime.
const DefaultMinUptime = 10 * time.Second

// Config configures a [Supervisor]. Each zero field means its documented
// default, so Config{} is a sound supervisor: it dials until the context
// ends, waits between failed dials as backoff.Exponential{} says (100ms,
// doubling, capped at 10s, full jitter), and counts a connection lost within
// 10s of its handshake as a failed dial.
type Config struct {
	// Name names the supervisor in its errors, events and snapshots.
	Name string

	// Backoff is the wait after each failure in a row (a failed dial, or a
	// connection lost within MinUptime). Default backoff.Exponential{}:
	// 100ms, doubling, capped at 10s, full jitter. The first dial after a
	// connection that lasted MinUptime goes at once, and the count of
	// failures starts again from zero.
	Backoff backoff.Strategy

	// Breaker, if set, is asked before every dial, and told every dial's
	// outcome at its handshake and every connection's verdict (see the
	// package doc). While it is open, the supervisor waits until it allows
	// a probe rather than dialing. It may be shared with other supervisors
	// and calls to the same service. Default: none.
	Breaker *breaker.Breaker

	// MinUptime is how long a connection must last after its handshake to
	// count as a success. One lost sooner counts as a failed dial: the next
	// dial waits the backoff, and the breaker records a failure. Zero means
	// [DefaultMinUptime], 10s; negative turns it off: every handshake is a
	// success, however soon the connection is lost, and a lost connection
	// is dialed again at once — over and over, against a broker that
	// accepts connections and drops them.
	MinUptime time.Duration

	// MaxAttempts, if set, is how many failures in a row (failed dials and
	// early losses) make [Supervisor.Run] give up, with an error matching
	// [ErrGaveUp]. A dial the breaker refuses is not a failure. Default: no
	// limit; Run goes on until its context ends.
	MaxAttempts int

	// Observer, if set, receives the supervisor's events, with Kind
	// resilience.KindReconnect, on the goroutine of Run: DialFailed after
	// each failed dial, Connected after each successful one, Lost when a
	// connection ends (Reason "early" within MinUptime), Reject when the
	// breaker refuses a dial (Reason "breaker", Delay the wait), and GiveUp
	// when MaxAttempts is reached. Default: none.
	Observer *resilience.Observer
}

// validate reports the first nonsense in c.
func (c *Config) validate() error {
	if c.MaxAttempts < 0 {
		return errors.New("reconnect: MaxAttempts is negative: " + strconv.Itoa(c.MaxAttempts))
	}
	if v, ok := c.Backoff.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return errors.New("reconnect: Backoff: " + err.Error())
		}
	}
	return nil
}

// Errors of [Supervisor.Run], matched with errors.Is.
var (
	// ErrGaveUp matches the *[Error] that Run returns when MaxAttempts
	// failures came in a row.
	ErrGaveUp = errors.New("reconnect: gave up")

	// ErrLost matches the cause of a connection's context once the
	// connection was reported lost, through the func given to dial.
	ErrLost = errors.New("reconnect: connection lost")

	// ErrServeReturned is the cause of a connection's end when serve
	// returned nil before the connection was reported lost.
	ErrServeReturned = errors.New("reconnect: serve returned")

	// ErrNilConn is returned by Run when dial returned a nil connection
	// with a nil error: a bug in dial, so Run stops rather than dial again.
	ErrNilConn = errors.New("reconnect: dial returned a nil connection and a nil error")

	// ErrRunning is returned by Run when Run of the same Supervisor is
	// already running: a Supervisor keeps one connection.
	ErrRunning = errors.New("reconnect: Run is already running")
)

// errNilSupervisor is the error of a call through a nil pointer.
const errNilSupervisor = nilpolicy.Error("reconnect: nil *Supervisor")

// Error is what [Supervisor.Run] returns when it gives up after MaxAttempts
// failures in a row. It matches [ErrGaveUp] and unwraps to the last
// failure's error.
type Error struct {
	Name     string // the supervisor's name
	Attempts int    // failures in a row: failed dials and early losses
	Err      error  // the last failure's error
}

// Error returns a message such as
// `reconnect "broker": gave up after 5 failures in a row: connection refused`.
func (e *Error) Error() string {
	s := "reconnect"
	if e.Name != "" {
		s += " " + strconv.Quote(e.Name)
	}
	s += ": gave up after " + strconv.Itoa(e.Attempts) + " failures in a row"
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the last failure's error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is [ErrGaveUp].
func (e *Error) Is(target error) bool { return target == ErrGaveUp }

// State is what a supervisor is doing.
type State uint8

const (
	// Idle: Run is not running.
	Idle State = iota
	// Dialing: a dial is in progress.
	Dialing
	// Connected: a connection is live; [Supervisor.Conn] returns it.
	Connected
	// Waiting: between dials, for the backoff or for the breaker.
	Waiting
)

// String returns "idle", "dialing", "connected" or "waiting".
func (s State) String() string {
	switch s {
	case Idle:
		return "idle"
	case Dialing:
		return "dialing"
	case Connected:
		return "connected"
	case Waiting:
		return "waiting"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Supervisor keeps one long-lived connection of type C alive: [Supervisor.Run]
// dials, serves and dials again, through the Config's backoff and breaker.
// Make one with [New]; the zero Supervisor is not valid, and a nil
// *Supervisor never panics: Run returns an error matching
// resilience.ErrNilPolicy and the other methods report zero values. A
// Supervisor is safe for concurrent use; one Run runs at a time.
//
// A Supervisor is generic over the connection's type, unlike the policies of
// the other packages, because it holds the connection and hands it out:
// [Supervisor.Conn] returns a *nats.Conn or an mqtt.Client as it is, without
// a type assertion or an allocation.
type Supervisor[C any] struct {
	// Set by New, then read-only.
	name        string
	backoff     backoff.Strategy
	br          *breaker.Breaker
	minUptime   time.Duration // 0: off
	maxAttempts int           // 0: no limit
	obs         *resilience.Observer

	running atomic.Bool
	live    atomic.Pointer[live[C]]

	mu       sync.Mutex // guards what follows
	state    State
	since    time.Time // when state began
	upSince  time.Time // while connected
	nextDial time.Time // while waiting
	dials    uint64
	conns    uint64
	failures int // in a row
	lastErr  error
}

// live is a connection that is up.
type live[C any] struct{ c C }

// New returns a Supervisor configured by cfg, or an error if a field makes
// no sense: a negative MaxAttempts, a backoff whose Validate method fails.
func New[C any](cfg Config) (*Supervisor[C], error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Supervisor[C]{
		name:        cfg.Name,
		backoff:     cfg.Backoff,
		br:          cfg.Breaker,
		minUptime:   cfg.MinUptime,
		maxAttempts: cfg.MaxAttempts,
		obs:         cfg.Observer,
	}
	if s.backoff == nil {
		s.backoff = backoff.Exponential{}
	}
	switch {
	case s.minUptime == 0:
		s.minUptime = DefaultMinUptime
	case s.minUptime < 0:
		s.minUptime = 0 // off
	}
	return s, nil
}

// MustNew is [New] for configurations known to be valid; it panics on an
// invalid one.
func MustNew[C any](cfg Config) *Supervisor[C] {
	s, err := New[C](cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// Name returns the supervisor's name.
func (s *Supervisor[C]) Name() string {
	if s == nil {
		return ""
	}
	return s.name
}

// Conn returns the live connection and true, or the zero C and false while
// there is none (before the first handshake, between a loss and the next
// handshake, after Run returns). It allocates nothing and takes no lock:
// call it per message. A connection it returns may be lost at any moment
// after; a client's own error for a send on a lost connection is the way to
// learn of it.
func (s *Supervisor[C]) Conn() (C, bool) {
	if s != nil {
		if l := s.live.Load(); l != nil {
			return l.c, true
		}
	}
	var zero C
	return zero, false
}

// Run keeps a connection alive until ctx ends, and then returns
// context.Cause(ctx). It returns sooner only with an error of its own: a nil
// ctx, dial or serve; a Run already running ([ErrRunning]); MaxAttempts
// failures in a row (an *[Error], matching [ErrGaveUp]); a nil connection
// from dial with a nil error ([ErrNilConn]).
//
// Run asks the breaker, if any, and calls dial with a context that ends with
// ctx and with lost, the connection's own report of its loss: call lost from
// the client's connection-lost callback, on any goroutine, as often as it
// comes; only the first call counts, and a call after the connection ended
// does nothing (it cannot end a later connection). When dial succeeds, Run
// calls serve on its own goroutine with the connection and a context that
// ends when lost is called or ctx ends, its cause then matching [ErrLost]
// and wrapping lost's error, or ctx's cause. serve does what the caller does
// with each new connection (subscribe, say), waits for its context to end,
// closes the connection, and returns; Run then dials again, unless ctx has
// ended. serve may also return on its own to report the connection lost,
// with the error that says why (nil counts as [ErrServeReturned]). While
// serve runs, [Supervisor.Conn] returns the connection.
//
// A panic in dial or serve is not recovered: it goes on up through Run,
// after the breaker's permit is reported as failed (dial) and the connection
// is taken from Conn (serve). Run can be called again after it returns.
func (s *Supervisor[C]) Run(ctx context.Context, dial func(ctx context.Context, lost func(error)) (C, error), serve func(ctx context.Context, conn C) error) error {
	switch {
	case s == nil:
		return errNilSupervisor
	case ctx == nil:
		return resilience.ErrNilContext
	case dial == nil:
		return errors.Join(errors.New("reconnect: nil dial func"), resilience.ErrNilFunc)
	case serve == nil:
		return errors.Join(errors.New("reconnect: nil serve func"), resilience.ErrNilFunc)
	}
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer func() {
		s.live.Store(nil)
		s.setState(Idle, time.Now())
		s.running.Store(false)
	}()

	var (
		prev       time.Duration // the last backoff wait
		rejections int           // breaker rejections in a row
		downSince  = time.Now()
		attempt    int // dials in this outage
	)
	for {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		var permit breaker.Permit
		if s.br != nil {
			p, err := s.br.Allow()
			if err != nil {
				rejections++
				now := time.Now()
				wait, _ := resilience.RetryAfterAt(err, now)
				if wait <= 0 {
					// Half-open with its probes taken by another, or forced
					// open: no time is known, so back off, longer each time.
					wait = s.delay(s.failureCount()+rejections, 0)
				}
				s.wait(now, wait, nil)
				s.notify(ctx, resilience.Event{Type: resilience.EventReject, Err: err, Delay: wait, Reason: "breaker", Time: now})
				if cause := clock.Sleep(ctx, wait); cause != nil {
					return cause
				}
				continue
			}
			permit = p
		}
		rejections = 0
		attempt++
		connCtx, cancel := context.WithCancelCause(ctx)
		lost := func(err error) {
			if err == nil {
				cancel(ErrLost)
				return
			}
			cancel(&lostError{err})
		}
		s.setDialing()
		c, err := s.dial(connCtx, dial, lost, permit, cancel)
		if err == nil && isNil(c) {
			cancel(nil)
			permit.Release()
			return ErrNilConn
		}
		if err != nil {
			cancel(nil)
			if ctx.Err() != nil {
				permit.Done(context.Canceled) // the caller gave up: not the service's failure
				return context.Cause(ctx)
			}
			permit.Done(err)
			wait, stop := s.failed(ctx, err, &prev, true)
			if stop != nil {
				return stop
			}
			if cause := clock.Sleep(ctx, wait); cause != nil {
				return cause
			}
			continue
		}

		// Connected.
		up := time.Now()
		var verdict *verdict
		if s.minUptime > 0 {
			permit.Release() // the verdict comes at MinUptime, or with an early loss
			verdict = s.startVerdict()
		} else {
			permit.Done(nil)
			s.clearFailures()
		}
		s.connected(c, up)
		s.notify(ctx, resilience.Event{Type: resilience.EventConnected, Attempt: attempt, Delay: up.Sub(downSince), Time: up})

		serveErr := s.serve(connCtx, serve, c, cancel, verdict)
		cause := context.Cause(connCtx)
		cancel(nil)
		s.live.Store(nil)
		end := time.Now()
		uptime := end.Sub(up)
		early := verdict != nil && verdict.claim()
		if ctx.Err() != nil {
			// The caller ended it: neither a success nor a failure.
			s.notify(ctx, resilience.Event{Type: resilience.EventLost, Err: context.Cause(ctx), Delay: uptime, Time: end})
			return context.Cause(ctx)
		}
		lossErr := cause
		if !errors.Is(cause, ErrLost) {
			// serve returned on its own.
			lossErr = serveErr
			if lossErr == nil {
				lossErr = ErrServeReturned
			}
		}
		ev := resilience.Event{Type: resilience.EventLost, Err: lossErr, Delay: uptime, Time: end}
		downSince, attempt = end, 0
		if !early {
			s.lost(lossErr, end)
			s.notify(ctx, ev)
			prev = 0
			continue // dial again at once
		}
		ev.Reason = "early"
		s.notify(ctx, ev)
		s.br.Record(resilience.Transient(&earlyLossError{uptime: uptime, err: lossErr}))
		wait, stop := s.failed(ctx, lossErr, &prev, false)
		if stop != nil {
			return stop
		}
		if cause := clock.Sleep(ctx, wait); cause != nil {
			return cause
		}
	}
}

// dial calls the caller's dial, reporting the permit as failed if it panics.
func (s *Supervisor[C]) dial(ctx context.Context, dial func(context.Context, func(error)) (C, error), lost func(error), permit breaker.Permit, cancel context.CancelCauseFunc) (C, error) {
	returned := false
	defer func() {
		if !returned {
			cancel(nil)
			permit.Done(errDialPanicked)
			s.setState(Idle, time.Now())
		}
	}()
	c, err := dial(ctx, lost)
	returned = true
	return c, err
}

// serve calls the caller's serve, ending the connection if it panics.
func (s *Supervisor[C]) serve(ctx context.Context, serve func(context.Context, C) error, c C, cancel context.CancelCauseFunc, v *verdict) error {
	returned := false
	defer func() {
		if !returned {
			cancel(nil)
			s.live.Store(nil)
			if v != nil {
				v.claim() // no verdict: the caller's bug is not the service's failure
			}
		}
	}()
	err := serve(ctx, c)
	returned = true
	return err
}

// errDialPanicked is the outcome reported to the breaker for a dial that
// panicked: a failure, as a panic is through every executor.
var errDialPanicked = resilience.Permanent(errors.New("reconnect: dial panicked"))

// lostError is the cause of a connection's context after lost(err).
type lostError struct{ err error }

func (e *lostError) Error() string        { return "reconnect: connection lost: " + e.err.Error() }
func (e *lostError) Unwrap() error        { return e.err }
func (e *lostError) Is(target error) bool { return target == ErrLost }

// earlyLossError is what the breaker records for a connection lost within
// MinUptime.
type earlyLossError struct {
	uptime time.Duration
	err    error
}

func (e *earlyLossError) Error() string {
	return "reconnect: connection lost " + e.uptime.String() + " after its handshake: " + e.err.Error()
}
func (e *earlyLossError) Unwrap() error { return e.err }

// verdict decides, once, whether a connection lasted MinUptime: the timer
// that fires at MinUptime and Run's handling of a loss race to claim it.
type verdict struct {
	claimed atomic.Bool
	timer   *time.Timer
}

// claim reports whether the caller is the first to claim the verdict; it
// stops the timer, which is then the loser.
func (v *verdict) claim() bool {
	if !v.claimed.CompareAndSwap(false, true) {
		return false
	}
	v.timer.Stop()
	return true
}

// startVerdict starts the MinUptime timer of a new connection: if it fires
// before a loss claims the verdict, the connection lasted, which the breaker
// records as a success, and the failures in a row end.
func (s *Supervisor[C]) startVerdict() *verdict {
	v := &verdict{}
	// The func reads only v.claimed; v.timer is read by claim alone, on
	// Run's goroutine.
	v.timer = time.AfterFunc(s.minUptime, func() {
		if v.claimed.CompareAndSwap(false, true) {
			s.br.Record(nil)
			s.clearFailures()
		}
	})
	return v
}

// failed counts a failure in a row (a failed dial or an early loss) with
// error err, and returns the wait before the next dial, or the error to
// stop with. prev is the last backoff wait, updated. dialed says whether
// the failure is a failed dial, which DialFailed reports; an early loss has
// had its Lost event.
func (s *Supervisor[C]) failed(ctx context.Context, err error, prev *time.Duration, dialed bool) (time.Duration, error) {
	now := time.Now()
	s.mu.Lock()
	s.failures++
	n := s.failures
	s.lastErr = err
	s.mu.Unlock()
	if s.maxAttempts > 0 && n >= s.maxAttempts {
		stop := &Error{Name: s.name, Attempts: n, Err: err}
		if dialed {
			s.notify(ctx, resilience.Event{Type: resilience.EventDialFailed, Err: err, Attempt: n, Time: now})
		}
		s.notify(ctx, resilience.Event{Type: resilience.EventGiveUp, Err: stop, Attempt: n, Reason: "attempts exhausted", Time: now})
		return 0, stop
	}
	wait := s.delay(n, *prev)
	*prev = wait
	if s.br != nil {
		// Wait out the breaker too, if it is open: dialing sooner would be
		// refused.
		if until, rej := s.br.Foresee(ctx, now); rej != nil && !until.IsZero() {
			wait = max(wait, until.Sub(now))
		}
	}
	s.wait(now, wait, err)
	if dialed {
		s.notify(ctx, resilience.Event{Type: resilience.EventDialFailed, Err: err, Attempt: n, Delay: wait, Time: now})
	}
	return wait, nil
}

// delay is the backoff's wait after failure n.
func (s *Supervisor[C]) delay(n int, prev time.Duration) time.Duration {
	return max(s.backoff.Delay(max(n, 1), prev, rand.Float64()), 0)
}

func (s *Supervisor[C]) failureCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failures
}

func (s *Supervisor[C]) clearFailures() {
	s.mu.Lock()
	s.failures = 0
	s.mu.Unlock()
}

func (s *Supervisor[C]) setState(st State, now time.Time) {
	s.mu.Lock()
	s.state, s.since = st, now
	s.upSince, s.nextDial = time.Time{}, time.Time{}
	s.mu.Unlock()
}

func (s *Supervisor[C]) setDialing() {
	now := time.Now()
	s.mu.Lock()
	s.state, s.since = Dialing, now
	s.upSince, s.nextDial = time.Time{}, time.Time{}
	s.dials++
	s.mu.Unlock()
}

func (s *Supervisor[C]) wait(now time.Time, d time.Duration, err error) {
	s.mu.Lock()
	s.state, s.since = Waiting, now
	s.upSince, s.nextDial = time.Time{}, now.Add(d)
	if err != nil {
		s.lastErr = err
	}
	s.mu.Unlock()
}

func (s *Supervisor[C]) connected(c C, now time.Time) {
	s.live.Store(&live[C]{c})
	s.mu.Lock()
	s.state, s.since = Connected, now
	s.upSince, s.nextDial = now, time.Time{}
	s.conns++
	s.mu.Unlock()
}

func (s *Supervisor[C]) lost(err error, now time.Time) {
	s.mu.Lock()
	s.state, s.since = Dialing, now
	s.upSince = time.Time{}
	s.failures = 0
	s.lastErr = err
	s.mu.Unlock()
}

// notify sends e, completed, to the observer's func for its type, if the
// observer has one.
func (s *Supervisor[C]) notify(ctx context.Context, e resilience.Event) {
	if s.obs == nil {
		return
	}
	var f func(resilience.Event)
	switch e.Type {
	case resilience.EventConnected:
		f = s.obs.Connected
	case resilience.EventLost:
		f = s.obs.Lost
	case resilience.EventDialFailed:
		f = s.obs.DialFailed
	case resilience.EventReject:
		f = s.obs.Reject
	case resilience.EventGiveUp:
		f = s.obs.GiveUp
	}
	if f == nil {
		return
	}
	e.Kind, e.Policy, e.Context = resilience.KindReconnect, s.name, ctx
	observe.Call(f, e)
}

// Snapshot is a supervisor's state and counts at one moment, for metrics: a
// plain value, whose zero value is the snapshot of a nil *Supervisor.
type Snapshot struct {
	Name           string        // the supervisor's name
	State          State         // what it is doing
	Since          time.Time     // when the current state began
	ConnectedSince time.Time     // while connected: the handshake's time; else zero
	Uptime         time.Duration // while connected: how long, at the snapshot's time
	NextDial       time.Time     // while waiting: when it will ask the breaker or dial
	Dials          uint64        // dials since New
	Connections    uint64        // successful dials since New

	// ConsecutiveFailures counts the failed dials and the connections lost
	// within MinUptime since the last connection that lasted MinUptime.
	ConsecutiveFailures int

	// LastErr is the last failed dial's error, or the cause of the last
	// connection's end, whichever came later; nil if neither came.
	LastErr error
}

// Snapshot returns the supervisor's state and counts now.
func (s *Supervisor[C]) Snapshot() Snapshot {
	if s == nil {
		return Snapshot{}
	}
	return s.SnapshotAt(time.Now())
}

// SnapshotAt is [Supervisor.Snapshot] with Uptime taken at the time now.
func (s *Supervisor[C]) SnapshotAt(now time.Time) Snapshot {
	if s == nil {
		return Snapshot{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{
		Name:                s.name,
		State:               s.state,
		Since:               s.since,
		ConnectedSince:      s.upSince,
		NextDial:            s.nextDial,
		Dials:               s.dials,
		Connections:         s.conns,
		ConsecutiveFailures: s.failures,
		LastErr:             s.lastErr,
	}
	if s.state == Connected {
		snap.Uptime = max(now.Sub(s.upSince), 0)
	}
	return snap
}

// isNil reports whether c is a nil pointer, interface, map, slice, channel
// or func.
func isNil[C any](c C) bool {
	v := reflect.ValueOf(&c).Elem()
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return v.IsNil()
	}
	return false
}

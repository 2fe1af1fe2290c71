package throttle

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/internal/clock"
	"github.com/netresilience/resilience/internal/novalue"
	"github.com/netresilience/resilience/internal/observe"
	"github.com/netresilience/resilience/internal/once"
	"github.com/netresilience/resilience/internal/window"
)

// The window's counts.
const (
	requests = 0 // requests attempted, local rejections included
	accepts  = 1 // requests the backend accepted
)

// Throttle is an adaptive client-side throttle. Make one with [New]; the zero
// Throttle is not valid, and a nil *Throttle never panics: a method that would
// run or admit a call refuses it, with an error matching
// resilience.ErrNilPolicy where it returns one, and the other methods do
// nothing and report zero values. A Throttle is safe for concurrent use; share
// one per backend among all the calls to it. It is a resilience.Policy and a
// resilience.Guard; [Do] and [Run] are what most callers want, and
// [Throttle.Allow] is the two-step alternative.
type Throttle struct {
	clock *clock.Clock // set by New, then read-only

	// cf is what the Config says, as the throttle uses it: replaced whole,
	// under mu, by Reconfigure, and read with one atomic load.
	cf atomic.Pointer[settings]

	// zeroUntil is, if the probability was 0 when last looked at, the end of
	// the window's bucket that held the time it was looked at; MinInt64 if
	// not. Until then the window's counts change only by the requests
	// counted, and a request that was not accepted takes the lock and looks
	// again, while accepts cannot raise the probability from 0: so the
	// executors admit a call at once when their last reading of the clock is
	// before it. Written under mu.
	zeroUntil atomic.Int64

	mu       sync.Mutex // guards what follows
	win      *window.Window
	rng      *rand.Rand // nil: draw from math/rand/v2's generator
	rejected uint64
	shadowed uint64 // calls a shadow throttle would have rejected

	marks once.Pool // tell a permit's first report from later ones
}

// New returns a Throttle configured by cfg, or an error if a field makes no
// sense: K below 1, infinite or NaN, a negative Window or one above
// [MaxWindow], a MaxRejectProbability outside (0, 1].
func New(cfg Config) (*Throttle, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cf := newSettings(cfg)
	t := &Throttle{
		clock: clock.New(),
		win:   window.New(cf.window),
	}
	t.cf.Store(cf)
	t.zeroUntil.Store(math.MinInt64)
	if cfg.Seed != 0 {
		t.rng = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	}
	return t, nil
}

// MustNew is [New] for configurations known to be valid; it panics on an
// invalid one.
func MustNew(cfg Config) *Throttle {
	t, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return t
}

// Name returns the throttle's name.
func (t *Throttle) Name() string {
	if t == nil {
		return ""
	}
	return t.cf.Load().name
}

// Permit is the throttle's permission for one call, from [Throttle.Allow].
// Report the call's outcome with [Permit.Done]: the request is counted then,
// so a permit that is never reported counts as nothing. Only the first report
// of a permit, or of any copy of it, counts; later ones do nothing. A Permit
// is a small value that may be copied and reported from any goroutine. The
// zero Permit reports nothing.
type Permit struct {
	t *Throttle
	m once.Mark
}

// Allow asks permission for one call now, drawing the random number the
// decision needs. If the throttle admits it, report the call's outcome on
// the returned Permit; if not, the error matches [ErrThrottled], and the
// rejection counts as a request that the backend did not accept.
func (t *Throttle) Allow() (Permit, error) {
	if t == nil {
		return Permit{}, errNilThrottle
	}
	if err := t.enter(nil); err != nil {
		return Permit{}, err
	}
	return Permit{t, t.marks.Issue()}, nil
}

// AllowAt is [Throttle.Allow] at the time now with the random number u, for
// virtual time and reproducible decisions: the call is rejected when u is
// below the rejection probability p at now (see [Throttle.ProbabilityAt]),
// and admitted when u ≥ p. Draw u uniformly from [0, 1). Since p is always
// below 1, a u of 1 or more is always admitted; one of 0 or less, or NaN, is
// rejected whenever p is above 0.
func (t *Throttle) AllowAt(now time.Time, u float64) (Permit, error) {
	if t == nil {
		return Permit{}, errNilThrottle
	}
	if err := t.decide(nil, t.clock.From(now), u, false); err != nil {
		return Permit{}, err
	}
	return Permit{t, t.marks.Issue()}, nil
}

// Done reports the outcome of the permitted call: err is what the call
// returned, classified by the throttle's classifier. Report
// context.Canceled (or an error wrapping it) when the caller gave up, so that
// the call counts as nothing. A second report of the permit does nothing.
func (p Permit) Done(err error) {
	if p.t == nil || !p.t.marks.Spend(p.m) {
		return
	}
	p.t.exit(p.t.classOf(resilience.Outcome{Err: err}), p.t.clock.Now())
}

// DoneAt is [Permit.Done] at the time now, for virtual time.
func (p Permit) DoneAt(now time.Time, err error) {
	if p.t == nil || !p.t.marks.Spend(p.m) {
		return
	}
	p.t.exit(p.t.classOf(resilience.Outcome{Err: err}), p.t.clock.From(now))
}

// Enter implements resilience.Guard; most callers use [Do] or
// [Throttle.Allow] instead. The throttle never waits: ctx is only passed on
// to the observer of a rejection.
func (t *Throttle) Enter(ctx context.Context) (resilience.Ticket, error) {
	if t == nil {
		return resilience.Ticket{}, errNilThrottle
	}
	return resilience.Ticket{}, t.enter(ctx)
}

// Exit implements resilience.Guard.
func (t *Throttle) Exit(_ resilience.Ticket, o resilience.Outcome) {
	if t == nil {
		return
	}
	if o.Err == nil && !o.Panicked {
		t.exit(resilience.ClassSuccess, t.clock.Sampled())
		return
	}
	t.exit(t.classOf(o), t.clock.Now())
}

// Execute runs op through the throttle, as [Run] does; it makes the throttle
// a resilience.Policy.
func (t *Throttle) Execute(ctx context.Context, op resilience.Operation) error {
	if op == nil {
		return resilience.ErrNilFunc
	}
	return resilience.Run(ctx, t, op.Call)
}

// Do runs fn if the throttle admits the call, and reports its outcome: the
// error fn returns, classified (an accept unless transient); a panic, as a
// request the backend did not accept (the panic then goes on); a failure
// after the caller's own context was canceled, as nothing. If the throttle
// rejects the call, fn does not run and the error matches [ErrThrottled].
// Do never stores fn, so a closure passed to it stays on the caller's stack,
// and an admitted successful call allocates nothing; nor does a rejection.
func Do[T any](ctx context.Context, t *Throttle, fn func(context.Context) (T, error)) (T, error) {
	return resilience.Guarded(ctx, t, fn)
}

// Run is [Do] for a function that returns only an error.
func Run(ctx context.Context, t *Throttle, fn func(context.Context) error) error {
	_, err := resilience.Guarded(ctx, t, novalue.Wrap(fn))
	return err
}

// classOf turns an outcome into a class.
func (t *Throttle) classOf(o resilience.Outcome) resilience.Class {
	switch {
	case o.Panicked:
		return resilience.ClassTransient
	case o.Canceled:
		return resilience.ClassIgnored
	case o.Err == nil:
		return resilience.ClassSuccess
	}
	return t.cf.Load().classify(o.Err)
}

// enter decides on a call now, drawing the random number; ctx is the call's
// context, nil if the caller has none. While the probability is 0 and only
// accepts have come since, the last reading of the clock decides without the
// lock (see zeroUntil); a decision that may reject reads the clock.
func (t *Throttle) enter(ctx context.Context) error {
	if t.clock.Sampled() < t.zeroUntil.Load() {
		return nil
	}
	return t.decide(ctx, t.clock.Now(), 0, true)
}

// decide admits or rejects a call with context ctx (nil for none) at time
// now: it is rejected when u, or a number drawn if draw is set, is below the
// probability. A rejection counts as a request that was not accepted.
func (t *Throttle) decide(ctx context.Context, now int64, u float64, draw bool) error {
	t.mu.Lock()
	p := t.probabilityLocked(now)
	if p == 0 {
		t.mu.Unlock()
		return nil
	}
	if draw {
		u = t.drawLocked()
	}
	if u >= p { // so a NaN is rejected
		t.mu.Unlock()
		return nil
	}
	cf := t.cf.Load()
	if cf.shadow {
		// The call runs, and its outcome counts as the request.
		t.shadowed++
	} else {
		t.countLocked(now, false)
		t.rejected++
	}
	t.mu.Unlock()
	err := errorFor(cf.errs, p)
	if cf.obs != nil && cf.obs.Reject != nil {
		if ctx == nil {
			ctx = context.Background()
		}
		observe.Call(cf.obs.Reject, resilience.Event{
			Type:        resilience.EventReject,
			Kind:        resilience.KindThrottle,
			Policy:      cf.name,
			Context:     ctx,
			Time:        t.clock.Time(now),
			Err:         err,
			Reason:      "throttled",
			Probability: p,
			Shadow:      cf.shadow,
		})
	}
	if cf.shadow {
		return nil
	}
	return err
}

// drawLocked returns a random number in [0, 1).
func (t *Throttle) drawLocked() float64 {
	if t.rng != nil {
		return t.rng.Float64()
	}
	return rand.Float64()
}

// exit records the outcome of an admitted call of class c at time now: a
// request, accepted unless it failed transiently, or nothing if ignored.
func (t *Throttle) exit(c resilience.Class, now int64) {
	if c == resilience.ClassIgnored {
		return
	}
	t.mu.Lock()
	t.countLocked(now, c != resilience.ClassTransient)
	t.mu.Unlock()
}

// countLocked counts a request at time now, and whether it was accepted. An
// accept cannot raise requests − K·accepts (K ≥ 1), so zeroUntil stands; a
// request that was not accepted may, so the probability is looked at again
// if it was 0.
func (t *Throttle) countLocked(now int64, accepted bool) {
	if accepted {
		t.win.Add(now, window.Counts{requests: 1, accepts: 1})
		return
	}
	t.win.Add(now, window.Counts{requests: 1})
	if t.zeroUntil.Load() != math.MinInt64 {
		t.probabilityLocked(now)
	}
}

// probabilityLocked returns the rejection probability at time now, and sets
// zeroUntil. The window's counts change by themselves only when its newest
// bucket moves on; a time before that bucket's start counts in it. So the
// counts at now stay as they are until the end of the newest bucket (which
// holds now, or begins after it), but for the requests counted meanwhile,
// and of those only one that was not accepted can raise the probability
// from 0.
func (t *Throttle) probabilityLocked(now int64) float64 {
	tot := t.win.Totals(now)
	p, balanced := t.cf.Load().formula(tot[requests], tot[accepts])
	until := int64(math.MinInt64)
	if balanced {
		until = t.win.NewestEnd()
	}
	if t.zeroUntil.Load() != until {
		t.zeroUntil.Store(until)
	}
	return p
}

// formula is the SRE book's rejection probability, held at 0 below
// MinRequests and capped at MaxRejectProbability. balanced reports that
// requests − K·accepts ≤ 0, so that the probability is 0 and more accepts
// keep it there; below MinRequests, p is 0 but an accept may raise it by
// reaching the minimum.
func (cf *settings) formula(req, acc uint64) (p float64, balanced bool) {
	r := float64(req)
	p = (r - cf.k*float64(acc)) / (r + 1)
	if !(p > 0) {
		return 0, true
	}
	if req < cf.minRequests {
		return 0, false
	}
	return min(p, cf.maxP), false
}

// Probability returns the probability that the throttle rejects a call now:
//
//	p = max(0, (requests − K·accepts) / (requests + 1))
//
// over the requests and accepts in the window, 0 while the window holds
// fewer than MinRequests requests, and at most MaxRejectProbability.
func (t *Throttle) Probability() float64 {
	if t == nil {
		return 0
	}
	return t.ProbabilityAt(time.Now())
}

// ProbabilityAt is [Throttle.Probability] at the time now, for virtual time.
func (t *Throttle) ProbabilityAt(now time.Time) float64 {
	if t == nil {
		return 0
	}
	n := t.clock.From(now)
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.probabilityLocked(n)
}

// Snapshot is a throttle's counts at one moment, for metrics. It is a plain
// value; the zero Snapshot is what a nil *Throttle reports.
type Snapshot struct {
	Name string // the throttle's name
	// Requests and Accepts count the window: the requests attempted, local
	// rejections included, and those the backend accepted.
	Requests, Accepts int
	// Probability is the rejection probability.
	Probability float64
	// Rejected counts the local rejections since New.
	Rejected uint64
	// Shadow says the throttle is in shadow mode, and ShadowRejected counts
	// the calls it would have rejected in shadow mode since New, and
	// admitted.
	Shadow         bool
	ShadowRejected uint64
}

// Snapshot returns the throttle's counts now.
func (t *Throttle) Snapshot() Snapshot {
	if t == nil {
		return Snapshot{}
	}
	return t.SnapshotAt(time.Now())
}

// SnapshotAt is [Throttle.Snapshot] at the time now, for virtual time.
func (t *Throttle) SnapshotAt(now time.Time) Snapshot {
	if t == nil {
		return Snapshot{}
	}
	n := t.clock.From(now)
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.probabilityLocked(n)
	tot := t.win.Totals(n)
	cf := t.cf.Load()
	return Snapshot{
		Name:           cf.name,
		Requests:       int(tot[requests]),
		Accepts:        int(tot[accepts]),
		Probability:    p,
		Rejected:       t.rejected,
		Shadow:         cf.shadow,
		ShadowRejected: t.shadowed,
	}
}

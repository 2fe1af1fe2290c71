package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/internal/clock"
	"github.com/netresilience/resilience/internal/novalue"
	"github.com/netresilience/resilience/internal/observe"
)

// maxTime bounds the times the limiter computes with: readings of its clock
// and times given to the At methods are clamped to ±maxTime (about 73
// years) of the limiter's creation.
const maxTime = 2 * maxSpan

// full is the bucket's state before any call: full since long before any
// time the limiter can be asked about.
var full = span{ns: -2 * maxTime}

// keptCosts is how many costs other than one a limiter keeps rejection
// errors for, per Reason.
const keptCosts = 32

// Limiter is a token bucket: it holds up to Burst tokens, gains Limit tokens
// per Per, continuously, and lets a call go when the bucket holds the call's
// tokens, which the call then spends. Make one with [New]; the zero Limiter is
// not valid, and a nil *Limiter never panics: a method that would run or admit
// a call refuses it, with an error matching resilience.ErrNilPolicy where it
// returns one, and the other methods do nothing and report zero values. A
// Limiter is safe for concurrent use; share one per quota.
//
// It is a resilience.Policy and a resilience.Guard. [Do] and [Run] are what
// most callers want; [Limiter.Wait] waits for tokens without running a
// function, and [Limiter.Allow] and [Limiter.Reserve] are the decisions
// beneath, which never block.
type Limiter struct {
	clock *clock.Clock // set by New, then read-only

	// cf is what the Config says, as the limiter uses it: replaced whole,
	// under mu, by Reconfigure, and read with one atomic load. The bucket's
	// decisions load it under mu, so that it agrees with tat.
	cf atomic.Pointer[settings]

	waiting  atomic.Int64  // calls waiting for their tokens in wait
	rejected atomic.Uint64 // rejections by wait since New
	shadowed atomic.Uint64 // calls a shadow limiter would have rejected

	mu sync.Mutex // guards what follows
	// tat is when the bucket will be full again if no call comes: the
	// "theoretical arrival time" of the generic cell rate algorithm. The
	// bucket holds (tau - (tat - now))/costOne tokens, Burst if tat has
	// passed, and a call of cost c may go at tat + c - tau.
	tat  span
	kept *[numReasons][keptCosts]*Error // rejections of other costs, made as needed

	// For refunds (see refund): decidedAt is the latest time at which a
	// call was admitted; lastAt is the latest time at which an
	// admitted call goes; refunds counts the refunds; dirtyUntil is
	// lastAt as it was at the latest partial one: until then, calls may go
	// out of the order in which they were admitted. admitted counts the
	// calls admitted, and head is the number of the latest one not undone.
	decidedAt  int64
	lastAt     int64
	refunds    uint64
	dirtyUntil int64
	admitted   uint64
	head       uint64
}

// New returns a Limiter configured by cfg, or an error if a field makes no
// sense: a Limit that is not positive, negative durations or counts, or a
// bucket that would take more than 36 years to refill.
func New(cfg Config) (*Limiter, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	l := &Limiter{
		clock:      clock.New(),
		tat:        full,
		decidedAt:  -maxTime,
		lastAt:     -maxTime,
		dirtyUntil: -maxTime,
	}
	l.cf.Store(newSettings(l, cfg))
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

// Burst returns how many tokens the bucket holds when full: the largest
// cost a call may have.
func (l *Limiter) Burst() int {
	if l == nil {
		return 0
	}
	return l.cf.Load().burst
}

// nanos reads the limiter's clock; fromTime converts a time to it.
func (l *Limiter) nanos() int64               { return clamp(l.clock.Now()) }
func (l *Limiter) fromTime(t time.Time) int64 { return clamp(l.clock.From(t)) }

func clamp(n int64) int64 { return min(max(n, -maxTime), maxTime) }

// cost returns the time that n tokens take to refill, for 0 < n ≤ burst.
func (cf *settings) cost(n int) span {
	switch {
	case n == 1:
		return cf.costOne
	case cf.den == 1: // a whole number of nanoseconds per token
		return span{ns: int64(n) * cf.costOne.ns} // at most tau: no overflow
	}
	s, _ := mulDiv(uint64(n), cf.num, cf.den) // at most tau
	return s
}

// validCost reports whether a call of n tokens could ever go.
func (cf *settings) validCost(n int) bool { return n >= 0 && n <= cf.burst }

// decideLocked is the token bucket's one decision: for a call that costs
// cost and comes at now, it returns the first whole nanosecond, not before
// now, at which it may go, and the state of the bucket once the call has
// spent its tokens then. The caller commits the state if the call is to go.
// cf is the limiter's settings, loaded under mu.
func (l *Limiter) decideLocked(cf *settings, now int64, cost span) (next span, at int64) {
	// The bucket holds the tokens at tat + cost - tau.
	at = max(l.tat.add(cost, cf.den).sub(cf.tau, cf.den).ceil(), now)
	// The call spends them when it goes. A bucket that was full before
	// then (tat < at) gained nothing once full: count from when it goes.
	start := l.tat
	if start.less(span{ns: at}) {
		start = span{ns: at}
	}
	return start.add(cost, cf.den), at
}

// commitLocked admits a call decided at now that goes at at, leaving the
// bucket at next.
func (l *Limiter) commitLocked(next span, now, at int64) {
	l.decidedAt = max(l.decidedAt, now)
	l.tat = next
	l.lastAt = max(l.lastAt, at)
	l.admitted++
	l.head = l.admitted
}

// reserveLocked admits a call of n tokens that goes at at, leaving the
// bucket at next, and returns its reservation.
func (l *Limiter) reserveLocked(n int, next span, now, at int64) Reservation {
	r := Reservation{l: l, cost: n, at: at, before: l.tat, after: next, refunds: l.refunds, inOrder: at >= l.dirtyUntil, prev: l.head}
	l.commitLocked(next, now, at)
	r.seq = l.admitted
	return r
}

// Allow reports whether a call of n tokens may go now, and if so spends
// them. It never waits. A cost above Burst, or negative, is never allowed; a
// cost of zero always is.
func (l *Limiter) Allow(n int) bool {
	if l == nil {
		return false
	}
	return l.allow(l.nanos(), n)
}

// AllowAt is [Limiter.Allow] at the time now, for virtual time.
func (l *Limiter) AllowAt(now time.Time, n int) bool {
	if l == nil {
		return false
	}
	return l.allow(l.fromTime(now), n)
}

func (l *Limiter) allow(now int64, n int) bool {
	if n <= 0 {
		return n == 0
	}
	l.mu.Lock()
	cf := l.cf.Load()
	if !cf.validCost(n) {
		l.mu.Unlock()
		return false
	}
	next, at := l.decideLocked(cf, now, cf.cost(n))
	ok := at <= now
	if ok {
		l.commitLocked(next, now, at)
	}
	l.mu.Unlock()
	return ok
}

// Reservation is a call's claim on tokens that come later, from
// [Limiter.Reserve]: the tokens are spent, and the call may go at
// [Reservation.Time]. A caller that will not go after all gives them back
// with [Reservation.Cancel]. The zero Reservation is not OK and cancels
// nothing. Its methods may be called from any goroutine; copies of a
// Reservation are the same reservation, and tokens come back once at most.
type Reservation struct {
	l             *Limiter
	cost          int
	at            int64  // when the call may go, on the limiter's clock
	before, after span   // the bucket before and after the reservation
	refunds       uint64 // the limiter's refunds before it
	seq, prev     uint64 // its number among the limiter's admissions, and the head before it
	inOrder       bool   // no call admitted before it goes after it
}

// Reserve reserves n tokens and says when the call that spends them may go;
// the caller waits until then, or cancels. Unlike [Limiter.Wait] it does not
// wait, and it reserves however long the wait (MaxWait is for the limiter's
// own waits): check [Reservation.Delay] and cancel a wait that is too long.
// A cost above Burst, or negative, is never reserved: the Reservation is
// not OK.
func (l *Limiter) Reserve(n int) Reservation {
	if l == nil {
		return Reservation{}
	}
	return l.reserve(l.nanos(), n)
}

// ReserveAt is [Limiter.Reserve] at the time now, for virtual time.
func (l *Limiter) ReserveAt(now time.Time, n int) Reservation {
	if l == nil {
		return Reservation{}
	}
	return l.reserve(l.fromTime(now), n)
}

func (l *Limiter) reserve(now int64, n int) Reservation {
	if n <= 0 {
		if n == 0 {
			return Reservation{l: l, at: now}
		}
		return Reservation{}
	}
	l.mu.Lock()
	cf := l.cf.Load()
	if !cf.validCost(n) {
		l.mu.Unlock()
		return Reservation{}
	}
	next, at := l.decideLocked(cf, now, cf.cost(n))
	if at-now > maxSpan {
		l.mu.Unlock()
		return Reservation{} // not within 36 years
	}
	r := l.reserveLocked(n, next, now, at)
	l.mu.Unlock()
	return r
}

// OK reports whether the limiter reserved the tokens: false for a cost it
// can never serve, or for tokens more than 36 years away.
func (r Reservation) OK() bool { return r.l != nil }

// Time returns when the call may go: when its tokens are in the bucket.
func (r Reservation) Time() time.Time {
	if r.l == nil {
		return time.Time{}
	}
	return r.l.clock.Time(r.at)
}

// Delay returns how long from now until the call may go; zero if it may go
// now, or if r is not OK.
func (r Reservation) Delay() time.Duration {
	if r.l == nil {
		return 0
	}
	return time.Duration(max(r.at-r.l.nanos(), 0))
}

// DelayAt is [Reservation.Delay] from the time now, for virtual time.
func (r Reservation) DelayAt(now time.Time) time.Duration {
	if r.l == nil {
		return 0
	}
	return time.Duration(max(r.at-r.l.fromTime(now), 0))
}

// Cancel gives the reserved tokens back, for a call that will not go, as far
// as is safe for the calls reserved since, which keep their times. If none
// was, the bucket is as if the reservation had never been made, and the next
// caller is not held up by it. If some were, only the tokens that they were
// not made to wait for come back: what the reservation cost beyond what they
// cost, less a nanosecond's worth — none, when they cost as much. A
// reservation made before tokens came back that way gets none back. Once
// the call's time has come, the tokens count as spent and Cancel does
// nothing; so does CancelAt at an earlier time once the limiter has
// admitted a call after the reservation's time. Once a Cancel of a
// reservation, or of any copy of it, has given tokens back, later ones give
// nothing back.
func (r Reservation) Cancel() {
	if r.l == nil {
		return
	}
	r.l.refund(r.l.nanos(), r)
}

// CancelAt is [Reservation.Cancel] at the time now, for virtual time.
func (r Reservation) CancelAt(now time.Time) {
	if r.l == nil {
		return
	}
	r.l.refund(r.l.fromTime(now), r)
}

// refund gives back r's tokens at now, as far as it is safe to.
//
// If no call was admitted since r, or each one was undone (the bucket is
// where r left it, and the head of the admissions is r), r is undone
// exactly; the head moves back to the call before r, so that a second
// refund of r finds the head elsewhere. Every refund is counted, and a
// reservation made before a refund, or refunded already, is given back
// nothing but such an exact undo. Otherwise the calls admitted since went into the queue
// behind r, and keep their times. The bucket moves back by what r cost less
// d, how far it has moved since r, less a nanosecond: d is at least what the
// calls admitted since cost, so every one of them still finds in the bucket
// the tokens it was made to wait for (the nanosecond covers their going at
// whole nanoseconds). New calls may then go before calls already waiting,
// out of the order of admission; the reasoning above needs that order, so
// after such a partial refund only reservations that go after every call
// admitted so far, and that no later partial refund precedes, may be given
// back in part. Others are given back only if nothing was admitted since
// them.
//
// All this holds while r is waiting, which is so when now, and every time at
// which a call was admitted, is before r's time. A time given to CancelAt
// may lie before times given earlier to the limiter; but once the limiter
// has admitted a call after r's time, r has gone, and its tokens with it,
// whatever time the refund is asked at.
func (l *Limiter) refund(now int64, r Reservation) {
	if r.cost == 0 || now > r.at {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.decidedAt > r.at {
		return // a call was admitted after r's time had come: r went
	}
	if l.head == r.seq && l.tat == r.after {
		// Nothing admitted since r, or all of it undone: undo r exactly,
		// and the head goes back to the call before it, so that calls
		// reserved before r may be undone exactly in turn.
		l.tat, l.head = r.before, r.prev
		l.refunds++
		return
	}
	if r.refunds != l.refunds {
		// A refund since — of r itself, or one that leaves r's place in
		// the queue unknown.
		return
	}
	cf := l.cf.Load()
	d := l.tat.sub(r.after, cf.den)
	switch {
	case d.ns < 0 || d == (span{}) || !r.inOrder:
		// Nothing admitted since that costs anything; or calls admitted
		// before r may go after it.
	default:
		back := cf.cost(r.cost).sub(d, cf.den).sub(span{ns: 1}, cf.den)
		if back.ns >= 0 && back != (span{}) {
			l.tat = l.tat.sub(back, cf.den)
			l.refunds++
			l.dirtyUntil = l.lastAt
		}
	}
}

// Wait waits until the bucket holds n tokens, spends them and returns nil:
// at once if they are there. If they would come later than MaxWait, or no
// earlier than ctx's deadline, it returns at once a rejection matching
// [ErrLimited], without spending them. If ctx is done before they come, it
// gives them back (see [Reservation.Cancel]) and returns an error wrapping
// context.Cause(ctx). A cost above Burst, or negative, fails at once with an
// error matching [ErrBadCost]; a cost of zero goes at once. A ctx already
// done gets its cause at once, whatever the cost, as rate.Limiter's Wait does.
func (l *Limiter) Wait(ctx context.Context, n int) error {
	if l == nil {
		return errNilLimiter
	}
	if ctx == nil {
		return resilience.ErrNilContext
	}
	return l.wait(ctx, n)
}

// Enter implements resilience.Guard: it is [Limiter.Wait] for the cost that
// ctx carries for l ([Limiter.WithCost]), one token by default. Most callers
// use [Do] or [Run] instead.
func (l *Limiter) Enter(ctx context.Context) (resilience.Ticket, error) {
	if l == nil {
		return resilience.Ticket{}, errNilLimiter
	}
	if ctx == nil {
		return resilience.Ticket{}, resilience.ErrNilContext
	}
	return resilience.Ticket{}, l.wait(ctx, l.costOf(ctx))
}

// Foresee implements resilience.ForeseeingGuard for a limiter that never
// waits (MaxWait zero): if the bucket will not hold the tokens of a call that
// ctx carries ([WithCost]) before some time after now, it returns the
// rejection that such a call gets until then, and that time. It returns a nil
// error when the call might go at now, and always for a limiter that waits,
// since callers who give up their wait hand tokens back. A retry policy
// composed right outside the limiter uses it to stop at once rather than wait
// for an attempt that the limiter would reject.
func (l *Limiter) Foresee(ctx context.Context, now time.Time) (until time.Time, err error) {
	switch {
	case l == nil:
		return time.Time{}, errNilLimiter
	case ctx == nil:
		return time.Time{}, resilience.ErrNilContext
	}
	cf := l.cf.Load()
	if cf.maxWait > 0 || cf.shadow {
		return time.Time{}, nil
	}
	n := l.costOf(ctx)
	if n == 0 || !cf.validCost(n) {
		return time.Time{}, nil // not a rejection
	}
	wait := l.delay(l.fromTime(now), n)
	if wait <= 0 {
		return time.Time{}, nil
	}
	return now.Add(wait), l.limited(cf, NoWait, n)
}

// Exit implements resilience.Guard. It does nothing: a call's tokens are
// spent when it goes, however it ends.
func (l *Limiter) Exit(resilience.Ticket, resilience.Outcome) {}

// Execute runs op through the limiter, as [Run] does; it makes the limiter a
// resilience.Policy.
func (l *Limiter) Execute(ctx context.Context, op resilience.Operation) error {
	if op == nil {
		return resilience.ErrNilFunc
	}
	return resilience.Run(ctx, l, op.Call)
}

// Do runs fn once the limiter lets the call go, waiting for its tokens as
// [Limiter.Wait] does; the call costs what its context carries for l
// ([Limiter.WithCost]), one token by default. If the limiter rejects the call,
// fn does not run and the error matches [ErrLimited]. Do never stores fn, so a
// closure passed to it stays on the caller's stack, and a call that goes at
// once allocates nothing.
func Do[T any](ctx context.Context, l *Limiter, fn func(context.Context) (T, error)) (T, error) {
	return resilience.Guarded(ctx, l, fn)
}

// Run is [Do] for a function that returns only an error.
func Run(ctx context.Context, l *Limiter, fn func(context.Context) error) error {
	_, err := resilience.Guarded(ctx, l, novalue.Wrap(fn))
	return err
}

// wait is Wait for a valid limiter and context.
func (l *Limiter) wait(ctx context.Context, n int) error {
	cf := l.cf.Load()
	if n != 0 && !cf.validCost(n) {
		return &costError{cf.name, n, cf.burst}
	}
	if ctx.Err() != nil {
		return l.abandoned(ctx)
	}
	if n == 0 {
		return nil
	}
	now := l.nanos()
	l.mu.Lock()
	if c := l.cf.Load(); c != cf { // reconfigured meanwhile
		if cf = c; !cf.validCost(n) {
			l.mu.Unlock()
			return &costError{cf.name, n, cf.burst}
		}
	}
	next, at := l.decideLocked(cf, now, cf.cost(n))
	if at <= now {
		l.commitLocked(next, now, at)
		l.mu.Unlock()
		if cf.obs != nil && cf.obs.Admit != nil {
			l.notifyAdmit(cf, ctx, n, now, 0, false)
		}
		return nil
	}
	l.mu.Unlock()
	switch {
	case cf.maxWait == 0:
		return l.reject(cf, ctx, NoWait, n, now, at-now)
	case at-now > cf.maxWait:
		return l.reject(cf, ctx, WaitTooLong, n, now, at-now)
	}
	return l.waitLong(ctx, cf, n, now)
}

// waitLong is wait for a call that may have to wait: it reads ctx's deadline
// outside the lock, then decides again, since the bucket may have changed.
func (l *Limiter) waitLong(ctx context.Context, cf *settings, n int, now int64) error {
	dl, hasDeadline := ctx.Deadline()
	// Not clamped: a deadline beyond the clamp is later than any time at
	// which tokens can come.
	deadline := l.clock.From(dl)
	l.mu.Lock()
	if c := l.cf.Load(); c != cf { // reconfigured meanwhile
		if cf = c; !cf.validCost(n) {
			l.mu.Unlock()
			return &costError{cf.name, n, cf.burst}
		}
	}
	next, at := l.decideLocked(cf, now, cf.cost(n))
	wait := at - now
	switch {
	case wait == 0:
		l.commitLocked(next, now, at)
		l.mu.Unlock()
		if cf.obs != nil && cf.obs.Admit != nil {
			l.notifyAdmit(cf, ctx, n, now, 0, false)
		}
		return nil
	case wait > cf.maxWait:
		l.mu.Unlock()
		return l.reject(cf, ctx, WaitTooLong, n, now, wait)
	case hasDeadline && at >= deadline:
		l.mu.Unlock()
		return l.reject(cf, ctx, PastDeadline, n, now, wait)
	}
	r := l.reserveLocked(n, next, now, at)
	l.mu.Unlock()
	if cf.shadow {
		// The call would have waited for the tokens it reserved: it goes
		// now, and the bucket counts them as it would have.
		if cf.obs != nil && cf.obs.Admit != nil {
			l.notifyAdmit(cf, ctx, n, now, time.Duration(wait), true)
		}
		return nil
	}

	l.waiting.Add(1)
	defer l.waiting.Add(-1)
	t := time.NewTimer(time.Duration(at - l.nanos()))
	defer t.Stop()
	select {
	case <-t.C:
		if cf.obs != nil && cf.obs.Admit != nil {
			l.notifyAdmit(cf, ctx, n, at, time.Duration(wait), false)
		}
		return nil
	case <-ctx.Done():
		l.refund(l.nanos(), r)
		return l.abandoned(ctx)
	}
}

// notifyAdmit reports to the observer that a call of n tokens, with context
// ctx, went at the time at after waiting for them; or, for shadow, that it
// went at once but would have waited.
func (l *Limiter) notifyAdmit(cf *settings, ctx context.Context, n int, at int64, waited time.Duration, shadow bool) {
	observe.Call(cf.obs.Admit, resilience.Event{
		Type:    resilience.EventAdmit,
		Kind:    resilience.KindRateLimit,
		Policy:  cf.name,
		Context: ctx,
		Time:    l.clock.Time(at),
		Delay:   waited,
		Cost:    n,
		Shadow:  shadow,
	})
}

// reject counts and returns the rejection, at now, of a call of n tokens
// whose tokens would come after wait, and reports it to the observer; in
// shadow mode, it counts and reports it, and returns nil: the call goes,
// without spending tokens, as the limiter would not have let it spend any.
func (l *Limiter) reject(cf *settings, ctx context.Context, r Reason, n int, now, wait int64) error {
	err := l.limited(cf, r, n)
	if cf.shadow {
		l.shadowed.Add(1)
	} else {
		l.rejected.Add(1)
	}
	if cf.obs != nil && cf.obs.Reject != nil {
		observe.Call(cf.obs.Reject, resilience.Event{
			Type:    resilience.EventReject,
			Kind:    resilience.KindRateLimit,
			Policy:  cf.name,
			Context: ctx,
			Time:    l.clock.Time(now),
			Err:     err,
			Delay:   time.Duration(wait),
			Reason:  r.String(),
			Cost:    n,
			Shadow:  cf.shadow,
		})
	}
	if cf.shadow {
		if cf.obs != nil && cf.obs.Admit != nil {
			l.notifyAdmit(cf, ctx, n, now, 0, true)
		}
		return nil
	}
	return err
}

// limited returns the limiter's Error for reason r and cost n under the
// settings cf: for cost one, the one made with cf; for another, the one
// kept in the slot for n if it is n's, or else a new one, which takes the
// slot.
func (l *Limiter) limited(cf *settings, r Reason, n int) *Error {
	if n == 1 {
		return &cf.limitedBy[r]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kept == nil {
		l.kept = new([numReasons][keptCosts]*Error)
	}
	slot := &l.kept[r][n%keptCosts]
	if e := *slot; e != nil && e.Cost == n && e.Name == cf.name && e.MaxWait == time.Duration(cf.maxWait) {
		return e
	}
	e := newLimited(l, cf, r, n)
	*slot = &e
	return &e
}

func newLimited(l *Limiter, cf *settings, r Reason, n int) Error {
	return Error{Name: cf.name, Reason: r, Cost: n, MaxWait: time.Duration(cf.maxWait), l: l}
}

// abandoned returns the error for a wait that ctx ended.
func (l *Limiter) abandoned(ctx context.Context) error {
	return &abandonedError{name: l.cf.Load().name, cause: context.Cause(ctx)}
}

// delay returns how long from now until the bucket would hold n tokens.
func (l *Limiter) delay(now int64, n int) time.Duration {
	if n <= 0 {
		return 0
	}
	l.mu.Lock()
	cf := l.cf.Load()
	if !cf.validCost(n) {
		l.mu.Unlock()
		return 0
	}
	_, at := l.decideLocked(cf, now, cf.cost(n))
	l.mu.Unlock()
	return time.Duration(at - now)
}

// Tokens returns how many tokens the bucket holds now. It is negative while
// reserved calls wait for tokens to come.
func (l *Limiter) Tokens() float64 {
	if l == nil {
		return 0
	}
	return l.tokens(l.nanos())
}

// TokensAt is [Limiter.Tokens] at the time now, for virtual time.
func (l *Limiter) TokensAt(now time.Time) float64 {
	if l == nil {
		return 0
	}
	return l.tokens(l.fromTime(now))
}

func (l *Limiter) tokens(now int64) float64 {
	l.mu.Lock()
	tat, cf := l.tat, l.cf.Load()
	l.mu.Unlock()
	if tat.less(span{ns: now}) {
		return float64(cf.burst)
	}
	// tau - (tat - now) nanoseconds of refill, at den/num tokens per
	// nanosecond.
	left := cf.tau.sub(tat.sub(span{ns: now}, cf.den), cf.den)
	return left.float(cf.den) * float64(cf.den) / float64(cf.num)
}

// Snapshot is a limiter's state at one moment, for metrics, from
// [Limiter.Snapshot]: a plain value, whose zero value is the snapshot of a
// nil *Limiter.
type Snapshot struct {
	Name  string // the limiter's name
	Burst int    // how many tokens the bucket holds when full
	// Tokens is how many tokens the bucket holds, as [Limiter.TokensAt]
	// says: Burst when full, negative while reserved calls wait for tokens
	// to come.
	Tokens float64
	// Waiting counts the calls waiting for their tokens in Wait, Enter, Do
	// or Run.
	Waiting int
	// Admitted counts the calls of a positive cost that got their tokens
	// since New, through any method; tokens given back are not subtracted.
	Admitted uint64
	// Rejected counts the calls that Wait, Enter, Do and Run rejected since
	// New.
	Rejected uint64
	// Shadow says the limiter is in shadow mode, and ShadowRejected counts
	// the calls that it would have rejected in shadow mode since New, and
	// let go without spending tokens.
	Shadow         bool
	ShadowRejected uint64
}

// Snapshot returns the limiter's state now.
func (l *Limiter) Snapshot() Snapshot {
	if l == nil {
		return Snapshot{}
	}
	return l.snapshot(l.nanos())
}

// SnapshotAt is [Limiter.Snapshot] at the time now, for virtual time.
func (l *Limiter) SnapshotAt(now time.Time) Snapshot {
	if l == nil {
		return Snapshot{}
	}
	return l.snapshot(l.fromTime(now))
}

func (l *Limiter) snapshot(now int64) Snapshot {
	l.mu.Lock()
	admitted, cf := l.admitted, l.cf.Load()
	l.mu.Unlock()
	return Snapshot{
		Name:           cf.name,
		Burst:          cf.burst,
		Tokens:         l.tokens(now),
		Waiting:        int(l.waiting.Load()),
		Admitted:       admitted,
		Rejected:       l.rejected.Load(),
		Shadow:         cf.shadow,
		ShadowRejected: l.shadowed.Load(),
	}
}

package resilience

import (
	"context"
	"time"
)

// Guard is a [Policy] that admits each pass through it and is then told how
// the pass ended: a circuit breaker, a bulkhead, a rate limiter. The
// executors ([Do], [Run], [Guarded], and the Do functions of the policy
// packages) drive a Guard's two decisions themselves — Enter before the
// pass, Exit after it, also when the pass panics — so a Guard inside a
// [Compose] costs no allocation. Package breaker's *Breaker is a Guard.
type Guard interface {
	Policy

	// Enter admits one pass, or rejects it with an error. A guard that
	// waits for room (a bulkhead's queue, a rate limiter) waits at most
	// until ctx is done. The Ticket is handed back to Exit unchanged.
	Enter(ctx context.Context) (Ticket, error)

	// Exit reports how an admitted pass ended. It is called exactly once
	// for every Ticket that Enter issued, and must not block.
	Exit(t Ticket, o Outcome)
}

// ForeseeingGuard is a [Guard] that can tell, without admitting anything,
// that it would reject every pass for a while: an open circuit breaker
// rejects every call until its recovery timeout ends. A retry policy that
// [Compose] puts right outside such a guard learns of it after each failed
// attempt (in [RetryState].Rejection) and stops at once, with the guard's
// rejection, instead of waiting for an attempt that cannot run. Compose looks
// for it once, when it builds the stack, so a guard without the method costs
// nothing. Package breaker's *Breaker and package ratelimit's *Limiter are
// ForeseeingGuards.
type ForeseeingGuard interface {
	Guard

	// Foresee returns the error that Enter would certainly return for a
	// pass that came at now, or at any time after it until until; a zero
	// until means no end that the guard can foresee (a breaker forced
	// open). It returns a nil error when the guard might admit a pass at
	// now. Only time may be counted on: an answer may assume that nobody
	// resets the guard or gives back what it holds, but not that nothing
	// else passes through it. ctx is the context the pass would carry, for
	// the values a guard reads from it (a rate limiter's cost). Foresee
	// must not block or change the guard's state.
	Foresee(ctx context.Context, now time.Time) (until time.Time, err error)
}

// Ticket is a guard's record of one admitted pass: what it needs to know
// when the pass ends. Its fields mean what the guard that issued it says;
// executors only hand it back.
type Ticket struct {
	ID    uint64 // e.g. a generation number
	Time  int64  // e.g. when the pass began, in the guard's own clock
	Index int    // e.g. a slot number
}

// Outcome is how a pass ended, as an executor reports it to [Guard.Exit].
type Outcome struct {
	// Err is the error the pass returned, nil for success.
	Err error
	// Panicked is true when the pass panicked (or called runtime.Goexit);
	// Err is then nil. Guards count it as a failure.
	Panicked bool
	// Canceled is true when the caller's own context was canceled by the
	// time the pass failed: the failure is the caller's doing, whatever Err
	// says, and guards count it as neither success nor failure.
	Canceled bool
}

// Guarded runs fn once through the guard g alone: Enter, then fn, then Exit
// with the outcome — also when fn panics, after which the panic goes on. It
// is the executor behind the breaker package's Do; use [Do] to run a call
// through any [Policy]. If ctx has ended, Guarded neither enters g nor calls
// fn, and returns [context.Cause] of ctx. Like [Retry], Guarded never stores
// fn, so a closure passed to it stays on the caller's stack.
func Guarded[T any](ctx context.Context, g Guard, fn func(context.Context) (T, error)) (v T, err error) {
	if err := badArgs(ctx, g == nil, fn == nil); err != nil {
		return v, err
	}
	return guarded(ctx, g, fn, true)
}

// guarded is Guarded for arguments that the caller has checked. It checks
// ctx first if check is set; the caller that has just found ctx alive
// clears it.
func guarded[T any](ctx context.Context, g Guard, fn func(context.Context) (T, error), check bool) (v T, err error) {
	if check && ctx.Err() != nil {
		return v, context.Cause(ctx)
	}
	t, err := g.Enter(ctx)
	if err != nil {
		return v, err
	}
	// A panic in fn (or runtime.Goexit) is reported by a deferred call: no
	// panic-safe way to see one costs less.
	returned := false
	defer func() {
		if !returned {
			g.Exit(t, Outcome{Panicked: true})
		}
	}()
	v, err = fn(ctx)
	returned = true
	var o Outcome
	if err != nil {
		o = Outcome{Err: err, Canceled: ctx.Err() == context.Canceled}
	}
	g.Exit(t, o)
	return v, err
}

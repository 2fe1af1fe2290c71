// Package retrystep is what every executor of a retry decision does between
// two attempts of a call: record how the attempt failed, take the decision's
// answer, wait, and ask again if the caller's context ends during the wait.
// The executors of package resilience and the HTTP transport of package
// resiliencehttp both run these steps, so that a retry decision is told the
// same things, and waited on the same way, whichever runs it:
//
//	call.Failed(ctx, err)
//	delay, stop := call.Decided(r.NextRetry(resilience.RetryState(call.State)))
//	if stop == nil {
//		stop = call.Wait(ctx, delay, decide)
//	}
//
// The executor asks the decision itself after Failed, rather than through a
// function given to the steps, because the State is large and the failure
// path is hot enough for its copies to show.
package retrystep

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/netresilience/resilience/internal/clock"
)

// State is resilience.RetryState, field for field, so that each converts to
// the other: this package cannot import package resilience, which imports
// it. See resilience.RetryState for what the fields mean.
type State struct {
	Attempts      int
	Err           error
	Start         time.Time
	Now           time.Time
	Deadline      time.Time
	LastDelay     time.Duration
	Jitter        float64
	Cause         error
	Context       context.Context
	Rejection     error
	RejectedUntil time.Time
	BackoffFrom   int
}

// Decide is a retry decision: a resilience.Retrier's NextRetry, given the
// state converted.
type Decide func(State) (time.Duration, error)

// Foreseer is the method of a resilience.ForeseeingGuard that the steps
// call: the error the guard would certainly give every pass from now until
// until (zero: no foreseeable end), or nil.
type Foreseer interface {
	Foresee(ctx context.Context, now time.Time) (until time.Time, err error)
}

// Call is one call's way through the steps. The zero Call is a call whose
// first attempt has not run; set Ahead before it fails, and call Begin
// before it runs.
type Call struct {
	State
	// Ahead is the guard that every attempt of the call enters first, if
	// it can foresee its rejections; nil if there is none.
	Ahead Foreseer

	pushed bool // the last failure carried a pushback: the backoff restarts after its wait
}

// pusher is the behaviour of an error that carries a server's pushback
// (resilience.PushbackError).
type pusher interface {
	Pushback() time.Duration
}

// pushback finds the first pushback in err's chain, in the order
// errors.As searches, as resilience.Pushback does (without allocating).
func pushback(err error) (time.Duration, bool) {
	for err != nil {
		if p, ok := err.(pusher); ok {
			return p.Pushback(), true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, err := range u.Unwrap() {
				if d, ok := pushback(err); ok {
					return d, true
				}
			}
			return 0, false
		default:
			return 0, false
		}
	}
	return 0, false
}

// Begin records when the first attempt begins, if the decision reads it:
// timed is what the Retrier's BeginRetries returned.
func (c *Call) Begin(timed bool) {
	if timed {
		c.Start = time.Now()
	}
}

// Failed records that the attempt that just ran failed with err: the time,
// the caller's deadline and context, a jitter draw, the cause if the caller's context has
// ended, and else the rejection that Ahead foresees for a next attempt. The
// executor then tells the decision the State, and hands its answer to
// Decided.
func (c *Call) Failed(ctx context.Context, err error) {
	s := &c.State
	s.Attempts++
	s.Err, s.Now, s.Context = err, time.Now(), ctx
	s.Deadline, _ = ctx.Deadline()
	s.Jitter = rand.Float64()
	d, ok := pushback(err)
	c.pushed = ok && d >= 0
	if ctx.Err() != nil {
		s.Cause = context.Cause(ctx)
	}
	if c.Ahead != nil {
		s.RejectedUntil, s.Rejection = time.Time{}, nil
		if s.Cause == nil {
			s.RejectedUntil, s.Rejection = c.Ahead.Foresee(ctx, s.Now)
		}
	}
}

// Decided returns what the decision answered after Failed: how long to wait
// before the next attempt, or the error to end the call with — the
// decision's, or the context's cause if the decision says go on although the
// context has ended.
func (c *Call) Decided(delay time.Duration, stop error) (time.Duration, error) {
	if stop == nil && c.Cause != nil {
		stop = c.Cause
	}
	return delay, stop
}

// Wait waits delay, the wait that Failed returned, and returns nil. If ctx
// ends first, it tells decide, which must then stop, and returns the error
// to end the call with: decide's, or else the context's cause.
func (c *Call) Wait(ctx context.Context, delay time.Duration, decide Decide) error {
	if cause := clock.Sleep(ctx, delay); cause != nil {
		c.Cause, c.Now = cause, time.Now()
		if _, stop := decide(c.State); stop != nil {
			return stop
		}
		return cause
	}
	c.LastDelay = delay
	if c.pushed {
		c.BackoffFrom = c.Attempts
	}
	return nil
}

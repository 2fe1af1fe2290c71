package retry

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/budget"
)

// Reason is why a retry policy stops, or [Retrying] if it does not.
type Reason uint8

const (
	// Retrying: not a stop; the call is tried again after the decision's
	// delay.
	Retrying Reason = iota
	// Exhausted: the attempt that failed was the last of MaxAttempts.
	Exhausted
	// TimeLimit: the next attempt would start after MaxElapsed.
	TimeLimit
	// Deadline: the next attempt would start after the caller's deadline,
	// or the deadline has passed.
	Deadline
	// NotRetryable: the error is not transient.
	NotRetryable
	// HintTooLong: the server asked for a wait longer than MaxRetryAfter.
	HintTooLong
	// Canceled: the caller canceled the call.
	Canceled
	// BudgetExhausted: the retry budget, or the token bucket of gRFC A6
	// retry throttling, refused the retry; the *Error's Cause is
	// budget.ErrExhausted or [ErrThrottled] (which matches
	// budget.ErrExhausted too).
	BudgetExhausted
	// Rejected: the guard that the next attempt would enter first, such as
	// a circuit breaker composed right inside the policy, would certainly
	// reject it when it started (see resilience.ForeseeingGuard).
	Rejected
	// Refused: the server asked not to be retried, with a negative
	// pushback (see resilience.PushbackError).
	Refused
)

// String returns a short description, such as "attempts exhausted".
func (r Reason) String() string {
	switch r {
	case Retrying:
		return "retrying"
	case Exhausted:
		return "attempts exhausted"
	case TimeLimit:
		return "time limit reached"
	case Deadline:
		return "deadline too near"
	case NotRetryable:
		return "not retryable"
	case HintTooLong:
		return "server hint too long"
	case Canceled:
		return "canceled"
	case BudgetExhausted:
		return "retry budget exhausted"
	case Rejected:
		return "next attempt would be rejected"
	case Refused:
		return "server refused retries"
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// Decision is a retry policy's answer after a failed attempt.
type Decision struct {
	// Reason is Retrying to try again after Delay, or why to stop.
	Reason Reason
	// Delay is the wait before the next attempt: the backoff, raised to the
	// server's hint if that is longer. Zero when stopping.
	Delay time.Duration
	// Class is the failed attempt's class, from the policy's classifier.
	Class resilience.Class
	// Hint is the server's hint found in the error, as
	// resilience.RetryAfterAt reads it at the decision's time, or its
	// pushback (resilience.Pushback) if it has one of zero or more; zero if
	// none.
	Hint time.Duration
}

// Decide answers, after attempt s.Attempts failed with s.Err: wait how long,
// or stop and why. It reads the clock only through s.Now, s.Start and
// s.Deadline (a hint that counts down, such as a circuit breaker's, is read
// at s.Now), draws jitter only from s.Jitter, never blocks, and has no side
// effects, so it gives the same answer for the same state — on real time in
// [Do], or on virtual time in a simulator. It checks, in order:
//
//  1. the caller's context ended (s.Cause): Canceled, or Deadline if the
//     cause is context.DeadlineExceeded;
//  2. the error is not transient: NotRetryable;
//  3. the error carries a negative pushback, the server's "do not retry":
//     Refused;
//  4. MaxAttempts reached: Exhausted;
//  5. a server hint or pushback above MaxRetryAfter: HintTooLong;
//  6. the delay — the backoff raised to any hint, or exactly the pushback
//     if the error carries one — would end after MaxElapsed since s.Start:
//     TimeLimit;
//  7. the delay would end at or after s.Deadline: Deadline;
//  8. the next attempt would start while s.Rejection holds, before
//     s.RejectedUntil (or at any time, if that is zero): Rejected;
//
// and otherwise retries after that delay. The backoff is the one for failure
// number s.Attempts − s.BackoffFrom: a pushback's retry starts the backoff
// again from its base. Decide does not consult the retry
// budget or the token bucket, which a decision cannot do without spending
// them: the executor (through [Policy.NextRetry]) or a simulator asks them
// after Decide says retry.
//
// A nil *Policy allows no retry: Decide returns [Exhausted].
func (p *Policy) Decide(s resilience.RetryState) Decision {
	if p == nil {
		return Decision{Reason: Exhausted}
	}
	d := Decision{Class: p.classify(s.Err)}
	push, pushed := resilience.Pushback(s.Err)
	hint, hasHint := push, pushed
	if !pushed {
		hint, hasHint = resilience.RetryAfterAt(s.Err, s.Now)
	}
	if hint > 0 {
		d.Hint = hint
	}
	switch {
	case s.Cause != nil:
		d.Reason = Canceled
		if errors.Is(s.Cause, context.DeadlineExceeded) {
			d.Reason = Deadline
		}
		return d
	case d.Class != resilience.ClassTransient:
		d.Reason = NotRetryable
		return d
	case pushed && push < 0:
		d.Reason = Refused
		return d
	case s.Attempts >= p.maxAttempts:
		d.Reason = Exhausted
		return d
	case hasHint && hint > p.maxRetryAfter:
		d.Reason = HintTooLong
		return d
	}
	var delay time.Duration
	switch {
	case pushed:
		delay = push
	default:
		n, prev := s.Attempts, s.LastDelay
		if s.BackoffFrom > 0 && s.BackoffFrom < n {
			n -= s.BackoffFrom
			if n == 1 {
				prev = 0
			}
		}
		delay = max(p.backoff.Delay(n, prev, s.Jitter), 0)
		if hasHint && hint > delay {
			delay = hint
		}
	}
	next := s.Now.Add(delay)
	switch {
	case p.maxElapsed > 0 && next.After(s.Start.Add(p.maxElapsed)): // exact, unlike Sub, which saturates
		d.Reason = TimeLimit
	case !s.Deadline.IsZero() && !next.Before(s.Deadline):
		d.Reason = Deadline
	case s.Rejection != nil && (s.RejectedUntil.IsZero() || next.Before(s.RejectedUntil)):
		d.Reason = Rejected
	default:
		d.Delay = delay
	}
	return d
}

// ErrThrottled is the Cause of an *[Error] whose retry the token bucket of
// Config.Tokens refused (gRFC A6 retry throttling): the service has failed
// too often of late. It matches budget.ErrExhausted, so that a check for an
// exhausted budget finds both; match ErrThrottled to tell the bucket's
// refusals apart from the ratio budget's.
var ErrThrottled error = throttled{}

// throttled is the type of ErrThrottled.
type throttled struct{}

func (throttled) Error() string { return "retry: retries throttled: too few tokens left" }

// Is reports whether target is budget.ErrExhausted.
func (throttled) Is(target error) bool { return target == budget.ErrExhausted }

// Error is returned when a retry policy gives up on a call it retried, or
// could have retried: it says why, how many attempts ran, and unwraps to the
// last attempt's error — and to the context's cause, when the caller's
// context ended, or to the rejection that the next attempt would have met —
// so errors.Is and errors.As see through it, and a server hint in the last
// error is still found by resilience.RetryAfter. When the reason is
// [Rejected], the rejection comes first in the chain, so that RetryAfter
// finds its hint (an open breaker's time until a probe) before any in the
// last error.
type Error struct {
	Reason   Reason
	Attempts int   // how many attempts ran
	Err      error // the last attempt's error
	// Cause is what stopped the policy besides the last error:
	// context.Cause of the caller's context if it ended,
	// budget.ErrExhausted or [ErrThrottled], or the rejection that the
	// next attempt would have met (such as a breaker's, matching
	// breaker.ErrOpen).
	Cause error
}

// Error returns a message such as
// "retry: gave up after 3 attempts (attempts exhausted): connection refused",
// or "(retries throttled)" when Config.Tokens refused the retry.
func (e *Error) Error() string {
	s := "retry: gave up after " + strconv.Itoa(e.Attempts) + " attempt"
	if e.Attempts != 1 {
		s += "s"
	}
	switch e.Cause {
	case ErrThrottled:
		s += " (retries throttled"
	default:
		s += " (" + e.Reason.String()
	}
	if e.Cause != nil && e.Cause != budget.ErrExhausted && e.Cause != ErrThrottled && !errors.Is(e.Err, e.Cause) {
		s += ": " + e.Cause.Error()
	}
	s += ")"
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the last attempt's error and the Cause, if any: the Cause
// first when the reason is [Rejected].
func (e *Error) Unwrap() []error {
	switch {
	case e.Cause == nil:
		return []error{e.Err}
	case e.Reason == Rejected:
		return []error{e.Cause, e.Err}
	}
	return []error{e.Err, e.Cause}
}

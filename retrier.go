package resilience

import (
	"context"
	"time"

	"github.com/netresilience/resilience/internal/retrystep"
)

// Retrier is a [Policy] that decides, after each failed attempt, whether to
// try again and after how long — without sleeping. The executors ([Do], [Run],
// and the retry package's Do and Run) drive a Retrier's decisions themselves:
// they run the attempts, read the clock, draw the jitter, wait, and watch the
// context. Package retry's *Policy is the Retrier most callers want;
// implement one to bring another retry decision to every executor without
// allocation.
type Retrier interface {
	Policy

	// BeginRetries is called once before the first attempt of a call (not
	// for a call whose context had ended before it began, which makes no
	// attempt). It
	// returns an error if the policy cannot run (so that no attempt is made),
	// or else what the policy needs of the executor for this call.
	BeginRetries() (RetryPlan, error)

	// NextRetry is called after each failed attempt. It returns how long to
	// wait before the next attempt, or a non-nil error to end the call with.
	// When s.Cause is set the caller's context has ended and NextRetry must
	// return an error; if it returns nil, the executor returns s.Cause.
	NextRetry(s RetryState) (time.Duration, error)

	// Succeeded is called when attempt s.Attempts of a call succeeds, if
	// BeginRetries asked for it (RetryPlan.ReportSuccess): for a policy
	// that reports the end of its calls to an [Observer]. s.Err is nil.
	Succeeded(s RetryState)
}

// RetryPlan is what a [Retrier] needs of an executor for one call, in
// answer to BeginRetries. The zero RetryPlan needs nothing.
type RetryPlan struct {
	// Timed asks for RetryState.Start: executors read the clock before
	// the first attempt only when it is set.
	Timed bool
	// ReportSuccess asks the executor to call Succeeded when an attempt
	// succeeds; when it is not set, a success costs the Retrier nothing.
	ReportSuccess bool
}

// RetryState is what a [Retrier] knows about a call when it decides. The
// executor fills it in; a simulator may fill it in with virtual time.
type RetryState struct {
	// Attempts is how many attempts have run, the one that just failed
	// included: 1 after the first failure.
	Attempts int
	// Err is the error of the last attempt.
	Err error
	// Start is when the first attempt began. It is zero unless BeginRetries
	// asked for it (RetryPlan.Timed).
	Start time.Time
	// Now is the time of the decision.
	Now time.Time
	// Deadline is the caller's deadline, zero if it has none.
	Deadline time.Time
	// LastDelay is the wait before the last attempt: zero after the first.
	LastDelay time.Duration
	// Jitter is a random number drawn uniformly from [0, 1) for this
	// decision.
	Jitter float64
	// Cause is set when the caller's context ended, during the last attempt
	// or the wait after it: it is context.Cause of that context.
	Cause error
	// Context is the caller's context, for the events the Retrier reports
	// to an [Observer]; nil when the executor has none, as in a simulator.
	// The decision must not depend on it: what it needs of the context is
	// in Deadline and Cause.
	Context context.Context
	// Rejection is set when the guard that the next attempt would enter
	// first, a [ForeseeingGuard], would certainly reject it if it started
	// before RejectedUntil (or at any time, if RejectedUntil is zero): it is
	// the error the guard would give, such as an open breaker's. A Retrier
	// should then stop at once, rather than wait for an attempt that cannot
	// run; the retry package's Policy does. Executors set it when
	// [Compose] put such a guard right inside the Retrier.
	Rejection error
	// RejectedUntil is when Rejection ends: from then on, the guard may
	// admit the attempt (an open breaker lets a probe through).
	RejectedUntil time.Time
	// BackoffFrom is how many attempts had run when the backoff last
	// started again from its base, after a wait that a server's pushback
	// set (see [PushbackError]); zero if it never did. The backoff counts
	// failures from there: the next delay is the backoff's delay for
	// failure number Attempts − BackoffFrom. Executors set it.
	BackoffFrom int
}

// Retry runs fn under the retry decision r alone: it calls fn, and after
// each failure asks r whether and when to call it again, waiting in between
// and watching ctx as [Do] does. If ctx has already ended, Retry makes no
// attempt (and does not call r's BeginRetries) and returns [context.Cause] of
// ctx. It is the executor behind the retry package's Do; use [Do] to run a
// call through any [Policy].
//
// Unlike [Do], which must be ready to hand fn to any Policy, Retry never
// stores fn, so a closure passed to it stays on the caller's stack: a call
// that succeeds at once allocates nothing even when fn captures variables.
func Retry[T any](ctx context.Context, r Retrier, fn func(context.Context) (T, error)) (T, error) {
	if err := badArgs(ctx, r == nil, fn == nil); err != nil {
		var zero T
		return zero, err
	}
	return retryLoop(ctx, r, nil, fn, true)
}

// retryLoop is the retry executor: it runs attempt until it succeeds or r
// says stop, waiting as r decides. ahead, if not nil, is the guard each
// attempt enters first. It must not let attempt escape. It checks ctx first
// if check is set; a caller that has just found ctx alive clears it.
func retryLoop[T any](ctx context.Context, r Retrier, ahead retrystep.Foreseer, attempt func(context.Context) (T, error), check bool) (T, error) {
	if check && ctx.Err() != nil { // no attempt, and no call for a budget to count
		var zero T
		return zero, context.Cause(ctx)
	}
	plan, err := r.BeginRetries()
	if err != nil {
		var zero T
		return zero, err
	}
	var start time.Time
	if plan.Timed {
		start = time.Now()
	}
	v, err := attempt(ctx)
	if err == nil {
		if plan.ReportSuccess {
			succeeded(ctx, r, RetryState{Start: start}, 1)
		}
		return v, nil
	}
	return retryFailed(ctx, r, plan, ahead, attempt, start, v, err)
}

// succeeded tells r that attempt n of a call succeeded.
func succeeded(ctx context.Context, r Retrier, s RetryState, n int) {
	s.Attempts, s.Err, s.Cause, s.Now, s.Context = n, nil, nil, time.Now(), ctx
	s.Rejection, s.RejectedUntil = nil, time.Time{}
	r.Succeeded(s)
}

// retryFailed goes on from a first attempt that failed with err. It is apart
// from retryLoop to keep the successful path short.
func retryFailed[T any](ctx context.Context, r Retrier, plan RetryPlan, ahead retrystep.Foreseer, attempt func(context.Context) (T, error), start time.Time, v T, err error) (T, error) {
	call := retrystep.Call{State: retrystep.State{Start: start}, Ahead: ahead}
	decide := func(s retrystep.State) (time.Duration, error) { return r.NextRetry(RetryState(s)) }
	for {
		call.Failed(ctx, err)
		delay, stop := call.Decided(r.NextRetry(RetryState(call.State)))
		if stop == nil {
			stop = call.Wait(ctx, delay, decide)
		}
		if stop != nil {
			return v, stop
		}
		if v, err = attempt(ctx); err == nil {
			if plan.ReportSuccess {
				succeeded(ctx, r, RetryState(call.State), call.Attempts+1)
			}
			return v, nil
		}
	}
}

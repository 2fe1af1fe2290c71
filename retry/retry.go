package retry

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/internal/novalue"
)

// Defaults of [Config]'s zero fields.
const (
	DefaultMaxAttempts   = 3
	DefaultMaxRetryAfter = 30 * time.Second
)

// Config configures a [Policy]. Each zero field means its documented
// default, so Config{} is a sound policy: 3 attempts, exponential backoff
// from 100ms doubling to 10s with full jitter, server hints honoured up to 30s.
type Config struct {
	// MaxAttempts is the most attempts a call makes, the first included
	// (the original design's max_attempts). Default 3; 1 disables retries.
	MaxAttempts int

	// Backoff is the wait after each failure. Default backoff.Exponential{}:
	// 100ms, doubling, capped at 10s, full jitter. The original design's
	// backoff_factor is backoff.Exponential's Base, and max_delay its Max.
	Backoff backoff.Strategy

	// MaxElapsed, if set, limits the time from the start of the first
	// attempt: no attempt starts after it. Default: no limit other than the
	// context's deadline.
	MaxElapsed time.Duration

	// MaxRetryAfter caps server hints (an error's RetryAfter() method, such
	// as an HTTP Retry-After header): a hint longer than this stops the
	// retries at once rather than sleeping for it. Default 30s.
	MaxRetryAfter time.Duration

	// Classifier decides which errors are retried: only those it calls
	// resilience.ClassTransient. Default resilience.Classify.
	Classifier resilience.Classifier

	// Budget, if set, limits retries to a share of recent calls: every call
	// deposits into it, every retry withdraws from it, and when it is spent
	// the policy stops with an error matching budget.ErrExhausted. Share one
	// budget between the policies that call one service. Default: none.
	Budget *budget.Budget

	// OnRetry, if set, is called after each failed attempt that will be
	// retried, before the wait, on the goroutine of the call. It must not
	// block for long.
	OnRetry func(Event)
}

// Event describes a retry about to happen, for [Config].OnRetry.
type Event struct {
	Attempt int           // the attempt that failed, 1 for the first
	Err     error         // its error
	Delay   time.Duration // the wait before the next attempt
}

// Policy is a retry policy: the decision of when to try a failed call again,
// and the executor that does so. Make one with [New]; a Policy is immutable
// and safe for concurrent use by any number of calls. It is a
// resilience.Policy and a resilience.Retrier. The zero Policy is not valid;
// a nil *Policy returns an error from every call.
type Policy struct {
	maxAttempts   int
	backoff       backoff.Strategy
	maxElapsed    time.Duration
	maxRetryAfter time.Duration
	classify      resilience.Classifier
	budget        *budget.Budget
	onRetry       func(Event)
}

// New returns a Policy configured by cfg, or an error if a field makes no
// sense (a negative count or duration, or a backoff whose Validate method
// fails).
func New(cfg Config) (*Policy, error) {
	p := &Policy{
		maxAttempts:   cfg.MaxAttempts,
		backoff:       cfg.Backoff,
		maxElapsed:    cfg.MaxElapsed,
		maxRetryAfter: cfg.MaxRetryAfter,
		classify:      cfg.Classifier,
		budget:        cfg.Budget,
		onRetry:       cfg.OnRetry,
	}
	switch {
	case cfg.MaxAttempts < 0:
		return nil, errors.New("retry: MaxAttempts is negative: " + strconv.Itoa(cfg.MaxAttempts))
	case cfg.MaxElapsed < 0:
		return nil, errors.New("retry: MaxElapsed is negative: " + cfg.MaxElapsed.String())
	case cfg.MaxRetryAfter < 0:
		return nil, errors.New("retry: MaxRetryAfter is negative: " + cfg.MaxRetryAfter.String())
	}
	if v, ok := cfg.Backoff.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, errors.New("retry: Backoff: " + err.Error())
		}
	}
	if p.maxAttempts == 0 {
		p.maxAttempts = DefaultMaxAttempts
	}
	if p.backoff == nil {
		p.backoff = backoff.Exponential{}
	}
	if p.maxRetryAfter == 0 {
		p.maxRetryAfter = DefaultMaxRetryAfter
	}
	if p.classify == nil {
		p.classify = resilience.Classify
	}
	return p, nil
}

// MustNew is [New] for configurations known to be valid, such as literals in
// package variables; it panics on an invalid one.
func MustNew(cfg Config) *Policy {
	p, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return p
}

// Do calls fn, and calls it again after each transient failure as p decides,
// until it succeeds or p gives up. It returns the value and error of the last
// attempt; when p gives up after retrying, the error is an *[Error] that says
// why and unwraps to the last attempt's error. An error that is not
// transient on the first attempt is returned as it is.
//
// fn receives ctx. Waits end as soon as ctx is done, and no wait starts that
// would end after ctx's deadline. A panic in fn is not retried: it
// propagates unchanged. A successful first attempt costs a few nanoseconds
// and allocates nothing.
//
// Do never stores fn, so a closure passed to it stays on the caller's stack.
// It runs the same executor as resilience.Do with p as the only policy.
func Do[T any](ctx context.Context, p *Policy, fn func(context.Context) (T, error)) (T, error) {
	return resilience.Retry(ctx, p, fn)
}

// Run is [Do] for a function that returns only an error.
func Run(ctx context.Context, p *Policy, fn func(context.Context) error) error {
	_, err := resilience.Retry(ctx, p, novalue.Wrap(fn))
	return err
}

// Execute runs op through p, as [Run] does; it makes p a resilience.Policy.
func (p *Policy) Execute(ctx context.Context, op resilience.Operation) error {
	if op == nil {
		return resilience.ErrNilFunc
	}
	return resilience.Run(ctx, p, op.Call)
}

var errNilPolicy = errors.New("retry: nil *Policy")

// BeginRetries implements resilience.Retrier: it counts the call in the
// budget, if there is one.
func (p *Policy) BeginRetries() (timed bool, err error) {
	if p == nil {
		return false, errNilPolicy
	}
	if p.budget != nil {
		p.budget.Deposit()
	}
	return p.maxElapsed > 0, nil
}

// NextRetry implements resilience.Retrier: it returns the delay that
// [Policy.Decide] chooses — if the budget, when there is one, lets the retry
// go — after calling the OnRetry hook, or the error the call ends with when
// the decision is to stop.
func (p *Policy) NextRetry(s resilience.RetryState) (time.Duration, error) {
	if p == nil {
		return 0, errNilPolicy
	}
	d := p.Decide(s)
	if d.Reason == Retrying && p.budget != nil && !p.budget.WithdrawAt(s.Now) {
		return 0, &Error{Reason: BudgetExhausted, Attempts: s.Attempts, Err: s.Err, Cause: budget.ErrExhausted}
	}
	if d.Reason == Retrying {
		if p.onRetry != nil {
			p.onRetry(Event{Attempt: s.Attempts, Err: s.Err, Delay: d.Delay})
		}
		return d.Delay, nil
	}
	if d.Reason == NotRetryable && s.Attempts <= 1 && s.Cause == nil {
		return 0, s.Err
	}
	cause := s.Cause
	if d.Reason == Rejected {
		cause = s.Rejection
	}
	return 0, &Error{Reason: d.Reason, Attempts: s.Attempts, Err: s.Err, Cause: cause}
}

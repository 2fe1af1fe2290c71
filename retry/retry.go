package retry

import (
	"context"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/internal/nilpolicy"
	"github.com/netresilience/resilience/internal/novalue"
	"github.com/netresilience/resilience/internal/observe"
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
	// Name names the policy in its events.
	Name string

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
	// retries at once rather than sleeping for it. Zero means
	// [DefaultMaxRetryAfter], 30s; negative turns it off: a hint of any
	// length is waited for, as long as the caller's deadline and MaxElapsed
	// allow.
	MaxRetryAfter time.Duration

	// Classifier decides which errors are retried: only those it calls
	// resilience.ClassTransient. Default resilience.Classify.
	Classifier resilience.Classifier

	// Budget, if set, limits retries to a share of recent calls: every call
	// deposits into it, every retry withdraws from it, and when it is spent
	// the policy stops with an error matching budget.ErrExhausted. Share one
	// budget between the policies that call one service. Default: none.
	Budget *budget.Budget

	// Tokens, if set, is gRFC A6's retry throttling: a failed attempt whose
	// class is transient, or that carries a server's "do not retry"
	// pushback (a negative resilience.Pushback) whatever its class, takes a
	// token before the retry is decided; a retry goes only while the bucket
	// allows it (more than half its tokens left); and every attempt that
	// succeeds, a first one included, gives TokenRatio back. A failure the
	// policy ignores — the caller's own cancellation, or an error of class
	// resilience.ClassIgnored — counts nothing. When the bucket refuses a
	// retry the policy stops with Reason [BudgetExhausted] and Cause
	// [ErrThrottled], which matches budget.ErrExhausted too. Share one
	// bucket between the policies that call one server, as gRPC clients
	// do. With Budget set as well, a retry needs both. Default: none.
	Tokens *budget.Tokens

	// Observer, if set, receives the policy's events, with Kind
	// resilience.KindRetry, on the goroutine of the call: Retry after each
	// failed attempt that will be retried, before the wait; and at the end
	// of each call, Success or GiveUp (see resilience.Observer). An event
	// is built only for a func the Observer has, so a policy whose Observer
	// has no Success func costs a successful call nothing more. Default:
	// none.
	Observer *resilience.Observer
}

// Policy is a retry policy: the decision of when to try a failed call again,
// and the executor that does so. Make one with [New]; a Policy is immutable
// and safe for concurrent use by any number of calls. It is a
// resilience.Policy and a resilience.Retrier. The zero Policy is not valid; a
// nil *Policy never panics: a method that would run or admit a call refuses
// it, with an error matching resilience.ErrNilPolicy where it returns one, and
// the other methods do nothing and report zero values.
type Policy struct {
	maxAttempts   int
	backoff       backoff.Strategy
	maxElapsed    time.Duration
	maxRetryAfter time.Duration
	classify      resilience.Classifier
	budget        *budget.Budget
	tokens        *budget.Tokens
	name          string
	obs           *resilience.Observer
	// report is RetryPlan.ReportSuccess: whether Succeeded has anything to
	// do (an Observer must not change once a policy has it).
	report bool
}

// New returns a Policy configured by cfg, or an error if a field makes no
// sense (a negative MaxAttempts or MaxElapsed, or a backoff whose Validate
// method fails).
func New(cfg Config) (*Policy, error) {
	p := &Policy{
		maxAttempts:   cfg.MaxAttempts,
		backoff:       cfg.Backoff,
		maxElapsed:    cfg.MaxElapsed,
		maxRetryAfter: cfg.MaxRetryAfter,
		classify:      cfg.Classifier,
		budget:        cfg.Budget,
		tokens:        cfg.Tokens,
		name:          cfg.Name,
		obs:           cfg.Observer,
	}
	switch {
	case cfg.MaxAttempts < 0:
		return nil, errors.New("retry: MaxAttempts is negative: " + strconv.Itoa(cfg.MaxAttempts))
	case cfg.MaxElapsed < 0:
		return nil, errors.New("retry: MaxElapsed is negative: " + cfg.MaxElapsed.String())
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
	switch {
	case p.maxRetryAfter == 0:
		p.maxRetryAfter = DefaultMaxRetryAfter
	case p.maxRetryAfter < 0:
		p.maxRetryAfter = math.MaxInt64 // no hint is longer
	}
	if p.classify == nil {
		p.classify = resilience.Classify
	}
	p.report = p.tokens != nil || p.obs != nil && p.obs.Success != nil
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

// errNilPolicy is the error of a call through a nil pointer.
const errNilPolicy = nilpolicy.Error("retry: nil *Policy")

// Name returns the policy's name.
func (p *Policy) Name() string {
	if p == nil {
		return ""
	}
	return p.name
}

// BeginRetries implements resilience.Retrier: it counts the call in the
// budget, if there is one, and asks to hear of the call's success when the
// policy has Tokens, which a success refills, or an Observer with a Success
// func.
func (p *Policy) BeginRetries() (resilience.RetryPlan, error) {
	if p == nil {
		return resilience.RetryPlan{}, errNilPolicy
	}
	if p.budget != nil {
		p.budget.Deposit()
	}
	return resilience.RetryPlan{
		Timed:         p.maxElapsed > 0,
		ReportSuccess: p.report,
	}, nil
}

// BeginRetriesAt is [Policy.BeginRetries] for a call that starts at the time
// now, for virtual time: it counts the call in the budget at now.
func (p *Policy) BeginRetriesAt(now time.Time) (timed bool, err error) {
	if p == nil {
		return false, errNilPolicy
	}
	if p.budget != nil {
		p.budget.DepositAt(now)
	}
	return p.maxElapsed > 0, nil
}

// NextRetry implements resilience.Retrier: it returns the delay that
// [Policy.Decide] chooses — if the token bucket and the budget, when there
// are, let the retry go — or the error the call ends with when the decision
// is to stop, and reports a Retry or GiveUp event to the Observer. It takes
// the failed attempt's token from the bucket, if it costs one (see
// Config.Tokens), before it asks the bucket, and asks the bucket before the
// budget, so that a retry the bucket refuses spends nothing of the budget.
func (p *Policy) NextRetry(s resilience.RetryState) (time.Duration, error) {
	if p == nil {
		return 0, errNilPolicy
	}
	d := p.Decide(s)
	if s.Cause == nil {
		p.tokens.Failed(d.Class, s.Err)
	}
	var stop error
	switch {
	case d.Reason == Retrying && p.tokens != nil && !p.tokens.Allow():
		d.Reason = BudgetExhausted
		stop = &Error{Reason: BudgetExhausted, Attempts: s.Attempts, Err: s.Err, Cause: ErrThrottled}
	case d.Reason == Retrying && p.budget != nil && !p.budget.WithdrawAt(s.Now):
		d.Reason = BudgetExhausted
		stop = &Error{Reason: BudgetExhausted, Attempts: s.Attempts, Err: s.Err, Cause: budget.ErrExhausted}
	case d.Reason == Retrying:
		if p.obs != nil && p.obs.Retry != nil {
			e := p.event(resilience.EventRetry, s)
			e.Err, e.Delay = s.Err, d.Delay
			observe.Call(p.obs.Retry, e)
		}
		return d.Delay, nil
	case d.Reason == NotRetryable && s.Attempts <= 1 && s.Cause == nil:
		stop = s.Err
	case d.Reason == Rejected:
		stop = &Error{Reason: Rejected, Attempts: s.Attempts, Err: s.Err, Cause: s.Rejection}
	default:
		stop = &Error{Reason: d.Reason, Attempts: s.Attempts, Err: s.Err, Cause: s.Cause}
	}
	if p.obs != nil && p.obs.GiveUp != nil {
		e := p.event(resilience.EventGiveUp, s)
		e.Err, e.Reason = stop, d.Reason.String()
		observe.Call(p.obs.GiveUp, e)
	}
	return 0, stop
}

// Succeeded implements resilience.Retrier: it gives the token bucket, if
// there is one, its TokenRatio back, and reports a Success event to the
// Observer. Executors call it only when BeginRetries asked them to: when
// the policy has Tokens or its Observer a Success func. A simulator calls
// it after every successful attempt, with s.Now its virtual time.
func (p *Policy) Succeeded(s resilience.RetryState) {
	if p == nil {
		return
	}
	if p.tokens != nil {
		p.tokens.Success()
	}
	if p.obs != nil && p.obs.Success != nil {
		observe.Call(p.obs.Success, p.event(resilience.EventSuccess, s))
	}
}

// event returns an event of type t about the call in state s.
func (p *Policy) event(t resilience.EventType, s resilience.RetryState) resilience.Event {
	ctx := s.Context
	if ctx == nil {
		ctx = context.Background()
	}
	return resilience.Event{Type: t, Kind: resilience.KindRetry, Policy: p.name, Context: ctx, Time: s.Now, Attempt: s.Attempts}
}

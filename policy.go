package resilience

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/netresilience/resilience/internal/retrystep"
)

// Policy is one resilience mechanism — a retry policy, a circuit breaker, a
// bulkhead — applied around a call. Every policy in this module is a Policy,
// and so may be any user type: Execute runs op under the policy and returns
// what the policy makes of the outcome.
//
// An Execute method must:
//   - call op only while Execute runs, from any number of goroutines, and
//     pass op a context derived from ctx (or ctx itself);
//   - once ctx is done, start no new attempt and return as soon as the
//     attempts it started have returned (they see ctx, or a context derived
//     from it, end), with an error that wraps [context.Cause] of ctx;
//   - let a panic in op propagate (after releasing what it holds).
//
// [Do] and [Run] are the usual way to run a function through a Policy; they
// run the policies of this module without allocating. A Policy of another
// package works through Execute alone, at the cost of one allocation per call.
type Policy interface {
	Execute(ctx context.Context, op Operation) error
}

// Operation is the work a [Policy] protects: one attempt of the caller's call.
// Call may be called more than once, and concurrently; each call is one
// attempt.
type Operation interface {
	Call(ctx context.Context) error
}

// OperationFunc adapts a function to [Operation].
type OperationFunc func(ctx context.Context) error

// Call returns f(ctx).
func (f OperationFunc) Call(ctx context.Context) error { return f(ctx) }

// Errors for calls that cannot run. They are returned, never panicked.
var (
	// ErrNilFunc is returned by executors given a nil function.
	ErrNilFunc = errors.New("resilience: nil function")
	// ErrNilPolicy is returned by executors given a nil Policy. The error of
	// every policy of this module called through a nil pointer matches it too,
	// through errors.Is.
	ErrNilPolicy = errors.New("resilience: nil Policy")
	// ErrNilContext is returned by executors given a nil context.Context.
	ErrNilContext = errors.New("resilience: nil Context")
)

// Compose stacks policies into one: the first is the outermost, so
//
//	resilience.Compose(retryPolicy, breaker)
//
// retries calls that each pass through the breaker, and every retry is counted
// by it. Composed policies nest the same way in any order; a composition
// inside another is flattened. A [Retrier] right outside a [ForeseeingGuard],
// as the retry policy is outside the breaker here, is told after each
// failure whether the guard would certainly reject the next attempt
// ([RetryState].Rejection), so that it stops rather than wait for nothing;
// Compose finds such pairs once, so that other stacks pay nothing for it.
// Compose with no policies runs calls as they are. If any policy is nil,
// every call through the result fails with an error that names its position
// and matches [ErrNilPolicy].
func Compose(policies ...Policy) Policy {
	if len(policies) == 1 && policies[0] != nil {
		return policies[0]
	}
	c := &chain{}
	for i, p := range policies {
		switch p := p.(type) {
		case nil:
			c.err = nilAt(i)
			return c
		case *chain:
			if p.err != nil {
				return p
			}
			c.layers = append(c.layers, p.layers...)
		default:
			c.layers = append(c.layers, layerOf(p))
		}
	}
	// A Retrier right outside a ForeseeingGuard is told what the guard
	// foresees: found here, once, so that no call pays for looking.
	for i := range c.layers {
		c.layers[i].ahead = nil
		if c.layers[i].kind == retrierLayer && i+1 < len(c.layers) {
			if g, ok := c.layers[i+1].policy.(ForeseeingGuard); ok {
				c.layers[i].ahead = g
			}
		}
	}
	return c
}

// nilAt is the error of a composition whose policy at that position is
// nil. It matches ErrNilPolicy.
type nilAt int

func (i nilAt) Error() string {
	return "resilience: Compose: policy " + strconv.Itoa(int(i)) + " is nil"
}

func (i nilAt) Is(target error) bool { return target == ErrNilPolicy }

// chain is the Policy that Compose returns.
type chain struct {
	layers []layer
	err    error
}

// layer is one policy of a chain, with the way the executor drives it found
// once, when the chain is built, rather than by a type assertion per call.
type layer struct {
	kind    layerKind
	policy  Policy
	retrier Retrier // kind retrierLayer
	guard   Guard   // kind guardLayer
	scope   Scope   // kind scopeLayer
	// ahead is, for a retrier, the guard right inside it if that guard can
	// foresee its rejections: each attempt enters it first.
	ahead retrystep.Foreseer
}

type layerKind uint8

const (
	executeLayer layerKind = iota // driven through its Execute method
	retrierLayer
	guardLayer
	scopeLayer
)

func layerOf(p Policy) layer {
	switch q := p.(type) {
	case Retrier:
		return layer{kind: retrierLayer, policy: p, retrier: q}
	case Guard:
		return layer{kind: guardLayer, policy: p, guard: q}
	case Scope:
		return layer{kind: scopeLayer, policy: p, scope: q}
	}
	return layer{kind: executeLayer, policy: p}
}

// Execute runs op through the composed policies.
func (c *chain) Execute(ctx context.Context, op Operation) error {
	if op == nil {
		return ErrNilFunc
	}
	_, err := start(ctx, c, operationAttempt{op})
	return err
}

// Do runs fn through the policy p and returns the value and error of the call
// as p leaves them: after retries, the value of the first attempt that
// succeeded, or else the value of the last attempt that ran, with the error
// that p returned. fn receives a context derived from ctx for each attempt.
//
// A panic in fn is not recovered by Do; the policies release what they hold
// and the panic goes on up the stack. A nil ctx, p or fn is reported as an
// error ([ErrNilContext], [ErrNilPolicy], [ErrNilFunc]), not a panic.
//
// A call that p admits and that succeeds at once allocates nothing when p is
// one of this module's policies, or a [Compose] of them — nothing but fn
// itself, and the context that a per-attempt timeout gives each attempt:
// because Do may hand fn to any Policy, a closure that captures variables
// escapes to the heap. [Retry] and the retry package's Do and Run never hand
// fn on, so with them even such a closure costs nothing.
func Do[T any](ctx context.Context, p Policy, fn func(context.Context) (T, error)) (T, error) {
	if ctx != nil && fn != nil { // the common cases, one call shorter
		switch p := p.(type) {
		case *chain:
			if p.err == nil && ctx.Err() == nil {
				return runChain[T](ctx, p.layers, valueAttempt[T](fn), true)
			}
		case Retrier:
			return retryLoop(ctx, p, nil, fn, true)
		case Guard:
			return Guarded(ctx, p, fn)
		}
	}
	if fn == nil {
		var zero T
		return zero, ErrNilFunc
	}
	return start(ctx, p, valueAttempt[T](fn))
}

// Run is [Do] for a function that returns only an error.
func Run(ctx context.Context, p Policy, fn func(context.Context) error) error {
	if ctx != nil && fn != nil { // the common cases, one call shorter
		switch p := p.(type) {
		case *chain:
			if p.err == nil && ctx.Err() == nil {
				_, err := runChain[struct{}](ctx, p.layers, errorAttempt(fn), true)
				return err
			}
		case Retrier:
			_, err := retryLoop(ctx, p, nil, errorAttempt(fn).run, true)
			return err
		case Guard:
			_, err := Guarded(ctx, p, errorAttempt(fn).run)
			return err
		}
	}
	if fn == nil {
		return ErrNilFunc
	}
	_, err := start(ctx, p, errorAttempt(fn))
	return err
}

// badArgs returns the error for a missing context, policy or function.
func badArgs(ctx context.Context, noPolicy, noFunc bool) error {
	switch {
	case ctx == nil:
		return ErrNilContext
	case noPolicy:
		return ErrNilPolicy
	case noFunc:
		return ErrNilFunc
	}
	return nil
}

// attempt is what executors run once per attempt. It is a type parameter of
// the executors, not an interface value, so that the caller's function needs
// no wrapping closure and no allocation.
type attempt[T any] interface {
	run(ctx context.Context) (T, error)
}

// valueAttempt is the function given to Do.
type valueAttempt[T any] func(context.Context) (T, error)

func (f valueAttempt[T]) run(ctx context.Context) (T, error) { return f(ctx) }

// errorAttempt is the function given to Run.
type errorAttempt func(context.Context) error

func (f errorAttempt) run(ctx context.Context) (struct{}, error) { return struct{}{}, f(ctx) }

// operationAttempt is an Operation handed to a composition's Execute.
type operationAttempt struct{ op Operation }

func (o operationAttempt) run(ctx context.Context) (struct{}, error) {
	return struct{}{}, o.op.Call(ctx)
}

// start checks the arguments and runs a through p.
func start[T any, A attempt[T]](ctx context.Context, p Policy, a A) (T, error) {
	var zero T
	if ctx == nil {
		return zero, ErrNilContext
	}
	c, isChain := p.(*chain)
	switch {
	case isChain && c.err != nil:
		return zero, c.err
	case p == nil:
		return zero, ErrNilPolicy
	case ctx.Err() != nil: // a policy of another package may not check
		return zero, context.Cause(ctx)
	case isChain:
		return runChain[T](ctx, c.layers, a, true)
	}
	if s, ok := p.(Scope); ok {
		return scoped[T](ctx, p, s, nil, a)
	}
	return execute[T](ctx, p, nil, a)
}

// runChain runs a through the layers, the first outermost. The executors
// of retriers, guards and scopes check ctx before they start; checked says
// that ctx was found alive just before, with nothing that waits since — by
// Do, Run or start, or by a retry executor before each attempt — so that the
// first layer need not check it again. Inside a guard or a policy of
// another package, which may have waited (a bulkhead's queue, a rate
// limiter), or a scope, whose context may have ended at once, the next
// retrier, guard or scope checks it.
func runChain[T any, A attempt[T]](ctx context.Context, layers []layer, a A, checked bool) (T, error) {
	if len(layers) == 0 {
		return a.run(ctx)
	}
	l, inner := &layers[0], layers[1:]
	if l.kind != executeLayer && !checked && ctx.Err() != nil {
		var zero T
		return zero, context.Cause(ctx)
	}
	// The caller's function itself, when it is all that is left inside:
	// one call shorter than the closures below.
	fn, isFn := any(a).(valueAttempt[T])
	last := isFn && len(inner) == 0
	switch l.kind {
	case retrierLayer:
		if last {
			return retryLoop(ctx, l.retrier, l.ahead, fn, false)
		}
		if isFn && len(inner) == 1 && inner[0].kind == guardLayer {
			// A guard and the caller's function, the most common pair
			// inside a retry: its closure one call shorter still.
			g := inner[0].guard
			return retryLoop(ctx, l.retrier, l.ahead, func(ctx context.Context) (T, error) {
				return guarded(ctx, g, fn, false)
			}, false)
		}
		return retryLoop(ctx, l.retrier, l.ahead, func(ctx context.Context) (T, error) {
			return runChain[T](ctx, inner, a, true)
		}, false)
	case guardLayer:
		if last {
			return guarded(ctx, l.guard, fn, false)
		}
		return guarded(ctx, l.guard, func(ctx context.Context) (T, error) {
			return runChain[T](ctx, inner, a, false)
		}, false)
	case scopeLayer:
		return scoped[T](ctx, l.policy, l.scope, inner, a)
	}
	return execute[T](ctx, l.policy, inner, a)
}

// execute runs a through p, a policy that the executor cannot drive, and
// then through the layers inside it.
func execute[T any, A attempt[T]](ctx context.Context, p Policy, inner []layer, a A) (T, error) {
	op := &operation[T, A]{inner: inner, a: a}
	err := p.Execute(ctx, op)
	return op.result(), err
}

// operation is the Operation that a Policy's Execute receives from Do: one
// attempt through the policies inside it. Attempts may run concurrently (a
// hedging policy) or outlive Execute (a policy that stops waiting for a call
// that ignores its context); the value kept is that of the first success, or
// else of the last attempt to finish, and nothing is kept once Do returns.
type operation[T any, A attempt[T]] struct {
	inner []layer
	a     A

	mu        sync.Mutex
	value     T
	succeeded bool
	done      bool
}

// Call runs one attempt.
func (o *operation[T, A]) Call(ctx context.Context) error {
	v, err := runChain[T](ctx, o.inner, o.a, false)
	o.mu.Lock()
	if !o.done && !o.succeeded {
		o.value, o.succeeded = v, err == nil
	}
	o.mu.Unlock()
	return err
}

// result returns the kept value and stops keeping any other.
func (o *operation[T, A]) result() T {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done = true
	return o.value
}

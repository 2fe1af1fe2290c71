package ratelimit

import (
	"context"
	"strconv"
)

// WithCost returns a copy of ctx that tells every limiter the call it
// carries costs n tokens. Use it to weigh calls that go through [Do], [Run]
// or resilience.Do, which take no cost of their own: an LLM client makes a
// call cost its model tokens,
//
//	ctx := ratelimit.WithCost(ctx, promptTokens+maxTokens)
//	reply, err := resilience.Do(ctx, policy, complete)
//
// A call whose context carries no cost costs one token; the innermost
// WithCost wins. A cost of zero lets a call through without spending tokens;
// a negative cost, or one above a limiter's Burst, fails with an error
// matching [ErrBadCost]. Every attempt of a retried call costs n again, since
// the limiter sees each attempt. The cost is per-call metadata, which is what
// context values are for; reading it allocates nothing. WithCost(nil, n)
// returns nil, so that the executors report the missing context.
func WithCost(ctx context.Context, n int) context.Context {
	if ctx == nil {
		return nil
	}
	return &costCtx{ctx, n}
}

// costKey is the context key of a call's cost.
type costKey struct{}

// costCtx is the context that WithCost returns. It answers the value of
// costKey with itself, a pointer, so that reading the cost allocates nothing
// (an int in an interface would, above 255).
type costCtx struct {
	context.Context
	cost int
}

// Value returns c for costKey, and the parent's value for any other key.
func (c *costCtx) Value(key any) any {
	if _, ok := key.(costKey); ok {
		return c
	}
	return c.Context.Value(key)
}

// String returns a description such as "context.Background.WithCost(3)".
func (c *costCtx) String() string {
	parent := "context"
	if s, ok := c.Context.(interface{ String() string }); ok {
		parent = s.String()
	}
	return parent + ".WithCost(" + strconv.Itoa(c.cost) + ")"
}

// costOf returns the cost that ctx carries: one if none.
func costOf(ctx context.Context) int {
	if c, ok := ctx.Value(costKey{}).(*costCtx); ok {
		return c.cost
	}
	return 1
}

package ratelimit

import (
	"context"
	"strconv"
)

// WithCost returns a copy of ctx that tells l, and l alone, that the call it
// carries costs n tokens. Use it to weigh calls that go through [Do], [Run]
// or resilience.Do, which take no cost of their own. Each limiter reads only
// its own cost, so a stack of limiters charges each call differently: an LLM
// client with a quota of requests and one of model tokens makes a call cost
// one request and its tokens,
//
//	ctx = tokens.WithCost(ctx, promptTokens+maxTokens)
//	reply, err := resilience.Do(ctx, resilience.Compose(requests, tokens), complete)
//
// A limiter that finds no cost of its own in a call's context charges one
// token; of two costs for one limiter, the innermost WithCost wins. A cost of
// zero lets a call through without spending tokens; a negative cost, or one
// above the limiter's Burst, fails with an error matching [ErrBadCost]. Every
// attempt of a retried call costs n again, since the limiter sees each
// attempt. The cost is per-call metadata, which is what context values are
// for; reading it allocates nothing. WithCost(nil, n) returns nil, so that
// the executors report the missing context; a nil *Limiter returns ctx as it
// is.
func (l *Limiter) WithCost(ctx context.Context, n int) context.Context {
	if ctx == nil || l == nil {
		return ctx
	}
	return &costCtx{ctx, l, n}
}

// costKey is the context key of a call's cost for the limiter l. It is a
// pointer in a struct, so that making it an interface allocates nothing.
type costKey struct{ l *Limiter }

// costCtx is the context that WithCost returns. It answers the value of
// its limiter's costKey with itself, a pointer, so that reading the cost
// allocates nothing (an int in an interface would, above 255).
type costCtx struct {
	context.Context
	l    *Limiter
	cost int
}

// Value returns c for the costKey of c's limiter, and the parent's value for
// any other key.
func (c *costCtx) Value(key any) any {
	if k, ok := key.(costKey); ok && k.l == c.l {
		return c
	}
	return c.Context.Value(key)
}

// String returns a description such as
// `context.Background.WithCost("llm-tokens", 3)`.
func (c *costCtx) String() string {
	parent := "context"
	if s, ok := c.Context.(interface{ String() string }); ok {
		parent = s.String()
	}
	return parent + ".WithCost(" + strconv.Quote(c.l.Name()) + ", " + strconv.Itoa(c.cost) + ")"
}

// costOf returns the cost for l that ctx carries: one if none.
func (l *Limiter) costOf(ctx context.Context) int {
	if c, ok := ctx.Value(costKey{l}).(*costCtx); ok {
		return c.cost
	}
	return 1
}

package retry_test

import (
	"context"
	"errors"
	"testing"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/retry"
)

// succeed is the protected call: not inlined, so that the direct call is a
// real call, as a user's function would be.
//
//go:noinline
func succeed(context.Context) (int, error) { return 1, nil }

var sink int

func BenchmarkSuccess(b *testing.B) {
	ctx := context.Background()
	p := retry.MustNew(retry.Config{})
	var asPolicy resilience.Policy = p
	composed := resilience.Compose(p)
	throttled := retry.MustNew(retry.Config{Tokens: budget.MustNewTokens(budget.TokensConfig{})})
	fn := succeed
	for _, bc := range []struct {
		name string
		call func() (int, error)
	}{
		{"direct", func() (int, error) { return fn(ctx) }},
		{"retry.Do", func() (int, error) { return retry.Do(ctx, p, fn) }},
		{"resilience.Do", func() (int, error) { return resilience.Do(ctx, asPolicy, fn) }},
		{"resilience.Do/Compose", func() (int, error) { return resilience.Do(ctx, composed, fn) }},
		{"retry.Do/Tokens", func() (int, error) { return retry.Do(ctx, throttled, fn) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, _ := bc.call()
				sink += v
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bc.call()
				}
			})
		})
	}
}

// BenchmarkTwoFailuresThenSuccess measures the retry loop itself: two
// transient failures and a success, with no wait between attempts.
func BenchmarkTwoFailuresThenSuccess(b *testing.B) {
	ctx := context.Background()
	p := retry.MustNew(retry.Config{Backoff: backoff.Constant(0)})
	errDown := resilience.Transient(errors.New("down"))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		retry.Do(ctx, p, func(context.Context) (int, error) {
			if n++; n < 3 {
				return 0, errDown
			}
			return n, nil
		})
	}
}

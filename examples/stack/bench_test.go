package main

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/ratelimit"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/timeout"
)

//go:noinline
func succeed(context.Context) (int, error) { return 1, nil }

// BenchmarkStack measures a successful call through the recommended stack,
// with limits too generous to bite, with and without the per-attempt timeout
// (whose context is the only part that allocates).
func BenchmarkStack(b *testing.B) {
	limit := ratelimit.MustNew(ratelimit.Config{Limit: math.MaxInt32, Per: time.Millisecond})
	pool := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1024})
	retries := retry.MustNew(retry.Config{Budget: budget.MustNew(budget.Config{})})
	br := breaker.MustNew(breaker.Config{})
	perTry := timeout.MustNew(timeout.Config{Timeout: time.Minute})
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		p    resilience.Policy
	}{
		{"without-timeout", resilience.Compose(limit, pool, retries, br)},
		{"full", resilience.Compose(limit, pool, retries, br, perTry)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resilience.Do(ctx, bc.p, succeed)
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resilience.Do(ctx, bc.p, succeed)
				}
			})
		})
	}
}

func TestStackWithoutTimeoutAllocatesNothing(t *testing.T) {
	limit := ratelimit.MustNew(ratelimit.Config{Limit: math.MaxInt32, Per: time.Millisecond})
	p := resilience.Compose(limit, bulkhead.MustNew(bulkhead.Config{}),
		retry.MustNew(retry.Config{Budget: budget.MustNew(budget.Config{})}), breaker.MustNew(breaker.Config{}))
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() { resilience.Do(ctx, p, succeed) }); n != 0 {
		t.Fatalf("%v allocations per call through rate limit, bulkhead, retry with budget and breaker; want 0", n)
	}
}

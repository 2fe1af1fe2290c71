package resilience_test

import (
	"context"
	"errors"
	"testing"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/retry"
)

// succeed is the protected call: not inlined, so that the call is a real
// call, as a user's function would be.
//
//go:noinline
func succeed(context.Context) (int, error) { return 1, nil }

var sink int

// BenchmarkCompose measures a successful call through compositions of a
// retry policy and a guard: a breaker, and a bulkhead.
func BenchmarkCompose(b *testing.B) {
	ctx := context.Background()
	r := retry.MustNew(retry.Config{})
	for _, bc := range []struct {
		name string
		p    resilience.Policy
	}{
		{"retry", resilience.Compose(r)},
		{"retry+breaker", resilience.Compose(r, breaker.MustNew(breaker.Config{}))},
		{"retry+bulkhead", resilience.Compose(r, bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1 << 20}))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, _ := resilience.Do(ctx, bc.p, succeed)
				sink += v
			}
		})
	}
}

// BenchmarkComposeTwoFailuresThenSuccess measures the retry loop through a
// composition: two transient failures and a success, with no wait between
// attempts, around a breaker that stays closed and around a bulkhead.
func BenchmarkComposeTwoFailuresThenSuccess(b *testing.B) {
	ctx := context.Background()
	r := retry.MustNew(retry.Config{Backoff: backoff.Constant(0)})
	errDown := resilience.Transient(errors.New("down"))
	for _, bc := range []struct {
		name string
		p    resilience.Policy
	}{
		{"retry+breaker", resilience.Compose(r, breaker.MustNew(breaker.Config{FailureThreshold: 1 << 20}))},
		{"retry+bulkhead", resilience.Compose(r, bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1 << 20}))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			fn := func(context.Context) (int, error) {
				if n++; n%3 != 0 {
					return 0, errDown
				}
				return n, nil
			}
			for b.Loop() {
				v, _ := resilience.Do(ctx, bc.p, fn)
				sink += v
			}
		})
	}
}

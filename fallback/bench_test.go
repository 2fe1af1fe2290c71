package fallback_test

import (
	"context"
	"testing"

	"github.com/netresilience/resilience"

	"github.com/netresilience/resilience/fallback"
)

// BenchmarkDo measures a call whose first attempt succeeds, and one that
// falls back to an alternative that succeeds.
func BenchmarkDo(b *testing.B) {
	f := fallback.MustNew(fallback.Config{})
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		fn   func(context.Context) (int, error)
	}{{"success", succeed}, {"fallback", fail}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				fallback.Do(ctx, f, bc.fn, alternative)
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					fallback.Do(ctx, f, bc.fn, alternative)
				}
			})
		})
	}
}

// BenchmarkExecute measures a successful call through the Fallback as a
// resilience.Policy: resilience.Run hands the Policy an Operation, which
// costs one allocation, since a Fallback is neither a Guard nor a Retrier.
func BenchmarkExecute(b *testing.B) {
	f := fallback.MustNew(fallback.Config{Alternative: func(context.Context, error) error { return nil }})
	ctx := context.Background()
	ok := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		resilience.Run(ctx, f, ok)
	}
}

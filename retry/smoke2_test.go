package retry_test

import (
	"context"
	"testing"

	"github.com/netresilience/resilience/retry"
)

//go:noinline
func okCall(context.Context) (int, error) { return 1, nil }

func BenchmarkSmoke2(b *testing.B) {
	p := retry.MustNew(retry.Config{})
	ctx := context.Background()
	fn := okCall
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			fn(ctx)
		}
	})
	b.Run("retry", func(b *testing.B) {
		for b.Loop() {
			retry.Do(ctx, p, fn)
		}
	})
}

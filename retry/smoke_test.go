package retry_test

import (
	"context"
	"testing"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/retry"
)

func TestSmokeAllocs(t *testing.T) {
	p := retry.MustNew(retry.Config{})
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	var pol resilience.Policy = p
	n := testing.AllocsPerRun(1000, func() {
		retry.Do(ctx, p, fn)
		resilience.Do(ctx, pol, fn)
		resilience.Do(ctx, resilience.Compose(pol), fn)
	})
	t.Log(n)
}

func BenchmarkSmoke(b *testing.B) {
	p := retry.MustNew(retry.Config{})
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fn(ctx)
		}
	})
	b.Run("retry", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			retry.Do(ctx, p, fn)
		}
	})
}

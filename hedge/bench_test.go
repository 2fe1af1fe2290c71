package hedge_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netresilience/resilience/hedge"
)

// BenchmarkFirstInTime: the first attempt answers before the delay.
func BenchmarkFirstInTime(b *testing.B) {
	h := hedge.MustNew(hedge.Config{Delay: time.Hour})
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		hedge.Do(ctx, h, fn)
	}
}

func BenchmarkFirstInTimeParallel(b *testing.B) {
	h := hedge.MustNew(hedge.Config{Delay: time.Hour})
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			hedge.Do(ctx, h, fn)
		}
	})
}

// BenchmarkFirstInTimeAdaptive adds the percentile estimate and the
// recording of the latency.
func BenchmarkFirstInTimeAdaptive(b *testing.B) {
	h := hedge.MustNew(hedge.Config{InitialDelay: time.Hour})
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		hedge.Do(ctx, h, fn)
	}
}

// BenchmarkHedged: the first attempt waits for its context; a hedge starts
// at once and wins.
func BenchmarkHedged(b *testing.B) {
	h := hedge.MustNew(hedge.Config{Delay: time.Nanosecond})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var started atomic.Bool
		hedge.Do(ctx, h, func(ctx context.Context) (int, error) {
			if started.CompareAndSwap(false, true) {
				<-ctx.Done()
				return 0, ctx.Err()
			}
			return 1, nil
		})
	}
}

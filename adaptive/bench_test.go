package adaptive_test

import (
	"context"
	"testing"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
)

//go:noinline
func succeed(context.Context) (int, error) { return 1, nil }

var sink int

// BenchmarkEnterExit runs an admitted, successful call through Do: Enter,
// the call, Exit and the algorithm's step.
func BenchmarkEnterExit(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		cfg  adaptive.Config
	}{
		{"aimd", adaptive.Config{}},
		{"gradient", adaptive.Config{Algorithm: adaptive.Gradient}},
		{"gradient-priorities", adaptive.Config{Algorithm: adaptive.Gradient, Priorities: true}},
	} {
		l := adaptive.MustNew(bc.cfg)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, _ := adaptive.Do(ctx, l, succeed)
				sink += v
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					adaptive.Do(ctx, l, succeed)
				}
			})
		})
	}
}

// BenchmarkTryAcquireRelease is the two-step form.
func BenchmarkTryAcquireRelease(b *testing.B) {
	l := adaptive.MustNew(adaptive.Config{Algorithm: adaptive.Gradient})
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, _ := l.TryAcquire()
			p.Release(resilience.Outcome{})
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, _ := l.TryAcquire()
				p.Release(resilience.Outcome{})
			}
		})
	})
}

// BenchmarkRejection is a call refused at once.
func BenchmarkRejection(b *testing.B) {
	l := adaptive.MustNew(adaptive.Config{Min: 1, Max: 1, Initial: 1})
	p, _ := l.TryAcquire()
	defer p.Release(resilience.Outcome{})
	b.ReportAllocs()
	for b.Loop() {
		l.TryAcquire()
	}
}

package breaker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/retry"
)

//go:noinline
func succeed(context.Context) (int, error) { return 1, nil }

var sink int

func BenchmarkClosedSuccess(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		cfg  breaker.Config
	}{
		{"consecutive", breaker.Config{}},
		{"window", breaker.Config{Window: 10 * time.Second, FailureRate: 0.5}},
		{"window+slow", breaker.Config{Window: 10 * time.Second, FailureRate: 0.5, SlowCall: time.Second, SlowCallRate: 0.5}},
	} {
		br := breaker.MustNew(bc.cfg)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, _ := breaker.Do(ctx, br, succeed)
				sink += v
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					breaker.Do(ctx, br, succeed)
				}
			})
		})
	}
}

func BenchmarkDirect(b *testing.B) {
	ctx := context.Background()
	fn := succeed
	for b.Loop() {
		v, _ := fn(ctx)
		sink += v
	}
}

func BenchmarkOpenRejection(b *testing.B) {
	ctx := context.Background()
	br := breaker.MustNew(breaker.Config{RecoveryTimeout: time.Hour})
	br.ForceOpen()
	b.ReportAllocs()
	for b.Loop() {
		_, err := breaker.Do(ctx, br, succeed)
		if !errors.Is(err, breaker.ErrOpen) {
			b.Fatal(err)
		}
	}
}

func BenchmarkRetryAroundBreaker(b *testing.B) {
	ctx := context.Background()
	p := resilience.Compose(retry.MustNew(retry.Config{}), breaker.MustNew(breaker.Config{}))
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, _ := resilience.Do(ctx, p, succeed)
			sink += v
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resilience.Do(ctx, p, succeed)
			}
		})
	})
}

// BenchmarkTwoStep is the two-step API: Allow, then Done on the permit, for
// a call that succeeds in the closed state.
func BenchmarkTwoStep(b *testing.B) {
	br := breaker.MustNew(breaker.Config{})
	b.ReportAllocs()
	for b.Loop() {
		p, err := br.Allow()
		if err != nil {
			b.Fatal(err)
		}
		p.Done(nil)
	}
}

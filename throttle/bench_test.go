package throttle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/throttle"
)

//go:noinline
func succeed(context.Context) (int, error) { return 1, nil }

//go:noinline
func refuse(context.Context) (int, error) { return 0, errOverloaded }

var sink int

func BenchmarkDirect(b *testing.B) {
	ctx := context.Background()
	fn := succeed
	for b.Loop() {
		v, _ := fn(ctx)
		sink += v
	}
}

// BenchmarkAdmittedSuccess runs successful calls: through a window of
// accepts only (the decision needs no lock), and through one that holds a
// failure (every decision takes the lock; p is still 0).
func BenchmarkAdmittedSuccess(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name     string
		failures bool
	}{
		{"clear", false},
		{"failures-in-window", true},
	} {
		th := throttle.MustNew(throttle.Config{MinRequests: 1})
		if bc.failures {
			for range 10 {
				throttle.Do(ctx, th, succeed)
			}
			throttle.Do(ctx, th, refuse)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, _ := throttle.Do(ctx, th, succeed)
				sink += v
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					throttle.Do(ctx, th, succeed)
				}
			})
		})
		if s := th.Snapshot(); s.Rejected != 0 {
			b.Fatalf("%s: %d calls rejected", bc.name, s.Rejected)
		}
	}
}

// BenchmarkRejection runs calls to a backend that is down: after the first
// few, nearly all are rejected.
func BenchmarkRejection(b *testing.B) {
	ctx := context.Background()
	th := throttle.MustNew(throttle.Config{})
	for range 100 {
		throttle.Do(ctx, th, refuse)
	}
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := throttle.Do(ctx, th, refuse); err == nil {
				b.Fatal("succeeded")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				throttle.Do(ctx, th, refuse)
			}
		})
	})
	b.Run("AllowAt", func(b *testing.B) {
		th := throttle.MustNew(throttle.Config{})
		now := time.Now()
		for range 100 {
			p, _ := th.AllowAt(now, 1)
			p.DoneAt(now, errOverloaded)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := th.AllowAt(now, 0); !errors.Is(err, throttle.ErrThrottled) {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRetryAroundThrottle(b *testing.B) {
	ctx := context.Background()
	p := resilience.Compose(retry.MustNew(retry.Config{}), throttle.MustNew(throttle.Config{}))
	b.ReportAllocs()
	for b.Loop() {
		v, _ := resilience.Do(ctx, p, succeed)
		sink += v
	}
}

// BenchmarkTwoStep is the two-step API: Allow, then Done on the permit, for
// a call that succeeds.
func BenchmarkTwoStep(b *testing.B) {
	th := throttle.MustNew(throttle.Config{})
	b.ReportAllocs()
	for b.Loop() {
		p, err := th.Allow()
		if err != nil {
			b.Fatal(err)
		}
		p.Done(nil)
	}
}

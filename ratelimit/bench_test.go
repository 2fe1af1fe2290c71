package ratelimit_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/ratelimit"
	"github.com/netresilience/resilience/retry"
)

//go:noinline
func succeed(context.Context) (int, error) { return 1, nil }

var sink int

// plentiful never runs dry: every call is admitted. It refills a token a
// nanosecond, and so computes in whole nanoseconds, as limiters whose Per
// is a multiple of Limit do; fractional is one whose tokens take a fraction
// of a nanosecond.
func plentiful() *ratelimit.Limiter {
	return ratelimit.MustNew(ratelimit.Config{Limit: 1e9, Burst: 1e9})
}

func fractional() *ratelimit.Limiter {
	return ratelimit.MustNew(ratelimit.Config{Limit: math.MaxInt, Burst: math.MaxInt})
}

// dry never has a token: every call is rejected.
func dry(maxWait time.Duration) *ratelimit.Limiter {
	l := ratelimit.MustNew(ratelimit.Config{Limit: 1, Per: time.Hour, Burst: 1000, MaxWait: maxWait})
	l.Allow(1000)
	return l
}

// costly returns a context in which a call costs l n tokens.
func costly(l *ratelimit.Limiter, n int) context.Context {
	if n == 1 {
		return context.Background()
	}
	return l.WithCost(context.Background(), n)
}

func BenchmarkAdmitted(b *testing.B) {
	for _, bc := range []struct {
		name string
		cost int
		l    *ratelimit.Limiter
	}{
		{"cost1", 1, plentiful()},
		{"weighted", 100, plentiful()},
		{"weighted/fractional", 100, fractional()},
	} {
		l := bc.l
		ctx := costly(l, bc.cost)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, _ := ratelimit.Do(ctx, l, succeed)
				sink += v
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ratelimit.Do(ctx, l, succeed)
				}
			})
		})
	}
}

func BenchmarkRejected(b *testing.B) {
	for _, bc := range []struct {
		name    string
		cost    int
		maxWait time.Duration
	}{
		{"cost1", 1, 0},
		{"weighted", 100, 0},
		{"cost1/maxwait", 1, time.Minute},
	} {
		l := dry(bc.maxWait)
		ctx := costly(l, bc.cost)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, err := ratelimit.Do(ctx, l, succeed)
				if !errors.Is(err, ratelimit.ErrLimited) {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ratelimit.Do(ctx, l, succeed)
				}
			})
		})
	}
}

func BenchmarkAllow(b *testing.B) {
	l := plentiful()
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l.Allow(1)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Allow(1)
			}
		})
	})
	at := time.Now()
	b.Run("At", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l.AllowAt(at, 1)
		}
	})
}

func BenchmarkDirect(b *testing.B) {
	ctx := context.Background()
	fn := succeed
	for b.Loop() {
		v, _ := fn(ctx)
		sink += v
	}
}

func BenchmarkRetryAroundLimiter(b *testing.B) {
	ctx := context.Background()
	p := resilience.Compose(retry.MustNew(retry.Config{}), plentiful())
	b.ReportAllocs()
	for b.Loop() {
		v, _ := resilience.Do(ctx, p, succeed)
		sink += v
	}
}

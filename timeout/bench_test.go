package timeout_test

import (
	"context"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/timeout"
)

var sink int

// BenchmarkSuccess is a call that succeeds at once, through each mode.
func BenchmarkSuccess(b *testing.B) {
	background := context.Background()
	callerFirst, cancel := context.WithTimeout(background, time.Hour)
	defer cancel()
	for _, bc := range []struct {
		name string
		ctx  context.Context
		cfg  timeout.Config
	}{
		{"cooperative", background, timeout.Config{Timeout: time.Minute}},
		{"cooperative/callerDeadlineFirst", callerFirst, timeout.Config{Timeout: 2 * time.Hour}},
		{"abandon", background, timeout.Config{Timeout: time.Minute, Abandon: true}},
	} {
		tm := timeout.MustNew(bc.cfg)
		ctx := bc.ctx
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, _ := timeout.Do(ctx, tm, succeed)
				sink += v
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					timeout.Do(ctx, tm, succeed)
				}
			})
		})
	}
}

// BenchmarkContextWithTimeout is the floor: the attempt's context alone.
func BenchmarkContextWithTimeout(b *testing.B) {
	ctx := context.Background()
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, cancel := context.WithTimeoutCause(ctx, time.Minute, errCause)
			v, _ := succeed(c)
			sink += v
			cancel()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c, cancel := context.WithTimeoutCause(ctx, time.Minute, errCause)
				succeed(c)
				cancel()
			}
		})
	})
}

// BenchmarkRetryAroundTimeout is a successful call through
// resilience.Compose(retry, timeout), where the executor drives the timeout
// as a resilience.Scope: it should cost what BenchmarkContextWithTimeout
// does, and a few nanoseconds more.
func BenchmarkRetryAroundTimeout(b *testing.B) {
	ctx := context.Background()
	p := resilience.Compose(retry.MustNew(retry.Config{}), timeout.MustNew(timeout.Config{Timeout: time.Minute}))
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

// BenchmarkTimedOut is an attempt that overruns a deadline that has
// already passed when it ends: the cost of the timeout path.
func BenchmarkTimedOut(b *testing.B) {
	ctx := context.Background()
	tm := timeout.MustNew(timeout.Config{Timeout: time.Nanosecond})
	fn := func(ctx context.Context) error {
		<-ctx.Done()
		return errBad
	}
	b.ReportAllocs()
	for b.Loop() {
		timeout.Run(ctx, tm, fn)
	}
}

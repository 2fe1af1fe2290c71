package bulkhead_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/retry"
)

//go:noinline
func succeed(context.Context) (int, error) { return 1, nil }

var sink int

func BenchmarkAdmittedSuccess(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		cfg  bulkhead.Config
	}{
		{"no-wait", bulkhead.Config{}},
		{"may-wait", bulkhead.Config{MaxWait: time.Second}},
		{"observer", bulkhead.Config{Observer: &resilience.Observer{Admit: func(resilience.Event) {}}}},
	} {
		bh := bulkhead.MustNew(bc.cfg)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, _ := bulkhead.Do(ctx, bh, succeed)
				sink += v
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bulkhead.Do(ctx, bh, succeed)
				}
			})
		})
	}
}

func BenchmarkTwoStep(b *testing.B) {
	bh := bulkhead.MustNew(bulkhead.Config{})
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, _ := bh.TryAcquire()
			p.Release()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, _ := bh.TryAcquire()
				p.Release()
			}
		})
	})
}

func BenchmarkRejection(b *testing.B) {
	ctx := context.Background()
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
	p, _ := bh.TryAcquire()
	defer p.Release()
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, err := bulkhead.Do(ctx, bh, succeed)
			if !errors.Is(err, bulkhead.ErrFull) {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				bulkhead.Do(ctx, bh, succeed)
			}
		})
	})
}

func BenchmarkRetryAroundBulkhead(b *testing.B) {
	ctx := context.Background()
	p := resilience.Compose(retry.MustNew(retry.Config{}), bulkhead.MustNew(bulkhead.Config{}))
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

// BenchmarkDirect is the call without a bulkhead, for comparison.
func BenchmarkDirect(b *testing.B) {
	ctx := context.Background()
	fn := succeed
	for b.Loop() {
		v, _ := fn(ctx)
		sink += v
	}
}

// BenchmarkChannelSemaphore is the usual hand-made limit, a buffered
// channel, for comparison: it has no queue order, no wait bound and no
// counts.
func BenchmarkChannelSemaphore(b *testing.B) {
	ctx := context.Background()
	sem := make(chan struct{}, bulkhead.DefaultMaxConcurrent)
	call := func() {
		select {
		case sem <- struct{}{}:
			v, _ := succeed(ctx)
			sink += v
			<-sem
		default:
		}
	}
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			call()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				select {
				case sem <- struct{}{}:
					succeed(ctx)
					<-sem
				default:
				}
			}
		})
	})
}

// BenchmarkOneSlotShared runs the parallel goroutines through a single
// slot: a call that finds it taken queues (and allocates its wait), and the
// release hands the slot to it. B/op shows how many calls had to wait.
func BenchmarkOneSlotShared(b *testing.B) {
	ctx := context.Background()
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Minute, MaxQueue: 64})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bulkhead.Do(ctx, bh, succeed)
		}
	})
}

package hedge_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/hedge"
)

func TestPanickingObserverLeavesTheHedgerWorking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := hedge.MustNew(hedge.Config{Delay: 10 * time.Millisecond,
			Observer: resilience.ObserveAll(func(resilience.Event) { panic("observer") })})
		var attempts atomic.Int32
		v, err := hedge.Do(t.Context(), h, func(ctx context.Context) (int, error) {
			if n := attempts.Add(1); n == 1 {
				return 0, sleep(ctx, time.Second)
			}
			return 2, nil
		})
		if v != 2 || err != nil || attempts.Load() != 2 {
			t.Fatalf("Do = %v, %v after %d attempts; want the hedge's 2, nil after 2", v, err, attempts.Load())
		}
		if s := h.Snapshot(); s.Hedges != 1 || s.Won != 1 || s.InFlight != 0 {
			t.Errorf("snapshot %+v", s)
		}
	})
}

func TestSnapshotOfTheAdaptiveDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := hedge.MustNew(hedge.Config{Name: "adaptive", MinSamples: 3, InitialDelay: time.Second, Window: time.Minute})
		if s := h.Snapshot(); s != (hedge.Snapshot{Name: "adaptive", Delay: time.Second}) {
			t.Fatalf("new hedger: %+v", s)
		}
		inFlight := make(chan int, 2) // both attempts of the third call send
		for i := range 3 {
			hedge.Do(t.Context(), h, func(ctx context.Context) (int, error) {
				if i == 2 {
					time.Sleep(2 * time.Second) // hedged after 1s; both run
					inFlight <- h.Snapshot().InFlight
				}
				return i, sleep(ctx, 100*time.Millisecond)
			})
		}
		s := h.Snapshot()
		if s.Samples != 3 || s.Calls != 3 || s.Hedges != 1 || s.Delay == time.Second || s.Delay < 100*time.Millisecond {
			t.Errorf("after three calls: %+v; want 3 samples, 3 calls, a hedge, and a delay from the samples", s)
		}
		if n := <-inFlight; n != 1 {
			t.Errorf("%d hedges in flight during the hedged call, want 1", n)
		}
		if later := h.SnapshotAt(time.Now().Add(time.Hour)); later.Samples != 0 || later.Delay != time.Second {
			t.Errorf("an hour later: %+v; want no samples, the initial delay", later)
		}
		var nh *hedge.Hedger
		if s := nh.Snapshot(); s != (hedge.Snapshot{}) {
			t.Errorf("nil hedger: %+v", s)
		}
	})
}

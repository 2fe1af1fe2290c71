package adaptive_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
)

func TestReconfigureRefusesWhatNewRefuses(t *testing.T) {
	cfg := adaptive.Config{Name: "a", Initial: 8, Max: 50}
	l := mustNew(t, cfg)
	for _, bad := range []adaptive.Config{
		{Min: 10, Max: 5},
		{Initial: 3, Min: 5},
		{MaxQueue: 3},
		{Algorithm: adaptive.Gradient, Gradient: adaptive.GradientConfig{Tolerance: 2}},
		{AIMD: adaptive.AIMDConfig{Backoff: 1}},
		{Priorities: false, Shares: [adaptive.NumPriorities]float64{0.5}},
	} {
		_, errNew := adaptive.New(bad)
		errRe := l.Reconfigure(bad)
		if errNew == nil || errRe == nil || errNew.Error() != errRe.Error() {
			t.Errorf("%+v: New says %v, Reconfigure says %v: want the same error", bad, errNew, errRe)
		}
	}
	if got := l.Config(); got.Name != "a" || got.Initial != 8 || l.Limit() != 8 {
		t.Errorf("after refused changes: Config %+v, limit %d; want them unchanged", got, l.Limit())
	}
	var nilL *adaptive.Limiter
	if err := nilL.Reconfigure(cfg); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Errorf("nil limiter: %v, want ErrNilPolicy", err)
	}
}

func TestReconfigureKeepsTheLimitWithinNewBounds(t *testing.T) {
	l := mustNew(t, adaptive.Config{Initial: 20, Max: 100})
	if err := l.Reconfigure(adaptive.Config{Initial: 1, Max: 5}); err != nil {
		t.Fatal(err)
	}
	if got := l.Limit(); got != 5 {
		t.Errorf("Max 100 → 5 with the limit at 20: limit %d, want 5", got)
	}
	if err := l.Reconfigure(adaptive.Config{Min: 12, Max: 100}); err != nil {
		t.Fatal(err)
	}
	if got := l.Limit(); got != 12 {
		t.Errorf("Min 1 → 12 with the limit at 5: limit %d, want 12", got)
	}
	// Initial plays no part: the limit carries over.
	if err := l.Reconfigure(adaptive.Config{Initial: 50, Max: 100}); err != nil {
		t.Fatal(err)
	}
	if got := l.Limit(); got != 12 {
		t.Errorf("Initial 50: limit %d, want 12 kept", got)
	}
}

func TestReconfigureShadowOffEnforcesTheLearnedLimit(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := mustNew(t, adaptive.Config{Initial: 10, Shadow: true, AIMD: adaptive.AIMDConfig{Backoff: 0.5}})
	// In shadow mode every call is admitted; a drop teaches it a limit of 5.
	var held []adaptive.Permit
	for range 12 {
		p, err := l.TryAcquireAt(base, adaptive.Normal)
		if err != nil {
			t.Fatalf("shadow limiter rejected: %v", err)
		}
		held = append(held, p)
	}
	held[0].ReleaseAt(base.Add(time.Millisecond), resilience.Outcome{Err: resilience.Transient(errors.New("503"))})
	if got := l.Limit(); got != 5 {
		t.Fatalf("limit after a drop: %d, want 5", got)
	}
	cfg := l.Config()
	cfg.Shadow = false
	if err := l.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if s := l.Snapshot(); s.Shadow || s.Limit != 5 || s.InFlight != 11 {
		t.Fatalf("after Shadow off: %+v, want limit 5 with 11 in flight", s)
	}
	if _, err := l.TryAcquireAt(base.Add(2*time.Millisecond), adaptive.Normal); !errors.Is(err, adaptive.ErrLimited) {
		t.Fatalf("11 in flight over a limit of 5: %v, want ErrLimited", err)
	}
	for _, p := range held[1:] {
		p.ReleaseAt(base.Add(3*time.Millisecond), resilience.Outcome{})
	}
	if _, err := l.TryAcquireAt(base.Add(4*time.Millisecond), adaptive.Normal); err != nil {
		t.Fatalf("none in flight: %v", err)
	}
}

func TestReconfigureHandsRoomToWaiters(t *testing.T) {
	for name, change := range map[string]adaptive.Config{
		"Min raised":    {Min: 3, Max: 3, MaxWait: time.Hour, MaxQueue: -1},
		"Shadow on":     {Min: 1, Max: 1, MaxWait: time.Hour, MaxQueue: -1, Shadow: true},
		"new Algorithm": {Algorithm: adaptive.Gradient, Min: 3, Max: 3, MaxWait: time.Hour, MaxQueue: -1},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := mustNew(t, adaptive.Config{Min: 1, Max: 1, MaxWait: time.Hour, MaxQueue: -1})
				first, err := l.TryAcquire()
				if err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				admitted := make(chan adaptive.Permit, 2)
				for range 2 {
					wg.Go(func() {
						p, err := l.Acquire(context.Background())
						if err != nil {
							t.Errorf("waiter: %v", err)
							return
						}
						admitted <- p
					})
				}
				synctest.Wait()
				if l.Waiting() != 2 {
					t.Fatalf("waiting %d, want 2", l.Waiting())
				}
				if err := l.Reconfigure(change); err != nil {
					t.Fatal(err)
				}
				wg.Wait() // both admitted without the first call ending
				if l.InFlight() != 3 || l.Waiting() != 0 {
					t.Errorf("in flight %d, waiting %d; want 3 and 0", l.InFlight(), l.Waiting())
				}
				first.Release(resilience.Outcome{})
				close(admitted)
				for p := range admitted {
					p.Release(resilience.Outcome{})
				}
			})
		})
	}
}

func TestReconfigureKeepsGradientBaseline(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := adaptive.Config{Algorithm: adaptive.Gradient, Initial: 10}
	l := mustNew(t, cfg)
	for ms := range 500 {
		l.RecordAt(base.Add(time.Duration(ms)*time.Millisecond), 10*time.Millisecond, l.Limit(), false)
	}
	before := l.Snapshot()
	if before.Baseline != 10*time.Millisecond {
		t.Fatalf("baseline %v, want 10ms", before.Baseline)
	}
	cfg.Gradient.Tolerance = 1.1
	if err := l.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if after := l.Snapshot(); after.Baseline != before.Baseline || after.Limit != before.Limit {
		t.Errorf("after a new Tolerance: %+v, want baseline and limit of %+v", after, before)
	}
	cfg.Algorithm = adaptive.AIMD
	if err := l.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if after := l.Snapshot(); after.Baseline != 0 || after.Limit != before.Limit || after.Algorithm != adaptive.AIMD {
		t.Errorf("after AIMD: %+v, want limit %d kept, no baseline", after, before.Limit)
	}
}

func TestConcurrentReconfigure(t *testing.T) {
	// Calls and Reconfigures race; -race checks the settings are read
	// safely, and no call stays stuck or counted twice.
	l := mustNew(t, adaptive.Config{Initial: 4, MaxWait: time.Second, MaxQueue: -1, Priorities: true})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = l.Reconfigure(adaptive.Config{Name: "r", Min: 1 + i%4, Max: 8, MaxWait: time.Second, MaxQueue: -1,
				Priorities: i%3 != 0, Shadow: i%5 == 0, Algorithm: adaptive.Algorithm(i % 2)})
		}
	})
	concRun(64, func(i int) {
		ctx := adaptive.WithPriority(context.Background(), adaptive.Priority(i%adaptive.NumPriorities))
		for range 50 {
			_ = adaptive.Run(ctx, l, func(context.Context) error { return nil })
		}
	})
	close(stop)
	wg.Wait()
	if s := l.Snapshot(); s.InFlight != 0 || s.Waiting != 0 || s.Admitted+s.Rejected+s.Abandoned != 64*50 {
		t.Errorf("after the race: %+v, want nothing in flight or waiting, and 3,200 calls counted", s)
	}
}

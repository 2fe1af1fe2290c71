package ratelimit_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/ratelimit"
)

func TestReconfigureKeepsTheTokens(t *testing.T) {
	l := mustNew(t, ratelimit.Config{Limit: 10}) // 10 a second, burst 10
	for range 6 {
		if !l.AllowAt(t0, 1) {
			t.Fatal("Allow refused within the burst")
		}
	}
	// 4 tokens left; a burst of 100 at 100 a second keeps those 4.
	if err := l.ReconfigureAt(t0, ratelimit.Config{Limit: 100}); err != nil {
		t.Fatal(err)
	}
	if got := l.TokensAt(t0); math.Abs(got-4) > 1e-9 {
		t.Fatalf("tokens after raising the rate = %v, want the 4 left", got)
	}
	if got := l.TokensAt(t0.Add(100 * time.Millisecond)); math.Abs(got-14) > 1e-9 {
		t.Fatalf("tokens 100ms later = %v, want 14 at the new rate", got)
	}
	// A burst of 2: capped.
	if err := l.ReconfigureAt(t0.Add(100*time.Millisecond), ratelimit.Config{Limit: 1, Burst: 2}); err != nil {
		t.Fatal(err)
	}
	if got := l.TokensAt(t0.Add(100 * time.Millisecond)); got != 2 {
		t.Fatalf("tokens after lowering the burst to 2 = %v, want 2", got)
	}
	if got := l.Burst(); got != 2 {
		t.Fatalf("Burst() = %d, want 2", got)
	}
	// A debt carries over as tokens: two owed at 1 a second are still two
	// owed at 2 a second, repaid in one second rather than two.
	l.ReserveAt(t0.Add(100*time.Millisecond), 2)
	l.ReserveAt(t0.Add(100*time.Millisecond), 2)
	if got := l.TokensAt(t0.Add(100 * time.Millisecond)); got != -2 {
		t.Fatalf("tokens with a reservation waiting = %v, want -2", got)
	}
	if err := l.ReconfigureAt(t0.Add(100*time.Millisecond), ratelimit.Config{Limit: 2, Burst: 2}); err != nil {
		t.Fatal(err)
	}
	if got := l.TokensAt(t0.Add(100 * time.Millisecond)); got != -2 {
		t.Fatalf("tokens after a new rate = %v, want the debt of 2 kept", got)
	}
	if got := l.TokensAt(t0.Add(1100 * time.Millisecond)); got != 0 {
		t.Fatalf("tokens a second later = %v, want 0: 2 a second repaid the debt", got)
	}
	if got := l.TokensAt(t0.Add(time.Hour)); got != 2 {
		t.Fatalf("tokens an hour later = %v, want a full bucket of 2", got)
	}
}

func TestReconfigureOldReservationGivesNothingBack(t *testing.T) {
	l := mustNew(t, ratelimit.Config{Limit: 1, Burst: 1})
	l.AllowAt(t0, 1)
	r := l.ReserveAt(t0, 1) // goes at t0+1s
	if err := l.ReconfigureAt(t0, ratelimit.Config{Limit: 1, Burst: 1, MaxWait: time.Second}); err != nil {
		t.Fatal(err)
	}
	r2 := l.ReserveAt(t0, 1) // goes at t0+2s; the rate did not change
	r2.CancelAt(t0)
	if got := l.TokensAt(t0); got != -1 {
		t.Fatalf("tokens after cancelling a reservation made after a change of MaxWait = %v, want -1", got)
	}
	if err := l.ReconfigureAt(t0, ratelimit.Config{Limit: 2, Burst: 1}); err != nil {
		t.Fatal(err)
	}
	r.CancelAt(t0)
	if got := l.TokensAt(t0); got != -1 {
		t.Fatalf("tokens after cancelling a reservation of the old rate = %v, want -1: nothing back", got)
	}
}

func TestReconfigureRejectsWhatNewRejects(t *testing.T) {
	cfg := ratelimit.Config{Name: "api", Limit: 5}
	l := mustNew(t, cfg)
	for _, bad := range []ratelimit.Config{{}, {Limit: -1}, {Limit: 1, Per: -1}, {Limit: 1, Burst: math.MaxInt, Per: time.Hour}} {
		_, want := ratelimit.New(bad)
		if err := l.Reconfigure(bad); err == nil || err.Error() != want.Error() {
			t.Errorf("Reconfigure(%+v) = %v; want New's error %v", bad, err, want)
		}
		if l.Config() != cfg || l.Burst() != 5 {
			t.Fatalf("an invalid config changed the limiter: %+v", l.Config())
		}
	}
	if got := l.Config().WithDefaults(); got.Burst != 5 || got.Per != time.Second {
		t.Fatalf("WithDefaults = %+v", got)
	}
	var nilL *ratelimit.Limiter
	if err := nilL.Reconfigure(cfg); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Fatalf("Reconfigure on nil = %v", err)
	}
}

func TestShadowLimiterNeverWaitsNorRejects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var rejects, shadowAdmits []resilience.Event
		obs := &resilience.Observer{
			Reject: func(e resilience.Event) { mu.Lock(); rejects = append(rejects, e); mu.Unlock() },
			Admit: func(e resilience.Event) {
				if e.Shadow {
					mu.Lock()
					shadowAdmits = append(shadowAdmits, e)
					mu.Unlock()
				}
			},
		}
		cfg := ratelimit.Config{Name: "api", Limit: 1, Burst: 1, Shadow: true, Observer: obs}
		l := mustNew(t, cfg)
		ctx := context.Background()
		start := time.Now()
		ran := 0
		for range 3 {
			if err := ratelimit.Run(ctx, l, func(context.Context) error { ran++; return nil }); err != nil {
				t.Fatalf("Run in shadow = %v", err)
			}
		}
		if ran != 3 || time.Since(start) != 0 {
			t.Fatalf("%d calls ran, after %v; want 3 at once", ran, time.Since(start))
		}
		if len(rejects) != 2 || !rejects[0].Shadow || rejects[0].Reason != "no wait allowed" || !errors.Is(rejects[0].Err, ratelimit.ErrLimited) {
			t.Fatalf("Reject events %+v; want 2 shadow no-wait rejections", rejects)
		}
		s := l.Snapshot()
		if !s.Shadow || s.ShadowRejected != 2 || s.Rejected != 0 || s.Admitted != 1 || s.Tokens != 0 {
			t.Fatalf("Snapshot %+v; want 2 shadow rejections, one call that spent the token", s)
		}
		if _, err := l.Foresee(ctx, time.Now()); err != nil {
			t.Fatalf("Foresee in shadow = %v, want nil", err)
		}

		// With MaxWait, a call that would wait goes at once; its tokens
		// are reserved as they would have been.
		cfg.MaxWait = time.Minute
		if err := l.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		if err := l.Wait(ctx, 1); err != nil || time.Since(start) != 0 {
			t.Fatalf("Wait in shadow = %v after %v; want nil at once", err, time.Since(start))
		}
		if len(shadowAdmits) != 3 || shadowAdmits[2].Delay != time.Second {
			t.Fatalf("shadow Admit events %+v; want the last to say it would have waited 1s", shadowAdmits)
		}
		if got := l.Tokens(); got != -1 {
			t.Fatalf("Tokens = %v, want -1: the would-be wait reserved its token", got)
		}

		// Turned on live: the next call waits.
		cfg.Shadow = false
		if err := l.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		if err := l.Wait(ctx, 1); err != nil || time.Since(start) != 2*time.Second {
			t.Fatalf("Wait after shadow off = %v after %v; want nil after 2s", err, time.Since(start))
		}
	})
}

// TestReconfigureWhileCallsRun swaps configurations while calls run and
// wait, for the race detector.
func TestReconfigureWhileCallsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfgs := []ratelimit.Config{
			{Limit: 100, MaxWait: 50 * time.Millisecond},
			{Limit: 3, Burst: 1},
			{Limit: 1000, Per: time.Minute, Burst: 7, Shadow: true},
			{Limit: 7, Per: 3 * time.Second, MaxWait: time.Second, Name: "x"},
		}
		l := mustNew(t, cfgs[0])
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				ctx := l.WithCost(context.Background(), 1+w%2)
				for range 200 {
					err := ratelimit.Run(ctx, l, func(context.Context) error { return nil })
					if err != nil && !errors.Is(err, ratelimit.ErrLimited) && !errors.Is(err, ratelimit.ErrBadCost) {
						t.Errorf("Run = %v", err)
					}
					time.Sleep(time.Millisecond)
				}
			})
		}
		for i := range 100 {
			if err := l.Reconfigure(cfgs[i%len(cfgs)]); err != nil {
				t.Fatal(err)
			}
			l.Snapshot()
			time.Sleep(2 * time.Millisecond)
		}
		wg.Wait()
		if s := l.Snapshot(); s.Waiting != 0 || s.Admitted == 0 {
			t.Fatalf("Snapshot %+v", s)
		}
	})
}

func TestShadowRejectionAllocatesNothing(t *testing.T) {
	l := mustNew(t, ratelimit.Config{Limit: 1, Per: time.Hour, Shadow: true, Observer: &resilience.Observer{Reject: func(resilience.Event) {}}})
	l.Allow(1)
	ok := func(context.Context) error { return nil }
	if n := testing.AllocsPerRun(1000, func() { ratelimit.Run(context.Background(), l, ok) }); n != 0 {
		t.Errorf("a shadow rejection: %v allocations, want 0", n)
	}
}

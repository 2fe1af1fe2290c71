package throttle_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/throttle"
)

func TestReconfigureAppliesTheNewFormulaToTheCounts(t *testing.T) {
	th := mustNew(t, throttle.Config{K: 2, MinRequests: -1})
	record(t, th, t0, 5, 5) // 10 requests, 5 accepts: 10 − 2·5 = 0
	if p := th.ProbabilityAt(t0); p != 0 {
		t.Fatalf("probability = %v, want 0", p)
	}
	// K = 1: (10 − 5)/11. The lock-free path must not keep admitting on
	// the old formula's 0.
	if err := th.ReconfigureAt(t0, throttle.Config{K: 1, MinRequests: -1}); err != nil {
		t.Fatal(err)
	}
	if p := th.ProbabilityAt(t0); p != 5.0/11 {
		t.Fatalf("probability after K=1 = %v, want 5/11", p)
	}
	if _, err := th.AllowAt(t0, 0); !errors.Is(err, throttle.ErrThrottled) {
		t.Fatalf("AllowAt(u=0) after K=1 = %v, want throttled", err)
	}
	// A window of a new length keeps the totals, until it has passed.
	if err := th.ReconfigureAt(t0, throttle.Config{K: 1, MinRequests: -1, Window: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if s := th.SnapshotAt(t0.Add(time.Second)); s.Requests != 11 || s.Accepts != 5 {
		t.Fatalf("after a new window: %+v; want 11 requests, 5 accepts", s)
	}
	if s := th.SnapshotAt(t0.Add(11 * time.Second)); s.Requests != 0 {
		t.Fatalf("a new window later: %+v; want none", s)
	}
	if got := th.Config(); got.K != 1 || got.Window != 10*time.Second {
		t.Fatalf("Config() = %+v", got)
	}
	if got := th.Config().WithDefaults(); got.MinRequests != -1 || got.K != 1 {
		t.Fatalf("WithDefaults = %+v", got)
	}
	if got := (throttle.Config{}).WithDefaults(); got.K != 2 || got.Window != 2*time.Minute || got.MinRequests != 10 {
		t.Fatalf("WithDefaults of the zero Config = %+v", got)
	}
}

func TestReconfigureRejectsWhatNewRejects(t *testing.T) {
	th := mustNew(t, throttle.Config{Name: "api", K: 3})
	for _, bad := range []throttle.Config{{K: 0.5}, {Window: -1}, {MaxRejectProbability: 2}} {
		_, want := throttle.New(bad)
		if err := th.Reconfigure(bad); err == nil || err.Error() != want.Error() {
			t.Errorf("Reconfigure(%+v) = %v; want New's error %v", bad, err, want)
		}
		if got := th.Config(); got.K != 3 || got.Name != "api" {
			t.Fatalf("an invalid config changed the throttle: %+v", got)
		}
	}
	var nilT *throttle.Throttle
	if err := nilT.Reconfigure(throttle.Config{}); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Fatalf("Reconfigure on nil = %v", err)
	}
}

func TestShadowThrottleAdmitsEveryCall(t *testing.T) {
	var rejects []resilience.Event
	cfg := throttle.Config{K: 1, MinRequests: -1, Shadow: true, Observer: &resilience.Observer{Reject: func(e resilience.Event) { rejects = append(rejects, e) }}}
	th := mustNew(t, cfg)
	record(t, th, t0, 0, 9) // all refused: p = 9/10
	for range 5 {
		p, err := th.AllowAt(t0, 0)
		if err != nil {
			t.Fatalf("AllowAt in shadow = %v, want a permit", err)
		}
		p.DoneAt(t0, errOverloaded)
	}
	if len(rejects) != 5 || !rejects[0].Shadow || rejects[0].Probability != 0.9 {
		t.Fatalf("Reject events %+v; want 5 shadow rejections at 0.9", rejects)
	}
	// The calls ran, and their outcomes counted once each: 14 requests.
	s := th.SnapshotAt(t0)
	if !s.Shadow || s.Requests != 14 || s.ShadowRejected != 5 || s.Rejected != 0 {
		t.Fatalf("Snapshot %+v; want 14 requests, 5 shadow rejections, none real", s)
	}
	// Turned on live: the throttle rejects.
	cfg.Shadow = false
	if err := th.ReconfigureAt(t0, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := th.AllowAt(t0, 0); !errors.Is(err, throttle.ErrThrottled) {
		t.Fatalf("AllowAt after shadow off = %v, want throttled", err)
	}
	if rejects[len(rejects)-1].Shadow {
		t.Fatal("a real rejection was marked shadow")
	}
}

// TestReconfigureWhileCallsRun swaps configurations while calls run, for
// the race detector.
func TestReconfigureWhileCallsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfgs := []throttle.Config{
			{K: 1, MinRequests: -1},
			{K: 2, Window: time.Second, Shadow: true},
			{K: 1.5, Window: time.Minute, Name: "x", MaxRejectProbability: 0.5},
		}
		th := mustNew(t, cfgs[0])
		var wg sync.WaitGroup
		var mu sync.Mutex
		ran, rejected := 0, 0
		for w := range 4 {
			wg.Go(func() {
				for i := range 300 {
					err := throttle.Run(context.Background(), th, func(context.Context) error {
						mu.Lock()
						ran++
						mu.Unlock()
						if (i+w)%2 == 0 {
							return errOverloaded
						}
						return nil
					})
					if errors.Is(err, throttle.ErrThrottled) {
						mu.Lock()
						rejected++
						mu.Unlock()
					}
					time.Sleep(time.Millisecond)
				}
			})
		}
		for i := range 100 {
			if err := th.Reconfigure(cfgs[i%len(cfgs)]); err != nil {
				t.Fatal(err)
			}
			th.Snapshot()
			time.Sleep(3 * time.Millisecond)
		}
		wg.Wait()
		if ran+rejected != 1200 {
			t.Fatalf("%d ran and %d were rejected; want 1200 in all", ran, rejected)
		}
	})
}

func TestShadowRejectionAllocatesNothing(t *testing.T) {
	th := mustNew(t, throttle.Config{K: 1, MinRequests: -1, Shadow: true, Observer: &resilience.Observer{Reject: func(resilience.Event) {}}})
	record(t, th, t0, 0, 9)
	if n := testing.AllocsPerRun(1000, func() {
		p, err := th.AllowAt(t0, 0)
		if err != nil {
			t.Fatal(err)
		}
		p.DoneAt(t0, errOverloaded)
	}); n != 0 {
		t.Errorf("a shadow rejection: %v allocations, want 0", n)
	}
	if th.SnapshotAt(t0).ShadowRejected == 0 {
		t.Fatal("no shadow rejection was measured")
	}
}

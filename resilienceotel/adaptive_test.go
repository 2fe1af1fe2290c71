package resilienceotel_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/resilienceotel"
)

// TestAdaptiveMetrics runs an adaptive limiter through waits, each kind of
// rejection and a limit that falls and rises, a shadow limiter through a
// would-be rejection, and a Gradient limiter through two windows; then
// checks every data point they produce.
func TestAdaptiveMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tel, reader := newTelemetry(t)
		ctx := context.Background()
		var changes []resilience.Event
		obs := resilience.Observers(tel.Observer(), &resilience.Observer{
			StateChange: func(e resilience.Event) { changes = append(changes, e) },
		})

		l := adaptive.MustNew(adaptive.Config{Name: "api", Initial: 2, MaxWait: 100 * time.Millisecond, MaxQueue: 1, Observer: obs})
		p1, err1 := l.Acquire(ctx)
		p2, err2 := l.Acquire(ctx)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		type result struct {
			p   adaptive.Permit
			err error
		}
		acquire := func() chan result {
			c := make(chan result, 1)
			go func() {
				p, err := l.Acquire(ctx)
				c <- result{p, err}
			}()
			synctest.Wait() // waiting
			return c
		}
		third := acquire()
		time.Sleep(30 * time.Millisecond)
		p1.Release(resilience.Outcome{Canceled: true}) // teaches nothing: the limit stays 2
		r3 := <-third
		if r3.err != nil {
			t.Fatalf("the waiter: %v", r3.err)
		}
		fourth := acquire() // waits, and fills the queue of 1
		if _, err := l.Acquire(ctx); !errors.Is(err, adaptive.ErrLimited) {
			t.Fatalf("Acquire with the queue full: %v", err)
		}
		if _, err := l.TryAcquire(); !errors.Is(err, adaptive.ErrLimited) {
			t.Fatalf("TryAcquire at the limit: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
		if r := <-fourth; !errors.Is(r.err, adaptive.ErrLimited) {
			t.Fatalf("the waiter that timed out: %v", r.err)
		}
		p2.Release(resilience.Outcome{Err: resilience.Transient(errors.New("reset"))}) // a drop cuts the limit
		time.Sleep(2 * time.Second)                                                    // the next change may be reported
		r3.p.Release(resilience.Outcome{})                                             // admitted at the limit: raises it
		held, err := l.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Release(resilience.Outcome{})

		shadow := adaptive.MustNew(adaptive.Config{Name: "shadow", Initial: 1, Shadow: true, Observer: obs})
		s1, _ := shadow.TryAcquire()
		s2, _ := shadow.TryAcquire() // would have been rejected
		defer s1.Release(resilience.Outcome{})
		defer s2.Release(resilience.Outcome{})

		g := adaptive.MustNew(adaptive.Config{Name: "server", Algorithm: adaptive.Gradient,
			Gradient: adaptive.GradientConfig{WindowSamples: 10, MinSamples: 10}, Observer: obs})
		base := time.Now()
		for i := range 20 {
			latency := 20 * time.Millisecond // the first window: the baseline
			if i >= 10 {
				latency = 50 * time.Millisecond // the second: slower, at load
			}
			g.RecordAt(base.Add(time.Duration(i)*time.Millisecond), latency, 1, false)
		}

		if _, err := tel.Register(l, shadow, g); err != nil {
			t.Fatal(err)
		}

		// The limit changes, as the limiter reported them.
		dirs := map[string]int{} // "direction,name"
		for _, e := range changes {
			from, err := strconv.Atoi(e.From)
			if err != nil || e.Kind != resilience.KindAdaptive {
				t.Fatalf("a limit change %+v", e)
			}
			dir := resilienceotel.DirectionDecrease
			if e.Attempt > from {
				dir = resilienceotel.DirectionIncrease
			}
			dirs["resilience.adaptive.direction="+dir+",resilience.policy.name="+e.Policy]++
		}
		if dirs["resilience.adaptive.direction=increase,resilience.policy.name=api"] == 0 ||
			dirs["resilience.adaptive.direction=decrease,resilience.policy.name=api"] == 0 {
			t.Fatalf("limit changes %+v: the script should have cut the limit and raised it again", changes)
		}
		ls, gs := l.Snapshot(), g.Snapshot()
		if gs.Baseline <= 0 || gs.Latency <= gs.Baseline {
			t.Fatalf("the Gradient limiter reads baseline %v, window latency %v: want a slower window than the baseline", gs.Baseline, gs.Latency)
		}
		secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'g', -1, 64) }
		want := map[string]map[string]string{
			"resilience.rejections": {
				"resilience.policy.kind=adaptive,resilience.policy.name=api,resilience.reason=queue full":                                "1",
				"resilience.policy.kind=adaptive,resilience.policy.name=api,resilience.reason=no wait allowed":                           "1",
				"resilience.policy.kind=adaptive,resilience.policy.name=api,resilience.reason=wait timed out":                            "1",
				"resilience.policy.kind=adaptive,resilience.policy.name=shadow,resilience.reason=no wait allowed,resilience.shadow=true": "1",
			},
			"resilience.adaptive.wait_time": {
				"resilience.policy.name=api":    "count 4 sum 0.030", // two at once, one after 30ms, the one held
				"resilience.policy.name=shadow": "count 2 sum 0.000",
			},
			"resilience.adaptive.limit_changes": {},
			"resilience.adaptive.limit": {
				"resilience.policy.name=api":    strconv.Itoa(ls.Limit),
				"resilience.policy.name=shadow": "1",
				"resilience.policy.name=server": strconv.Itoa(gs.Limit),
			},
			"resilience.adaptive.active_calls": {
				"resilience.policy.name=api":    strconv.Itoa(ls.InFlight),
				"resilience.policy.name=shadow": "2",
				"resilience.policy.name=server": "0",
			},
			"resilience.adaptive.queued_calls": {
				"resilience.policy.name=api":    "0",
				"resilience.policy.name=shadow": "0",
				"resilience.policy.name=server": "0",
			},
			// Only the Gradient limiter has latencies.
			"resilience.adaptive.baseline_latency": {"resilience.policy.name=server": secs(gs.Baseline)},
			"resilience.adaptive.window_latency":   {"resilience.policy.name=server": secs(gs.Latency)},
		}
		for set, n := range dirs {
			want["resilience.adaptive.limit_changes"][set] = strconv.Itoa(n)
		}
		if ls.InFlight != 1 || ls.Limit < 1 {
			t.Fatalf("the limiter reads %+v, want the one call held in flight", ls)
		}
		// No limit change is counted as a breaker's transition: compare
		// fails on any metric not listed.
		compare(t, collected(t, reader), want)
	})
}

// TestAdaptiveLimitChangeOfOtherShape checks that a limit change whose From
// is not a number is still counted, without a direction, and not as a
// breaker transition.
func TestAdaptiveLimitChangeOfOtherShape(t *testing.T) {
	tel, reader := newTelemetry(t)
	tel.Observer().StateChange(resilience.Event{Type: resilience.EventStateChange, Kind: resilience.KindAdaptive,
		Policy: "x", Context: context.Background(), From: "?", To: "7", Attempt: 7})
	tel.Observer().StateChange(resilience.Event{Type: resilience.EventStateChange, Kind: resilience.KindAdaptive,
		Policy: "x", Context: context.Background(), From: "9", To: "7", Attempt: 7})
	compare(t, collected(t, reader), map[string]map[string]string{
		"resilience.adaptive.limit_changes": {
			"resilience.policy.name=x":                                        "1",
			"resilience.adaptive.direction=decrease,resilience.policy.name=x": "1",
		},
	})
}

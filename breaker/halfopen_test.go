package breaker_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
)

// TestHalfOpenSteps drives HalfOpenAt through a table of steps on explicit
// time: from every state it lands in half-open (or stays there), ends a
// forced opening, admits only the configured probes, and its probes close or
// reopen the breaker as the recovery timeout's would.
func TestHalfOpenSteps(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		at     time.Duration // after t0
		do     string        // halfopen, allow, ok, fail, force, trip, reset
		want   breaker.State // the state after the step
		admit  bool          // for allow: whether a call is admitted
		events string        // the state changes the step reports
	}
	for _, tc := range []struct {
		name   string
		probes int
		steps  []step
	}{
		{"closed, probe succeeds", 1, []step{
			{0, "halfopen", breaker.HalfOpen, false, "closed>half-open"},
			{0, "allow", breaker.HalfOpen, true, ""},
			{0, "allow", breaker.HalfOpen, false, ""}, // one probe only
			{time.Millisecond, "ok", breaker.Closed, false, "half-open>closed"},
			{time.Millisecond, "allow", breaker.Closed, true, ""},
		}},
		{"forced open, probe fails", 1, []step{
			{0, "force", breaker.Open, false, "closed>open"},
			{0, "halfopen", breaker.HalfOpen, false, "open>half-open"},
			{0, "allow", breaker.HalfOpen, true, ""},
			{time.Millisecond, "fail", breaker.Open, false, "half-open>open"},
			{time.Millisecond, "allow", breaker.Open, false, ""},
			// Not forced any more: the recovery timeout brings a probe.
			{time.Second + time.Millisecond, "allow", breaker.HalfOpen, true, "open>half-open"},
		}},
		{"tripped, before its recovery timeout", 2, []step{
			{0, "trip", breaker.Open, false, "closed>open"},
			{10 * time.Millisecond, "halfopen", breaker.HalfOpen, false, "open>half-open"},
			{10 * time.Millisecond, "allow", breaker.HalfOpen, true, ""},
			{10 * time.Millisecond, "allow", breaker.HalfOpen, true, ""},
			{10 * time.Millisecond, "allow", breaker.HalfOpen, false, ""},
			{20 * time.Millisecond, "ok", breaker.HalfOpen, false, ""},
			{20 * time.Millisecond, "ok", breaker.Closed, false, "half-open>closed"},
		}},
		{"already half-open: left alone", 1, []step{
			{0, "halfopen", breaker.HalfOpen, false, "closed>half-open"},
			{0, "allow", breaker.HalfOpen, true, ""},
			{time.Millisecond, "halfopen", breaker.HalfOpen, false, ""},
			{time.Millisecond, "allow", breaker.HalfOpen, false, ""}, // the probe in flight still holds its slot
			{2 * time.Millisecond, "ok", breaker.Closed, false, "half-open>closed"},
		}},
		{"open past its recovery timeout", 1, []step{
			{0, "trip", breaker.Open, false, "closed>open"},
			{2 * time.Second, "halfopen", breaker.HalfOpen, false, "open>half-open"},
			{2 * time.Second, "allow", breaker.HalfOpen, true, ""},
		}},
		{"reset after", 1, []step{
			{0, "halfopen", breaker.HalfOpen, false, "closed>half-open"},
			{0, "reset", breaker.Closed, false, "half-open>closed"},
			{0, "allow", breaker.Closed, true, ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var events []string
			b := mustNew(t, breaker.Config{RecoveryTimeout: time.Second, HalfOpenProbes: tc.probes,
				Observer: &resilience.Observer{StateChange: func(e resilience.Event) {
					events = append(events, e.From+">"+e.To)
				}}})
			var permits []breaker.Permit
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				events = events[:0]
				switch s.do {
				case "halfopen":
					b.HalfOpenAt(now)
				case "force":
					b.ForceOpenAt(now)
				case "trip":
					b.TripAt(now)
				case "reset":
					b.ResetAt(now)
				case "allow":
					p, err := b.AllowAt(now)
					if (err == nil) != s.admit {
						t.Fatalf("step %d: allow: err %v, want admitted %v", i, err, s.admit)
					}
					if err == nil {
						permits = append(permits, p)
					}
				case "ok", "fail":
					var err error
					if s.do == "fail" {
						err = errDown
					}
					permits[0].DoneAt(now, err)
					permits = permits[1:]
				}
				if got := strings.Join(events, ","); got != s.events {
					t.Fatalf("step %d (%s): events %q, want %q", i, s.do, got, s.events)
				}
				if got := b.StateAt(now); got != s.want {
					t.Fatalf("step %d (%s): state %v, want %v", i, s.do, got, s.want)
				}
			}
		})
	}
}

// TestHalfOpenEndsForcedOpen: the snapshot after HalfOpen of a breaker
// forced open says it is forced no more, with a new generation.
func TestHalfOpenEndsForcedOpen(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := mustNew(t, breaker.Config{})
	b.ForceOpenAt(t0)
	before := b.SnapshotAt(t0)
	b.HalfOpenAt(t0)
	s := b.SnapshotAt(t0)
	if s.State != breaker.HalfOpen || s.Forced || s.Generation != before.Generation+1 {
		t.Fatalf("after HalfOpen: %+v; want half-open, not forced, generation %d", s, before.Generation+1)
	}
	var nilB *breaker.Breaker
	nilB.HalfOpen()
	nilB.HalfOpenAt(t0)
}

// TestHalfOpenAdmitsOnlyTheProbe hammers a breaker held open with calls
// from several goroutines while it is moved to half-open: the only call
// admitted is the one probe, never a call of a passing closed state.
func TestHalfOpenAdmitsOnlyTheProbe(t *testing.T) {
	for range 50 {
		b := mustNew(t, breaker.Config{RecoveryTimeout: time.Hour})
		b.ForceOpen()
		var admitted atomic.Int32
		var stop atomic.Bool
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				<-start
				for !stop.Load() {
					if _, err := b.Allow(); err == nil { // never reported: holds its slot
						admitted.Add(1)
					}
				}
			})
		}
		close(start)
		b.HalfOpen()
		for admitted.Load() == 0 {
			if s := b.State(); s != breaker.HalfOpen {
				t.Fatalf("state %v before the probe came, want half-open", s)
			}
		}
		stop.Store(true)
		wg.Wait()
		if n := admitted.Load(); n != 1 {
			t.Fatalf("%d calls admitted, want the one probe", n)
		}
	}
}

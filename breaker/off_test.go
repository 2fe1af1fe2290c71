package breaker_test

import (
	"errors"
	"testing"
	"time"

	"github.com/netresilience/resilience/breaker"
)

// fail reports n failures at now through AllowAt and DoneAt, and returns how
// many calls were admitted.
func fail(b *breaker.Breaker, now time.Time, n int) (admitted int) {
	for range n {
		p, err := b.AllowAt(now)
		if err != nil {
			continue
		}
		admitted++
		p.DoneAt(now, errDown)
	}
	return admitted
}

func TestFailureThresholdOff(t *testing.T) {
	t0 := time.Now()
	b := mustNew(t, breaker.Config{FailureThreshold: -1, FailureRate: 0.5, Window: time.Minute, MinCalls: 200})
	if fail(b, t0, 199) != 199 || b.StateAt(t0) != breaker.Closed {
		t.Fatalf("199 failures in a row opened a breaker whose FailureThreshold is off: %+v", b.SnapshotAt(t0))
	}
	if s := b.SnapshotAt(t0); s.ConsecutiveFailures != 199 {
		t.Fatalf("snapshot %+v: the failures in a row are still counted", s)
	}
	fail(b, t0, 1)
	if b.StateAt(t0) != breaker.Open {
		t.Fatalf("the failure rate did not open the breaker: %+v", b.SnapshotAt(t0))
	}
}

func TestProbeTimeoutOff(t *testing.T) {
	t0 := time.Now()
	b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second, ProbeTimeout: -1})
	fail(b, t0, 1)
	t1 := t0.Add(time.Second)
	probe, err := b.AllowAt(t1)
	if err != nil {
		t.Fatalf("no probe after the recovery timeout: %v", err)
	}
	later := t1.Add(10 * 365 * 24 * time.Hour)
	if _, err := b.AllowAt(later); !errors.Is(err, breaker.ErrOpen) || b.StateAt(later) != breaker.HalfOpen {
		t.Fatalf("ten years on, with no probe timeout: %v, state %v; want the probe still in flight, half-open", err, b.StateAt(later))
	}
	probe.DoneAt(later, nil)
	if b.StateAt(later) != breaker.Closed {
		t.Fatalf("the probe's success did not close the breaker: %+v", b.SnapshotAt(later))
	}

	// With the default, the probe is counted as failed after a minute.
	d := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second})
	fail(d, t0, 1)
	if _, err := d.AllowAt(t1); err != nil {
		t.Fatal(err)
	}
	if s := d.SnapshotAt(t1.Add(breaker.DefaultProbeTimeout)); s.State != breaker.Open {
		t.Fatalf("a probe silent for the default probe timeout: %+v; want open again", s)
	}
}

func TestMinCallsOff(t *testing.T) {
	t0 := time.Now()
	b := mustNew(t, breaker.Config{FailureThreshold: -1, FailureRate: 0.5, Window: time.Minute, MinCalls: -1})
	fail(b, t0, 1)
	if b.StateAt(t0) != breaker.Open {
		t.Fatalf("one failure of one call, with no minimum of calls: %+v; want open", b.SnapshotAt(t0))
	}
	d := mustNew(t, breaker.Config{FailureThreshold: -1, FailureRate: 0.5, Window: time.Minute})
	fail(d, t0, breaker.DefaultMinCalls-1)
	if d.StateAt(t0) != breaker.Closed {
		t.Fatalf("%d failures below the default minimum of calls opened the breaker", breaker.DefaultMinCalls-1)
	}
}

package breaker_test

import (
	"context"
	"testing"
	"time"

	"github.com/netresilience/resilience/breaker"
)

// A connection that the broker accepts and drops at once: its permit is
// released at the handshake and its early death recorded as a failure, so
// the failures add up to the threshold although every dial succeeds.
func TestReleaseAndRecordCountAnEarlyDrop(t *testing.T) {
	b := mustNew(t, breaker.Config{FailureThreshold: 3, RecoveryTimeout: 10 * time.Second})
	t0 := time.Now().Add(time.Hour)
	for i := range 3 {
		at := t0.Add(time.Duration(i) * time.Second)
		p, err := b.AllowAt(at)
		if err != nil {
			t.Fatalf("dial %d: rejected: %v", i+1, err)
		}
		p.Release() // the handshake succeeded
		p.DoneAt(at, nil)
		b.RecordAt(at.Add(10*time.Millisecond), errDown) // and the connection died
	}
	if s := b.SnapshotAt(t0.Add(3 * time.Second)); s.State != breaker.Open {
		t.Fatalf("after three early drops: %+v; want open", s)
	}
	// Had each handshake been reported as a success, the count would never
	// have passed one.
	c := mustNew(t, breaker.Config{FailureThreshold: 3})
	for range 5 {
		p, _ := c.AllowAt(t0)
		p.DoneAt(t0, nil)
		c.RecordAt(t0, errDown)
	}
	if s := c.SnapshotAt(t0); s.State != breaker.Closed || s.ConsecutiveFailures != 1 {
		t.Fatalf("successes between the drops: %+v; want closed with one failure in a row", s)
	}
}

func TestReleaseFreesTheProbeSlot(t *testing.T) {
	b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second, ProbeTimeout: 5 * time.Second})
	t0 := time.Now().Add(time.Hour)
	p, _ := b.AllowAt(t0)
	p.DoneAt(t0, errDown)
	t1 := t0.Add(time.Second)
	probe, err := b.AllowAt(t1)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if _, err := b.AllowAt(t1); err == nil {
		t.Fatal("a second probe was admitted while the first held the slot")
	}
	probe.Release()
	if s := b.SnapshotAt(t1); s.State != breaker.HalfOpen || s.ProbesInFlight != 0 {
		t.Fatalf("after Release: %+v; want half-open with no probe in flight", s)
	}
	// Long past the probe timeout, nothing was counted as failed.
	if st := b.StateAt(t1.Add(time.Minute)); st != breaker.HalfOpen {
		t.Fatalf("a released probe timed out: state %v", st)
	}
	// The connection lasted: its verdict closes the breaker.
	b.RecordAt(t1.Add(time.Minute), nil)
	if st := b.StateAt(t1.Add(time.Minute)); st != breaker.Closed {
		t.Fatalf("a recorded success while half-open left the breaker %v", st)
	}
}

func TestRecordWhileHalfOpenFailureReopens(t *testing.T) {
	b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second})
	t0 := time.Now().Add(time.Hour)
	p, _ := b.AllowAt(t0)
	p.DoneAt(t0, errDown)
	t1 := t0.Add(time.Second)
	probe, _ := b.AllowAt(t1)
	probe.Release()
	b.RecordAt(t1.Add(time.Millisecond), errDown)
	s := b.SnapshotAt(t1.Add(time.Millisecond))
	if s.State != breaker.Open || !s.OpenUntil.Equal(t1.Add(time.Millisecond+time.Second)) {
		t.Fatalf("after a recorded failure while half-open: %+v; want open for the recovery timeout", s)
	}
	// While open, a recorded outcome does nothing.
	b.RecordAt(t1.Add(2*time.Millisecond), nil)
	if st := b.StateAt(t1.Add(2 * time.Millisecond)); st != breaker.Open {
		t.Fatalf("a recorded success moved an open breaker to %v", st)
	}
}

func TestRecordWhileClosed(t *testing.T) {
	b := mustNew(t, breaker.Config{FailureThreshold: 2})
	b.Record(errDown)
	b.Record(context.Canceled) // ignored: neither breaks nor extends the run
	if s := b.Snapshot(); s.ConsecutiveFailures != 1 {
		t.Fatalf("after one recorded failure and a cancellation: %+v", s)
	}
	b.Record(nil)
	if s := b.Snapshot(); s.ConsecutiveFailures != 0 {
		t.Fatalf("a recorded success did not reset the count: %+v", s)
	}
	b.Record(errDown)
	b.Record(errDown)
	if st := b.State(); st != breaker.Open {
		t.Fatalf("two recorded failures left the breaker %v", st)
	}
	var nilB *breaker.Breaker
	nilB.Record(errDown)
	nilB.RecordAt(time.Now(), errDown)
	breaker.Permit{}.Release()
}

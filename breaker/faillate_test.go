package breaker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
)

var errDropped = errors.New("connection dropped")

// connect admits one call at now, reports it a success, and, if drop, a late
// failure: a connection that was made and then dropped at once.
func connect(t *testing.T, b *breaker.Breaker, now time.Time, drop bool) {
	t.Helper()
	p, err := b.AllowAt(now)
	if err != nil {
		t.Fatalf("at %v: Allow = %v", now, err)
	}
	p.DoneAt(now, nil)
	if drop {
		p.FailLateAt(now, errDropped)
	}
}

func TestFailLateCountsFailuresInARow(t *testing.T) {
	t0 := time.Now()
	b := mustNew(t, breaker.Config{FailureThreshold: 3, RecoveryTimeout: time.Minute})
	for i := range 2 {
		connect(t, b, t0, true)
		if s := b.SnapshotAt(t0); s.State != breaker.Closed || s.ConsecutiveFailures != i+1 {
			t.Fatalf("after %d dropped connections: %v with %d failures in a row; want closed with %d", i+1, s.State, s.ConsecutiveFailures, i+1)
		}
	}
	connect(t, b, t0, true)
	if s := b.SnapshotAt(t0); s.State != breaker.Open {
		t.Fatalf("after 3 dropped connections the breaker is %v, want open: each success was taken back", s.State)
	}

	// Without the late failures, the same successes keep it closed.
	ok := mustNew(t, breaker.Config{FailureThreshold: 3})
	for range 5 {
		connect(t, ok, t0, false)
	}
	if s := ok.SnapshotAt(t0); s.State != breaker.Closed || s.ConsecutiveFailures != 0 {
		t.Fatalf("successes alone: %v with %d failures, want closed with 0", s.State, s.ConsecutiveFailures)
	}
}

func TestFailLateAfterAnotherSuccessStartsAgain(t *testing.T) {
	t0 := time.Now()
	b := mustNew(t, breaker.Config{FailureThreshold: 3})
	connect(t, b, t0, true)
	connect(t, b, t0, true)
	p, _ := b.AllowAt(t0)
	p.DoneAt(t0, nil)        // clears the 2 failures in a row
	connect(t, b, t0, false) // another call succeeds meanwhile
	p.FailLateAt(t0, errDropped)
	if s := b.SnapshotAt(t0); s.State != breaker.Closed || s.ConsecutiveFailures != 1 {
		t.Fatalf("a late failure after another success: %v with %d in a row, want closed with 1", s.State, s.ConsecutiveFailures)
	}
}

func TestFailLateInTheWindow(t *testing.T) {
	t0 := time.Now()
	b := mustNew(t, breaker.Config{Window: 10 * time.Second, FailureRate: 0.5, MinCalls: 4, FailureThreshold: -1})
	connect(t, b, t0, false)
	connect(t, b, t0, false)
	connect(t, b, t0, true)
	if s := b.SnapshotAt(t0); s.Calls != 3 || s.Failures != 1 || s.State != breaker.Closed {
		t.Fatalf("window after 2 successes and 1 late failure: %d calls, %d failures, %v; want 3, 1, closed", s.Calls, s.Failures, s.State)
	}
	connect(t, b, t0, true)
	if s := b.SnapshotAt(t0); s.State != breaker.Open {
		t.Fatalf("4 calls, 2 of them failed late, rate 0.5: %v, want open", s.State)
	}
}

func TestFailLateReopensAfterAProbe(t *testing.T) {
	t0 := time.Now()
	b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second, MaxRecoveryTimeout: time.Hour})
	p, _ := b.AllowAt(t0)
	p.DoneAt(t0, errDropped) // opens until t0+1s
	t1 := t0.Add(time.Second)
	probe, err := b.AllowAt(t1)
	if err != nil {
		t.Fatalf("no probe after the recovery timeout: %v", err)
	}
	probe.DoneAt(t1, nil)
	if s := b.SnapshotAt(t1); s.State != breaker.Closed {
		t.Fatalf("after the probe's success: %v, want closed", s.State)
	}
	probe.FailLateAt(t1, errDropped)
	s := b.SnapshotAt(t1)
	if s.State != breaker.Open {
		t.Fatalf("after the probe's connection dropped: %v, want open again", s.State)
	}
	// A failed probe lengthens the next open time: more than the first 1s.
	if open := s.OpenUntil.Sub(t1); open <= time.Second {
		t.Errorf("reopened for %v, want longer than the 1s recovery timeout, as after a failed probe", open)
	}
}

func TestFailLateCountsNothing(t *testing.T) {
	t0 := time.Now()
	b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Minute})
	p, _ := b.AllowAt(t0)
	p.DoneAt(t0, nil)
	p.FailLateAt(t0, nil)
	p.FailLateAt(t0, context.Canceled) // the caller's own doing
	if s := b.SnapshotAt(t0); s.State != breaker.Closed || s.ConsecutiveFailures != 0 {
		t.Fatalf("nil and canceled late failures: %v with %d failures, want closed with 0", s.State, s.ConsecutiveFailures)
	}

	// A state changed meanwhile is not changed by an old call.
	b.ForceOpenAt(t0)
	b.ResetAt(t0)
	p.FailLateAt(t0, errDropped)
	if s := b.SnapshotAt(t0); s.State != breaker.Closed || s.ConsecutiveFailures != 0 {
		t.Fatalf("a late failure from before a reset: %v with %d failures, want closed with 0", s.State, s.ConsecutiveFailures)
	}

	var zero breaker.Permit
	zero.FailLate(errDropped) // must not panic
}

func TestFailLateBeforeDoneIsDone(t *testing.T) {
	t0 := time.Now()
	var changes []string
	b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Minute,
		Observer: &resilience.Observer{StateChange: func(e resilience.Event) { changes = append(changes, e.From+"→"+e.To) }}})
	p, _ := b.AllowAt(t0)
	p.FailLateAt(t0, errDropped)
	p.DoneAt(t0, nil) // already reported: does nothing
	if s := b.SnapshotAt(t0); s.State != breaker.Open || len(changes) != 1 || changes[0] != "closed→open" {
		t.Fatalf("FailLate on an unreported permit: %v, changes %v; want open, [closed→open]", s.State, changes)
	}
}

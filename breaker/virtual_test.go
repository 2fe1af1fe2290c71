package breaker_test

import (
	"errors"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
)

func TestErrorRetryAfterAt(t *testing.T) {
	b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: 10 * time.Second})
	t0 := time.Now().Add(time.Hour) // not the wall clock: RetryAfterAt must not read it
	p, err := b.AllowAt(t0)
	if err != nil {
		t.Fatal(err)
	}
	p.DoneAt(t0, errDown)
	_, err = b.AllowAt(t0.Add(time.Second))
	var oe *breaker.Error
	if !errors.As(err, &oe) || !oe.Until.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("AllowAt while open: %v; want an *Error open until 10s after the failure", err)
	}
	for _, c := range []struct {
		at   time.Duration
		want time.Duration
	}{
		{0, 10 * time.Second},
		{3 * time.Second, 7 * time.Second},
		{10 * time.Second, 0},
		{time.Hour, 0},
		{-time.Second, 11 * time.Second},
	} {
		if got := oe.RetryAfterAt(t0.Add(c.at)); got != c.want {
			t.Errorf("RetryAfterAt(failure + %v) = %v, want %v", c.at, got, c.want)
		}
	}
	// The executors' hint reader asks at the time it is given.
	if got, ok := resilience.RetryAfterAt(err, t0.Add(4*time.Second)); !ok || got != 6*time.Second {
		t.Errorf("resilience.RetryAfterAt = %v, %v; want 6s, true", got, ok)
	}
	// An Error that says no time, as a forced or half-open one.
	forced := &breaker.Error{State: breaker.Open}
	if forced.RetryAfterAt(t0) != 0 || forced.RetryAfter() != 0 {
		t.Error("an Error with no Until gives a hint")
	}
}

func TestForceOpenAtAndResetAt(t *testing.T) {
	var changes []resilience.Event
	b := mustNew(t, breaker.Config{Observer: &resilience.Observer{StateChange: func(e resilience.Event) { changes = append(changes, e) }}})
	t0 := time.Now().Add(-time.Hour) // not the wall clock
	b.ForceOpenAt(t0)
	if s := b.SnapshotAt(t0.Add(time.Minute)); s.State != breaker.Open || !s.Forced || !s.Since.Equal(t0) {
		t.Fatalf("after ForceOpenAt(t0): %+v; want forced open since t0", s)
	}
	if b.StateAt(t0.Add(24*time.Hour)) != breaker.Open {
		t.Fatal("a breaker forced open recovered by the clock")
	}
	t1 := t0.Add(5 * time.Minute)
	b.ResetAt(t1)
	if s := b.SnapshotAt(t1.Add(time.Second)); s.State != breaker.Closed || s.Forced || !s.Since.Equal(t1) {
		t.Fatalf("after ResetAt(t1): %+v; want closed since t1", s)
	}
	if len(changes) != 2 || !changes[0].Time.Equal(t0) || changes[0].To != breaker.Open.String() || !changes[1].Time.Equal(t1) || changes[1].To != breaker.Closed.String() {
		t.Fatalf("changes %+v; want open at t0, closed at t1", changes)
	}
}

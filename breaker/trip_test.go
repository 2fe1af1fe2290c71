package breaker_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
)

// TestTrip: a breaker tripped from outside opens as its own threshold would
// open it — for the recovery timeout, then a probe — and reports one change
// of state.
func TestTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var changes []string
		b := mustNew(t, breaker.Config{RecoveryTimeout: time.Second, Observer: &resilience.Observer{
			StateChange: func(e resilience.Event) { changes = append(changes, e.From+">"+e.To) },
		}})
		b.Trip()
		wantState(t, b, breaker.Open)
		if ran, _ := call(b, nil); ran {
			t.Fatal("a tripped breaker admitted a call")
		}
		s := b.Snapshot()
		if s.Forced || !s.OpenUntil.Equal(time.Now().Add(time.Second)) {
			t.Fatalf("snapshot after Trip: forced %v, open until %v; want not forced, open for 1s", s.Forced, s.OpenUntil)
		}
		time.Sleep(500 * time.Millisecond)
		b.Trip() // already open: the recovery timeout does not start again
		if got := b.Snapshot().OpenUntil; !got.Equal(s.OpenUntil) {
			t.Fatalf("a second Trip moved the end of the open state from %v to %v", s.OpenUntil, got)
		}
		time.Sleep(500 * time.Millisecond)
		wantState(t, b, breaker.HalfOpen)
		if ran, _ := call(b, nil); !ran {
			t.Fatal("no probe after the recovery timeout")
		}
		wantState(t, b, breaker.Closed)
		if got, want := len(changes), 3; got != want || changes[0] != "closed>open" {
			t.Fatalf("state changes = %v, want closed>open, open>half-open, half-open>closed", changes)
		}
	})
}

// TestTripHalfOpen: a half-open breaker tripped opens again, and the result
// of its probe in flight no longer moves it.
func TestTripHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second})
		call(b, errDown)
		time.Sleep(time.Second)
		p, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		b.Trip()
		wantState(t, b, breaker.Open)
		p.Done(nil) // the probe succeeds, but belongs to the state before
		wantState(t, b, breaker.Open)
	})
}

// TestTripForced: a breaker forced open stays forced; Trip does not give it
// a recovery timeout.
func TestTripForced(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := mustNew(t, breaker.Config{RecoveryTimeout: time.Second})
	b.ForceOpenAt(t0)
	b.TripAt(t0)
	if s := b.SnapshotAt(t0.Add(time.Hour)); s.State != breaker.Open || !s.Forced {
		t.Fatalf("forced breaker after Trip, an hour later: %v forced %v; want open, forced", s.State, s.Forced)
	}
	var nilB *breaker.Breaker
	nilB.Trip()
	nilB.TripAt(t0)
}

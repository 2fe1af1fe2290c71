package hedge_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/hedge"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// TestAllowHedgeAt steps through the decision on each hedge: the limit of
// MaxHedges, and the budget, which a refused hedge does not spend.
func TestAllowHedgeAt(t *testing.T) {
	h := hedge.MustNew(hedge.Config{Delay: time.Millisecond, MaxHedges: 2})
	for _, c := range []struct {
		n        int
		ok, more bool
	}{{0, false, false}, {1, true, true}, {2, true, false}, {3, false, false}, {-1, false, false}} {
		if ok, more := h.AllowHedgeAt(t0, c.n); ok != c.ok || more != c.more {
			t.Errorf("hedge %d: %v, %v; want %v, %v", c.n, ok, more, c.ok, c.more)
		}
	}
	if ok, more := h.AllowHedge(1); !ok || !more {
		t.Errorf("AllowHedge(1): %v, %v; want true, true", ok, more)
	}

	// A budget with no floor allows a tenth of the calls counted in it:
	// StartAt counts each, with Deposit.
	b := budget.MustNew(budget.Config{MinPerSecond: 1e-9})
	h = hedge.MustNew(hedge.Config{Delay: time.Millisecond, MaxHedges: 2, Budget: b, Deposit: true})
	if ok, _ := h.AllowHedgeAt(t0, 1); ok {
		t.Fatal("an empty budget allowed a hedge")
	}
	for range 20 {
		if d := h.StartAt(t0); d != time.Millisecond {
			t.Fatalf("StartAt: delay %v; want 1ms", d)
		}
	}
	for i, want := range []bool{true, true, false} {
		if ok, more := h.AllowHedgeAt(t0, 1); ok != want || more != want {
			t.Errorf("hedge %d after 20 calls: %v, %v; want %v, %v", i+1, ok, more, want, want)
		}
	}
	if s := b.SnapshotAt(t0); s.Exhausted != 2 {
		t.Errorf("the budget refused %d withdrawals; want 2", s.Exhausted)
	}
}

// TestObserveFirstAt checks which endings of a first attempt the adaptive
// delay learns from: a success and a loss to a hedge (ErrLost, wrapped or
// not), but not a failure or the caller's cancellation; and a fixed delay
// learns nothing.
func TestObserveFirstAt(t *testing.T) {
	for _, c := range []struct {
		err    error
		learns bool
	}{
		{nil, true},
		{hedge.ErrLost, true},
		{fmt.Errorf("upstream: %w", hedge.ErrLost), true},
		{errors.New("upstream: 503"), false},
		{context.Canceled, false},
		{context.DeadlineExceeded, false},
	} {
		h := hedge.MustNew(hedge.Config{Percentile: 0.5, MinSamples: 1, InitialDelay: time.Second})
		h.ObserveFirstAt(t0, 30*time.Millisecond, c.err)
		want := time.Second
		if c.learns {
			want = 30 * time.Millisecond
		}
		// The estimate is within 1/16 of a latency it holds.
		if d := h.DelayAt(t0); d < want*15/16 || d > want*17/16 {
			t.Errorf("after a first attempt that ended with %v: delay %v; want %v", c.err, d, want)
		}
	}
	fixed := hedge.MustNew(hedge.Config{Delay: time.Second})
	fixed.ObserveFirstAt(t0, time.Millisecond, nil)
	fixed.ObserveFirst(time.Millisecond, nil)
	if d := fixed.DelayAt(t0); d != time.Second {
		t.Errorf("a fixed delay moved to %v", d)
	}
}

// TestNilHedgerDecisions: a nil Hedger decides without panicking.
func TestNilHedgerDecisions(t *testing.T) {
	var h *hedge.Hedger
	if h.Start() != 0 || h.StartAt(t0) != 0 {
		t.Error("a nil Hedger has a delay")
	}
	if ok, more := h.AllowHedge(1); ok || more {
		t.Error("a nil Hedger allows a hedge")
	}
	if ok, more := h.AllowHedgeAt(t0, 1); ok || more {
		t.Error("a nil Hedger allows a hedge")
	}
	h.ObserveFirst(time.Millisecond, nil)
	h.ObserveFirstAt(t0, time.Millisecond, nil)
}

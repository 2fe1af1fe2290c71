package budget_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/retry"
)

var errDown = resilience.Transient(errors.New("connection refused"))

func TestReconfigureKeepsTheBalance(t *testing.T) {
	b := budget.MustNew(budget.Config{Ratio: 0.1, MinPerSecond: noFloor, Window: 10 * time.Second})
	for range 100 {
		b.DepositAt(t0)
	}
	for range 4 {
		b.WithdrawAt(t0)
	}
	if s := b.SnapshotAt(t0); s.Balance != 6 {
		t.Fatalf("balance = %v, want 6", s.Balance)
	}
	// A new ratio: the 6 saved stay, capped by what the window allows at
	// 5%: 100 calls allow 5, less the 4 spent.
	if err := b.ReconfigureAt(t0, budget.Config{Ratio: 0.05, MinPerSecond: noFloor, Window: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if s := b.SnapshotAt(t0); s.Balance != 1 || s.Calls != 100 || s.Retries != 4 || s.Ratio != 0.05 {
		t.Fatalf("after a ratio of 5%%: %+v; want a balance of 1, the window's counts kept", s)
	}
	// A window of a new length keeps the totals until it has passed.
	if err := b.ReconfigureAt(t0.Add(time.Second), budget.Config{Ratio: 0.5, MinPerSecond: noFloor, Window: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if s := b.SnapshotAt(t0.Add(30 * time.Second)); s.Calls != 100 || s.Retries != 4 || s.Balance != 6 {
		t.Fatalf("30s after a window of a minute: %+v; want the counts kept, a balance of 6", s)
	}
	if s := b.SnapshotAt(t0.Add(62 * time.Second)); s.Calls != 0 {
		t.Fatalf("a new window later: %+v; want no calls", s)
	}
	if got := b.Config(); got.Ratio != 0.5 || got.Window != time.Minute {
		t.Fatalf("Config() = %+v", got)
	}
	if got := (budget.Config{MinPerSecond: noFloor}).WithDefaults(); got.Ratio != 0.1 || got.MinPerSecond != noFloor || got.Window != 10*time.Second {
		t.Fatalf("WithDefaults = %+v", got)
	}
}

func TestReconfigureRejectsWhatNewRejects(t *testing.T) {
	cfg := budget.Config{Name: "api", Ratio: 0.2}
	b := budget.MustNew(cfg)
	for _, bad := range []budget.Config{{Ratio: 2}, {Ratio: -1, MinPerSecond: -1}, {Window: -1}} {
		_, want := budget.New(bad)
		if err := b.Reconfigure(bad); err == nil || err.Error() != want.Error() {
			t.Errorf("Reconfigure(%+v) = %v; want New's error %v", bad, err, want)
		}
		if b.Config() != cfg {
			t.Fatalf("an invalid config changed the budget: %+v", b.Config())
		}
	}
	var nilB *budget.Budget
	if err := nilB.Reconfigure(cfg); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Fatalf("Reconfigure on nil = %v", err)
	}
}

func TestShadowBudgetAllowsEveryRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var rejects []resilience.Event
		cfg := budget.Config{Ratio: -1, MinPerSecond: 0.1, Window: 10 * time.Second, Shadow: true, // one retry a window
			Observer: &resilience.Observer{Reject: func(e resilience.Event) { mu.Lock(); rejects = append(rejects, e); mu.Unlock() }}}
		b := budget.MustNew(cfg)
		p := retry.MustNew(retry.Config{MaxAttempts: 4, Budget: b})
		attempts := 0
		err := retry.Run(context.Background(), p, func(context.Context) error { attempts++; return errDown })
		if attempts != 4 || errors.Is(err, budget.ErrExhausted) {
			t.Fatalf("%d attempts, %v; want 4, the budget in shadow", attempts, err)
		}
		if len(rejects) != 2 || !rejects[0].Shadow || rejects[0].Reason != "exhausted" {
			t.Fatalf("Reject events %+v; want 2 shadow refusals", rejects)
		}
		if s := b.Snapshot(); !s.Shadow || s.ShadowExhausted != 2 || s.Exhausted != 0 || s.Retries != 1 {
			t.Fatalf("Snapshot %+v; want 2 shadow refusals, none real, one retry spent", s)
		}
		// Turned on live: the retries stop.
		cfg.Shadow = false
		if err := b.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		attempts = 0
		err = retry.Run(context.Background(), p, func(context.Context) error { attempts++; return errDown })
		if attempts != 1 || !errors.Is(err, budget.ErrExhausted) {
			t.Fatalf("%d attempts, %v; want 1, stopped by the budget", attempts, err)
		}
	})
}

// TestReconfigureWhileCallsRun swaps configurations while retries ask, for
// the race detector.
func TestReconfigureWhileCallsRun(t *testing.T) {
	cfgs := []budget.Config{{}, {Ratio: 0.5, Window: time.Second, Shadow: true}, {Ratio: -1, MinPerSecond: 1, Window: time.Minute}}
	b := budget.MustNew(cfgs[0])
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 500 {
				b.Deposit()
				b.Withdraw()
			}
		})
	}
	for i := range 200 {
		if err := b.Reconfigure(cfgs[i%len(cfgs)]); err != nil {
			t.Fatal(err)
		}
		b.Snapshot()
	}
	wg.Wait()
	if s := b.Snapshot(); s.Retries > 2000 || s.Calls > 2000 {
		t.Fatalf("Snapshot %+v", s)
	}
}

package budget_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience/budget"
)

func TestGrantDecidesWhileSet(t *testing.T) {
	// Without a grant this budget allows 100 retries at once (its floor).
	b := budget.MustNew(budget.Config{Ratio: -1, MinPerSecond: 10, Window: 10 * time.Second})
	now := at(0)
	b.SetGrant(3)
	for i := range 5 {
		if got, want := b.WithdrawAt(now), i < 3; got != want {
			t.Fatalf("withdrawal %d under a grant of 3 = %v, want %v", i, got, want)
		}
	}
	if n, set := b.Grant(); n != 0 || !set {
		t.Fatalf("Grant() = %d, %v; want 0, true", n, set)
	}
	// A new grant replaces what is left; it does not add.
	b.SetGrant(2)
	b.SetGrant(1)
	if !b.WithdrawAt(now) || b.WithdrawAt(now) {
		t.Fatal("SetGrant(2) then SetGrant(1) allowed other than one retry")
	}
	b.SetGrant(-5)
	if b.WithdrawAt(now) {
		t.Fatal("a negative grant allowed a retry")
	}
	// Cleared, the budget decides alone again, and the window holds the
	// 4 retries spent on grants: 100 - 4 remain.
	b.ClearGrant()
	if _, set := b.Grant(); set {
		t.Fatal("Grant() set after ClearGrant")
	}
	n := 0
	for b.WithdrawAt(now) {
		n++
		if n > 1000 {
			t.Fatal("the budget never ran out")
		}
	}
	if n != 96 {
		t.Fatalf("%d retries after the grant was cleared, want 96", n)
	}
	// Refused: 2 of the first grant, 1 of each later one, and the last ask.
	if s := b.SnapshotAt(now); s.Retries != 100 || s.Exhausted != 5 {
		t.Fatalf("snapshot %+v: want 100 retries in the window and 5 refused", s)
	}
}

func TestGrantLetsAnIdleBudgetRetry(t *testing.T) {
	// Ratio alone, and no calls: the budget's own balance is nothing.
	b := budget.MustNew(budget.Config{Ratio: 0.1, MinPerSecond: noFloor})
	if b.WithdrawAt(at(0)) {
		t.Fatal("an idle ratio budget allowed a retry")
	}
	b.SetGrant(1)
	if !b.WithdrawAt(at(0)) {
		t.Fatal("a grant of 1 refused a retry")
	}
}

func TestGrantShadow(t *testing.T) {
	b := budget.MustNew(budget.Config{Shadow: true})
	b.SetGrant(0)
	if !b.WithdrawAt(at(0)) {
		t.Fatal("a shadow budget refused a retry")
	}
	if s := b.SnapshotAt(at(0)); s.ShadowExhausted != 1 || s.Retries != 0 {
		t.Fatalf("snapshot %+v: want one shadow refusal, no retry counted", s)
	}
}

func TestTotals(t *testing.T) {
	b := budget.MustNew(budget.Config{Ratio: -1, MinPerSecond: 1, Window: time.Second})
	for range 14 {
		b.DepositAt(at(0))
	}
	ok := 0
	for range 5 {
		if b.WithdrawAt(at(0)) {
			ok++
		}
	}
	d, w := b.Totals()
	if d != 14 || w != uint64(ok) || ok == 0 || ok == 5 {
		t.Fatalf("Totals() = %d, %d; want 14 deposits and %d withdrawals (of 5 asked)", d, w, ok)
	}
	// Totals outlive the window.
	d, w = b.Totals()
	b.WithdrawAt(at(time.Hour))
	d2, w2 := b.Totals()
	if d2 != d || w2 != w+1 {
		t.Fatalf("Totals() an hour later = %d, %d; want %d, %d", d2, w2, d, w+1)
	}
	// Deposits waiting to enter the window are counted too.
	c := budget.MustNew(budget.Config{})
	for range 13 {
		c.Deposit()
	}
	if d, _ := c.Totals(); d != 13 {
		t.Fatalf("Totals() after 13 Deposit calls = %d deposits", d)
	}
	var nb *budget.Budget
	nb.SetGrant(1)
	nb.ClearGrant()
	if d, w := nb.Totals(); d != 0 || w != 0 {
		t.Fatal("nil budget counted")
	}
	if _, set := nb.Grant(); set {
		t.Fatal("nil budget has a grant")
	}
}

func TestGrantAllocatesNothing(t *testing.T) {
	b := budget.MustNew(budget.Config{})
	b.SetGrant(1 << 40)
	if n := testing.AllocsPerRun(1000, func() { b.Deposit(); b.Withdraw() }); n != 0 {
		t.Fatalf("%v allocations per deposit and withdrawal under a grant, want 0", n)
	}
}

func BenchmarkWithdraw(b *testing.B) {
	for _, granted := range []bool{false, true} {
		name := "local"
		if granted {
			name = "grant"
		}
		b.Run(name, func(b *testing.B) {
			bu := budget.MustNew(budget.Config{MinPerSecond: 1e8})
			if granted {
				bu.SetGrant(1 << 60)
			}
			b.ReportAllocs()
			for b.Loop() {
				bu.Deposit()
				bu.Withdraw()
			}
		})
	}
}

// TestGrantDoesNotAccrue checks, on the bubble's virtual clock, that a
// grant is a count and not a rate: time adds nothing to it, while the same
// budget without a grant earns retries with time.
func TestGrantDoesNotAccrue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := budget.MustNew(budget.Config{Ratio: -1, MinPerSecond: 1, Window: time.Second})
		b.SetGrant(2)
		time.Sleep(time.Hour)
		n := 0
		for b.Withdraw() && n < 10 {
			n++
		}
		if n != 2 {
			t.Fatalf("a grant of 2 allowed %d retries after an hour", n)
		}
		b.ClearGrant()
		time.Sleep(2 * time.Second)
		if !b.Withdraw() {
			t.Fatal("without a grant, the budget earned nothing in 2s")
		}
	})
}

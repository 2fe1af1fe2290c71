package budget_test

import (
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/budget"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// noFloor is the MinPerSecond that turns the floor off.
const noFloor = -1

func TestRatioOfRecentCalls(t *testing.T) {
	b := budget.MustNew(budget.Config{Ratio: 0.1, MinPerSecond: noFloor, Window: 10 * time.Second})
	for i := range 100 {
		b.DepositAt(at(time.Duration(i) * time.Millisecond))
	}
	for i := range 10 {
		if !b.WithdrawAt(at(time.Second)) {
			t.Fatalf("retry %d refused; 100 calls allow 10", i+1)
		}
	}
	if b.WithdrawAt(at(time.Second)) {
		t.Fatal("an 11th retry was allowed after 100 calls at 10%")
	}
	// Another 10 calls allow one more.
	for range 10 {
		b.DepositAt(at(2 * time.Second))
	}
	if !b.WithdrawAt(at(2 * time.Second)) {
		t.Fatal("110 calls allow 11 retries")
	}
	s := b.SnapshotAt(at(2 * time.Second))
	if s.Calls != 110 || s.Retries != 11 || s.Exhausted != 1 || math.Abs(s.Balance) > 1e-9 {
		t.Fatalf("snapshot %+v; want 110 calls, 11 retries, 1 refused, balance 0", s)
	}
}

func TestCallsAndRetriesLeaveTheWindow(t *testing.T) {
	b := budget.MustNew(budget.Config{Ratio: 0.5, MinPerSecond: noFloor, Window: 10 * time.Second})
	for range 10 {
		b.DepositAt(at(0))
	}
	for range 5 {
		b.WithdrawAt(at(0))
	}
	if b.WithdrawAt(at(9 * time.Second)) {
		t.Fatal("a sixth retry within the window of 10 calls at 50%")
	}
	// At 10s the old calls and retries have left: nothing to spend, but
	// nothing spent either.
	if s := b.SnapshotAt(at(10 * time.Second)); s.Calls != 0 || s.Retries != 0 {
		t.Fatalf("snapshot at 10s %+v; want an empty window", s)
	}
	if b.WithdrawAt(at(10 * time.Second)) {
		t.Fatal("a retry with no calls in the window and no floor")
	}
	b.DepositAt(at(11 * time.Second))
	b.DepositAt(at(11 * time.Second))
	if !b.WithdrawAt(at(11 * time.Second)) {
		t.Fatal("two fresh calls at 50% allow a retry")
	}
}

func TestFloorLetsLowTrafficRetry(t *testing.T) {
	b := budget.MustNew(budget.Config{Ratio: 0.1, MinPerSecond: 0.5, Window: 10 * time.Second}) // 5 a window
	b.DepositAt(at(0))
	for i := range 5 {
		if !b.WithdrawAt(at(time.Second)) {
			t.Fatalf("retry %d refused; the floor allows 5 a window", i+1)
		}
	}
	if b.WithdrawAt(at(time.Second)) {
		t.Fatal("a sixth retry beyond the floor")
	}
	// The floor is a minimum, not added to the ratio: 100 calls allow 10,
	// not 15.
	b2 := budget.MustNew(budget.Config{Ratio: 0.1, MinPerSecond: 0.5, Window: 10 * time.Second})
	for range 100 {
		b2.DepositAt(at(0))
	}
	n := 0
	for b2.WithdrawAt(at(0)) {
		n++
	}
	if n != 10 {
		t.Fatalf("%d retries after 100 calls with a floor of 5; want max(10, 5) = 10", n)
	}
}

func TestDefaults(t *testing.T) {
	b := budget.MustNew(budget.Config{Name: "api"})
	s := b.SnapshotAt(at(0))
	if s.Name != "api" || s.Ratio != 0.1 || s.Floor != 100 || s.Balance != 100 {
		t.Fatalf("defaults %+v; want ratio 0.1 and a floor of 10/s over 10s = 100", s)
	}
}

func TestDepositsOnTheRealClockAreAllCounted(t *testing.T) {
	b := budget.MustNew(budget.Config{Ratio: 1, MinPerSecond: noFloor, Window: time.Hour})
	for range 13 { // not a multiple of the flush interval
		b.Deposit()
	}
	if s := b.Snapshot(); s.Calls != 13 {
		t.Fatalf("Calls = %d after 13 deposits, want 13", s.Calls)
	}
	n := 0
	for b.Withdraw() {
		n++
	}
	if n != 13 {
		t.Fatalf("%d retries at ratio 1 after 13 calls, want 13", n)
	}
}

func TestConcurrentWithdrawalsNeverOverspend(t *testing.T) {
	b := budget.MustNew(budget.Config{Ratio: 0.1, MinPerSecond: noFloor, Window: time.Hour})
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				b.Deposit()
			}
		}()
	}
	wg.Wait()
	var granted atomic.Int64
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if b.Withdraw() {
					granted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if granted.Load() != 1000 {
		t.Fatalf("%d retries granted after 10000 calls at 10%%, want exactly 1000", granted.Load())
	}
	if s := b.Snapshot(); s.Exhausted != 4000 {
		t.Fatalf("Exhausted = %d, want 4000", s.Exhausted)
	}
}

func TestNilBudgetAllowsEverything(t *testing.T) {
	var b *budget.Budget
	b.Deposit()
	b.DepositAt(t0)
	if !b.Withdraw() || !b.WithdrawAt(t0) {
		t.Fatal("a nil budget refused a retry")
	}
	if s := b.Snapshot(); s != (budget.Snapshot{}) {
		t.Fatalf("nil snapshot %+v", s)
	}
}

func TestFloorOff(t *testing.T) {
	b := budget.MustNew(budget.Config{Ratio: 0.1, MinPerSecond: -1, Window: 10 * time.Second})
	if b.WithdrawAt(t0) {
		t.Fatal("a budget without a floor allowed a retry before any call")
	}
	for range 10 {
		b.DepositAt(t0)
	}
	if !b.WithdrawAt(t0) || b.WithdrawAt(t0) {
		t.Fatal("10 calls at 10% without a floor: want exactly one retry")
	}
	if b.WithdrawAt(at(time.Hour)) {
		t.Fatal("an hour of quiet refilled a budget without a floor")
	}
	if s := b.SnapshotAt(t0); s.Floor != 0 || s.Ratio != 0.1 {
		t.Fatalf("snapshot %+v; want no floor and a ratio of 0.1", s)
	}
}

func TestRatioOff(t *testing.T) {
	b := budget.MustNew(budget.Config{Ratio: -1, MinPerSecond: 1, Window: 10 * time.Second})
	for range 1000 {
		b.DepositAt(t0)
	}
	granted := 0
	for b.WithdrawAt(t0) {
		granted++
	}
	if granted != 10 {
		t.Fatalf("1000 calls and a floor of 1 a second over 10s, without a ratio: %d retries, want 10", granted)
	}
	if b.WithdrawAt(at(time.Second)) {
		t.Fatal("a second later, without a ratio: a retry above the floor over the window")
	}
	if !b.WithdrawAt(at(20 * time.Second)) {
		t.Fatal("once the window has passed, without a ratio: no retry")
	}
	if s := b.SnapshotAt(t0); s.Ratio != 0 || s.Floor != 10 {
		t.Fatalf("snapshot %+v; want no ratio and a floor of 10", s)
	}
}

func TestNewRejectsNonsense(t *testing.T) {
	for _, tc := range []struct {
		cfg  budget.Config
		want string
	}{
		{budget.Config{Ratio: 1.5}, "Ratio must be in (0, 1]"},
		{budget.Config{Ratio: math.NaN()}, "Ratio must be in (0, 1]"},
		{budget.Config{MinPerSecond: math.NaN()}, "MinPerSecond must be"},
		{budget.Config{Ratio: -1, MinPerSecond: -0.5}, "both off"},
		{budget.Config{MinPerSecond: math.Inf(1)}, "MinPerSecond must be"},
		{budget.Config{Window: -time.Second}, "Window is negative"},
	} {
		b, err := budget.New(tc.cfg)
		if err == nil || b != nil || !strings.HasPrefix(err.Error(), "budget: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, %v; want an error containing %q", tc.cfg, b, err, tc.want)
		}
	}
}

func TestDepositAllocatesNothing(t *testing.T) {
	b := budget.MustNew(budget.Config{})
	if n := testing.AllocsPerRun(1000, func() { b.Deposit(); b.Withdraw() }); n != 0 {
		t.Fatalf("%v allocations per deposit and withdrawal, want 0", n)
	}
}

func BenchmarkDeposit(b *testing.B) {
	bu := budget.MustNew(budget.Config{})
	b.ReportAllocs()
	for b.Loop() {
		bu.Deposit()
	}
}

func BenchmarkDepositParallel(b *testing.B) {
	bu := budget.MustNew(budget.Config{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bu.Deposit()
		}
	})
}

// TestRetriesGoOutEvenly checks the budget under a long outage: 1,000 calls
// a second, healthy for 20s, then every one failing and asking for retries.
// The outage spends the reserve that the healthy calls left at once; after
// that, retries go out evenly, at 10% of the calls in every second, and not
// in a burst each time the retries of one window ago leave it; and no window
// ever holds more retries than 10% of its calls.
func TestRetriesGoOutEvenly(t *testing.T) {
	b := budget.MustNew(budget.Config{Ratio: 0.1, MinPerSecond: noFloor, Window: 10 * time.Second})
	const perSecond = 1000
	step := time.Second / perSecond
	var calls, retries [80]int
	for i := range 80 * perSecond {
		now := time.Duration(i) * step
		b.DepositAt(at(now))
		calls[now/time.Second]++
		if now < 20*time.Second {
			continue
		}
		for range 2 { // MaxAttempts 3: up to two retries per call
			if b.WithdrawAt(at(now + time.Millisecond/2)) {
				retries[now/time.Second]++
			}
		}
	}
	for s := 30; s < 80; s++ {
		if retries[s] < 95 || retries[s] > 105 {
			t.Errorf("second %d: %d retries for %d calls; want about 100 every second", s, retries[s], calls[s])
		}
	}
	// The window bound: any 10s span holds at most 10% of its calls, and
	// the reserve (the first window) at most one window's allowance.
	for s := 0; s+10 <= 80; s++ {
		var c, r int
		for k := s; k < s+10; k++ {
			c, r = c+calls[k], r+retries[k]
		}
		if float64(r) > 0.1*float64(c)+1 {
			t.Errorf("seconds %d–%d: %d retries for %d calls", s, s+10, r, c)
		}
	}
}

func TestObserverHearsRefusals(t *testing.T) {
	var events []resilience.Event
	b := budget.MustNew(budget.Config{Name: "api", Ratio: 0.5, MinPerSecond: 1e-9,
		Observer: resilience.ObserveAll(func(e resilience.Event) {
			events = append(events, e)
			panic("observer") // the budget goes on
		})})
	t0 := time.Now()
	b.DepositAt(t0)
	b.DepositAt(t0)
	if !b.WithdrawAt(t0) {
		t.Fatal("the first withdrawal was refused")
	}
	if b.WithdrawAt(t0.Add(time.Second)) {
		t.Fatal("a withdrawal beyond the ratio was allowed")
	}
	if len(events) != 1 {
		t.Fatalf("%d events, want one refusal", len(events))
	}
	e := events[0]
	if e.Type != resilience.EventReject || e.Kind != resilience.KindBudget || e.Policy != "api" || e.Reason != "exhausted" ||
		e.Err != budget.ErrExhausted || !e.Time.Equal(t0.Add(time.Second)) || e.Context == nil {
		t.Errorf("event %+v", e)
	}
	if s := b.SnapshotAt(t0.Add(time.Second)); s.Exhausted != 1 || s.Retries != 1 {
		t.Errorf("snapshot %+v; want one refusal and one retry", s)
	}
}

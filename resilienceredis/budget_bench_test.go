package resilienceredis_test

import (
	"testing"
	"time"

	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/resilienceredis"
	"github.com/netresilience/resilience/resilienceredis/internal/redistest"
)

// benchBudgets returns a plain budget and a replica's fleet budget that
// both allow (nearly) every retry, so that their hot paths compare.
func benchBudgets(b *testing.B) (local, fleet *budget.Budget) {
	cfg := budget.Config{MinPerSecond: 1e8}
	srv := redistest.Start(b)
	fb := newFleetBudget(b, resilienceredis.BudgetConfig{
		Client: newClient(b, srv.Addr), Name: "bench", Budget: cfg,
	})
	until(b, "the first grant", func() bool { g, _ := fb.Local().Grant(); return g > 0 })
	return budget.MustNew(cfg), fb.Local()
}

// BenchmarkBudget compares a fleet budget's hot path (Local, spending its
// grant) with a plain local budget's: Deposit, and Withdraw after a
// Deposit.
func BenchmarkBudget(b *testing.B) {
	local, fleet := benchBudgets(b)
	for _, bc := range []struct {
		name string
		b    *budget.Budget
	}{{"local", local}, {"fleet", fleet}} {
		b.Run("op=Deposit/budget="+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.b.Deposit()
			}
		})
		b.Run("op=Withdraw/budget="+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var ok int
			for b.Loop() {
				bc.b.Deposit()
				if bc.b.Withdraw() {
					ok++
				}
			}
			b.ReportMetric(float64(ok)/float64(b.N), "allowed/op")
		})
	}
}

// BenchmarkBudgetRedisCommands runs one replica flat out and reports the
// Redis script calls it makes per second: one per Interval, whatever its
// call rate.
func BenchmarkBudgetRedisCommands(b *testing.B) {
	srv := redistest.Start(b)
	c := newClient(b, srv.Addr)
	fb := newFleetBudget(b, resilienceredis.BudgetConfig{
		Client: c, Name: "cmds", Interval: 100 * time.Millisecond,
	})
	lb := fb.Local()
	before := scriptCalls(b, c)
	start := time.Now()
	for b.Loop() {
		lb.Deposit()
		lb.Withdraw()
	}
	sec := time.Since(start).Seconds()
	b.ReportMetric(float64(scriptCalls(b, c)-before)/sec, "redis-calls/s")
	b.ReportMetric(float64(b.N)/sec, "calls/s")
}

// TestBudgetRedisCallsIndependentOfCallRate hammers a replica's budget:
// however many calls and retries it counts, it calls Redis once per
// Interval.
func TestBudgetRedisCallsIndependentOfCallRate(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr)
	const interval = 20 * time.Millisecond
	fb := newFleetBudget(t, resilienceredis.BudgetConfig{Client: c, Name: "calls", Interval: interval})
	synced(t, fb, 1)
	lb := fb.Local()
	before := scriptCalls(t, c)
	start := time.Now()
	var calls int
	for time.Since(start) < 300*time.Millisecond {
		lb.Deposit()
		lb.Withdraw()
		calls++
	}
	elapsed := time.Since(start)
	got := scriptCalls(t, c) - before
	bound := int64(elapsed/interval) + 2
	t.Logf("%d calls, %d Redis script calls in %v (bound %d)", calls, got, elapsed, bound)
	if got > bound || got == 0 {
		t.Fatalf("%d Redis calls for %d calls in %v: want between 1 and one per Interval (%d)", got, calls, elapsed, bound)
	}
}

package budget_test

import (
	"encoding/binary"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/internal/fuzzprog"
)

// FuzzBudget checks the budget for any configuration and any sequence of
// deposits, withdrawals and snapshots, at times that may lie anywhere,
// however far apart:
//
//   - New accepts exactly the configurations its doc comment calls valid
//     (Ratio at most 1, MinPerSecond below +Inf, not both negative — off —,
//     Window not negative) and rejects the others with an error prefixed
//     "budget: ";
//   - the balance is never negative, never above what the window still
//     allows (Ratio of its calls or the floor, whichever is more, less its
//     retries), and never above a billion retries;
//   - a withdrawal succeeds exactly when the balance at its time is at least
//     one retry, and then spends one; a refusal spends nothing and counts as
//     exhausted; after a success the window's retries are within its bound;
//   - a deposit never lowers the balance, and raises it by at most Ratio;
//   - after a quiet spell longer than the window, the balance is the floor
//     (capped at a billion): MinPerSecond a second has refilled it,
//     however long the spell.
//
// It runs in a synctest bubble, so that the budget's clock starts at a time
// known to the test and the saturation of times 292 years away is exact.
// The program is 9 bytes a step: an operation and 8 bytes of time.
func FuzzBudget(f *testing.F) {
	step := func(op byte, at int64) []byte { return fuzzprog.Step(op, at) }
	prog := fuzzprog.Prog
	s := int64(time.Second)
	f.Add(0.1, 1e-9, int64(10*time.Second), prog(step(opDeposits|31<<3, 0), step(opDeposits|31<<3, 0), step(opDeposits|31<<3, 0), step(opWithdraw, 0), step(opWithdraw, s), step(opWithdraw, s), step(opWithdraw, s), step(opSnapshot, s)))
	f.Add(0.0, 0.0, int64(0), prog(step(opWithdraw, 0), step(opWithdraw, 0), step(opSnapshot, 20*s), step(opWithdraw, 0)))
	f.Add(1.0, 1e300, int64(math.MaxInt64), prog(step(opWithdraw, 0), step(opDeposit, s), step(opWithdraw|opAbs, math.MaxInt64), step(opSnapshot|opAbs, math.MinInt64)))
	f.Add(5e-10, 5e-324, int64(1), prog(step(opDeposits|31<<3, 0), step(opWithdraw, 1), step(opSnapshot|opAbs, 1<<62)))
	f.Add(0.5, 1.0, int64(time.Minute), prog(step(opDeposit|opAbs, 1<<62), step(opWithdraw|opAbs, -1<<62), step(opWithdraw|opAbs, 1<<62), step(opSnapshot|opAbs, math.MaxInt64)))
	f.Add(0.5, 1e-9, int64(10*time.Second), prog(step(opDeposit, 0), step(opWithdraw, 0)))
	// A negative floor or ratio turns it off.
	f.Add(0.5, -1.0, int64(10*time.Second), prog(step(opDeposit, 0), step(opWithdraw, 0), step(opDeposit, 0), step(opWithdraw, 0), step(opSnapshot, 30*s), step(opWithdraw, 0)))
	f.Add(-1.0, 0.5, int64(10*time.Second), prog(step(opDeposits|31<<3, 0), step(opWithdraw, 0), step(opWithdraw, 0), step(opWithdraw, 0), step(opWithdraw, 0), step(opWithdraw, 0), step(opWithdraw, 0), step(opSnapshot, 30*s), step(opWithdraw, 0)))
	// Invalid configurations.
	f.Add(math.NaN(), 0.0, int64(0), []byte(nil))
	f.Add(-0.1, -0.1, int64(0), []byte(nil))
	f.Add(1.5, 0.0, int64(0), []byte(nil))
	f.Add(math.Inf(1), 0.0, int64(0), []byte(nil))
	f.Add(0.0, math.NaN(), int64(0), []byte(nil))
	f.Add(0.0, math.Inf(1), int64(0), []byte(nil))
	f.Add(0.0, math.Inf(-1), int64(0), []byte(nil))
	f.Add(0.0, 0.0, int64(-1), []byte(nil))

	f.Fuzz(func(t *testing.T, ratio, perSecond float64, window int64, program []byte) {
		cfg := budget.Config{Ratio: ratio, MinPerSecond: perSecond, Window: time.Duration(window)}
		// A negative Ratio or MinPerSecond turns it off, but not both.
		valid := ratio <= 1 && !math.IsNaN(perSecond) && !math.IsInf(perSecond, 1) && !(ratio < 0 && perSecond < 0) && window >= 0
		b, err := budget.New(cfg)
		if !fuzzprog.CheckNew(t, "budget", cfg, b, err, valid) {
			return
		}
		if len(program) > 9*300 {
			program = program[:9*300]
		}
		synctest.Test(t, func(t *testing.T) { runBudget(t, cfg, program) })
	})
}

// The operations of FuzzBudget's programs. Bits 0-1: 0 DepositAt, 1
// WithdrawAt, 2 SnapshotAt, 3 DepositAt (op>>3)+1 times; bit 2: the time is
// absolute, from the bubble's start (else a step forward from the last
// time, by up to two windows).
const (
	opDeposit, opWithdraw, opSnapshot, opDeposits = 0, 1, 2, 3
	opAbs                                         = 4
)

func runBudget(t *testing.T, cfg budget.Config, program []byte) {
	start := time.Now()
	b := budget.MustNew(cfg)
	ratio := cfg.Ratio
	switch {
	case ratio == 0:
		ratio = budget.DefaultRatio
	case ratio < 0:
		ratio = 0 // off
	}
	length := cfg.Window
	if length == 0 {
		length = budget.DefaultWindow
	}
	const most = 1e9   // retries the budget may hold
	const slack = 2e-9 // the budget counts in billionths of a retry, rounded
	// last is the time of this step, on the budget's clock; latest the
	// latest time the budget has seen; quietFrom the latest time it had
	// seen at its last deposit or withdrawal: that lies in the window's
	// newest bucket, which stays in the window for up to the window's
	// length and a nanosecond a bucket (at most 600) after it.
	var last, latest, quietFrom int64
	started, steps := false, 0
	for i := 0; i+9 <= len(program); i += 9 {
		op := program[i]
		x := int64(binary.LittleEndian.Uint64(program[i+1:]))
		if op&opAbs != 0 {
			last = x
		} else {
			step := uint64(x)
			if m := 2*uint64(length) + 2; m != 0 { // 0: wrapped, for a window of MaxInt64
				step %= m
			}
			last = addSat(last, int64(min(step, math.MaxInt64)))
		}
		now := start.Add(time.Duration(last))
		latest = max(latest, last)
		if i == 0 {
			latest = last
		}
		steps++

		before := b.SnapshotAt(now)
		// (Retries that outlast the calls that allowed them leave a bound
		// below zero: the balance is then zero.)
		bound := max(math.Max(ratio*float64(before.Calls), before.Floor)-float64(before.Retries), 0)
		if !(before.Balance >= 0) || before.Balance > bound+slack || before.Balance > most {
			t.Fatalf("step %d at %v: snapshot %+v: balance outside [0, min(%v, %v)]", i/9, time.Duration(last), before, bound, most)
		}
		// A quiet spell longer than the window (and than its buckets' width
		// beyond it) refills the balance to the floor.
		// (Each step's accrual is rounded to a billionth of a retry.)
		if started && last > quietFrom && uint64(last)-uint64(quietFrom) > uint64(length)+600 {
			want := math.Min(before.Floor, most)
			if math.Abs(before.Balance-want) > float64(steps)*slack+want*1e-12 {
				t.Fatalf("step %d: %d ns after the last call or retry, a window of %v: balance %v, want the floor %v (snapshot %+v)",
					i/9, uint64(last)-uint64(quietFrom), length, before.Balance, want, before)
			}
		}
		switch op & 3 {
		case opWithdraw:
			ok := b.WithdrawAt(now)
			after := b.SnapshotAt(now)
			if ok != (before.Balance >= 1) { // exact: the balance is a whole number of billionths
				t.Fatalf("step %d: WithdrawAt = %v at a balance of %v", i/9, ok, before.Balance)
			}
			if ok {
				if after.Retries != before.Retries+1 || math.Abs(after.Balance-(before.Balance-1)) > slack || after.Exhausted != before.Exhausted {
					t.Fatalf("step %d: a withdrawal moved the snapshot from %+v to %+v", i/9, before, after)
				}
				if r := float64(after.Retries); r > math.Max(ratio*float64(after.Calls), after.Floor)+slack {
					t.Fatalf("step %d: %d retries in the window, above its bound; snapshot %+v", i/9, after.Retries, after)
				}
			} else if after.Retries != before.Retries || math.Abs(after.Balance-before.Balance) > slack || after.Exhausted != before.Exhausted+1 {
				t.Fatalf("step %d: a refusal moved the snapshot from %+v to %+v", i/9, before, after)
			}
		case opDeposit, opDeposits:
			n := 1
			if op&3 == opDeposits {
				n = int(op>>3) + 1
			}
			for range n {
				b.DepositAt(now)
			}
			after := b.SnapshotAt(now)
			if after.Balance < before.Balance-slack || after.Balance > before.Balance+float64(n)*ratio+slack ||
				after.Calls != before.Calls+n {
				t.Fatalf("step %d: %d deposits moved the snapshot from %+v to %+v", i/9, n, before, after)
			}
		default:
			continue
		}
		quietFrom, started = latest, true
	}
}

// addSat returns a+b, saturating at the ends of int64.
func addSat(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	if b < 0 && a < math.MinInt64-b {
		return math.MinInt64
	}
	return a + b
}

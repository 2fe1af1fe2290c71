package retry_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/retry"
)

// outage sends calls at 200 a second for ten virtual minutes through p to a
// backend that fails every call, and returns the calls the backend saw and
// the calls the clients made.
func outage(t *testing.T, p *retry.Policy) (backend, calls int) {
	t.Helper()
	down := resilience.Transient(errors.New("503"))
	synctest.Test(t, func(t *testing.T) {
		for range 200 * 600 {
			time.Sleep(5 * time.Millisecond)
			calls++
			retry.Run(context.Background(), p, func(context.Context) error {
				backend++
				return down
			})
		}
	})
	return backend, calls
}

func TestBudgetBoundsLoadInAnOutage(t *testing.T) {
	b := budget.MustNew(budget.Config{Ratio: 0.1, MinPerSecond: 1, Window: 10 * time.Second})
	with := retry.MustNew(retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(0), Budget: b})
	without := retry.MustNew(retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(0)})

	backend, calls := outage(t, with)
	// At most 10% of the calls, plus what the floor (1 a second, 10 a
	// window) lets through in the first second, while 10% of the few calls
	// so far is less than the floor.
	ratio := float64(backend) / float64(calls)
	if limit := calls + calls/10 + 10; backend > limit {
		t.Errorf("with a 10%% budget the backend saw %d calls for %d (%.5f×), want at most %d", backend, calls, ratio, limit)
	}
	t.Logf("with a budget: %d backend calls for %d calls, %.5f×", backend, calls, ratio)
	if s := b.Snapshot(); s.Exhausted == 0 {
		t.Errorf("the budget never refused a retry: %+v", s)
	}
	backend, calls = outage(t, without)
	if backend != 3*calls {
		t.Errorf("without a budget the backend saw %d calls for %d, want MaxAttempts× = %d", backend, calls, 3*calls)
	}
}

func TestExhaustedBudgetStopsWithAnErrorThatSaysSo(t *testing.T) {
	b := budget.MustNew(budget.Config{Ratio: 0.1, MinPerSecond: -1})
	p := retry.MustNew(retry.Config{MaxAttempts: 5, Backoff: backoff.Constant(0), Budget: b})
	attempts := 0
	err := retry.Run(context.Background(), p, func(context.Context) error {
		attempts++
		return errReset
	})
	// One call deposits 0.1 of a retry: not enough for one.
	if attempts != 1 {
		t.Fatalf("%d attempts with an empty budget, want 1", attempts)
	}
	re := asRetryError(t, err)
	if re.Reason != retry.BudgetExhausted || !errors.Is(err, budget.ErrExhausted) || !errors.Is(err, errReset) {
		t.Fatalf("error %v (%+v); want BudgetExhausted matching budget.ErrExhausted and the last error", err, re)
	}
	if want := "retry: gave up after 1 attempt (retry budget exhausted): network error: connection reset"; err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestSuccessWithBudgetAllocatesNothing(t *testing.T) {
	p := retry.MustNew(retry.Config{Budget: budget.MustNew(budget.Config{})})
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() {
		retry.Do(ctx, p, func(context.Context) (int, error) { return 1, nil })
	}); n != 0 {
		t.Fatalf("%v allocations per successful call with a budget, want 0", n)
	}
}

// TestBeginRetriesAt checks that BeginRetriesAt counts a call in the budget
// at the time it is given, as BeginRetries does now: twenty calls earn two
// retries of a budget with a 10% ratio and no floor.
func TestBeginRetriesAt(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	b := budget.MustNew(budget.Config{Ratio: 0.1, MinPerSecond: 1e-9})
	p := retry.MustNew(retry.Config{MaxElapsed: time.Minute, Budget: b})
	for range 20 {
		if timed, err := p.BeginRetriesAt(t0); !timed || err != nil {
			t.Fatalf("BeginRetriesAt: %v, %v; want true (MaxElapsed is set), nil", timed, err)
		}
	}
	for i, want := range []bool{true, true, false} {
		if got := b.WithdrawAt(t0); got != want {
			t.Errorf("withdrawal %d after 20 calls: %v; want %v", i+1, got, want)
		}
	}
	var nilPolicy *retry.Policy
	if _, err := nilPolicy.BeginRetriesAt(t0); err == nil {
		t.Error("a nil Policy began retries")
	}
}

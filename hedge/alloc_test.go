package hedge_test

import (
	"context"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/hedge"
)

// maxFastPathAllocs is what a call whose first attempt answers before the
// delay allocates: the call's state, and the first attempt's cancellable
// context with its cancel function; timers are pooled. Racing a timer
// against an attempt that runs on the caller's goroutine needs state that
// the timer's goroutine can reach, so that state is on the heap.
const maxFastPathAllocs = 3

func TestFastPathAllocs(t *testing.T) {
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	for name, cfg := range map[string]hedge.Config{
		"":              {Delay: time.Hour},
		"with observer": {Delay: time.Hour, Observer: resilience.ObserveAll(func(resilience.Event) {})},
		"under gRFC A6's rules, with tokens": {Delay: time.Hour, Failures: resilience.Classify,
			Tokens: budget.MustNewTokens(budget.TokensConfig{})},
	} {
		h := hedge.MustNew(cfg)
		n := testing.AllocsPerRun(1000, func() {
			if v, err := hedge.Do(ctx, h, fn); v != 1 || err != nil {
				t.Fatal(v, err)
			}
		})
		t.Logf("%v allocations per call answered before the delay %s", n, name)
		if n > maxFastPathAllocs {
			t.Errorf("%v allocations %s; want at most %d", n, name, maxFastPathAllocs)
		}
	}
}

// TestDecisionAllocs: the decisions on an attempt's outcome allocate nothing.
func TestDecisionAllocs(t *testing.T) {
	h := hedge.MustNew(hedge.Config{Delay: time.Hour, Failures: resilience.Classify,
		Tokens: budget.MustNewTokens(budget.TokensConfig{})})
	errs := []error{errUnavailable, errInvalid, resilience.WithPushback(errUnavailable, time.Second),
		resilience.WithPushback(errUnavailable, -1), context.Canceled}
	n := testing.AllocsPerRun(1000, func() {
		for i, err := range errs {
			h.AfterFailure(i, err)
		}
		h.AfterSuccess()
		h.AllowHedgeAt(t0, 1)
	})
	if n != 0 {
		t.Errorf("%v allocations per round of decisions; want 0", n)
	}
}

package timeout_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/timeout"
)

//go:noinline
func succeed(context.Context) (int, error) { return 1, nil }

//go:noinline
func succeedErr(context.Context) error { return nil }

var errCause = errors.New("cause")

func TestAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	ctx := context.Background()
	tm := mustNew(t, timeout.Config{Timeout: time.Hour})
	// What the attempt's context costs by itself.
	contextCost := testing.AllocsPerRun(200, func() {
		_, cancel := context.WithTimeoutCause(ctx, time.Hour, errCause)
		cancel()
	})
	t.Logf("context.WithTimeoutCause: %v allocations", contextCost)
	if contextCost == 0 {
		t.Fatal("context.WithTimeoutCause allocates nothing: update the docs")
	}
	// Composed, the timeout costs its context and nothing more: the
	// executor drives it as a resilience.Scope, not through Execute.
	stack := resilience.Compose(retry.MustNew(retry.Config{}), breaker.MustNew(breaker.Config{}), tm)
	for _, tc := range []struct {
		name string
		fn   func()
	}{
		{"Do", func() { timeout.Do(ctx, tm, succeed) }},
		{"Run", func() { timeout.Run(ctx, tm, succeedErr) }},
		{"resilience.Do", func() { resilience.Do(ctx, tm, succeed) }},
		{"resilience.Do of Compose(retry, breaker, timeout)", func() { resilience.Do(ctx, stack, succeed) }},
		{"resilience.Run of Compose(retry, breaker, timeout)", func() { resilience.Run(ctx, stack, succeedErr) }},
	} {
		if got := testing.AllocsPerRun(200, tc.fn); got != contextCost {
			t.Errorf("%s: a successful call allocates %v times; want only the context's %v", tc.name, got, contextCost)
		}
	}

	// When the caller's deadline comes first, nothing.
	callerFirst, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if got := testing.AllocsPerRun(200, func() { timeout.Do(callerFirst, tm, succeed) }); got != 0 {
		t.Errorf("with the caller's deadline first, a successful call allocates %v times; want 0", got)
	}
	if got := testing.AllocsPerRun(200, func() { resilience.Do(callerFirst, stack, succeed) }); got != 0 {
		t.Errorf("with the caller's deadline first, a successful call through Compose allocates %v times; want 0", got)
	}
	// A failure before the deadline is returned as it is, without allocating more.
	if got := testing.AllocsPerRun(200, func() {
		timeout.Run(ctx, tm, func(context.Context) error { return errBad })
	}); got != contextCost {
		t.Errorf("an early failure allocates %v times; want %v", got, contextCost)
	}
}

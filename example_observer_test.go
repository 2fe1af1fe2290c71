package resilience_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/retry"
)

func ExampleObservers() {
	// Two observers, such as a logger and a metrics exporter, joined into
	// one and given to a retry policy.
	logger := &resilience.Observer{
		Retry: func(e resilience.Event) {
			fmt.Printf("log: %s %q: attempt %d failed: %v\n", e.Kind, e.Policy, e.Attempt, e.Err)
		},
		GiveUp: func(e resilience.Event) {
			fmt.Printf("log: %s %q: gave up after %d attempts (%s)\n", e.Kind, e.Policy, e.Attempt, e.Reason)
		},
	}
	calls := map[string]int{}
	metrics := &resilience.Observer{
		Success: func(e resilience.Event) { calls["success"]++ },
		GiveUp:  func(e resilience.Event) { calls["failure"]++ },
	}
	p := retry.MustNew(retry.Config{
		Name:     "inventory",
		Backoff:  backoff.Constant(0), // no waiting in an example
		Observer: resilience.Observers(logger, metrics),
	})

	tries := 0
	retry.Run(context.Background(), p, func(ctx context.Context) error {
		if tries++; tries < 2 {
			return resilience.Transient(errors.New("connection reset"))
		}
		return nil
	})
	retry.Run(context.Background(), p, func(ctx context.Context) error {
		return resilience.Transient(errors.New("connection refused"))
	})
	fmt.Println(calls)
	// Output:
	// log: retry "inventory": attempt 1 failed: network error: connection reset
	// log: retry "inventory": attempt 1 failed: network error: connection refused
	// log: retry "inventory": attempt 2 failed: network error: connection refused
	// log: retry "inventory": gave up after 3 attempts (attempts exhausted)
	// map[failure:1 success:1]
}

package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/retry"
)

func ExampleDo() {
	b, err := breaker.New(breaker.Config{
		Name:             "llm-api",
		FailureThreshold: 3,                // failure_threshold
		RecoveryTimeout:  30 * time.Second, // recovery_timeout
	})
	if err != nil {
		panic(err)
	}
	calls := 0
	complete := func(ctx context.Context) (string, error) {
		calls++
		return "", resilience.Transient(errors.New("503 service unavailable"))
	}
	for range 5 {
		_, err := breaker.Do(context.Background(), b, complete)
		fmt.Println(err)
	}
	fmt.Println("calls that reached the service:", calls)
	// Output:
	// network error: 503 service unavailable
	// network error: 503 service unavailable
	// network error: 503 service unavailable
	// breaker "llm-api" is open
	// breaker "llm-api" is open
	// calls that reached the service: 3
}

func ExampleBreaker_AllowAt() {
	// The two-step API on an explicit clock: ask, then report.
	b := breaker.MustNew(breaker.Config{FailureThreshold: 1, RecoveryTimeout: 10 * time.Second})
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

	p, _ := b.AllowAt(now)
	p.DoneAt(now, resilience.Transient(errors.New("broker unreachable")))
	fmt.Println(b.StateAt(now))

	_, err := b.AllowAt(now.Add(time.Second))
	var oe *breaker.Error
	if errors.As(err, &oe) {
		fmt.Println("rejected; probe allowed in", oe.Until.Sub(now.Add(time.Second)))
	}

	now = now.Add(10 * time.Second)
	fmt.Println(b.StateAt(now))
	probe, _ := b.AllowAt(now)
	probe.DoneAt(now, nil)
	fmt.Println(b.StateAt(now))
	// Output:
	// open
	// rejected; probe allowed in 9s
	// half-open
	// closed
}

func ExampleConfig_rates() {
	// Also open when, over the last minute and with at least 20 calls, half
	// of them failed or a quarter took longer than 2s.
	b, err := breaker.New(breaker.Config{
		Name:         "payments",
		Window:       time.Minute,
		MinCalls:     20,
		FailureRate:  0.5,
		SlowCall:     2 * time.Second,
		SlowCallRate: 0.25,
	})
	fmt.Println(b.State(), err)
	// Output: closed <nil>
}

func Example_withRetry() {
	// Retry outside, breaker inside: every attempt passes the breaker and
	// is counted, and once it opens the retries stop at once, without
	// waiting for an attempt that the breaker would reject.
	b := breaker.MustNew(breaker.Config{Name: "search", FailureThreshold: 2})
	r := retry.MustNew(retry.Config{MaxAttempts: 5, Backoff: backoff.Constant(0)})
	p := resilience.Compose(r, b)

	attempts := 0
	err := resilience.Run(context.Background(), p, func(ctx context.Context) error {
		attempts++
		return resilience.Transient(errors.New("connection reset"))
	})
	fmt.Println(attempts, errors.Is(err, breaker.ErrOpen))
	fmt.Println(err)
	// Output:
	// 2 true
	// retry: gave up after 2 attempts (next attempt would be rejected: breaker "search" is open): network error: connection reset
}

func ExampleRun() {
	b := breaker.MustNew(breaker.Config{Name: "broker", FailureThreshold: 1})
	connect := func(ctx context.Context) error {
		return resilience.Transient(errors.New("connection refused"))
	}
	fmt.Println(breaker.Run(context.Background(), b, connect))
	fmt.Println(breaker.Run(context.Background(), b, connect))
	fmt.Println(b.State())
	// Output:
	// network error: connection refused
	// breaker "broker" is open
	// open
}

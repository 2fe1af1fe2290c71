package budget_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/retry"
)

func Example() {
	// One budget for every caller of a service: retries may add 10% to
	// the calls of the last 10s, or 1 a second when traffic is low.
	b := budget.MustNew(budget.Config{Name: "llm-api", Ratio: 0.1, MinPerSecond: 1e-9})
	p := retry.MustNew(retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(0), Budget: b})

	backend := 0
	for range 100 { // the service is down
		retry.Run(context.Background(), p, func(context.Context) error {
			backend++
			return resilience.Transient(errors.New("503"))
		})
	}
	fmt.Println("calls: 100, backend saw:", backend)

	err := retry.Run(context.Background(), p, func(context.Context) error {
		return resilience.Transient(errors.New("503"))
	})
	fmt.Println(errors.Is(err, budget.ErrExhausted))
	// Output:
	// calls: 100, backend saw: 110
	// true
}

func ExampleBudget_WithdrawAt() {
	b := budget.MustNew(budget.Config{Ratio: 0.5, MinPerSecond: 1e-9, Window: time.Minute})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 4 {
		b.DepositAt(now)
	}
	fmt.Println(b.WithdrawAt(now), b.WithdrawAt(now), b.WithdrawAt(now))
	fmt.Println(b.WithdrawAt(now.Add(time.Minute))) // the calls have left the window
	// Output:
	// true true false
	// false
}

package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/netresilience/resilience"
)

// fiveTimes is a Retrier of the example's own: up to five attempts, whatever
// the error, with no wait between them.
type fiveTimes struct{}

func (fiveTimes) Execute(ctx context.Context, op resilience.Operation) error {
	return resilience.Run(ctx, fiveTimes{}, op.Call)
}

func (fiveTimes) BeginRetries() (resilience.RetryPlan, error) { return resilience.RetryPlan{}, nil }

func (fiveTimes) Succeeded(resilience.RetryState) {}

func (fiveTimes) NextRetry(s resilience.RetryState) (time.Duration, error) {
	if s.Cause != nil {
		return 0, s.Cause
	}
	if s.Attempts >= 5 {
		return 0, fmt.Errorf("gave up after %d attempts: %w", s.Attempts, s.Err)
	}
	return 0, nil
}

func ExampleRetry() {
	attempts := 0
	v, err := resilience.Retry(context.Background(), fiveTimes{}, func(ctx context.Context) (int, error) {
		attempts++
		if attempts < 3 {
			return 0, errors.New("not yet")
		}
		return attempts, nil
	})
	fmt.Println(v, err)

	_, err = resilience.Retry(context.Background(), fiveTimes{}, func(ctx context.Context) (int, error) {
		return 0, errors.New("never")
	})
	fmt.Println(err)
	// Output:
	// 3 <nil>
	// gave up after 5 attempts: never
}

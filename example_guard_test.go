package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/retry"
)

// tripwire is a Guard of the example's own: it rejects every pass once the
// passes it admitted have failed limit times in a row, until a success
// resets it by hand. It is safe for concurrent use.
type tripwire struct {
	limit    int32
	failures atomic.Int32
}

var errTripped = errors.New("tripwire: tripped")

// Execute makes the tripwire a Policy; the executors call Enter and Exit
// instead.
func (w *tripwire) Execute(ctx context.Context, op resilience.Operation) error {
	return resilience.Run(ctx, w, op.Call)
}

// Enter admits a pass unless the wire has tripped. It needs no Ticket.
func (w *tripwire) Enter(context.Context) (resilience.Ticket, error) {
	if w.failures.Load() >= w.limit {
		return resilience.Ticket{}, errTripped
	}
	return resilience.Ticket{}, nil
}

// Exit counts failures in a row; the caller's own cancellation is not one.
func (w *tripwire) Exit(_ resilience.Ticket, o resilience.Outcome) {
	switch {
	case o.Canceled:
	case o.Err != nil || o.Panicked:
		w.failures.Add(1)
	default:
		w.failures.Store(0)
	}
}

// Foresee makes the tripwire a ForeseeingGuard: once tripped, it rejects
// every pass, with no end in sight.
func (w *tripwire) Foresee(context.Context, time.Time) (time.Time, error) {
	if w.failures.Load() >= w.limit {
		return time.Time{}, errTripped
	}
	return time.Time{}, nil
}

func ExampleGuard() {
	wire := &tripwire{limit: 2}
	retries := retry.MustNew(retry.Config{MaxAttempts: 5, Backoff: backoff.Constant(0)})
	// Retry outside, the guard inside: every attempt passes the guard, and
	// once it trips, the retries stop without another attempt.
	policy := resilience.Compose(retries, wire)

	attempts := 0
	err := resilience.Run(context.Background(), policy, func(ctx context.Context) error {
		attempts++
		return resilience.Transient(errors.New("connection refused"))
	})
	fmt.Println(attempts, errors.Is(err, errTripped))
	fmt.Println(err)

	// A later call is rejected before it runs.
	err = resilience.Run(context.Background(), policy, func(ctx context.Context) error {
		attempts++
		return nil
	})
	fmt.Println(attempts, err)
	// Output:
	// 2 true
	// retry: gave up after 2 attempts (next attempt would be rejected: tripwire: tripped): network error: connection refused
	// 2 tripwire: tripped
}

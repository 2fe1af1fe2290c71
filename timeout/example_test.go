package timeout_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/timeout"
)

func ExampleDo() {
	perAttempt, err := timeout.New(timeout.Config{Name: "llm-api", Timeout: 2 * time.Second})
	if err != nil {
		panic(err)
	}
	reply, err := timeout.Do(context.Background(), perAttempt, func(ctx context.Context) (string, error) {
		_, hasDeadline := ctx.Deadline()
		fmt.Println("the attempt has a deadline:", hasDeadline)
		return "pong", nil
	})
	fmt.Println(reply, err)
	// Output:
	// the attempt has a deadline: true
	// pong <nil>
}

func ExampleRun() {
	// A short timeout, so that the example ends quickly.
	perAttempt := timeout.MustNew(timeout.Config{Name: "search", Timeout: time.Millisecond})
	err := timeout.Run(context.Background(), perAttempt, func(ctx context.Context) error {
		<-ctx.Done() // a call that takes longer than its attempt may
		return ctx.Err()
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, timeout.ErrTimeout), resilience.Classify(err))
	// Output:
	// timeout "search": attempt timed out after 1ms
	// true transient
}

func ExampleNew() {
	_, err := timeout.New(timeout.Config{Name: "search"})
	fmt.Println(err)
	// Output: timeout: Timeout is zero: set how long each attempt may take
}

func Example_withRetry() {
	// Retry outside, timeout inside: each attempt gets its own deadline, and
	// an attempt that overruns it is retried.
	r := retry.MustNew(retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(0)})
	perAttempt := timeout.MustNew(timeout.Config{Timeout: time.Millisecond})
	p := resilience.Compose(r, perAttempt)

	attempts := 0
	reply, err := resilience.Do(context.Background(), p, func(ctx context.Context) (string, error) {
		attempts++
		if attempts < 3 {
			<-ctx.Done() // the first two attempts hang
			return "", ctx.Err()
		}
		return "answer", nil
	})
	fmt.Println(attempts, reply, err)
	// Output: 3 answer <nil>
}

func ExampleConfig_abandon() {
	// A call into a library that takes no context: Abandon returns at the
	// deadline and leaves it running, up to MaxAbandoned at once.
	returned := make(chan resilience.Event, 1)
	perAttempt := timeout.MustNew(timeout.Config{
		Name:         "legacy",
		Timeout:      time.Millisecond,
		Abandon:      true,
		MaxAbandoned: 10,
		Observer: &resilience.Observer{
			AbandonedReturn: func(ev resilience.Event) { returned <- ev },
		},
	})
	stuck := make(chan struct{})
	err := timeout.Run(context.Background(), perAttempt, func(context.Context) error {
		<-stuck // ignores its context
		return errors.New("too late")
	})
	fmt.Println(err)
	fmt.Println("still running:", perAttempt.Snapshot().AbandonedRunning)

	close(stuck)
	ev := <-returned
	fmt.Println("returned at last:", ev.Err)
	s := perAttempt.Snapshot()
	fmt.Println("still running:", s.AbandonedRunning, "abandoned:", s.Abandoned)
	// Output:
	// timeout "legacy": attempt timed out after 1ms and was left running
	// still running: 1
	// returned at last: too late
	// still running: 0 abandoned: 1
}

func ExampleTimeout_Execute() {
	// As a resilience.Policy, a Timeout composes with the others; the
	// caller's deadline, when it comes first, stays the caller's.
	perAttempt := timeout.MustNew(timeout.Config{Timeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := resilience.Run(ctx, perAttempt, func(ctx context.Context) error { return ctx.Err() })
	fmt.Println(err, errors.Is(err, timeout.ErrTimeout))
	// Output: context canceled false
}

func ExampleTimeout_Snapshot() {
	perAttempt := timeout.MustNew(timeout.Config{Name: "search", Timeout: time.Millisecond})
	for range 2 {
		timeout.Run(context.Background(), perAttempt, func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
	}
	s := perAttempt.Snapshot()
	fmt.Println(s.Name, s.Timeout, s.TimedOut)
	// Output: search 1ms 2
}

package throttle_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/throttle"
)

func ExampleDo() {
	th, err := throttle.New(throttle.Config{Name: "llm-api"}) // K 2 over 2 minutes
	if err != nil {
		panic(err)
	}
	complete := func(ctx context.Context) (string, error) { return "a completion", nil }
	for range 3 {
		v, err := throttle.Do(context.Background(), th, complete)
		fmt.Println(v, err)
	}
	s := th.Snapshot()
	fmt.Printf("%d requests, %d accepted, rejection probability %v\n", s.Requests, s.Accepts, s.Probability)
	// Output:
	// a completion <nil>
	// a completion <nil>
	// a completion <nil>
	// 3 requests, 3 accepted, rejection probability 0
}

func ExampleRun() {
	// A backend that is down. Seed makes the throttle's draws reproducible.
	th := throttle.MustNew(throttle.Config{Name: "search", Seed: 1})
	reached := 0
	search := func(ctx context.Context) error {
		reached++
		return resilience.Transient(errors.New("503 service unavailable"))
	}
	var last error
	for range 1000 {
		last = throttle.Run(context.Background(), th, search)
	}
	fmt.Println("calls that reached the backend:", reached)
	fmt.Println(errors.Is(last, throttle.ErrThrottled), last)
	// Output:
	// calls that reached the backend: 15
	// true throttle "search" rejected the call locally (rejection probability 0.99)
}

func ExampleThrottle_AllowAt() {
	// The two-step API on an explicit clock, with explicit random numbers.
	th := throttle.MustNew(throttle.Config{Name: "queue", MinRequests: 1})
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	overloaded := resilience.Transient(errors.New("queue full"))

	// The backend accepted 40 of 100 requests: p = (100 − 2·40)/101.
	for i := range 100 {
		p, _ := th.AllowAt(now, 0.999)
		if i < 40 {
			p.DoneAt(now, nil)
		} else {
			p.DoneAt(now, overloaded)
		}
	}
	fmt.Printf("p = %.4f\n", th.ProbabilityAt(now))

	_, err := th.AllowAt(now, 0.1) // 0.1 < p: rejected, and counted as a request
	fmt.Println(err)
	p, err := th.AllowAt(now, 0.5) // 0.5 ≥ p: admitted
	fmt.Println(err)
	p.DoneAt(now, nil)
	s := th.SnapshotAt(now)
	fmt.Printf("%d requests, %d accepted, p = %.4f\n", s.Requests, s.Accepts, s.Probability)
	// Output:
	// p = 0.1980
	// throttle "queue" rejected the call locally (rejection probability 0.20)
	// <nil>
	// 102 requests, 41 accepted, p = 0.1942
}

func ExampleThrottle_ProbabilityAt() {
	// The window forgets: failures older than Window no longer count.
	th := throttle.MustNew(throttle.Config{Window: time.Minute})
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for range 30 {
		p, _ := th.AllowAt(now, 0.999)
		p.DoneAt(now, resilience.Transient(errors.New("connection reset")))
	}
	for _, d := range []time.Duration{0, 30 * time.Second, time.Minute} {
		fmt.Printf("after %v: p = %.3f\n", d, th.ProbabilityAt(now.Add(d)))
	}
	// Output:
	// after 0s: p = 0.968
	// after 30s: p = 0.968
	// after 1m0s: p = 0.000
}

func ExampleThrottle_Allow() {
	// For calls that cannot be wrapped in a function: ask, then report.
	th := throttle.MustNew(throttle.Config{Name: "broker"})
	publish := func() error { return nil }

	p, err := th.Allow()
	if err != nil {
		fmt.Println("not sent:", err)
		return
	}
	p.Done(publish())
	fmt.Println(th.Snapshot().Accepts)
	// Output: 1
}

func ExampleNew() {
	// Throttle harder (K 1.5), react over 30s, never reject more than 95%.
	th, err := throttle.New(throttle.Config{
		Name:                 "payments",
		K:                    1.5,
		Window:               30 * time.Second,
		MaxRejectProbability: 0.95,
	})
	fmt.Println(th.Name(), err)
	_, err = throttle.New(throttle.Config{K: 0.5})
	fmt.Println(err)
	// Output:
	// payments <nil>
	// throttle: K must be at least 1 and finite, or 0 for the default 2; not 0.5
}

func Example_withRetry() {
	// Retry outside, throttle inside: every attempt is a request the
	// throttle counts, and a rejection is not retried, so retries stop once
	// the backend is known to refuse most of what it gets.
	th := throttle.MustNew(throttle.Config{Name: "llm-api", Seed: 2})
	r := retry.MustNew(retry.Config{MaxAttempts: 50, Backoff: backoff.Constant(0)})
	p := resilience.Compose(r, th)

	attempts := 0
	err := resilience.Run(context.Background(), p, func(ctx context.Context) error {
		attempts++
		return resilience.Transient(errors.New("429 too many requests"))
	})
	fmt.Println(attempts, errors.Is(err, throttle.ErrThrottled))
	fmt.Println(err)
	// Output:
	// 10 true
	// retry: gave up after 11 attempts (not retryable): throttle "llm-api" rejected the call locally (rejection probability 0.91)
}

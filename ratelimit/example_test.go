package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/ratelimit"
	"github.com/netresilience/resilience/retry"
)

func ExampleNew() {
	// 100 requests a minute, at most 10 at once; a call may wait up to 2s
	// for its turn.
	l, err := ratelimit.New(ratelimit.Config{
		Name:    "geo-api",
		Limit:   100,
		Per:     time.Minute,
		Burst:   10,
		MaxWait: 2 * time.Second,
	})
	fmt.Println(l.Burst(), err)

	_, err = ratelimit.New(ratelimit.Config{Name: "no-rate"})
	fmt.Println(err)
	// Output:
	// 10 <nil>
	// ratelimit: Limit is zero: a limiter needs a rate, the tokens it lets through per Per
}

func ExampleDo() {
	// Two calls a minute, and none waits: the third is rejected at once.
	l := ratelimit.MustNew(ratelimit.Config{Name: "search", Limit: 2, Per: time.Minute})
	search := func(ctx context.Context) (string, error) { return "results", nil }
	for range 3 {
		v, err := ratelimit.Do(context.Background(), l, search)
		var le *ratelimit.Error
		if errors.As(err, &le) {
			fmt.Println(err)
			fmt.Println("retry in", le.RetryAfter().Round(time.Second))
			continue
		}
		fmt.Println(v)
	}
	// Output:
	// results
	// results
	// ratelimit "search": 1 token not available now
	// retry in 30s
}

func ExampleRun() {
	l := ratelimit.MustNew(ratelimit.Config{Limit: 5})
	sent := 0
	for range 8 {
		err := ratelimit.Run(context.Background(), l, func(ctx context.Context) error {
			sent++
			return nil
		})
		if errors.Is(err, ratelimit.ErrLimited) {
			break
		}
	}
	fmt.Println("sent", sent)
	// Output: sent 5
}

func ExampleLimiter_WithCost() {
	// An LLM provider's daily quota: 3 requests and 10,000 model tokens a
	// day. Each call is one request, and costs the tokens it may spend,
	// prompt and answer.
	day := 24 * time.Hour
	requests := ratelimit.MustNew(ratelimit.Config{Name: "llm-requests", Limit: 3, Per: day})
	tokens := ratelimit.MustNew(ratelimit.Config{Name: "llm-tokens", Limit: 10_000, Per: day})
	quota := resilience.Compose(tokens, requests)
	complete := func(ctx context.Context) (string, error) { return "…", nil }

	for _, maxTokens := range []int{4000, 5000, 2000} {
		ctx := tokens.WithCost(context.Background(), maxTokens) // the requests' limiter charges 1
		_, err := resilience.Do(ctx, quota, complete)
		fmt.Printf("%d tokens: %v; left: requests %.0f, tokens %.0f\n", maxTokens, err, requests.Tokens(), tokens.Tokens())
		if d, ok := resilience.RetryAfter(err); ok {
			fmt.Println("the tokens missing come in", d.Round(time.Minute))
		}
	}
	// Output:
	// 4000 tokens: <nil>; left: requests 2, tokens 6000
	// 5000 tokens: <nil>; left: requests 1, tokens 1000
	// 2000 tokens: ratelimit "llm-tokens": 2000 tokens not available now; left: requests 1, tokens 1000
	// the tokens missing come in 2h24m0s
}

func ExampleLimiter_Wait() {
	// A call may wait up to an hour for its token, but never past its
	// context's deadline: one that could not go in time is rejected at
	// once, without waiting.
	l := ratelimit.MustNew(ratelimit.Config{Limit: 1, Per: time.Minute, MaxWait: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	fmt.Println(l.Wait(ctx, 1))
	err := l.Wait(ctx, 1) // the next token comes in a minute
	fmt.Println(err)
	fmt.Println(errors.Is(err, ratelimit.ErrLimited), ctx.Err())
	// Output:
	// <nil>
	// ratelimit: 1 token not available before the context's deadline
	// true <nil>
}

func ExampleLimiter_AllowAt() {
	// A burst of 3, then one every 100ms, on an explicit clock.
	l := ratelimit.MustNew(ratelimit.Config{Limit: 10, Burst: 3})
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, ms := range []int{0, 0, 0, 0, 50, 100, 150, 200, 200} {
		at := now.Add(time.Duration(ms) * time.Millisecond)
		fmt.Printf("%3dms %v\n", ms, l.AllowAt(at, 1))
	}
	// Output:
	//   0ms true
	//   0ms true
	//   0ms true
	//   0ms false
	//  50ms false
	// 100ms true
	// 150ms false
	// 200ms true
	// 200ms false
}

func ExampleLimiter_ReserveAt() {
	// Reservations for callers that wait in their own way, such as a
	// consumer that schedules its next poll: each says when its call may
	// go, and Cancel gives the tokens back.
	l := ratelimit.MustNew(ratelimit.Config{Limit: 2, Burst: 1}) // one every 500ms
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for range 3 {
		r := l.ReserveAt(now, 1)
		fmt.Println(r.DelayAt(now))
	}
	last := l.ReserveAt(now, 1)
	fmt.Println(last.DelayAt(now))
	last.CancelAt(now)
	fmt.Println(l.ReserveAt(now, 1).DelayAt(now))
	// Output:
	// 0s
	// 500ms
	// 1s
	// 1.5s
	// 1.5s
}

func Example_withRetry() {
	// Inside a retry policy, every attempt spends a token, so the service
	// sees no more requests than the quota; once the tokens run out, the
	// retries stop at once rather than wait for an attempt the limiter would
	// reject.
	l := ratelimit.MustNew(ratelimit.Config{Name: "api", Limit: 3, Per: time.Minute})
	r := retry.MustNew(retry.Config{MaxAttempts: 5, Backoff: backoff.Constant(0)})
	attempts := 0
	err := resilience.Run(context.Background(), resilience.Compose(r, l), func(ctx context.Context) error {
		attempts++
		return resilience.Transient(errors.New("503 service unavailable"))
	})
	fmt.Println(attempts, errors.Is(err, ratelimit.ErrLimited))
	fmt.Println(err)
	// Output:
	// 3 true
	// retry: gave up after 3 attempts (next attempt would be rejected: ratelimit "api": 1 token not available now): network error: 503 service unavailable
}

func ExampleLimiter_SnapshotAt() {
	// Gauges for metrics, read without events; the At form on explicit
	// times, as a simulator would.
	l := ratelimit.MustNew(ratelimit.Config{Name: "llm-tokens", Limit: 10, Burst: 4})
	now := time.Now()
	l.AllowAt(now, 3)
	s := l.SnapshotAt(now)
	fmt.Println(s.Name, s.Burst, s.Tokens, s.Admitted, s.Rejected)
	fmt.Println(l.SnapshotAt(now.Add(200 * time.Millisecond)).Tokens)
	// Output:
	// llm-tokens 4 1 1 0
	// 3
}

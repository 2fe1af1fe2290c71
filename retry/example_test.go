package retry_test

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

func ExampleDo() {
	p, err := retry.New(retry.Config{
		MaxAttempts: 4,                   // max_attempts
		Backoff:     backoff.Constant(0), // no waiting in an example
		Observer: &resilience.Observer{
			Retry: func(e resilience.Event) {
				fmt.Printf("attempt %d failed: %v\n", e.Attempt, e.Err)
			},
			Success: func(e resilience.Event) {
				fmt.Printf("succeeded after %d attempts\n", e.Attempt)
			},
		},
	})
	if err != nil {
		panic(err)
	}
	calls := 0
	reply, err := retry.Do(context.Background(), p, func(ctx context.Context) (string, error) {
		calls++
		if calls < 3 {
			return "", resilience.Transient(errors.New("connection reset by peer"))
		}
		return "pong", nil
	})
	fmt.Println(reply, err)
	// Output:
	// attempt 1 failed: network error: connection reset by peer
	// attempt 2 failed: network error: connection reset by peer
	// succeeded after 3 attempts
	// pong <nil>
}

func ExampleRun_givingUp() {
	p := retry.MustNew(retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(0)})
	err := retry.Run(context.Background(), p, func(ctx context.Context) error {
		return resilience.Transient(errors.New("broker unreachable"))
	})
	var re *retry.Error
	if errors.As(err, &re) {
		fmt.Println(re.Reason, re.Attempts)
	}
	fmt.Println(err)
	// Output:
	// attempts exhausted 3
	// retry: gave up after 3 attempts (attempts exhausted): network error: broker unreachable
}

func ExamplePolicy_Decide() {
	// The decision alone, on explicit times: what a simulator uses.
	p := retry.MustNew(retry.Config{
		MaxAttempts: 5,
		Backoff:     backoff.Exponential{Base: time.Second, Multiplier: 2, Max: 30 * time.Second, Jitter: backoff.NoJitter},
	})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	failure := resilience.Transient(errors.New("timeout"))
	for n := 1; n <= 5; n++ {
		d := p.Decide(resilience.RetryState{Attempts: n, Err: failure, Start: t0, Now: t0})
		fmt.Println(n, d.Reason, d.Delay)
	}
	// A server's hint raises the delay; one beyond the deadline stops now.
	hinted := resilience.WithRetryAfter(failure, 20*time.Second)
	d := p.Decide(resilience.RetryState{Attempts: 1, Err: hinted, Now: t0, Deadline: t0.Add(10 * time.Second)})
	fmt.Println(d.Reason, d.Hint)
	// Output:
	// 1 retrying 1s
	// 2 retrying 2s
	// 3 retrying 4s
	// 4 retrying 8s
	// 5 attempts exhausted 0s
	// deadline too near 20s
}

func ExampleNew() {
	// Zero fields take their defaults; nonsense is an error, not a panic.
	_, err := retry.New(retry.Config{MaxAttempts: -1})
	fmt.Println(err)
	p, err := retry.New(retry.Config{})
	fmt.Println(p != nil, err)
	// Output:
	// retry: MaxAttempts is negative: -1
	// true <nil>
}

// A policy with gRFC A6 retry throttling: once a service has failed enough
// to take half the bucket's tokens, its failures are no longer retried,
// until successes earn the tokens back.
func ExampleConfig_tokens() {
	tokens := budget.MustNewTokens(budget.TokensConfig{MaxTokens: 10, TokenRatio: 0.1})
	p := retry.MustNew(retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(0), Tokens: tokens})
	down := resilience.Transient(errors.New("503"))
	for call := 1; call <= 4; call++ {
		attempts := 0
		err := retry.Run(context.Background(), p, func(context.Context) error {
			attempts++
			return down
		})
		fmt.Printf("call %d: attempts %d, throttled %v, tokens left %.0f\n",
			call, attempts, errors.Is(err, retry.ErrThrottled), tokens.Snapshot().Tokens)
	}
	// Output:
	// call 1: attempts 3, throttled false, tokens left 7
	// call 2: attempts 2, throttled true, tokens left 5
	// call 3: attempts 1, throttled true, tokens left 4
	// call 4: attempts 1, throttled true, tokens left 3
}

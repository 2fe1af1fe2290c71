package adaptive_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
)

func ExampleDo() {
	// A client's limit on calls to an API that answers 503 when it is
	// overloaded: AIMD, starting at 2 calls at once.
	l, err := adaptive.New(adaptive.Config{Name: "llm-api", Initial: 2, AIMD: adaptive.AIMDConfig{Backoff: 0.5}})
	if err != nil {
		panic(err)
	}
	answer, err := adaptive.Do(context.Background(), l, func(ctx context.Context) (string, error) {
		return "42", nil
	})
	fmt.Println(answer, err)

	// Two long calls hold the limit; a third is rejected at once.
	a, _ := l.TryAcquire()
	b, _ := l.TryAcquire()
	_, err = adaptive.Do(context.Background(), l, func(ctx context.Context) (string, error) { return "", nil })
	fmt.Println(errors.Is(err, adaptive.ErrLimited), err)

	// One succeeds, which raises the limit by 1/2 (a round is 2 calls);
	// the other is dropped, which halves it: 1.25.
	a.Release(resilience.Outcome{})
	b.Release(resilience.Outcome{Err: resilience.Transient(errors.New("503 Service Unavailable"))})
	fmt.Println("limit:", l.Limit())
	// Output:
	// 42 <nil>
	// true adaptive limit "llm-api" reached: no wait allowed
	// limit: 1
}

func ExampleLimiter_RecordAt() {
	// The Gradient algorithm on explicit time, as a simulator drives it: a
	// service that takes 40 calls at once at 10ms, and whose calls share
	// it beyond that. Every millisecond, as many calls end as the limit
	// lets in, each admitted with the limit in use.
	l := adaptive.MustNew(adaptive.Config{Algorithm: adaptive.Gradient, Initial: 10})
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for ms := range 3000 {
		limit := l.Limit()
		latency := 10 * time.Millisecond * time.Duration(max(limit, 40)) / 40
		l.RecordAt(start.Add(time.Duration(ms)*time.Millisecond), latency, limit, false)
		if ms%500 == 499 {
			s := l.Snapshot()
			fmt.Printf("%4dms: limit %d, latency %v, baseline %v\n", ms+1, s.Limit, s.Latency, s.Baseline)
		}
	}
	// Output:
	//  500ms: limit 15, latency 10ms, baseline 10ms
	// 1000ms: limit 26, latency 10ms, baseline 10ms
	// 1500ms: limit 40, latency 10ms, baseline 10ms
	// 2000ms: limit 54, latency 13ms, baseline 10ms
	// 2500ms: limit 55, latency 13.75ms, baseline 10ms
	// 3000ms: limit 55, latency 13.75ms, baseline 10ms
}

func ExampleWithPriority() {
	// A server's limit of 10 with priorities: near the limit, batch work
	// is refused first.
	l := adaptive.MustNew(adaptive.Config{Name: "server", Min: 10, Max: 10, Priorities: true})
	var held []adaptive.Permit
	for range 5 {
		p, _ := l.TryAcquire() // 5 normal calls in flight
		held = append(held, p)
	}
	batch := adaptive.WithPriority(context.Background(), adaptive.Low)
	_, err := l.Acquire(batch)
	fmt.Println(err)

	user := adaptive.WithPriority(context.Background(), adaptive.High)
	p, err := l.Acquire(user)
	fmt.Println(err)
	p.Release(resilience.Outcome{})
	for _, p := range held {
		p.Release(resilience.Outcome{})
	}
	// Output:
	// adaptive limit "server" reached: no wait allowed (priority low)
	// <nil>
}

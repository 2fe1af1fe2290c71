package hedge_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/retry"
)

func ExampleDo() {
	h, err := hedge.New(hedge.Config{
		Name:  "search",
		Delay: time.Nanosecond, // hedge at once, for the example
		Observer: &resilience.Observer{Hedge: func(e resilience.Event) {
			fmt.Println("hedge", e.Attempt, "started")
		}},
	})
	if err != nil {
		panic(err)
	}
	replica := make(chan string, 2)
	replica <- "replica-a" // stuck
	replica <- "replica-b" // answers
	reply, err := hedge.Do(context.Background(), h, func(ctx context.Context) (string, error) {
		if name := <-replica; name == "replica-a" {
			<-ctx.Done() // waits until another attempt wins
			fmt.Println("replica-a canceled:", context.Cause(ctx))
			return "", context.Cause(ctx)
		}
		return "results from replica-b", nil
	})
	fmt.Println(reply, err)
	// Output:
	// hedge 1 started
	// replica-a canceled: hedge: another attempt won
	// results from replica-b <nil>
}

func ExampleDoRelease() {
	h := hedge.MustNew(hedge.Config{Delay: time.Nanosecond})
	type response struct{ body string }
	attempts := make(chan int, 2)
	attempts <- 1
	attempts <- 2
	resp, err := hedge.DoRelease(context.Background(), h, func(ctx context.Context) (*response, error) {
		if <-attempts == 1 {
			<-ctx.Done() // lost, but answers anyway
			return &response{body: "late"}, nil
		}
		return &response{body: "early"}, nil
	}, func(r *response) {
		fmt.Println("closing the losing response:", r.body)
	})
	fmt.Println(resp.body, err)
	// Output:
	// closing the losing response: late
	// early <nil>
}

func ExampleRun() {
	h := hedge.MustNew(hedge.Config{Delay: time.Hour})
	err := hedge.Run(context.Background(), h, func(ctx context.Context) error {
		return errors.New("bad request") // fails at once: no hedge
	})
	fmt.Println(err)
	// Output:
	// bad request
}

func ExampleHedger_DelayAt() {
	// The delay decision alone, on an explicit clock, as a simulator uses it.
	h := hedge.MustNew(hedge.Config{Percentile: 0.9, MinSamples: 10, InitialDelay: 50 * time.Millisecond})
	now := time.Now()
	fmt.Println("before any samples:", h.DelayAt(now))
	for i := 1; i <= 100; i++ {
		h.ObserveAt(now, time.Duration(i)*time.Millisecond)
	}
	d := h.DelayAt(now)
	fmt.Println("p90 of 1ms..100ms within 6.25% of 90ms:", d > 84*time.Millisecond && d < 96*time.Millisecond)
	// Output:
	// before any samples: 50ms
	// p90 of 1ms..100ms within 6.25% of 90ms: true
}

func ExampleHedger_Execute() {
	// Retry outside, hedging inside, spending one budget.
	b := budget.MustNew(budget.Config{})
	p := resilience.Compose(
		retry.MustNew(retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(0), Budget: b}),
		hedge.MustNew(hedge.Config{Delay: time.Hour, Budget: b}),
	)
	calls := 0
	v, err := resilience.Do(context.Background(), p, func(ctx context.Context) (string, error) {
		calls++
		if calls == 1 {
			return "", resilience.Transient(errors.New("connection reset"))
		}
		return "ok", nil
	})
	fmt.Println(v, err, calls)
	// Output:
	// ok <nil> 2
}

// An executor of one's own, such as a simulator on virtual time, runs a
// hedged call through the same decisions as Do: StartAt when the call
// starts, AllowHedgeAt when a hedge is due, ObserveFirstAt when the first
// attempt ends.
func ExampleHedger_StartAt() {
	h := hedge.MustNew(hedge.Config{Percentile: 0.5, MinSamples: 1, MaxHedges: 2})
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

	delay := h.StartAt(start)
	fmt.Println("first hedge due after", delay)
	ok, more := h.AllowHedgeAt(start.Add(delay), 1)
	fmt.Println("hedge 1 may start:", ok, "and another may follow:", more)

	// Hedge 1 answers 20ms after it started, while the first attempt is
	// still running: the first attempt lost, and its latency so far counts
	// (the estimate holds it to within 1/16).
	end := start.Add(delay + 20*time.Millisecond)
	h.ObserveFirstAt(end, end.Sub(start), hedge.ErrLost)
	fmt.Println("next delay: about", h.DelayAt(end).Round(10*time.Millisecond))
	// Output:
	// first hedge due after 100ms
	// hedge 1 may start: true and another may follow: true
	// next delay: about 120ms
}

func ExampleHedger_Snapshot() {
	// Gauges for metrics, read without events.
	// The first replica is stuck; the hedge, sent 20ms later, is answered.
	h := hedge.MustNew(hedge.Config{Name: "search", Delay: 20 * time.Millisecond})
	replica := make(chan string, 2)
	replica <- "stuck"
	replica <- "fast"
	hedge.Do(context.Background(), h, func(ctx context.Context) (string, error) {
		if <-replica == "stuck" {
			<-ctx.Done()
			return "", context.Cause(ctx)
		}
		return "ok", nil
	})
	s := h.Snapshot()
	fmt.Println(s.Name, s.Delay, s.Calls, s.Hedges, s.Won, s.InFlight)
	// Output: search 20ms 1 1 1 0
}

// The decisions of gRFC A6's hedging policy on an attempt's failure, as a
// simulator or an executor of one's own asks for them.
func ExampleHedger_AfterFailure() {
	h := hedge.MustNew(hedge.Config{Delay: 100 * time.Millisecond, MaxHedges: 2, Failures: resilience.Classify})
	unavailable := resilience.Transient(errors.New("unavailable"))
	for _, err := range []error{
		unavailable,
		resilience.WithPushback(unavailable, 50*time.Millisecond),
		resilience.WithPushback(unavailable, -1),
		resilience.Permanent(errors.New("invalid argument")),
		context.Canceled,
	} {
		d := h.AfterFailure(1, err)
		fmt.Printf("%v: %v %v\n", err, d.Action, d.After)
	}
	// Output:
	// network error: unavailable: next hedge 0s
	// network error: unavailable (pushback: retry after 50ms): next hedge 50ms
	// network error: unavailable (pushback: do not retry): stop hedges 0s
	// protocol error: invalid argument: fatal 0s
	// context canceled: continue 0s
}

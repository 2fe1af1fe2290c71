package bulkhead_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/retry"
)

func ExampleDo() {
	// At most 2 queries at once against the reporting database; a third is
	// rejected at once rather than piling up.
	b, err := bulkhead.New(bulkhead.Config{Name: "reports-db", MaxConcurrent: 2})
	if err != nil {
		panic(err)
	}
	query := func(ctx context.Context) (int, error) { return 42, nil }

	rows, err := bulkhead.Do(context.Background(), b, query)
	fmt.Println(rows, err)

	// Two long queries hold both slots.
	q1, _ := b.TryAcquire()
	q2, _ := b.TryAcquire()
	_, err = bulkhead.Do(context.Background(), b, query)
	fmt.Println(errors.Is(err, bulkhead.ErrFull), err)
	q1.Release()
	q2.Release()
	// Output:
	// 42 <nil>
	// true bulkhead "reports-db" is full: 2 calls in flight
}

func ExampleRun() {
	b := bulkhead.MustNew(bulkhead.Config{Name: "mailer", MaxConcurrent: 1})
	err := bulkhead.Run(context.Background(), b, func(ctx context.Context) error {
		fmt.Println("sending; in flight:", b.InFlight())
		return nil
	})
	fmt.Println(err, "; in flight:", b.InFlight())
	// Output:
	// sending; in flight: 1
	// <nil> ; in flight: 0
}

func ExampleNew() {
	// One slot; a caller that finds it taken waits up to a minute for it,
	// behind at most 5 others.
	b, err := bulkhead.New(bulkhead.Config{Name: "llm-api", MaxConcurrent: 1, MaxWait: time.Minute, MaxQueue: 5})
	if err != nil {
		panic(err)
	}
	first, _ := b.TryAcquire()
	done := make(chan error)
	go func() {
		done <- bulkhead.Run(context.Background(), b, func(context.Context) error {
			fmt.Println("the second call runs")
			return nil
		})
	}()
	for b.Waiting() == 0 {
		runtime.Gosched() // until the second call has queued
	}
	fmt.Println("waiting:", b.Waiting())
	first.Release() // hands the slot to the caller waiting for it
	fmt.Println(<-done)

	_, err = bulkhead.New(bulkhead.Config{MaxWait: -time.Second})
	fmt.Println(err)
	// Output:
	// waiting: 1
	// the second call runs
	// <nil>
	// bulkhead: MaxWait is negative: -1s
}

func ExampleMustNew() {
	// For configurations known to be valid, such as package variables.
	b := bulkhead.MustNew(bulkhead.Config{Name: "search"})
	fmt.Println(b.Snapshot().MaxConcurrent)
	// Output: 10
}

func ExampleBulkhead_Acquire() {
	// The two-step API, for work that does not fit in one function call:
	// here the slot is held by another goroutine until it is done.
	b := bulkhead.MustNew(bulkhead.Config{Name: "uploads", MaxConcurrent: 4})
	p, err := b.Acquire(context.Background())
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer p.Release()
		fmt.Println("uploading; in flight:", b.InFlight())
	}()
	<-done
	p.Release() // a second Release of the same permit does nothing
	fmt.Println("in flight:", b.InFlight())
	// Output:
	// uploading; in flight: 1
	// in flight: 0
}

func ExampleBulkhead_TryAcquire() {
	// Shed load: a request that finds every slot taken is turned away at
	// once, whatever MaxWait says.
	b := bulkhead.MustNew(bulkhead.Config{Name: "api", MaxConcurrent: 2})
	var admitted []bulkhead.Permit
	for i := range 3 {
		p, err := b.TryAcquire()
		if err != nil {
			fmt.Printf("request %d: 503 (%v)\n", i, err)
			continue
		}
		admitted = append(admitted, p)
		fmt.Printf("request %d: admitted\n", i)
	}
	for _, p := range admitted {
		p.Release()
	}
	// Output:
	// request 0: admitted
	// request 1: admitted
	// request 2: 503 (bulkhead "api" is full: 2 calls in flight)
}

func ExampleBulkhead_Snapshot() {
	b := bulkhead.MustNew(bulkhead.Config{Name: "db", MaxConcurrent: 1})
	p, _ := b.TryAcquire()
	b.TryAcquire() // rejected
	fmt.Printf("%+v\n", b.Snapshot())
	p.Release()
	// Output: {Name:db MaxConcurrent:1 InFlight:1 Waiting:0 Admitted:1 Rejected:1 Abandoned:0 Shadow:false ShadowRejected:0}
}

func ExampleError() {
	b := bulkhead.MustNew(bulkhead.Config{Name: "db", MaxConcurrent: 1})
	p, _ := b.TryAcquire()
	defer p.Release()

	err := bulkhead.Run(context.Background(), b, func(context.Context) error { return nil })
	var fe *bulkhead.Error
	if errors.As(err, &fe) {
		fmt.Println(fe.Name, fe.Reason, fe.MaxConcurrent)
	}
	// Output: db no wait allowed 1
}

func ExampleConfig_observer() {
	b := bulkhead.MustNew(bulkhead.Config{
		Name:          "db",
		MaxConcurrent: 1,
		Observer: &resilience.Observer{
			Admit:  func(e resilience.Event) { fmt.Println("admitted, waited", e.Delay) },
			Reject: func(e resilience.Event) { fmt.Println("rejected:", e.Reason) },
		},
	})
	p, _ := b.TryAcquire()
	b.TryAcquire()
	p.Release()
	// Output:
	// admitted, waited 0s
	// rejected: no wait allowed
}

func Example_withRetry() {
	// Retry outside, bulkhead inside: each attempt takes a slot and gives it
	// back, so a call holds no slot while it waits between attempts.
	b := bulkhead.MustNew(bulkhead.Config{Name: "search", MaxConcurrent: 8})
	r := retry.MustNew(retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(0)})
	p := resilience.Compose(r, b)

	attempts := 0
	err := resilience.Run(context.Background(), p, func(ctx context.Context) error {
		attempts++
		if attempts < 3 {
			return resilience.Transient(errors.New("connection reset"))
		}
		return nil
	})
	fmt.Println(err, attempts, b.Snapshot().Admitted)

	// A full bulkhead's rejection is not retried.
	for range 8 {
		b.TryAcquire()
	}
	attempts = 0
	err = resilience.Run(context.Background(), p, func(ctx context.Context) error { attempts++; return nil })
	fmt.Println(attempts, err)
	// Output:
	// <nil> 3 3
	// 0 bulkhead "search" is full: 8 calls in flight
}

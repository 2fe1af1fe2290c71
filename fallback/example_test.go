package fallback_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/fallback"
)

func ExampleDo() {
	// Provider A sits behind a breaker; when A fails or its breaker is
	// open, the call falls back to provider B at once.
	ctx := context.Background()
	breakerA := breaker.MustNew(breaker.Config{Name: "provider-a", FailureThreshold: 2})
	fb := fallback.MustNew(fallback.Config{Name: "llm"})
	providerA := func(ctx context.Context) (string, error) {
		return breaker.Do(ctx, breakerA, func(context.Context) (string, error) {
			return "", resilience.Transient(errors.New("provider A: 503"))
		})
	}
	providerB := func(ctx context.Context, err error) (string, error) {
		return "B's answer (A: " + err.Error() + ")", nil
	}
	for range 3 {
		reply, err := fallback.Do(ctx, fb, providerA, providerB)
		fmt.Println(reply, err)
	}
	// Output:
	// B's answer (A: network error: provider A: 503) <nil>
	// B's answer (A: network error: provider A: 503) <nil>
	// B's answer (A: breaker "provider-a" is open) <nil>
}

func ExampleValue() {
	fb := fallback.MustNew(fallback.Config{})
	models, err := fallback.Value(context.Background(), fb, func(context.Context) ([]string, error) {
		return nil, resilience.Transient(errors.New("connection reset"))
	}, []string{"cached-model"})
	fmt.Println(models, err)
	// Output: [cached-model] <nil>
}

func ExampleRun() {
	fb := fallback.MustNew(fallback.Config{Name: "publish"})
	err := fallback.Run(context.Background(), fb,
		func(context.Context) error { return resilience.Transient(errors.New("primary broker unreachable")) },
		func(context.Context, error) error { return errors.New("backup broker unreachable") })
	fmt.Println(err)
	fmt.Println(errors.Is(err, fallback.ErrFailed))
	// Output:
	// fallback "publish": alternative failed: backup broker unreachable; after: network error: primary broker unreachable
	// true
}

func ExampleFallback_Execute() {
	// As a Policy, the alternative comes from the Config; composed outside
	// a breaker, every call that fails or is rejected goes to the backup.
	sent := 0
	fb := fallback.MustNew(fallback.Config{
		Alternative: func(ctx context.Context, err error) error {
			sent++ // send through the backup queue
			return nil
		},
	})
	p := resilience.Compose(fb, breaker.MustNew(breaker.Config{FailureThreshold: 1}))
	for range 3 {
		err := resilience.Run(context.Background(), p, func(context.Context) error {
			return resilience.Transient(errors.New("queue full"))
		})
		fmt.Println(err)
	}
	fmt.Println("sent through the backup:", sent)
	// Output:
	// <nil>
	// <nil>
	// <nil>
	// sent through the backup: 3
}

func ExampleFallback_Handles() {
	fb := fallback.MustNew(fallback.Config{On: []resilience.Class{resilience.ClassTransient}})
	fmt.Println(fb.Handles(resilience.Transient(errors.New("timeout"))))
	fmt.Println(fb.Handles(errors.New("400 bad request")))
	// Output:
	// true
	// false
}

func ExampleNew() {
	_, err := fallback.New(fallback.Config{On: []resilience.Class{resilience.ClassSuccess}})
	fmt.Println(err)
	// Output: fallback: On[0] is ClassSuccess: a success never falls back
}

package breaker_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
)

// A breaker rolled out in shadow mode: it opens, and says what it would
// have rejected, but every call runs. Turned on with Reconfigure, it
// rejects from the next call, in the state it has reached.
func ExampleBreaker_Reconfigure() {
	cfg := breaker.Config{
		Name:             "llm-api",
		FailureThreshold: 2,
		Shadow:           true,
		Observer: &resilience.Observer{
			StateChange: func(e resilience.Event) { fmt.Println("state:", e.To, "shadow:", e.Shadow) },
			Reject:      func(e resilience.Event) { fmt.Println("reject, shadow:", e.Shadow) },
		},
	}
	b := breaker.MustNew(cfg)
	down := func(context.Context) error { return resilience.Transient(errors.New("503")) }
	for range 3 {
		fmt.Println("ran:", breaker.Run(context.Background(), b, down) != nil)
	}

	cfg.Shadow = false
	if err := b.Reconfigure(cfg); err != nil {
		panic(err)
	}
	err := breaker.Run(context.Background(), b, down)
	fmt.Println(errors.Is(err, breaker.ErrOpen), b.Snapshot().ShadowRejected, b.Snapshot().Rejected)
	// Output:
	// ran: true
	// state: open shadow: true
	// ran: true
	// reject, shadow: true
	// ran: true
	// reject, shadow: false
	// true 1 1
}

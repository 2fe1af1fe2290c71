package reconnect_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/reconnect"
)

// Session stands in for a client library's connection, such as a *nats.Conn.
type Session struct{ id int }

// A supervisor dials until a dial succeeds, serves the connection, and dials
// again when it is lost, until its context ends. Here the waits are zero and
// MinUptime is off, so that the example runs at once; a real program keeps
// the defaults, or a backoff and a breaker of its own.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sup := reconnect.MustNew[*Session](reconnect.Config{
		Name:      "broker",
		Backoff:   backoff.Constant(0),
		MinUptime: -1,
		Observer: &resilience.Observer{
			DialFailed: func(e resilience.Event) { fmt.Printf("dial failed (%d in a row): %v\n", e.Attempt, e.Err) },
			Connected:  func(e resilience.Event) { fmt.Printf("connected at dial %d of the outage\n", e.Attempt) },
			Lost:       func(e resilience.Event) { fmt.Println("lost:", e.Err) },
		},
	})
	dials := 0
	dial := func(ctx context.Context, lost func(error)) (*Session, error) {
		// A real dial passes lost to the client's connection-lost callback.
		dials++
		if dials <= 2 {
			return nil, errors.New("connection refused")
		}
		return &Session{id: dials}, nil
	}
	serve := func(ctx context.Context, s *Session) error {
		if s.id == 3 {
			return errors.New("broker went away") // lost: dial again
		}
		if c, ok := sup.Conn(); ok {
			fmt.Println("publishing on session", c.id)
		}
		cancel() // the program shuts down
		<-ctx.Done()
		return nil
	}
	err := sup.Run(ctx, dial, serve)
	fmt.Println("Run:", err)
	// Output:
	// dial failed (1 in a row): connection refused
	// dial failed (2 in a row): connection refused
	// connected at dial 3 of the outage
	// lost: broker went away
	// connected at dial 1 of the outage
	// publishing on session 4
	// lost: context canceled
	// Run: context canceled
}

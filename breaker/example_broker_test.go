package breaker_test

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
)

// localBroker stands in for a message broker: a TCP server on a loopback
// port that can go away and come back on the same address.
type localBroker struct {
	addr string // fixed by the first up
	ln   net.Listener
	wg   sync.WaitGroup // the accept loop
}

// up starts listening: on a free port the first time, on the same address
// after that.
func (s *localBroker) up() error {
	addr := s.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.ln, s.addr = ln, ln.Addr().String()
	s.wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // the listener is closed
			}
			conn.Close()
		}
	})
	return nil
}

// down stops listening, so that connections are refused.
func (s *localBroker) down() {
	s.ln.Close()
	s.wg.Wait()
}

// The original design's use: a connector to a message broker guards its
// connection attempts with a breaker, so that while the broker is down it
// stops dialling and fails fast, and it tries again with one probe after the
// recovery timeout. A connection's failure may show only later, so the
// connector uses the two-step API — AllowAt for a permit, DoneAt with the
// outcome — rather than wrapping a function. The breaker runs on a virtual
// clock, moved by hand; nothing sleeps.
func Example_broker() {
	b := breaker.MustNew(breaker.Config{
		Name:             "broker",
		FailureThreshold: 2,
		RecoveryTimeout:  30 * time.Second,
	})
	now := time.Now() // the breaker's clock in this example
	srv := &localBroker{}
	dials := 0

	connect := func() {
		permit, err := b.AllowAt(now)
		if err != nil {
			var open *breaker.Error
			if errors.As(err, &open) {
				fmt.Printf("connect: rejected without dialling, probe allowed in %v\n", open.Until.Sub(now))
			}
			return
		}
		dials++
		conn, err := net.DialTimeout("tcp", srv.addr, time.Second)
		if err == nil {
			conn.Close()
		}
		permit.DoneAt(now, err)
		if err != nil {
			fmt.Printf("connect: %v failure; breaker %v\n", resilience.Classify(err), b.StateAt(now))
			return
		}
		fmt.Printf("connect: ok; breaker %v\n", b.StateAt(now))
	}

	if err := srv.up(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("broker up")
	connect()

	srv.down()
	fmt.Println("broker down")
	connect() // refused: one failure
	connect() // refused: the second in a row opens the breaker
	connect() // not even tried
	fmt.Println("dials so far:", dials)

	now = now.Add(31 * time.Second)
	fmt.Println("31s later: breaker", b.StateAt(now))

	if err := srv.up(); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.down()
	fmt.Println("broker up again")
	connect() // the probe
	fmt.Println("dials so far:", dials)

	// Output:
	// broker up
	// connect: ok; breaker closed
	// broker down
	// connect: transient failure; breaker closed
	// connect: transient failure; breaker open
	// connect: rejected without dialling, probe allowed in 30s
	// dials so far: 3
	// 31s later: breaker half-open
	// broker up again
	// connect: ok; breaker closed
	// dials so far: 4
}

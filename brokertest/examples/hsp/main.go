// Command hsp is the HSPConnector of the original design: a client that
// keeps its connection to a message broker through the broker's restart,
// with a circuit breaker guarding its connection attempts. A
// reconnect.Supervisor does the work; the connector only says how to dial,
// what to do with each new connection (subscribe), and how to publish.
//
// It needs nothing but Go: the broker is a NATS server embedded in the
// program, on a free loopback port, which the program stops and starts again
// on the same port to show the reconnect. It prints what the supervisor and
// the breaker did.
//
// Usage:
//
//	go run ./examples/hsp        (from the brokertest folder)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/reconnect"
)

func main() {
	if err := run(os.Stdout, time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "hsp:", err)
		os.Exit(1)
	}
}

// minUptime is the connector's MinUptime: short, for the demonstration.
const minUptime = 200 * time.Millisecond

// ErrNotConnected is what Publish returns while there is no connection.
var ErrNotConnected = errors.New("hsp: not connected to the broker")

// HSPConnector keeps a connection to a NATS broker and delivers the
// messages of its subject to Messages.
type HSPConnector struct {
	url      string
	subject  string
	sup      *reconnect.Supervisor[*nats.Conn]
	Messages chan string
}

// NewHSPConnector returns a connector to the broker at url for subject,
// whose connection attempts go through br.
func NewHSPConnector(url, subject string, br *breaker.Breaker, obs *resilience.Observer) *HSPConnector {
	return &HSPConnector{
		url:     url,
		subject: subject,
		sup: reconnect.MustNew[*nats.Conn](reconnect.Config{
			Name:    "hsp",
			Breaker: br,
			// Short timings, so that the demonstration takes a second or
			// two; the defaults (100ms to 10s, MinUptime 10s) suit most
			// programs.
			Backoff:   backoff.Exponential{Base: 50 * time.Millisecond, Max: 200 * time.Millisecond},
			MinUptime: minUptime,
			Observer:  obs,
		}),
		Messages: make(chan string, 16),
	}
}

// Run keeps the connection until ctx ends.
func (h *HSPConnector) Run(ctx context.Context) error {
	return h.sup.Run(ctx, h.dial, h.serve)
}

// dial connects with nats.go's own reconnecting off (the supervisor does
// it) and hands the connection's loss to the supervisor.
func (h *HSPConnector) dial(ctx context.Context, lost func(error)) (*nats.Conn, error) {
	return nats.Connect(h.url,
		nats.NoReconnect(),
		nats.Timeout(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { lost(err) }),
		nats.ClosedHandler(func(*nats.Conn) { lost(nil) }),
	)
}

// serve subscribes each new connection, holds it until it is lost or the
// connector stops, and closes it.
func (h *HSPConnector) serve(ctx context.Context, nc *nats.Conn) error {
	defer nc.Close()
	if _, err := nc.Subscribe(h.subject, func(m *nats.Msg) { h.Messages <- string(m.Data) }); err != nil {
		return err
	}
	if err := nc.FlushTimeout(time.Second); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// Publish sends data on the live connection.
func (h *HSPConnector) Publish(data string) error {
	nc, ok := h.sup.Conn()
	if !ok {
		return ErrNotConnected
	}
	return nc.Publish(h.subject, []byte(data))
}

// run is the demonstration: connect, exchange a message, lose the broker for
// down, get it back, exchange another.
func run(out io.Writer, down time.Duration) error {
	start := time.Now()
	var mu sync.Mutex // the observer's funcs run on the supervisor's and the breaker's callers' goroutines
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, "%6.2fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	connected := make(chan struct{}, 10)
	obs := &resilience.Observer{
		Connected: func(e resilience.Event) {
			say("supervisor: connected at dial %d, after %v without a connection", e.Attempt, e.Delay.Round(time.Millisecond))
			connected <- struct{}{}
		},
		Lost: func(e resilience.Event) {
			early := ""
			if e.Reason == "early" {
				early = " (within MinUptime: counts as a failed dial)"
			}
			say("supervisor: connection lost after %v%s: %v", e.Delay.Round(time.Millisecond), early, e.Err)
		},
		DialFailed: func(e resilience.Event) {
			say("supervisor: dial failed (%d in a row), next in %v: %v", e.Attempt, e.Delay.Round(time.Millisecond), e.Err)
		},
		StateChange: func(e resilience.Event) { say("breaker: %s -> %s", e.From, e.To) },
	}
	br := breaker.MustNew(breaker.Config{Name: "hsp", FailureThreshold: 3, RecoveryTimeout: 300 * time.Millisecond, Observer: obs})

	port, err := freePort()
	if err != nil {
		return err
	}
	ns, err := startBroker(port)
	if err != nil {
		return err
	}
	say("broker: up on 127.0.0.1:%d", port)

	h := NewHSPConnector(fmt.Sprintf("nats://127.0.0.1:%d", port), "hsp.events", br, obs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	stop := func() error {
		cancel()
		return <-done
	}

	if err := exchange(h, connected, "hello", say); err != nil {
		stop()
		ns.Shutdown()
		return err
	}

	// Serve a while: past MinUptime, the breaker hears that the connection
	// lasted.
	time.Sleep(2 * minUptime)
	say("broker: stopping for %v", down)
	ns.Shutdown()
	ns.WaitForShutdown()
	time.Sleep(down)
	say("broker: starting again on the same port")
	if ns, err = startBroker(port); err != nil {
		stop()
		return err
	}
	defer func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	}()

	if err := exchange(h, connected, "hello again", say); err != nil {
		stop()
		return err
	}
	time.Sleep(2 * minUptime)
	if err := stop(); !errors.Is(err, context.Canceled) {
		return err
	}
	s := h.sup.Snapshot()
	say("done: %d dials, %d connections; the breaker opened %d times", s.Dials, s.Connections, br.Snapshot().Opened)
	return nil
}

// exchange waits for the connector to connect, publishes text and waits for
// it to come back.
func exchange(h *HSPConnector, connected <-chan struct{}, text string, say func(string, ...any)) error {
	select {
	case <-connected:
	case <-time.After(5 * time.Second):
		return errors.New("not connected within 5s")
	}
	deadline := time.After(5 * time.Second)
	for {
		if err := h.Publish(text); err == nil {
			select {
			case got := <-h.Messages:
				say("connector: published and received %q", got)
				return nil
			case <-time.After(100 * time.Millisecond):
			}
		}
		select {
		case <-deadline:
			return fmt.Errorf("no round trip of %q within 5s", text)
		default:
		}
	}
}

// startBroker runs an embedded NATS server on 127.0.0.1:port.
func startBroker(port int) (*server.Server, error) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		return nil, err
	}
	go ns.Start()
	if !ns.ReadyForConnections(5 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("the broker did not start within 5s")
	}
	return ns, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

package brokertest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/reconnect"
)

const subject = "hsp.test"

// startNATS runs an embedded nats-server on 127.0.0.1:port.
func startNATS(t *testing.T, port int) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(5 * time.Second) {
		ns.Shutdown()
		t.Fatal("nats-server not ready within 5s")
	}
	return ns
}

func stopNATS(ns *server.Server) {
	ns.Shutdown()
	ns.WaitForShutdown()
}

// natsDial connects to url with the client's own reconnecting turned off,
// and reports the connection's loss to the supervisor.
func natsDial(url string) func(context.Context, func(error)) (*nats.Conn, error) {
	return func(ctx context.Context, lost func(error)) (*nats.Conn, error) {
		return nats.Connect(url,
			nats.NoReconnect(),
			nats.Timeout(time.Second),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { lost(err) }),
			nats.ClosedHandler(func(*nats.Conn) { lost(nil) }),
		)
	}
}

// natsServe subscribes each new connection to subject, delivering to msgs,
// and closes the connection when it ends.
func natsServe(msgs chan<- string) func(context.Context, *nats.Conn) error {
	return func(ctx context.Context, nc *nats.Conn) error {
		defer nc.Close()
		if _, err := nc.Subscribe(subject, func(m *nats.Msg) {
			select {
			case msgs <- string(m.Data):
			default:
			}
		}); err != nil {
			return err
		}
		if err := nc.FlushTimeout(time.Second); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	}
}

// natsRoundTrip publishes on the supervisor's connection until the message
// comes back through the subscription, for up to 3s.
func natsRoundTrip(t *testing.T, sup *reconnect.Supervisor[*nats.Conn], msgs <-chan string, text string) {
	t.Helper()
	deadline := time.After(3 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if nc, ok := sup.Conn(); ok {
			_ = nc.Publish(subject, []byte(text))
		}
		select {
		case got := <-msgs:
			if got == text {
				return
			}
		case <-tick.C:
		case <-deadline:
			t.Fatalf("no round trip of %q within 3s", text)
		}
	}
}

// waitFor polls cond every 5ms for up to limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runSupervisor runs sup.Run on a goroutine and returns a func that stops it
// and returns Run's error.
func runSupervisor[C any](sup *reconnect.Supervisor[C], dial func(context.Context, func(error)) (C, error), serve func(context.Context, C) error) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx, dial, serve) }()
	return func() error {
		cancel()
		return <-done
	}
}

// TestNATSDownStartedKilledRestarted: the broker is down at start, so the
// breaker opens and probes once per recovery timeout; once it is started the
// supervisor connects within a probe interval; when it is stopped and
// started again on the same port the supervisor reconnects and the round
// trip works again.
func TestNATSDownStartedKilledRestarted(t *testing.T) {
	port := freePort(t)
	url := fmt.Sprintf("nats://%s", hostPort(port))
	w := newWatch()
	br := newBreaker(t, "nats")
	sup := reconnect.MustNew[*nats.Conn](supervisorConfig("nats", br, w))
	msgs := make(chan string, 16)
	dial := natsDial(url)
	start := time.Now()
	stop := runSupervisor(sup, func(ctx context.Context, lost func(error)) (*nats.Conn, error) {
		w.dialed()
		return dial(ctx, lost)
	}, natsServe(msgs))
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	// Down at start.
	waitFor(t, 5*time.Second, "the breaker's probes", func() bool { return len(w.dialTimes()) >= threshold+3 })
	checkProbes(t, w.dialTimes(), time.Since(start))
	if st := br.State(); st == breaker.Closed {
		t.Fatalf("breaker %v after the broker was down; want open or half-open", st)
	}
	// It waited out the open breaker rather than asking it again and again.
	if n := br.Snapshot().Rejected; n != 0 {
		t.Errorf("the breaker rejected %d dials; the supervisor should wait until it allows a probe", n)
	}

	// Started: connected within one probe interval.
	ns := startNATS(t, port)
	if d := w.waitConnected(t, 3*time.Second); d > recovery+300*time.Millisecond {
		t.Errorf("connected %v after the broker started; want within the %v probe interval", d, recovery)
	}
	natsRoundTrip(t, sup, msgs, "before the restart")
	waitFor(t, 2*time.Second, "the breaker closing after MinUptime", func() bool { return br.State() == breaker.Closed })

	// Stopped and started again on the same port.
	stopNATS(ns)
	ns = startNATS(t, port)
	defer stopNATS(ns)
	w.waitConnected(t, 5*time.Second)
	natsRoundTrip(t, sup, msgs, "after the restart")
	if lost := w.losses(); len(lost) != 1 || lost[0].Reason != "" {
		t.Errorf("losses %+v; want one, not early", lost)
	}
	stopped = true
	if err := stop(); err != context.Canceled {
		t.Errorf("Run = %v; want context.Canceled", err)
	}
}

// TestNATSAcceptAndDrop: a plain TCP listener that closes every connection
// at once: each dial fails, the breaker opens, and the listener sees exactly
// the supervisor's dials (the client does not retry on its own).
func TestNATSAcceptAndDrop(t *testing.T) {
	d := newDropper(t, "", 0)
	w := newWatch()
	br := newBreaker(t, "nats-drop")
	sup := reconnect.MustNew[*nats.Conn](supervisorConfig("nats-drop", br, w))
	dial := natsDial("nats://" + d.addr())
	start := time.Now()
	stop := runSupervisor(sup, func(ctx context.Context, lost func(error)) (*nats.Conn, error) {
		w.dialed()
		return dial(ctx, lost)
	}, natsServe(make(chan string, 1)))
	waitFor(t, 5*time.Second, "the breaker's probes", func() bool { return len(w.dialTimes()) >= threshold+3 })
	span := time.Since(start)
	stop()
	dials := w.dialTimes()
	checkProbes(t, dials, span)
	if n := d.accepted.Load(); n != int64(len(dials)) {
		t.Errorf("the listener accepted %d connections for %d dials", n, len(dials))
	}
	if snap := sup.Snapshot(); snap.Connections != 0 {
		t.Errorf("snapshot %+v: a connection to a listener that drops everything", snap)
	}
}

// TestNATSDroppedAfterHandshake: a proxy in front of a real server cuts
// every connection 100ms after it was made. Every handshake succeeds, but
// each connection dies within MinUptime, so each counts as a failure: the
// breaker opens and the dials are bounded as if every dial had failed.
func TestNATSDroppedAfterHandshake(t *testing.T) {
	ns := startNATS(t, freePort(t))
	defer stopNATS(ns)
	d := newDropper(t, ns.Addr().String(), 100*time.Millisecond)
	w := newWatch()
	br := newBreaker(t, "nats-flaky")
	sup := reconnect.MustNew[*nats.Conn](supervisorConfig("nats-flaky", br, w))
	dial := natsDial("nats://" + d.addr())
	var connects atomic.Int64
	start := time.Now()
	stop := runSupervisor(sup, func(ctx context.Context, lost func(error)) (*nats.Conn, error) {
		w.dialed()
		nc, err := dial(ctx, lost)
		if err == nil {
			connects.Add(1)
		}
		return nc, err
	}, natsServe(make(chan string, 1)))
	waitFor(t, 5*time.Second, "the breaker's probes", func() bool { return len(w.losses()) >= threshold+2 })
	span := time.Since(start)
	stop()
	checkProbes(t, w.dialTimes(), span)
	lost := w.losses()
	for _, e := range lost[:len(lost)-1] { // the last may be the one Run's end cut
		if e.Reason != "early" {
			t.Errorf("loss after %v: reason %q; want early", e.Delay, e.Reason)
		}
	}
	if connects.Load() < threshold+1 {
		t.Errorf("%d handshakes succeeded; the proxy should let every one through", connects.Load())
	}
	if snap := br.Snapshot(); snap.Opened == 0 {
		t.Errorf("breaker %+v: early losses never opened it", snap)
	}
}

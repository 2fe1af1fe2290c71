package brokertest

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/reconnect"
)

// Short timings for the chaos tests, so that the whole module runs in
// seconds.
const (
	recovery  = 400 * time.Millisecond // the breaker's recovery timeout
	threshold = 3                      // failures in a row that open it
	minUptime = 300 * time.Millisecond // a connection lost sooner is a failure
)

// quick is the backoff of the tests: 20ms, doubling, capped at 100ms, no
// jitter.
var quick = backoff.Exponential{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond, Jitter: backoff.NoJitter}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// watch records what a supervisor did, through its Observer.
type watch struct {
	mu        sync.Mutex
	dials     []time.Time // every dial, failed or not
	connected chan struct{}
	lost      []resilience.Event
}

func newWatch() *watch { return &watch{connected: make(chan struct{}, 100)} }

// dialed notes a dial; call it at the start of the dial func.
func (w *watch) dialed() {
	w.mu.Lock()
	w.dials = append(w.dials, time.Now())
	w.mu.Unlock()
}

func (w *watch) dialTimes() []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Time(nil), w.dials...)
}

func (w *watch) losses() []resilience.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]resilience.Event(nil), w.lost...)
}

func (w *watch) observer() *resilience.Observer {
	return &resilience.Observer{
		Connected: func(resilience.Event) { w.connected <- struct{}{} },
		Lost: func(e resilience.Event) {
			w.mu.Lock()
			w.lost = append(w.lost, e)
			w.mu.Unlock()
		},
	}
}

// waitConnected waits for the next Connected event, up to limit.
func (w *watch) waitConnected(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-w.connected:
		return time.Since(start)
	case <-time.After(limit):
		t.Fatalf("not connected within %v", limit)
		return 0
	}
}

// newBreaker is the breaker of the chaos tests.
func newBreaker(t *testing.T, name string) *breaker.Breaker {
	t.Helper()
	b, err := breaker.New(breaker.Config{Name: name, FailureThreshold: threshold, RecoveryTimeout: recovery})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkProbes checks the dials made while the broker was unreachable: the
// first threshold ones open the breaker, and after them no two dials come
// closer than the recovery timeout, and no more come than one per recovery
// timeout over the span.
func checkProbes(t *testing.T, dials []time.Time, span time.Duration) {
	t.Helper()
	if len(dials) < threshold+1 {
		t.Fatalf("%d dials in %v; want the %d that open the breaker and a probe after them", len(dials), span, threshold)
	}
	for i := threshold; i < len(dials); i++ {
		if gap := dials[i].Sub(dials[i-1]); gap < recovery {
			t.Errorf("dial %d came %v after the one before; the breaker allows one per %v", i+1, gap, recovery)
		}
	}
	if most := threshold + int(span/recovery) + 1; len(dials) > most {
		t.Errorf("%d dials in %v; want at most %d", len(dials), span, most)
	}
}

// dropper is a plain TCP listener that accepts connections and closes them
// at once, or, with a target, forwards them to the target and cuts them
// after a while: a broker that accepts and drops.
type dropper struct {
	ln       net.Listener
	target   string        // "" to drop at once
	after    time.Duration // with a target: when to cut
	accepted atomic.Int64
	wg       sync.WaitGroup
}

func newDropper(t *testing.T, target string, after time.Duration) *dropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &dropper{ln: ln, target: target, after: after}
	d.wg.Go(d.serve)
	t.Cleanup(d.close)
	return d
}

func (d *dropper) addr() string { return d.ln.Addr().String() }

func (d *dropper) serve() {
	for {
		c, err := d.ln.Accept()
		if err != nil {
			return
		}
		d.accepted.Add(1)
		if d.target == "" {
			c.Close()
			continue
		}
		d.wg.Go(func() { d.forward(c) })
	}
}

// forward pipes c to the target until after has passed, then cuts both.
func (d *dropper) forward(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", d.target)
	if err != nil {
		return
	}
	defer up.Close()
	cut := time.AfterFunc(d.after, func() { c.Close(); up.Close() })
	defer cut.Stop()
	var pipes sync.WaitGroup
	pipes.Go(func() { copyClose(up, c) })
	pipes.Go(func() { copyClose(c, up) })
	pipes.Wait()
}

func copyClose(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
}

func (d *dropper) close() {
	d.ln.Close()
	d.wg.Wait()
}

// supervisorConfig is the supervisor of the chaos tests.
func supervisorConfig(name string, b *breaker.Breaker, w *watch) reconnect.Config {
	return reconnect.Config{Name: name, Backoff: quick, Breaker: b, MinUptime: minUptime, Observer: w.observer()}
}

func netDial(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, time.Second) }

package reconnect_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/reconnect"
)

// conn stands in for a client's connection.
type conn struct{ id int }

var errRefused = resilience.Transient(errors.New("connection refused"))

// steady is a backoff without jitter: 100ms, doubling, capped at 1s.
var steady = backoff.Exponential{Base: 100 * time.Millisecond, Max: time.Second, Jitter: backoff.NoJitter}

// recorder notes when each dial happened, as offsets from its start.
type recorder struct {
	start time.Time
	mu    sync.Mutex
	at    []time.Duration
}

func newRecorder() *recorder { return &recorder{start: time.Now()} }

func (r *recorder) note() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.at = append(r.at, time.Since(r.start))
	return len(r.at)
}

func (r *recorder) times() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.at)
}

func ms(list ...float64) []time.Duration {
	var d []time.Duration
	for _, x := range list {
		d = append(d, time.Duration(x*float64(time.Millisecond)))
	}
	return d
}

// blockServe holds the connection until it is lost or the run ends.
func blockServe(ctx context.Context, c *conn) error {
	<-ctx.Done()
	return nil
}

func mustNewBreaker(t *testing.T, cfg breaker.Config) *breaker.Breaker {
	t.Helper()
	b, err := breaker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBreakerOpensThenOneDialPerRecoveryTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		br := mustNewBreaker(t, breaker.Config{FailureThreshold: 3, RecoveryTimeout: 10 * time.Second})
		s := reconnect.MustNew[*conn](reconnect.Config{Backoff: steady, Breaker: br})
		rec := newRecorder()
		ctx, cancel := context.WithTimeout(t.Context(), 65*time.Second)
		defer cancel()
		err := s.Run(ctx, func(ctx context.Context, lost func(error)) (*conn, error) {
			rec.note()
			return nil, errRefused
		}, blockServe)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run = %v; want the context's deadline", err)
		}
		// Three failures 100ms and 200ms apart open the breaker for 10s;
		// from then on one probe per recovery timeout, each failing.
		want := ms(0, 100, 300, 10300, 20300, 30300, 40300, 50300, 60300)
		if got := rec.times(); !slices.Equal(got, want) {
			t.Fatalf("dials at %v; want %v", got, want)
		}
		if snap := s.Snapshot(); snap.Dials != 9 || snap.ConsecutiveFailures != 9 || !errors.Is(snap.LastErr, errRefused) || snap.State != reconnect.Idle {
			t.Fatalf("snapshot %+v", snap)
		}
	})
}

func TestEarlyLossCountsAsAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		br := mustNewBreaker(t, breaker.Config{FailureThreshold: 3, RecoveryTimeout: 10 * time.Second})
		var losses []string
		s := reconnect.MustNew[*conn](reconnect.Config{Backoff: steady, Breaker: br, MinUptime: time.Second,
			Observer: &resilience.Observer{Lost: func(e resilience.Event) { losses = append(losses, e.Reason) }}})
		rec := newRecorder()
		ctx, cancel := context.WithTimeout(t.Context(), 25*time.Second)
		defer cancel()
		err := s.Run(ctx, func(ctx context.Context, lost func(error)) (*conn, error) {
			return &conn{id: rec.note()}, nil
		}, func(ctx context.Context, c *conn) error {
			time.Sleep(10 * time.Millisecond)
			return errors.New("broker closed the connection")
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run = %v", err)
		}
		// Each connection dies 10ms after its handshake: three of them open
		// the breaker, which then lets one probe through per 10s.
		want := ms(0, 110, 320, 10330, 20340)
		if got := rec.times(); !slices.Equal(got, want) {
			t.Fatalf("dials at %v; want %v", got, want)
		}
		if snap := br.Snapshot(); snap.State != breaker.Open || snap.Opened != 3 {
			t.Fatalf("breaker %+v; want open, after three openings", snap)
		}
		if want := []string{"early", "early", "early", "early", "early"}; !slices.Equal(losses, want) {
			t.Fatalf("losses %q; want %q", losses, want)
		}
		if snap := s.Snapshot(); snap.ConsecutiveFailures != 5 || snap.Connections != 5 {
			t.Fatalf("snapshot %+v; want 5 connections, each a failure", snap)
		}
	})
}

func TestLongUptimeResetsTheBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := reconnect.MustNew[*conn](reconnect.Config{Backoff: steady, MinUptime: time.Second})
		rec := newRecorder()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		fail := map[int]bool{1: true, 2: true, 3: true, 5: true}
		go func() {
			time.Sleep(time.Minute)
			cancel()
		}()
		err := s.Run(ctx, func(ctx context.Context, lost func(error)) (*conn, error) {
			n := rec.note()
			if fail[n] {
				return nil, errRefused
			}
			return &conn{id: n}, nil
		}, func(ctx context.Context, c *conn) error {
			if c.id == 4 {
				time.Sleep(5 * time.Second) // lasts past MinUptime
				return errors.New("dropped")
			}
			<-ctx.Done()
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v", err)
		}
		// Failures wait 100, 200, 400ms; after a connection of 5s the next
		// dial goes at once, and its failure waits 100ms again.
		want := ms(0, 100, 300, 700, 5700, 5800)
		if got := rec.times(); !slices.Equal(got, want) {
			t.Fatalf("dials at %v; want %v", got, want)
		}
	})
}

// The trap of the two-step API: a probe's permit held for the connection's
// life would reopen the breaker at ProbeTimeout. The supervisor releases it
// at the handshake and records the verdict at MinUptime.
func TestHealthyConnectionKeepsTheBreakerFromReopening(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		br := mustNewBreaker(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second, ProbeTimeout: 2 * time.Second})
		s := reconnect.MustNew[*conn](reconnect.Config{Backoff: steady, Breaker: br, MinUptime: 5 * time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		rec := newRecorder()
		done := make(chan error)
		go func() {
			done <- s.Run(ctx, func(ctx context.Context, lost func(error)) (*conn, error) {
				if rec.note() == 1 {
					return nil, errRefused
				}
				return &conn{}, nil
			}, blockServe)
		}()
		states := map[time.Duration]breaker.State{
			500 * time.Millisecond: breaker.Open,     // after the failed dial
			3 * time.Second:        breaker.HalfOpen, // the probe connected at 1s, past its ProbeTimeout
			7 * time.Second:        breaker.Closed,   // it lasted MinUptime
			time.Hour:              breaker.Closed,
		}
		var last time.Duration
		for _, at := range slices.Sorted(maps.Keys(states)) {
			time.Sleep(at - last)
			last = at
			synctest.Wait()
			if got := br.State(); got != states[at] {
				t.Fatalf("breaker %v at %v; want %v", got, at, states[at])
			}
		}
		if got := rec.times(); !slices.Equal(got, ms(0, 1000)) {
			t.Fatalf("dials at %v; want one failure and one probe", got)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v", err)
		}
	})
}

func TestContextEndedBeforeRun(t *testing.T) {
	s := reconnect.MustNew[*conn](reconnect.Config{})
	why := errors.New("shutting down")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(why)
	dials := 0
	err := s.Run(ctx, func(context.Context, func(error)) (*conn, error) { dials++; return &conn{}, nil }, blockServe)
	if err != why || dials != 0 {
		t.Fatalf("Run = %v after %d dials; want the cause and no dial", err, dials)
	}
}

func TestContextEndsWhileDialing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		br := mustNewBreaker(t, breaker.Config{FailureThreshold: 1})
		s := reconnect.MustNew[*conn](reconnect.Config{Breaker: br})
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		start := time.Now()
		err := s.Run(ctx, func(ctx context.Context, _ func(error)) (*conn, error) {
			<-ctx.Done()
			return nil, fmt.Errorf("dial: %w", ctx.Err())
		}, blockServe)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 3*time.Second {
			t.Fatalf("Run = %v after %v; want the deadline at 3s", err, time.Since(start))
		}
		if st := br.State(); st != breaker.Closed {
			t.Fatalf("the caller's own deadline counted against the breaker: %v", st)
		}
	})
}

func TestContextEndsWhileWaiting(t *testing.T) {
	for _, withBreaker := range []bool{false, true} {
		t.Run(fmt.Sprint("breaker=", withBreaker), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := reconnect.Config{Backoff: backoff.Constant(time.Minute)}
				if withBreaker {
					cfg.Backoff = nil
					cfg.Breaker = mustNewBreaker(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Hour})
				}
				s := reconnect.MustNew[*conn](cfg)
				ctx, cancel := context.WithCancel(t.Context())
				time.AfterFunc(5*time.Second, cancel)
				start := time.Now()
				dials := 0
				err := s.Run(ctx, func(context.Context, func(error)) (*conn, error) { dials++; return nil, errRefused }, blockServe)
				if !errors.Is(err, context.Canceled) || time.Since(start) != 5*time.Second || dials != 1 {
					t.Fatalf("Run = %v after %v and %d dials; want Canceled at 5s after one dial", err, time.Since(start), dials)
				}
			})
		})
	}
}

func TestBadArguments(t *testing.T) {
	s := reconnect.MustNew[*conn](reconnect.Config{})
	dial := func(context.Context, func(error)) (*conn, error) { return &conn{}, nil }
	ctx := context.Background()
	if err := s.Run(ctx, nil, blockServe); !errors.Is(err, resilience.ErrNilFunc) {
		t.Errorf("nil dial: %v", err)
	}
	if err := s.Run(ctx, dial, nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Errorf("nil serve: %v", err)
	}
	//lint:ignore SA1012 a nil context is what is tested
	if err := s.Run(nil, dial, blockServe); !errors.Is(err, resilience.ErrNilContext) { //nolint:staticcheck
		t.Errorf("nil ctx: %v", err)
	}
	var nilS *reconnect.Supervisor[*conn]
	if err := nilS.Run(ctx, dial, blockServe); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Errorf("nil supervisor: %v", err)
	}
	if c, ok := nilS.Conn(); c != nil || ok || nilS.Name() != "" || nilS.Snapshot() != (reconnect.Snapshot{}) {
		t.Error("a nil supervisor reports something")
	}
	for _, cfg := range []reconnect.Config{
		{MaxAttempts: -1},
		{Backoff: backoff.Exponential{Base: -time.Second}},
	} {
		if _, err := reconnect.New[*conn](cfg); err == nil {
			t.Errorf("New(%+v) accepted it", cfg)
		}
	}
}

func TestNilConnectionIsAnError(t *testing.T) {
	s := reconnect.MustNew[*conn](reconnect.Config{})
	err := s.Run(context.Background(), func(context.Context, func(error)) (*conn, error) { return nil, nil }, blockServe)
	if !errors.Is(err, reconnect.ErrNilConn) {
		t.Fatalf("nil *conn: %v", err)
	}
	type client interface{ Close() }
	si := reconnect.MustNew[client](reconnect.Config{})
	err = si.Run(context.Background(), func(context.Context, func(error)) (client, error) { return nil, nil },
		func(ctx context.Context, c client) error { return nil })
	if !errors.Is(err, reconnect.ErrNilConn) {
		t.Fatalf("nil interface: %v", err)
	}
}

func TestDialPanicGoesOnAndCountsAsFailure(t *testing.T) {
	br := mustNewBreaker(t, breaker.Config{FailureThreshold: 1})
	s := reconnect.MustNew[*conn](reconnect.Config{Breaker: br})
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v; want the dial's panic", r)
			}
		}()
		_ = s.Run(context.Background(), func(context.Context, func(error)) (*conn, error) { panic("boom") }, blockServe)
	}()
	if st := br.State(); st != breaker.Open {
		t.Fatalf("breaker %v after a panicking dial; want open", st)
	}
	if snap := s.Snapshot(); snap.State != reconnect.Idle {
		t.Fatalf("after the panic: %+v", snap)
	}
	// Run can run again.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx, func(context.Context, func(error)) (*conn, error) { return &conn{}, nil }, blockServe); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after a panic: %v", err)
	}
}

func TestServePanicTakesTheConnectionAway(t *testing.T) {
	s := reconnect.MustNew[*conn](reconnect.Config{})
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v", r)
			}
		}()
		_ = s.Run(context.Background(), func(context.Context, func(error)) (*conn, error) { return &conn{}, nil },
			func(context.Context, *conn) error { panic("boom") })
	}()
	if _, ok := s.Conn(); ok {
		t.Fatal("Conn returns a connection after serve panicked")
	}
}

func TestLostFromAnotherGoroutineAndStaleReports(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := reconnect.MustNew[*conn](reconnect.Config{MinUptime: -1})
		ctx, cancel := context.WithCancel(t.Context())
		var (
			mu    sync.Mutex
			losts []func(error)
			seen  []error
		)
		done := make(chan error)
		go func() {
			done <- s.Run(ctx, func(ctx context.Context, lost func(error)) (*conn, error) {
				mu.Lock()
				defer mu.Unlock()
				losts = append(losts, lost)
				return &conn{id: len(losts)}, nil
			}, func(ctx context.Context, c *conn) error {
				<-ctx.Done()
				mu.Lock()
				seen = append(seen, context.Cause(ctx))
				mu.Unlock()
				return nil
			})
		}()
		synctest.Wait()
		if c, ok := s.Conn(); !ok || c.id != 1 {
			t.Fatalf("Conn = %v, %v; want the first connection", c, ok)
		}
		mu.Lock()
		first := losts[0]
		mu.Unlock()
		why := errors.New("keepalive timeout")
		go first(why) // as a client's callback, on its own goroutine
		synctest.Wait()
		if c, ok := s.Conn(); !ok || c.id != 2 {
			t.Fatalf("Conn = %v, %v; want the second connection", c, ok)
		}
		first(errors.New("late callback")) // the old connection's: ignored
		first(nil)
		synctest.Wait()
		if c, ok := s.Conn(); !ok || c.id != 2 {
			t.Fatalf("a stale report ended the new connection: Conn = %v, %v", c, ok)
		}
		mu.Lock()
		if len(seen) != 1 || !errors.Is(seen[0], reconnect.ErrLost) || !errors.Is(seen[0], why) {
			t.Fatalf("serve saw the causes %v; want one matching ErrLost and the callback's error", seen)
		}
		mu.Unlock()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v", err)
		}
		if _, ok := s.Conn(); ok {
			t.Fatal("Conn returns a connection after Run returned")
		}
	})
}

func TestMaxAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var gaveUp []resilience.Event
		s := reconnect.MustNew[*conn](reconnect.Config{Name: "mq", Backoff: steady, MaxAttempts: 3,
			Observer: &resilience.Observer{GiveUp: func(e resilience.Event) { gaveUp = append(gaveUp, e) }}})
		dials := 0
		err := s.Run(t.Context(), func(context.Context, func(error)) (*conn, error) { dials++; return nil, errRefused }, blockServe)
		var e *reconnect.Error
		if !errors.As(err, &e) || !errors.Is(err, reconnect.ErrGaveUp) || !errors.Is(err, errRefused) || e.Attempts != 3 || dials != 3 {
			t.Fatalf("Run = %v after %d dials; want an *Error after 3", err, dials)
		}
		if want := `reconnect "mq": gave up after 3 failures in a row: network error: connection refused`; err.Error() != want {
			t.Fatalf("message %q; want %q", err.Error(), want)
		}
		if len(gaveUp) != 1 || gaveUp[0].Attempt != 3 || gaveUp[0].Kind != resilience.KindReconnect || gaveUp[0].Policy != "mq" {
			t.Fatalf("GiveUp events %+v", gaveUp)
		}
	})
}

func TestSecondRunIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := reconnect.MustNew[*conn](reconnect.Config{})
		ctx, cancel := context.WithCancel(t.Context())
		dial := func(context.Context, func(error)) (*conn, error) { return &conn{}, nil }
		done := make(chan error)
		go func() { done <- s.Run(ctx, dial, blockServe) }()
		synctest.Wait()
		if err := s.Run(ctx, dial, blockServe); !errors.Is(err, reconnect.ErrRunning) {
			t.Fatalf("second Run = %v", err)
		}
		cancel()
		<-done
	})
}

func TestEventsAndSnapshots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu     sync.Mutex
			events []string
		)
		note := func(e resilience.Event) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, fmt.Sprintf("%v attempt=%d delay=%v reason=%q", e.Type, e.Attempt, e.Delay, e.Reason))
			if e.Kind != resilience.KindReconnect || e.Policy != "mq" || e.Context == nil {
				t.Errorf("event %+v", e)
			}
		}
		br := mustNewBreaker(t, breaker.Config{FailureThreshold: 2, RecoveryTimeout: 3 * time.Second})
		s := reconnect.MustNew[*conn](reconnect.Config{Name: "mq", Backoff: steady, Breaker: br, MinUptime: time.Second,
			Observer: resilience.ObserveAll(note)})
		ctx, cancel := context.WithCancel(t.Context())
		rec := newRecorder()
		done := make(chan error)
		go func() {
			done <- s.Run(ctx, func(ctx context.Context, lost func(error)) (*conn, error) {
				if n := rec.note(); n <= 2 {
					return nil, errRefused
				}
				return &conn{}, nil
			}, blockServe)
		}()
		time.Sleep(time.Second)
		synctest.Wait()
		snap := s.Snapshot()
		if snap.State != reconnect.Waiting || snap.Dials != 2 || snap.ConsecutiveFailures != 2 || !snap.NextDial.Equal(rec.start.Add(3100*time.Millisecond)) {
			t.Fatalf("while waiting for the breaker: %+v", snap)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		snap = s.Snapshot()
		if snap.State != reconnect.Connected || snap.Connections != 1 || snap.ConsecutiveFailures != 0 || snap.Uptime != 7900*time.Millisecond ||
			!snap.ConnectedSince.Equal(rec.start.Add(3100*time.Millisecond)) || snap.Name != "mq" {
			t.Fatalf("while connected: %+v", snap)
		}
		if c, ok := s.Conn(); !ok || c == nil {
			t.Fatal("no connection while connected")
		}
		cancel()
		<-done
		want := []string{
			`dial-failed attempt=1 delay=100ms reason=""`,
			`dial-failed attempt=2 delay=3s reason=""`, // the breaker opened: its recovery timeout
			`connected attempt=3 delay=3.1s reason=""`,
			`lost attempt=0 delay=7.9s reason=""`,
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(events, want) {
			t.Fatalf("events:\n%s\nwant:\n%s", fmt.Sprint(events), fmt.Sprint(want))
		}
	})
}

func TestConnAllocatesNothing(t *testing.T) {
	s := reconnect.MustNew[*conn](reconnect.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	up := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- s.Run(ctx, func(context.Context, func(error)) (*conn, error) { return &conn{id: 7}, nil },
			func(ctx context.Context, c *conn) error {
				close(up)
				<-ctx.Done()
				return nil
			})
	}()
	<-up
	var got *conn
	if n := testing.AllocsPerRun(1000, func() { got, _ = s.Conn() }); n != 0 {
		t.Errorf("Conn allocates %v times per call", n)
	}
	if got == nil || got.id != 7 {
		t.Errorf("Conn = %v", got)
	}
	var snap reconnect.Snapshot
	if n := testing.AllocsPerRun(1000, func() { snap = s.Snapshot() }); n != 0 {
		t.Errorf("Snapshot allocates %v times per call", n)
	}
	if snap.State != reconnect.Connected {
		t.Errorf("Snapshot while connected: %+v", snap)
	}
	cancel()
	<-done
}

func TestStateString(t *testing.T) {
	for st, want := range map[reconnect.State]string{reconnect.Idle: "idle", reconnect.Dialing: "dialing",
		reconnect.Connected: "connected", reconnect.Waiting: "waiting", 9: "State(9)"} {
		if st.String() != want {
			t.Errorf("%d: %q", st, st.String())
		}
	}
}

func BenchmarkConn(b *testing.B) {
	s := reconnect.MustNew[*conn](reconnect.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	up := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- s.Run(ctx, func(context.Context, func(error)) (*conn, error) { return &conn{}, nil },
			func(ctx context.Context, c *conn) error {
				close(up)
				<-ctx.Done()
				return nil
			})
	}()
	<-up
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.Conn(); !ok {
			b.Fatal("no connection")
		}
	}
	cancel()
	<-done
}

// A breaker shared with other callers, opened by them: the supervisor waits
// out the open time the rejection carries, and dials once when it ends.
func TestWaitsOutABreakerOpenedByOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		br := mustNewBreaker(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: 10 * time.Second})
		p, _ := br.Allow()
		p.Done(errRefused) // another caller's failure opens it
		var rejects []resilience.Event
		s := reconnect.MustNew[*conn](reconnect.Config{Breaker: br,
			Observer: &resilience.Observer{Reject: func(e resilience.Event) { rejects = append(rejects, e) }}})
		rec := newRecorder()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		s.Run(ctx, func(context.Context, func(error)) (*conn, error) { rec.note(); return &conn{}, nil }, blockServe)
		if got := rec.times(); !slices.Equal(got, ms(10000)) {
			t.Fatalf("dials at %v; want one, when the breaker allows a probe", got)
		}
		if len(rejects) != 1 || rejects[0].Delay != 10*time.Second || rejects[0].Reason != "breaker" || !errors.Is(rejects[0].Err, breaker.ErrOpen) {
			t.Fatalf("Reject events %+v; want one, waiting 10s", rejects)
		}
		if n := br.Snapshot().Rejected; n != 1 {
			t.Fatalf("the breaker rejected %d dials; want 1", n)
		}
	})
}

// A breaker forced open says no time: the supervisor asks again after a
// backoff that grows, and dials once the breaker is reset.
func TestForcedOpenBreakerIsPolledWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		br := mustNewBreaker(t, breaker.Config{})
		br.ForceOpen()
		s := reconnect.MustNew[*conn](reconnect.Config{Breaker: br, Backoff: steady})
		rec := newRecorder()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			done <- s.Run(ctx, func(context.Context, func(error)) (*conn, error) { rec.note(); return &conn{}, nil }, blockServe)
		}()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		// Asked at 0, 0.1, 0.3, 0.7, 1.5, then every second: 8 times in 5s.
		if n := br.Snapshot().Rejected; n != 8 {
			t.Errorf("the breaker was asked %d times in 5s; want 8", n)
		}
		br.Reset()
		time.Sleep(time.Second)
		synctest.Wait()
		if got := rec.times(); !slices.Equal(got, ms(5500)) {
			t.Fatalf("dials at %v; want one, at the first ask after the reset", got)
		}
		cancel()
		<-done
	})
}

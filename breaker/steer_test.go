package breaker_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/retry"
)

// events records the events an observer receives.
type events struct {
	mu   sync.Mutex
	list []resilience.Event
}

func (r *events) observer() *resilience.Observer {
	return resilience.ObserveAll(func(e resilience.Event) {
		r.mu.Lock()
		r.list = append(r.list, e)
		r.mu.Unlock()
	})
}

func (r *events) of(t resilience.EventType) []resilience.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []resilience.Event
	for _, e := range r.list {
		if e.Type == t {
			out = append(out, e)
		}
	}
	return out
}

func TestShadowBreakerOpensYetEveryCallRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec events
		cfg := breaker.Config{Name: "api", FailureThreshold: 3, RecoveryTimeout: 10 * time.Second, Shadow: true, Observer: rec.observer()}
		b := mustNew(t, cfg)
		for range 3 {
			if ran, err := call(b, errDown); !ran || err != errDown {
				t.Fatalf("call = %v, %v; want it run, with its own error", ran, err)
			}
		}
		wantState(t, b, breaker.Open)
		changes := rec.of(resilience.EventStateChange)
		if len(changes) != 1 || changes[0].To != "open" || !changes[0].Shadow {
			t.Fatalf("state changes %+v; want one to open, marked shadow", changes)
		}
		// Open, it admits every call: they run and their outcomes count
		// as nothing, since an open breaker would not have run them.
		for i := range 5 {
			err := error(nil)
			if i%2 == 0 {
				err = errDown
			}
			if ran, got := call(b, err); !ran || got != err {
				t.Fatalf("call %d while open in shadow = %v, %v; want it run, with its own error", i, ran, got)
			}
		}
		rejects := rec.of(resilience.EventReject)
		if len(rejects) != 5 {
			t.Fatalf("%d Reject events, want 5", len(rejects))
		}
		for _, e := range rejects {
			if !e.Shadow || e.Reason != "open" || !errors.Is(e.Err, breaker.ErrOpen) || e.Delay != 10*time.Second {
				t.Fatalf("Reject event %+v; want a shadow open rejection, 10s before a probe", e)
			}
		}
		if s := b.Snapshot(); !s.Shadow || s.ShadowRejected != 5 || s.Rejected != 0 || s.State != breaker.Open || s.Opened != 1 {
			t.Fatalf("Snapshot %+v; want shadow, open once, 5 shadow rejections and no real one", s)
		}
		if _, err := b.Foresee(context.Background(), time.Now()); err != nil {
			t.Fatalf("Foresee in shadow = %v, want nil: a retry outside must not stop", err)
		}
		// A retry outside goes on through a shadow breaker.
		attempts := 0
		p := resilience.Compose(retry.MustNew(retry.Config{MaxAttempts: 3}), b)
		resilience.Run(context.Background(), p, func(context.Context) error { attempts++; return errDown })
		if attempts != 3 {
			t.Fatalf("a retry through a shadow breaker made %d attempts, want 3", attempts)
		}

		// Turned on, live: the open breaker now rejects.
		cfg.Shadow = false
		if err := b.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		if ran, err := call(b, nil); ran || !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("call after shadow turned off = %v, %v; want rejected with ErrOpen", ran, err)
		}
		if e := rec.of(resilience.EventReject); e[len(e)-1].Shadow {
			t.Fatal("a real rejection was marked shadow")
		}
		if s := b.Snapshot(); s.Shadow || s.Rejected != 1 || s.ShadowRejected != 8 {
			t.Fatalf("Snapshot %+v; want 1 real rejection and 8 shadow ones", s)
		}
	})
}

func TestShadowHalfOpenAdmitsBeyondTheProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec events
		b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second, Shadow: true, Observer: rec.observer()})
		call(b, errDown)
		time.Sleep(time.Second)
		probe, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		// The probe slot is taken: a further call would be rejected, and
		// runs; its failure does not reopen the breaker.
		extra, err := b.Allow()
		if err != nil {
			t.Fatalf("Allow beyond the probes in shadow = %v, want a permit", err)
		}
		extra.Done(errDown)
		wantState(t, b, breaker.HalfOpen)
		if r := rec.of(resilience.EventReject); len(r) != 1 || r[0].Reason != "half-open full" || !r[0].Shadow {
			t.Fatalf("Reject events %+v; want one shadow half-open full", r)
		}
		probe.Done(nil)
		wantState(t, b, breaker.Closed)
	})
}

func TestReconfigureKeepsTheState(t *testing.T) {
	t0 := time.Now().Add(time.Hour) // virtual
	b := mustNew(t, breaker.Config{FailureThreshold: 5})
	for range 3 {
		p, _ := b.AllowAt(t0)
		p.DoneAt(t0, errDown)
	}
	if err := b.ReconfigureAt(t0, breaker.Config{FailureThreshold: 10, RecoveryTimeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if s := b.SnapshotAt(t0); s.ConsecutiveFailures != 3 || s.State != breaker.Closed || s.Generation != 0 {
		t.Fatalf("after raising the threshold: %+v; want closed, 3 failures in a row, no change of state", s)
	}
	// Lowered to the count already reached: it opens at once.
	if err := b.ReconfigureAt(t0, breaker.Config{FailureThreshold: 3, RecoveryTimeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	s := b.SnapshotAt(t0)
	if s.State != breaker.Open || !s.OpenUntil.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after lowering the threshold to the count: %+v; want open until t0+1m", s)
	}
	// A new recovery timeout applies from the next opening.
	if err := b.ReconfigureAt(t0, breaker.Config{FailureThreshold: 3, RecoveryTimeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	if st := b.StateAt(t0.Add(30 * time.Second)); st != breaker.Open {
		t.Fatalf("state 30s in = %v; want still open: the open time was set when it opened", st)
	}
	if got := b.Config(); got.RecoveryTimeout != time.Second || got.FailureThreshold != 3 || got.HalfOpenProbes != 0 {
		t.Fatalf("Config() = %+v; want the config as given", got)
	}
	if got := b.Config().WithDefaults(); got.HalfOpenProbes != 1 || got.ProbeTimeout != time.Minute {
		t.Fatalf("Config().WithDefaults() = %+v; want the defaults filled in", got)
	}
}

func TestReconfigureRejectsWhatNewRejects(t *testing.T) {
	cfg := breaker.Config{Name: "x", FailureThreshold: 2}
	b := mustNew(t, cfg)
	for _, bad := range []breaker.Config{
		{HalfOpenProbes: -1},
		{FailureRate: 0.5},
		{FailureThreshold: -1},
	} {
		_, want := breaker.New(bad)
		err := b.Reconfigure(bad)
		if err == nil || err.Error() != want.Error() || !strings.HasPrefix(err.Error(), "breaker: ") {
			t.Errorf("Reconfigure(%+v) = %v; want New's error %v", bad, err, want)
		}
		if got := b.Config(); got.Name != cfg.Name || got.FailureThreshold != cfg.FailureThreshold || got.HalfOpenProbes != 0 || got.Window != 0 {
			t.Fatalf("an invalid config changed the breaker: %+v", b.Config())
		}
	}
	var nilB *breaker.Breaker
	if err := nilB.Reconfigure(cfg); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Fatalf("Reconfigure on a nil breaker = %v, want ErrNilPolicy", err)
	}
	if got := nilB.Config(); got.Name != "" || got.FailureThreshold != 0 {
		t.Fatal("Config of a nil breaker is not zero")
	}
}

func TestReconfigureWindow(t *testing.T) {
	t0 := time.Now().Add(time.Hour)
	b := mustNew(t, breaker.Config{FailureThreshold: -1, FailureRate: 0.9, Window: time.Minute, MinCalls: 4})
	for i := range 4 {
		p, _ := b.AllowAt(t0)
		var err error
		if i < 2 {
			err = errDown
		}
		p.DoneAt(t0, err)
	}
	// A window of a new length starts from the old one's totals.
	if err := b.ReconfigureAt(t0.Add(time.Second), breaker.Config{FailureThreshold: -1, FailureRate: 0.9, Window: 10 * time.Second, MinCalls: 4}); err != nil {
		t.Fatal(err)
	}
	if s := b.SnapshotAt(t0.Add(time.Second)); s.Calls != 4 || s.Failures != 2 || s.State != breaker.Closed {
		t.Fatalf("after a new window length: %+v; want 4 calls, 2 failures, closed", s)
	}
	if s := b.SnapshotAt(t0.Add(12 * time.Second)); s.Calls != 0 {
		t.Fatalf("one new window later: %+v; want the old counts gone", s)
	}
	// A failure rate lowered below the window's opens the breaker at once.
	for range 2 {
		p, _ := b.AllowAt(t0.Add(20 * time.Second))
		p.DoneAt(t0.Add(20*time.Second), errDown)
	}
	p, _ := b.AllowAt(t0.Add(20 * time.Second))
	p.DoneAt(t0.Add(20*time.Second), nil)
	if err := b.ReconfigureAt(t0.Add(20*time.Second), breaker.Config{FailureThreshold: -1, FailureRate: 0.5, Window: 10 * time.Second, MinCalls: 3}); err != nil {
		t.Fatal(err)
	}
	if st := b.StateAt(t0.Add(20 * time.Second)); st != breaker.Open {
		t.Fatalf("state = %v; want open: 2 of 3 calls failed, and the rate is now 0.5", st)
	}
	// Without a window, the counts are dropped; closed, the breaker goes
	// lock-free.
	if err := b.ReconfigureAt(t0.Add(20*time.Second), breaker.Config{}); err != nil {
		t.Fatal(err)
	}
	if s := b.SnapshotAt(t0.Add(20 * time.Second)); s.Calls != 0 || s.State != breaker.Open {
		t.Fatalf("without a window: %+v; want no counts, still open", s)
	}
}

func TestReconfigureProbesWhileHalfOpen(t *testing.T) {
	t0 := time.Now().Add(time.Hour)
	b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second, HalfOpenProbes: 3})
	p, _ := b.AllowAt(t0)
	p.DoneAt(t0, errDown)
	t1 := t0.Add(time.Second)
	p1, err1 := b.AllowAt(t1)
	p2, err2 := b.AllowAt(t1)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	p1.DoneAt(t1, nil)
	// One probe has succeeded and one is in flight; with one probe asked
	// for, one success is enough.
	if err := b.ReconfigureAt(t1, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second, HalfOpenProbes: 1}); err != nil {
		t.Fatal(err)
	}
	if st := b.StateAt(t1); st != breaker.Closed {
		t.Fatalf("state = %v; want closed: as many probes as asked for succeeded", st)
	}
	p2.DoneAt(t1, errDown) // from the earlier generation: it moves nothing
	if st := b.StateAt(t1); st != breaker.Closed {
		t.Fatalf("state = %v after a stale probe's failure; want closed", st)
	}

	// More probes while half-open: the probe in flight keeps its slot.
	b = mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second})
	p, _ = b.AllowAt(t0)
	p.DoneAt(t0, errDown)
	p1, _ = b.AllowAt(t1)
	if _, err := b.AllowAt(t1); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("second probe with one allowed: %v", err)
	}
	if err := b.ReconfigureAt(t1, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second, HalfOpenProbes: 2}); err != nil {
		t.Fatal(err)
	}
	p2, err := b.AllowAt(t1)
	if err != nil {
		t.Fatalf("second probe after raising HalfOpenProbes: %v", err)
	}
	if _, err := b.AllowAt(t1); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("third probe with two allowed: %v", err)
	}
	p1.DoneAt(t1, nil)
	if st := b.StateAt(t1); st != breaker.HalfOpen {
		t.Fatalf("state after one of two probes = %v, want half-open", st)
	}
	p2.DoneAt(t1, nil)
	if st := b.StateAt(t1); st != breaker.Closed {
		t.Fatalf("state after two of two probes = %v, want closed", st)
	}
}

// TestReconfigureWhileCallsRun swaps configurations while calls run, for
// the race detector, and checks that every call ran or was rejected.
func TestReconfigureWhileCallsRun(t *testing.T) {
	cfgs := []breaker.Config{
		{FailureThreshold: 3, RecoveryTimeout: time.Millisecond},
		{FailureThreshold: 3, RecoveryTimeout: time.Millisecond, Shadow: true},
		{FailureThreshold: 2, RecoveryTimeout: time.Millisecond, HalfOpenProbes: 3, Window: time.Second, FailureRate: 0.5, SlowCall: time.Microsecond, SlowCallRate: 0.9},
		{Name: "renamed", FailureThreshold: 5, RecoveryTimeout: time.Millisecond, Observer: &resilience.Observer{StateChange: func(resilience.Event) {}}},
	}
	b := mustNew(t, cfgs[0])
	const workers, calls = 4, 500
	var wg sync.WaitGroup
	var ran, rejected [workers]int
	for w := range workers {
		wg.Go(func() {
			for i := range calls {
				err := error(nil)
				if (i+w)%3 == 0 {
					err = errDown
				}
				did, got := call(b, err)
				switch {
				case did:
					ran[w]++
				case errors.Is(got, breaker.ErrOpen):
					rejected[w]++
				default:
					t.Errorf("call neither ran nor was rejected: %v", got)
				}
			}
		})
	}
	for i := range 200 {
		if err := b.Reconfigure(cfgs[i%len(cfgs)]); err != nil {
			t.Fatal(err)
		}
		b.Snapshot()
	}
	wg.Wait()
	total := 0
	for w := range workers {
		total += ran[w] + rejected[w]
	}
	if total != workers*calls {
		t.Fatalf("%d calls accounted for, want %d", total, workers*calls)
	}
}

func TestShadowRejectionAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	ok := func(context.Context) (int, error) { return 1, nil }
	b := mustNew(t, breaker.Config{Shadow: true, Observer: &resilience.Observer{Reject: func(resilience.Event) {}}})
	b.ForceOpen()
	if n := testing.AllocsPerRun(1000, func() { breaker.Do(ctx, b, ok) }); n != 0 {
		t.Errorf("a shadow rejection: %v allocations per call, want 0", n)
	}
}

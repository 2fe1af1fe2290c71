package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/retry"
)

var (
	errDown = resilience.Transient(errors.New("connection refused"))
	errBad  = errors.New("400 bad request") // permanent, by default
)

func mustNew(t *testing.T, cfg breaker.Config) *breaker.Breaker {
	t.Helper()
	b, err := breaker.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return b
}

// call runs one call through b that returns err, and reports whether the
// function ran.
func call(b *breaker.Breaker, err error) (ran bool, got error) {
	got = breaker.Run(context.Background(), b, func(context.Context) error {
		ran = true
		return err
	})
	return ran, got
}

func wantState(t *testing.T, b *breaker.Breaker, want breaker.State) {
	t.Helper()
	if got := b.State(); got != want {
		t.Fatalf("State() = %v, want %v", got, want)
	}
}

func TestDefaultsAreTheOriginalDesign(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Config{Name: "llm"})
		for i := 1; i <= 4; i++ {
			if ran, err := call(b, errDown); !ran || err != errDown {
				t.Fatalf("failure %d: ran=%v err=%v; want the call to run and fail", i, ran, err)
			}
		}
		wantState(t, b, breaker.Closed) // 4 failures: still closed
		call(b, errDown)
		wantState(t, b, breaker.Open) // the default threshold is 5

		ran, err := call(b, nil)
		if ran {
			t.Fatal("an open breaker ran the function")
		}
		var oe *breaker.Error
		if !errors.Is(err, breaker.ErrOpen) || !errors.As(err, &oe) || oe.Name != "llm" {
			t.Fatalf("rejection = %v; want an *Error named llm matching ErrOpen", err)
		}
		if got := oe.RetryAfter(); got != 30*time.Second {
			t.Fatalf("RetryAfter() = %v, want the default recovery timeout 30s", got)
		}
		if d, ok := resilience.RetryAfter(err); !ok || d != 30*time.Second {
			t.Fatalf("resilience.RetryAfter(rejection) = %v, %v; want 30s", d, ok)
		}
		if want := `breaker "llm" is open`; err.Error() != want {
			t.Fatalf("Error() = %q, want %q", err.Error(), want)
		}

		time.Sleep(30*time.Second - time.Nanosecond)
		wantState(t, b, breaker.Open)
		if got := oe.RetryAfter(); got != time.Nanosecond {
			t.Fatalf("RetryAfter() = %v with 1ns to go", got)
		}
		time.Sleep(time.Nanosecond)
		// Half-open by the clock alone: no call came.
		wantState(t, b, breaker.HalfOpen)
		if ran, err := call(b, nil); !ran || err != nil {
			t.Fatalf("probe: ran=%v err=%v; want it to run and succeed", ran, err)
		}
		wantState(t, b, breaker.Closed)
	})
}

func TestSuccessResetsTheCount(t *testing.T) {
	b := mustNew(t, breaker.Config{FailureThreshold: 3})
	for range 10 {
		call(b, errDown)
		call(b, errDown)
		call(b, nil)
	}
	wantState(t, b, breaker.Closed)
	if s := b.Snapshot(); s.ConsecutiveFailures != 0 || s.Opened != 0 {
		t.Fatalf("snapshot %+v; want no consecutive failures and no openings", s)
	}
	call(b, errBad) // permanent failures count too
	call(b, errDown)
	if s := b.Snapshot(); s.ConsecutiveFailures != 2 {
		t.Fatalf("ConsecutiveFailures = %d, want 2", s.ConsecutiveFailures)
	}
	call(b, errBad)
	wantState(t, b, breaker.Open)
}

func TestHalfOpenFailureReopens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second})
		call(b, errDown)
		time.Sleep(time.Second)
		if ran, _ := call(b, errDown); !ran {
			t.Fatal("the half-open breaker did not admit a probe")
		}
		wantState(t, b, breaker.Open)
		var oe *breaker.Error
		_, err := call(b, nil)
		if !errors.As(err, &oe) || oe.RetryAfter() != time.Second {
			t.Fatalf("after a failed probe: %v; want open for another 1s", err)
		}
	})
}

func TestHalfOpenAdmitsExactlyTheProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second, HalfOpenProbes: 2})
		call(b, errDown)
		time.Sleep(time.Second)
		p1, err1 := b.Allow()
		p2, err2 := b.Allow()
		_, err3 := b.Allow()
		if err1 != nil || err2 != nil {
			t.Fatalf("two probes: %v, %v", err1, err2)
		}
		var oe *breaker.Error
		if !errors.As(err3, &oe) || oe.State != breaker.HalfOpen || !errors.Is(err3, breaker.ErrOpen) {
			t.Fatalf("third call while two probes run: %v; want a half-open rejection matching ErrOpen", err3)
		}
		if want := "breaker is half-open and its probes are taken"; err3.Error() != want {
			t.Fatalf("Error() = %q, want %q", err3.Error(), want)
		}
		p1.Done(nil)
		wantState(t, b, breaker.HalfOpen) // one of two
		p2.Done(context.Canceled)         // ignored: frees its slot
		wantState(t, b, breaker.HalfOpen)
		p3, err := b.Allow()
		if err != nil {
			t.Fatalf("after an ignored probe its slot must be free: %v", err)
		}
		p3.Done(nil)
		wantState(t, b, breaker.Closed)
	})
}

func TestStaleResultsDoNotMoveTheNewState(t *testing.T) {
	b := mustNew(t, breaker.Config{FailureThreshold: 2})
	old1, _ := b.Allow()
	old2, _ := b.Allow()
	b.ForceOpen()
	b.Reset() // closed again, a later generation
	old1.Done(errDown)
	old2.Done(errDown)
	wantState(t, b, breaker.Closed)
	if s := b.Snapshot(); s.ConsecutiveFailures != 0 {
		t.Fatalf("ConsecutiveFailures = %d after results from an earlier generation, want 0", s.ConsecutiveFailures)
	}
}

func TestDoubleReportOfAProbeCountsOnce(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second, HalfOpenProbes: 2})
	p, _ := b.AllowAt(t0)
	p.DoneAt(t0, errDown)
	t1 := t0.Add(time.Second)
	probe, err := b.AllowAt(t1)
	if err != nil {
		t.Fatal(err)
	}
	probe.DoneAt(t1, nil)
	probe.DoneAt(t1, nil) // twice: must not count as the second success
	if s := b.StateAt(t1); s != breaker.HalfOpen {
		t.Fatalf("state %v after one probe reported twice; want half-open (2 probes needed)", s)
	}
}

func TestDoubleReportOfAClosedCallCountsOnce(t *testing.T) {
	for _, cfg := range []breaker.Config{
		{FailureThreshold: 3},
		{FailureThreshold: 3, Window: time.Minute, FailureRate: 0.5, MinCalls: 10},
		{FailureThreshold: 3, Window: time.Minute, SlowCall: time.Second, SlowCallRate: 0.5, MinCalls: 10},
	} {
		b := mustNew(t, cfg)
		ok, _ := b.Allow()
		ok.Done(nil)
		p, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		p.Done(errDown)
		p.Done(errDown) // twice: one failed call
		c := p
		c.Done(errDown) // a copy is the same permit
		wantState(t, b, breaker.Closed)
		if s := b.Snapshot(); s.ConsecutiveFailures != 1 {
			t.Fatalf("%+v: ConsecutiveFailures = %d after one failure reported three times, want 1", cfg, s.ConsecutiveFailures)
		}
		if cfg.Window > 0 {
			if s := b.Snapshot(); s.Failures != 1 || s.Calls != 2 {
				t.Fatalf("%+v: window counts %d failures in %d calls, want 1 in 2", cfg, s.Failures, s.Calls)
			}
		}
		// Reported twice at once, from two goroutines: still one.
		q, _ := b.Allow()
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { q.Done(errDown) })
		}
		wg.Wait()
		if s := b.Snapshot(); s.ConsecutiveFailures != 2 {
			t.Fatalf("%+v: ConsecutiveFailures = %d after a second failure reported concurrently twice, want 2", cfg, s.ConsecutiveFailures)
		}
	}
}

func TestProbeThatNeverReportsCannotHoldHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second, ProbeTimeout: 10 * time.Second})
		call(b, errDown)
		time.Sleep(time.Second)
		if _, err := b.Allow(); err != nil { // a probe whose permit is lost
			t.Fatal(err)
		}
		time.Sleep(10*time.Second - 1)
		if _, err := b.Allow(); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("while the probe may still report: %v, want a rejection", err)
		}
		time.Sleep(1)
		// The lost probe counts as failed at 10s: open until 11s.
		wantState(t, b, breaker.Open)
		time.Sleep(time.Second)
		wantState(t, b, breaker.HalfOpen)
		if ran, err := call(b, nil); !ran || err != nil {
			t.Fatalf("new probe: ran=%v err=%v", ran, err)
		}
		wantState(t, b, breaker.Closed)
	})
}

func TestCallerCancellationCountsAsNothing(t *testing.T) {
	b := mustNew(t, breaker.Config{FailureThreshold: 1})
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("user went away"))
	// The function returns the cause, as net/http does: only the executor,
	// holding the context, knows the caller gave up.
	err := breaker.Run(ctx, b, func(ctx context.Context) error { return context.Cause(ctx) })
	if err == nil || err.Error() != "user went away" {
		t.Fatalf("Run = %v, want the function's error", err)
	}
	wantState(t, b, breaker.Closed)
	// Reported through the two-step API, context.Canceled is ignored.
	p, _ := b.Allow()
	p.Done(fmt.Errorf("query: %w", context.Canceled))
	wantState(t, b, breaker.Closed)
}

func TestClassifierDecidesWhatCounts(t *testing.T) {
	errNotFound := errors.New("404 not found")
	b := mustNew(t, breaker.Config{FailureThreshold: 2, Classifier: func(err error) resilience.Class {
		if errors.Is(err, errNotFound) {
			return resilience.ClassIgnored
		}
		return resilience.Classify(err)
	}})
	call(b, errDown)
	for range 5 {
		call(b, errNotFound) // a client's mistake says nothing of the server
	}
	if s := b.Snapshot(); s.State != breaker.Closed || s.ConsecutiveFailures != 1 {
		t.Fatalf("snapshot %+v; want closed with the one counted failure", s)
	}
	call(b, errDown)
	wantState(t, b, breaker.Open)
}

func TestPanicCountsAsFailureAndGoesOn(t *testing.T) {
	// Every executor reports a panic, or runtime.Goexit, as a failure: the
	// lock-free closed state's own path (no window), the general one, and
	// resilience.Do alone or in a composition.
	for _, cfg := range []breaker.Config{
		{FailureThreshold: 2},
		{FailureThreshold: 100, Window: time.Minute, FailureRate: 0.5, MinCalls: 2},
	} {
		for name, run := range map[string]func(b *breaker.Breaker, fn func(context.Context) (int, error)){
			"Do": func(b *breaker.Breaker, fn func(context.Context) (int, error)) {
				breaker.Do(context.Background(), b, fn)
			},
			"Run": func(b *breaker.Breaker, fn func(context.Context) (int, error)) {
				breaker.Run(context.Background(), b, noValue(fn))
			},
			"resilience.Do": func(b *breaker.Breaker, fn func(context.Context) (int, error)) {
				resilience.Do(context.Background(), b, fn)
			},
			"Compose(retry, breaker)": func(b *breaker.Breaker, fn func(context.Context) (int, error)) {
				resilience.Do(context.Background(), resilience.Compose(retry.MustNew(retry.Config{}), b), fn)
			},
		} {
			t.Run(fmt.Sprintf("%s/window=%v", name, cfg.Window), func(t *testing.T) {
				b := mustNew(t, cfg)
				func() {
					defer func() {
						if r := recover(); r != "boom" {
							t.Fatalf("recovered %v, want boom", r)
						}
					}()
					run(b, func(context.Context) (int, error) { panic("boom") })
				}()
				wantState(t, b, breaker.Closed)
				done := make(chan struct{})
				go func() {
					defer close(done)
					run(b, func(context.Context) (int, error) { runtime.Goexit(); return 0, nil })
				}()
				<-done
				wantState(t, b, breaker.Open)
			})
		}
	}
}

func noValue(fn func(context.Context) (int, error)) func(context.Context) error {
	return func(ctx context.Context) error { _, err := fn(ctx); return err }
}

func TestRetryDoesNotRetryARejection(t *testing.T) {
	b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Minute})
	r := retry.MustNew(retry.Config{MaxAttempts: 5, Backoff: backoff.Constant(0)})
	calls := 0
	// The function is not the breaker itself but calls through it, so the
	// policy cannot foresee the rejection: the first attempt fails and opens
	// the breaker; the second is rejected, and the rejection is not retried.
	err := retry.Run(context.Background(), r, func(ctx context.Context) error {
		return breaker.Run(ctx, b, func(context.Context) error { calls++; return errDown })
	})
	if calls != 1 {
		t.Fatalf("function ran %d times, want 1", calls)
	}
	var re *retry.Error
	if !errors.As(err, &re) || re.Attempts != 2 || re.Reason != retry.NotRetryable || !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("error %v; want the retry policy to stop at the rejection after 2 attempts", err)
	}
}

func TestRetryComposedOutsideStopsWhenTheBreakerOpens(t *testing.T) {
	b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Minute})
	r := retry.MustNew(retry.Config{MaxAttempts: 5, Backoff: backoff.Constant(0)})
	calls := 0
	err := resilience.Run(context.Background(), resilience.Compose(r, b), func(context.Context) error { calls++; return errDown })
	// The first attempt fails and opens the breaker, which the policy
	// learns before it would try again: it stops with the rejection.
	var re *retry.Error
	if calls != 1 || !errors.As(err, &re) || re.Attempts != 1 || re.Reason != retry.Rejected ||
		!errors.Is(err, breaker.ErrOpen) || !errors.Is(err, errDown) {
		t.Fatalf("%d calls, error %v; want 1 call and a Rejected retry.Error after 1 attempt, matching ErrOpen and the failure", calls, err)
	}
	if d, ok := resilience.RetryAfter(err); !ok || d <= 0 || d > time.Minute {
		t.Fatalf("RetryAfter = %v, %v; want the time until the breaker allows a probe", d, ok)
	}
}

func TestOpenTimeGrowsWithJitterUpToTheCap(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const recovery, maxRecovery = time.Second, 10 * time.Second
	opens := func(seed uint64) []time.Duration {
		b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: recovery, MaxRecoveryTimeout: maxRecovery, Seed: seed})
		now := t0
		p, _ := b.AllowAt(now)
		p.DoneAt(now, errDown)
		var got []time.Duration
		for range 8 {
			until := b.SnapshotAt(now).OpenUntil
			got = append(got, until.Sub(now))
			now = until
			probe, err := b.AllowAt(now)
			if err != nil {
				t.Fatalf("no probe at the end of the open time: %v", err)
			}
			probe.DoneAt(now, errDown)
		}
		return got
	}
	got := opens(42)
	if got[0] != recovery {
		t.Fatalf("first open time %v, want exactly %v", got[0], recovery)
	}
	for k := 1; k < len(got); k++ {
		d := min(recovery<<k, maxRecovery)
		if got[k] < max(d/2, recovery) || got[k] >= d {
			t.Errorf("open time after %d failed probes = %v, want in [%v, %v)", k, got[k], max(d/2, recovery), d)
		}
	}
	atCap := map[time.Duration]bool{}
	for _, d := range got[5:] {
		atCap[d] = true
	}
	if len(atCap) < 2 {
		t.Errorf("open times at the cap %v are all equal: no jitter", got[5:])
	}
	if again := opens(42); fmt.Sprint(again) != fmt.Sprint(got) {
		t.Errorf("same seed gave %v, then %v", got, again)
	}
}

func TestFailureRateOverTheWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := mustNew(t, breaker.Config{
		FailureThreshold: 1000, // only the rate matters here
		Window:           10 * time.Second, FailureRate: 0.5, MinCalls: 10,
	})
	report := func(at time.Time, err error) {
		p, e := b.AllowAt(at)
		if e != nil {
			t.Fatalf("rejected at %v: %v", at.Sub(t0), e)
		}
		p.DoneAt(at, err)
	}
	// Old failures, 20s ago: they leave the window.
	for i := range 9 {
		report(t0.Add(time.Duration(i)*time.Millisecond), errDown)
	}
	now := t0.Add(20 * time.Second)
	for i := range 5 {
		report(now.Add(time.Duration(i)*time.Millisecond), nil)
	}
	for i := range 4 {
		report(now.Add(time.Duration(10+i)*time.Millisecond), errDown)
	}
	if s := b.SnapshotAt(now.Add(time.Second)); s.State != breaker.Closed || s.Calls != 9 || s.Failures != 4 {
		t.Fatalf("snapshot %+v; want closed with 9 calls, 4 failures in the window", s)
	}
	// The tenth call reaches MinCalls: 5 failures of 10 is the rate.
	report(now.Add(2*time.Second), errDown)
	if s := b.StateAt(now.Add(2 * time.Second)); s != breaker.Open {
		t.Fatalf("state %v with 5 failures in 10 calls, want open", s)
	}
}

func TestMinCallsHoldsTheRateBack(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := mustNew(t, breaker.Config{FailureThreshold: 1000, Window: time.Minute, FailureRate: 0.1, MinCalls: 20})
	for i := range 19 {
		at := t0.Add(time.Duration(i) * time.Second)
		p, _ := b.AllowAt(at)
		p.DoneAt(at, errDown)
	}
	if s := b.StateAt(t0.Add(19 * time.Second)); s != breaker.Closed {
		t.Fatalf("state %v after 19 failures with MinCalls 20, want closed", s)
	}
	at := t0.Add(19 * time.Second)
	p, _ := b.AllowAt(at)
	p.DoneAt(at, errDown)
	if s := b.StateAt(at); s != breaker.Open {
		t.Fatalf("state %v after 20 failures, want open", s)
	}
}

func TestSlowCallRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Config{Window: time.Minute, SlowCall: time.Second, SlowCallRate: 0.5, MinCalls: 4})
		run := func(d time.Duration) {
			err := breaker.Run(context.Background(), b, func(context.Context) error { time.Sleep(d); return nil })
			if err != nil {
				t.Fatalf("call of %v: %v", d, err)
			}
		}
		run(0)
		run(100 * time.Millisecond)
		run(2 * time.Second) // slow, though it succeeds
		if s := b.Snapshot(); s.State != breaker.Closed || s.SlowCalls != 1 || s.Calls != 3 {
			t.Fatalf("snapshot %+v; want closed, 1 slow call of 3", s)
		}
		run(1500 * time.Millisecond) // 2 slow of 4: the rate is reached
		wantState(t, b, breaker.Open)
	})
}

func TestForceOpenAndReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, breaker.Config{RecoveryTimeout: time.Second})
		b.ForceOpen()
		time.Sleep(time.Hour)
		wantState(t, b, breaker.Open) // forced: no recovery by the clock
		ran, err := call(b, nil)
		var oe *breaker.Error
		if ran || !errors.As(err, &oe) || !oe.Until.IsZero() || oe.RetryAfter() != 0 {
			t.Fatalf("forced open: ran=%v err=%v; want a rejection with no probe time", ran, err)
		}
		if s := b.Snapshot(); !s.Forced || !s.OpenUntil.IsZero() {
			t.Fatalf("snapshot %+v; want Forced and no OpenUntil", s)
		}
		b.Reset()
		wantState(t, b, breaker.Closed)
		if ran, err := call(b, nil); !ran || err != nil {
			t.Fatalf("after Reset: ran=%v err=%v", ran, err)
		}
	})
}

func TestSnapshotCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		b := mustNew(t, breaker.Config{Name: "db", FailureThreshold: 2, RecoveryTimeout: time.Second})
		call(b, errDown)
		call(b, errDown)
		call(b, nil)
		call(b, nil)
		s := b.Snapshot()
		want := breaker.Snapshot{Name: "db", State: breaker.Open, Generation: 1, Since: start, OpenUntil: start.Add(time.Second), Opened: 1, Rejected: 2}
		if s != want {
			t.Fatalf("snapshot\n got %+v\nwant %+v", s, want)
		}
		time.Sleep(time.Second)
		p, _ := b.Allow()
		s = b.Snapshot()
		if s.State != breaker.HalfOpen || s.Generation != 2 || s.ProbesInFlight != 1 || !s.Since.Equal(start.Add(time.Second)) {
			t.Fatalf("half-open snapshot %+v", s)
		}
		p.Done(nil)
	})
}

func TestStateChangeObserverOrderAndReentry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu     sync.Mutex
			events []string
			b      *breaker.Breaker
		)
		b = mustNew(t, breaker.Config{Name: "q", FailureThreshold: 1, RecoveryTimeout: time.Second,
			Observer: &resilience.Observer{StateChange: func(c resilience.Event) {
				// Calling back into the breaker must not deadlock.
				s := b.State()
				_ = b.Snapshot()
				mu.Lock()
				events = append(events, fmt.Sprintf("%s:%v>%v#%d(now %v)", c.Policy, c.From, c.To, c.Attempt, s))
				mu.Unlock()
				if c.To == "open" && c.Attempt == 3 {
					b.Reset() // an observer may change the state; its change comes after this one
				}
			}}})
		call(b, errDown) // closed > open
		time.Sleep(time.Second)
		call(b, errDown) // open > half-open, half-open > open; the hook resets
		want := []string{
			"q:closed>open#1(now open)",
			"q:open>half-open#2(now half-open)",
			"q:half-open>open#3(now open)",
			"q:open>closed#4(now closed)",
		}
		if strings.Join(events, " ") != strings.Join(want, " ") {
			t.Fatalf("events\n got %v\nwant %v", events, want)
		}
	})
}

func TestNewRejectsNonsense(t *testing.T) {
	for _, tc := range []struct {
		cfg  breaker.Config
		want string
	}{
		{breaker.Config{FailureThreshold: -1}, "the breaker would never open"},
		{breaker.Config{FailureThreshold: 1 << 30}, "FailureThreshold is above"},
		{breaker.Config{HalfOpenProbes: -1}, "HalfOpenProbes is negative"},
		{breaker.Config{HalfOpenProbes: 1 << 20}, "HalfOpenProbes is above"},
		{breaker.Config{MinCalls: -1}, "MinCalls is set but"},
		{breaker.Config{RecoveryTimeout: -time.Second}, "RecoveryTimeout is negative"},
		{breaker.Config{MaxRecoveryTimeout: -time.Second}, "MaxRecoveryTimeout is negative"},
		{breaker.Config{MaxRecoveryTimeout: time.Second}, "below RecoveryTimeout"},
		{breaker.Config{Window: -1}, "Window is negative"},
		{breaker.Config{SlowCall: -1}, "SlowCall is negative"},
		{breaker.Config{FailureRate: 1.5, Window: time.Second}, "FailureRate must be in (0, 1]"},
		{breaker.Config{FailureRate: -0.1, Window: time.Second}, "FailureRate must be in (0, 1]"},
		{breaker.Config{FailureRate: math.NaN(), Window: time.Second}, "FailureRate must be in (0, 1]"},
		{breaker.Config{SlowCallRate: 2, SlowCall: time.Second, Window: time.Second}, "SlowCallRate must be in (0, 1]"},
		{breaker.Config{FailureRate: 0.5}, "need a Window"},
		{breaker.Config{Window: time.Second}, "neither FailureRate nor SlowCallRate"},
		{breaker.Config{SlowCallRate: 0.5, Window: time.Second}, "SlowCallRate needs SlowCall"},
		{breaker.Config{SlowCall: time.Second}, "SlowCall is set but SlowCallRate is not"},
		{breaker.Config{MinCalls: 5}, "MinCalls is set but"},
	} {
		b, err := breaker.New(tc.cfg)
		if err == nil || b != nil || !strings.HasPrefix(err.Error(), "breaker: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, %v; want an error containing %q", tc.cfg, b, err, tc.want)
		}
	}
	for _, cfg := range []breaker.Config{
		{},
		{FailureRate: 1, Window: time.Second},
		{SlowCall: time.Second, SlowCallRate: 0.2, Window: time.Minute, MinCalls: 100},
		{RecoveryTimeout: time.Second, MaxRecoveryTimeout: time.Second},
		{FailureThreshold: -1, FailureRate: 0.5, Window: time.Minute},
		{FailureThreshold: -1, SlowCall: time.Second, SlowCallRate: 0.5, Window: time.Minute, MinCalls: -1},
		{ProbeTimeout: -1},
	} {
		if _, err := breaker.New(cfg); err != nil {
			t.Errorf("New(%+v) = %v, want a valid breaker", cfg, err)
		}
	}
}

func TestNilBreaker(t *testing.T) {
	var b *breaker.Breaker
	ran := false
	if err := breaker.Run(context.Background(), b, func(context.Context) error { ran = true; return nil }); err == nil || ran {
		t.Fatalf("Run on a nil breaker: err=%v ran=%v; want an error and no call", err, ran)
	}
	if _, err := b.Allow(); err == nil {
		t.Fatal("Allow on a nil breaker returned no error")
	}
	var p breaker.Permit
	p.Done(errDown) // the zero Permit reports nothing, and does not panic
	if err := mustNew(t, breaker.Config{}).Execute(context.Background(), nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Fatalf("Execute(nil) = %v, want ErrNilFunc", err)
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[breaker.State]string{breaker.Closed: "closed", breaker.Open: "open", breaker.HalfOpen: "half-open", 7: "State(7)"} {
		if s.String() != want {
			t.Errorf("State(%d).String() = %q, want %q", s, s.String(), want)
		}
	}
}

func TestNoAllocations(t *testing.T) {
	ctx := context.Background()
	ok := func(context.Context) (int, error) { return 1, nil }
	open := mustNew(t, breaker.Config{})
	open.ForceOpen()
	composed := resilience.Compose(retry.MustNew(retry.Config{}), mustNew(t, breaker.Config{}))
	for name, f := range map[string]func(){
		"closed, consecutive": func() { breaker.Do(ctx, mustNewOnce(t, "c", breaker.Config{}), ok) },
		"closed, window": func() {
			breaker.Do(ctx, mustNewOnce(t, "w", breaker.Config{Window: time.Minute, FailureRate: 0.5}), ok)
		},
		"closed, slow calls": func() {
			breaker.Do(ctx, mustNewOnce(t, "s", breaker.Config{Window: time.Minute, SlowCall: time.Second, SlowCallRate: 0.5}), ok)
		},
		"open rejection":         func() { breaker.Do(ctx, open, ok) },
		"Compose(retry,breaker)": func() { resilience.Do(ctx, composed, ok) },
		"two-step": func() {
			p, _ := mustNewOnce(t, "c", breaker.Config{}).Allow()
			p.Done(nil)
		},
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}

var (
	onceMu sync.Mutex
	once   = map[string]*breaker.Breaker{}
)

// mustNewOnce returns the breaker made for key, making it the first time.
func mustNewOnce(t *testing.T, key string, cfg breaker.Config) *breaker.Breaker {
	onceMu.Lock()
	defer onceMu.Unlock()
	if b, ok := once[key]; ok {
		return b
	}
	b := mustNew(t, cfg)
	once[key] = b
	return b
}

func TestLateReportIsNotTakenForALaterProbe(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second})
	p, _ := b.AllowAt(t0)
	p.DoneAt(t0, errDown)
	t1 := t0.Add(time.Second)
	first, _ := b.AllowAt(t1)
	first.DoneAt(t1, context.Canceled) // ignored: the slot is free again
	second, err := b.AllowAt(t1)       // same slot, same time
	if err != nil {
		t.Fatal(err)
	}
	first.DoneAt(t1, nil) // a late second report of the first probe
	if s := b.StateAt(t1); s != breaker.HalfOpen {
		t.Fatalf("state %v: the first probe's late report was taken for the second's", s)
	}
	second.DoneAt(t1, nil)
	if s := b.StateAt(t1); s != breaker.Closed {
		t.Fatalf("state %v after the second probe succeeded, want closed", s)
	}
}

func TestResetOfAClosedBreakerClearsCountsWithoutAnEvent(t *testing.T) {
	var events []resilience.Event
	b := mustNew(t, breaker.Config{FailureThreshold: 3, Observer: &resilience.Observer{StateChange: func(c resilience.Event) { events = append(events, c) }}})
	call(b, errDown)
	call(b, errDown)
	b.Reset()
	if s := b.Snapshot(); s.State != breaker.Closed || s.ConsecutiveFailures != 0 || s.Generation != 0 || len(events) != 0 {
		t.Fatalf("after Reset of a closed breaker: %+v, events %v; want closed, count 0, generation 0, no event", s, events)
	}
	call(b, errDown)
	call(b, errDown)
	wantState(t, b, breaker.Closed) // 2 since the reset: below the threshold
}

func TestRejectionsOfPoliciesInsideDoNotCount(t *testing.T) {
	b := mustNew(t, breaker.Config{FailureThreshold: 1})
	inner := breaker.MustNew(breaker.Config{Name: "inner"})
	inner.ForceOpen()
	p := resilience.Compose(b, inner)
	for range 3 {
		err := resilience.Run(context.Background(), p, func(context.Context) error { return nil })
		if !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("Run = %v, want the inner breaker's rejection", err)
		}
	}
	// The inner breaker's refusals said nothing about the service.
	wantState(t, b, breaker.Closed)
	if s := b.Snapshot(); s.ConsecutiveFailures != 0 {
		t.Fatalf("the outer breaker counted %d failures from the inner one's rejections", s.ConsecutiveFailures)
	}
}

func TestForesee(t *testing.T) {
	b := mustNew(t, breaker.Config{Name: "api", FailureThreshold: 1, RecoveryTimeout: time.Second})
	ctx := context.Background()
	t0 := time.Now()
	step := func(what string, at time.Time, until time.Time, open bool) {
		t.Helper()
		gotUntil, err := b.Foresee(ctx, at)
		if errors.Is(err, breaker.ErrOpen) != open || (err == nil) == open || !gotUntil.Equal(until) {
			t.Errorf("%s: Foresee = %v, %v; want until %v, a rejection %v", what, gotUntil, err, until, open)
		}
	}
	step("closed", t0, time.Time{}, false)
	p, _ := b.AllowAt(t0)
	p.DoneAt(t0, errDown)
	step("just opened", t0, t0.Add(time.Second), true)
	step("a nanosecond before the probe", t0.Add(time.Second-1), t0.Add(time.Second), true)
	step("when the probe may go", t0.Add(time.Second), time.Time{}, false)
	if _, err := b.AllowAt(t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	step("half-open, the probe in flight", t0.Add(time.Second), time.Time{}, false)
	b.ForceOpen()
	step("forced open", t0.Add(time.Hour), time.Time{}, true)
	b.Reset()
	step("reset", t0, time.Time{}, false)
	if _, err := (*breaker.Breaker)(nil).Foresee(ctx, t0); err == nil {
		t.Error("a nil *Breaker foresees no rejection, want its error")
	}
}

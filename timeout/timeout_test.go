package timeout_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/timeout"
)

var (
	errBad  = errors.New("400 bad request")
	errLate = errors.New("connection reset")
)

func mustNew(t *testing.T, cfg timeout.Config) *timeout.Timeout {
	t.Helper()
	tm, err := timeout.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return tm
}

// hang waits for its context to end and returns its error, as a function
// that honours its context does.
func hang(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// events records observer events.
type events struct {
	mu   sync.Mutex
	list []resilience.Event
}

func (e *events) add(ev resilience.Event) {
	e.mu.Lock()
	e.list = append(e.list, ev)
	e.mu.Unlock()
}

func (e *events) get() []resilience.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]resilience.Event(nil), e.list...)
}

// timedOut returns the *timeout.Error of a Timeout event, or nil.
func timedOut(ev resilience.Event) *timeout.Error {
	var te *timeout.Error
	if ev.Type != resilience.EventTimeout || ev.Kind != resilience.KindTimeout || !errors.As(ev.Err, &te) {
		return nil
	}
	return te
}

func wantSnapshot(t *testing.T, tm *timeout.Timeout, want timeout.Snapshot) {
	t.Helper()
	if got := tm.Snapshot(); got != want {
		t.Fatalf("Snapshot() = %+v\nwant         %+v", got, want)
	}
}

func TestNewRejectsNonsense(t *testing.T) {
	for _, tc := range []struct {
		cfg  timeout.Config
		want string
	}{
		{timeout.Config{}, "timeout: Timeout is zero: set how long each attempt may take"},
		{timeout.Config{Timeout: -time.Second}, "timeout: Timeout is negative: -1s"},
		{timeout.Config{Timeout: time.Second, MaxAbandoned: -1}, "timeout: MaxAbandoned is set but Abandon is not"},
		{timeout.Config{Timeout: time.Second, MaxAbandoned: 3}, "timeout: MaxAbandoned is set but Abandon is not"},
	} {
		tm, err := timeout.New(tc.cfg)
		if err == nil || err.Error() != tc.want || tm != nil {
			t.Errorf("New(%+v) = %v, %v; want nil, %q", tc.cfg, tm, err, tc.want)
		}
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("MustNew(%+v) did not panic", tc.cfg)
				}
			}()
			timeout.MustNew(tc.cfg)
		}()
	}
	for _, cfg := range []timeout.Config{
		{Timeout: time.Nanosecond},
		{Timeout: time.Second, Abandon: true},
		{Timeout: time.Second, Abandon: true, MaxAbandoned: 1},
		{Timeout: time.Second, Abandon: true, MaxAbandoned: -1},
		{Name: "x", Timeout: time.Hour, Observer: resilience.ObserveAll(func(resilience.Event) {})},
	} {
		if _, err := timeout.New(cfg); err != nil {
			t.Errorf("New(%+v): %v", cfg, err)
		}
	}
}

func TestNilArguments(t *testing.T) {
	ctx := context.Background()
	var nilTimeout *timeout.Timeout
	ran := false
	fn := func(context.Context) (int, error) { ran = true; return 1, nil }
	efn := func(context.Context) error { ran = true; return nil }
	tm := mustNew(t, timeout.Config{Timeout: time.Second})

	const nilMsg = "timeout: nil *Timeout"
	if _, err := timeout.Do(ctx, nilTimeout, fn); err == nil || err.Error() != nilMsg {
		t.Errorf("Do(nil *Timeout) = %v, want %q", err, nilMsg)
	}
	if err := timeout.Run(ctx, nilTimeout, efn); err == nil || err.Error() != nilMsg {
		t.Errorf("Run(nil *Timeout) = %v, want %q", err, nilMsg)
	}
	if err := nilTimeout.Execute(ctx, resilience.OperationFunc(efn)); err == nil || err.Error() != nilMsg {
		t.Errorf("nil Execute = %v, want %q", err, nilMsg)
	}
	if err := resilience.Run(ctx, nilTimeout, efn); err == nil || err.Error() != nilMsg {
		t.Errorf("resilience.Run(nil *Timeout) = %v, want %q", err, nilMsg)
	}
	if s := nilTimeout.Snapshot(); s != (timeout.Snapshot{}) {
		t.Errorf("nil Snapshot() = %+v", s)
	}
	if n := nilTimeout.Name(); n != "" {
		t.Errorf("nil Name() = %q", n)
	}
	//lint:ignore SA1012 a nil context is what is tested
	if _, err := timeout.Do(nil, tm, fn); !errors.Is(err, resilience.ErrNilContext) { //nolint:staticcheck
		t.Errorf("Do(nil ctx) = %v", err)
	}
	if err := timeout.Run(nil, tm, efn); !errors.Is(err, resilience.ErrNilContext) { //nolint:staticcheck
		t.Errorf("Run(nil ctx) = %v", err)
	}
	if err := tm.Execute(nil, resilience.OperationFunc(efn)); !errors.Is(err, resilience.ErrNilContext) { //nolint:staticcheck
		t.Errorf("Execute(nil ctx) = %v", err)
	}
	if _, err := timeout.Do[int](ctx, tm, nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Errorf("Do(nil fn) = %v", err)
	}
	if err := timeout.Run(ctx, tm, nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Errorf("Run(nil fn) = %v", err)
	}
	if err := tm.Execute(ctx, nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Errorf("Execute(nil op) = %v", err)
	}
	if ran {
		t.Error("a function ran despite a nil argument")
	}
}

func TestSlowFunctionTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen events
		tm := mustNew(t, timeout.Config{Name: "llm", Timeout: 2 * time.Second, Observer: &resilience.Observer{Timeout: seen.add}})
		start := time.Now()
		var deadline time.Time
		var cause error
		v, err := timeout.Do(context.Background(), tm, func(ctx context.Context) (int, error) {
			deadline, _ = ctx.Deadline()
			<-ctx.Done()
			cause = context.Cause(ctx)
			return 7, ctx.Err()
		})
		if elapsed := time.Since(start); elapsed != 2*time.Second {
			t.Errorf("Do returned after %v, want the timeout 2s", elapsed)
		}
		if want := start.Add(2 * time.Second); !deadline.Equal(want) {
			t.Errorf("the attempt's deadline is %v, want start+2s", deadline.Sub(start))
		}
		if v != 7 {
			t.Errorf("value = %d, want what the function returned, 7", v)
		}
		if !errors.Is(err, timeout.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v; want it to match ErrTimeout and context.DeadlineExceeded", err)
		}
		if got := resilience.Classify(err); got != resilience.ClassTransient {
			t.Errorf("Classify(err) = %v, want transient", got)
		}
		if u := errors.Unwrap(err); u != context.DeadlineExceeded {
			t.Errorf("errors.Unwrap(err) = %v, want what the function returned", u)
		}
		var te *timeout.Error
		if !errors.As(err, &te) || te.Name != "llm" || te.Limit != 2*time.Second || te.Abandoned {
			t.Fatalf("err = %#v; want an *Error named llm, limit 2s, not abandoned", err)
		}
		if want := `timeout "llm": attempt timed out after 2s`; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
		}
		if !errors.Is(cause, timeout.ErrTimeout) || !errors.As(cause, &te) || te.Name != "llm" {
			t.Errorf("the context's cause = %v; want the timeout's *Error", cause)
		}
		wantSnapshot(t, tm, timeout.Snapshot{Name: "llm", Timeout: 2 * time.Second, TimedOut: 1})
		evs := seen.get()
		if len(evs) != 1 {
			t.Fatalf("Observer.Timeout called %d times, want 1", len(evs))
		}
		if ev, te := evs[0], timedOut(evs[0]); ev.Policy != "llm" || te == nil || te.Limit != 2*time.Second || ev.Delay != 2*time.Second ||
			te.Abandoned || ev.Err != err || te.Err != context.DeadlineExceeded || ev.Reason != "" || !ev.Time.Equal(start.Add(2*time.Second)) {
			t.Errorf("event = %+v", ev)
		}
	})
}

func TestTimedOutErrorWrapsWhatTheFunctionReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tm := mustNew(t, timeout.Config{Timeout: time.Second})

		// The function returns its context's cause: that is the error, as is.
		var cause error
		err := timeout.Run(context.Background(), tm, func(ctx context.Context) error {
			<-ctx.Done()
			cause = context.Cause(ctx)
			return cause
		})
		if err != cause || !errors.Is(err, timeout.ErrTimeout) {
			t.Errorf("err = %v; want the context's cause itself, %v", err, cause)
		}

		// The function wraps its cause: no second wrapping.
		var wrapped error
		err = timeout.Run(context.Background(), tm, func(ctx context.Context) error {
			<-ctx.Done()
			wrapped = fmt.Errorf("fetch: %w", context.Cause(ctx))
			return wrapped
		})
		if err != wrapped {
			t.Errorf("err = %v; want the function's own error %v", err, wrapped)
		}

		// The function returns its own error after the deadline.
		inner := fmt.Errorf("read: %w", errLate)
		err = timeout.Run(context.Background(), tm, func(ctx context.Context) error {
			<-ctx.Done()
			return inner
		})
		if !errors.Is(err, timeout.ErrTimeout) || errors.Unwrap(err) != inner || !errors.Is(err, errLate) {
			t.Errorf("err = %v; want an ErrTimeout unwrapping to %v", err, inner)
		}
		if want := "timeout: attempt timed out after 1s: read: connection reset"; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
		}
		if c := resilience.Classify(err); c != resilience.ClassTransient {
			t.Errorf("Classify = %v, want transient", c)
		}

		// An error explicitly marked permanent keeps its mark, as
		// resilience.Classify documents, though it is a timeout.
		err = timeout.Run(context.Background(), tm, func(ctx context.Context) error {
			<-ctx.Done()
			return resilience.Permanent(errBad)
		})
		if !errors.Is(err, timeout.ErrTimeout) || resilience.Classify(err) != resilience.ClassPermanent {
			t.Errorf("err = %v (%v); want an ErrTimeout that stays permanent", err, resilience.Classify(err))
		}
		if s := tm.Snapshot(); s.TimedOut != 4 {
			t.Errorf("TimedOut = %d, want 4", s.TimedOut)
		}
	})
}

func TestBeforeTheDeadlineResultsAreUntouched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, abandon := range []bool{false, true} {
			var seen events
			tm := mustNew(t, timeout.Config{Timeout: time.Second, Abandon: abandon, Observer: &resilience.Observer{Timeout: seen.add}})
			v, err := timeout.Do(context.Background(), tm, func(context.Context) (string, error) {
				time.Sleep(time.Second - time.Nanosecond)
				return "ok", nil
			})
			if v != "ok" || err != nil {
				t.Errorf("abandon=%v: success = %q, %v", abandon, v, err)
			}
			v, err = timeout.Do(context.Background(), tm, func(context.Context) (string, error) {
				time.Sleep(time.Second - time.Nanosecond)
				return "partial", errBad
			})
			if v != "partial" || err != errBad {
				t.Errorf("abandon=%v: failure = %q, %v; want the function's own error", abandon, v, err)
			}
			wantSnapshot(t, tm, timeout.Snapshot{Timeout: time.Second})
			if n := len(seen.get()); n != 0 {
				t.Errorf("abandon=%v: Observer.Timeout called %d times", abandon, n)
			}
		}
	})
}

func TestCooperativeWaitsForAFunctionThatIgnoresItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen events
		tm := mustNew(t, timeout.Config{Timeout: time.Second, Observer: &resilience.Observer{Timeout: seen.add}})
		start := time.Now()
		err := timeout.Run(context.Background(), tm, func(context.Context) error {
			time.Sleep(5 * time.Second) // ignores its context
			return errLate
		})
		if elapsed := time.Since(start); elapsed != 5*time.Second {
			t.Errorf("Do returned after %v; want it to wait for the function, 5s", elapsed)
		}
		if !errors.Is(err, timeout.ErrTimeout) || !errors.Is(err, errLate) {
			t.Errorf("err = %v; want an ErrTimeout wrapping the late error", err)
		}
		if evs := seen.get(); len(evs) != 1 || evs[0].Delay != 5*time.Second || timedOut(evs[0]) == nil || timedOut(evs[0]).Err != errLate || timedOut(evs[0]).Abandoned {
			t.Errorf("events = %+v", evs)
		}

		// A late success is a success.
		v, err := timeout.Do(context.Background(), tm, func(context.Context) (int, error) {
			time.Sleep(5 * time.Second)
			return 42, nil
		})
		if v != 42 || err != nil {
			t.Errorf("late success = %d, %v; want 42, nil", v, err)
		}
		wantSnapshot(t, tm, timeout.Snapshot{Timeout: time.Second, TimedOut: 1})
	})
}

func TestCallersDeadlineStaysTheCallers(t *testing.T) {
	for _, abandon := range []bool{false, true} {
		t.Run(fmt.Sprint("abandon=", abandon), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var seen events
				tm := mustNew(t, timeout.Config{Timeout: 5 * time.Second, Abandon: abandon, Observer: &resilience.Observer{Timeout: seen.add}})
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				saw := make(chan time.Time, 1) // the function may run on another goroutine
				err := timeout.Run(ctx, tm, func(ctx context.Context) error {
					d, _ := ctx.Deadline()
					saw <- d
					return hang(ctx)
				})
				deadline := <-saw
				if err != context.DeadlineExceeded {
					t.Errorf("err = %v; want the caller's own context.DeadlineExceeded, untouched", err)
				}
				if errors.Is(err, timeout.ErrTimeout) {
					t.Error("the caller's deadline was turned into an attempt timeout")
				}
				if elapsed := time.Since(start); elapsed != time.Second {
					t.Errorf("returned after %v, want the caller's 1s", elapsed)
				}
				if want := start.Add(time.Second); !deadline.Equal(want) {
					t.Errorf("attempt deadline = start+%v, want the caller's, start+1s", deadline.Sub(start))
				}
				if n := len(seen.get()); n != 0 {
					t.Errorf("Observer.Timeout called %d times", n)
				}
				if s := tm.Snapshot(); s.TimedOut != 0 {
					t.Errorf("TimedOut = %d, want 0", s.TimedOut)
				}
				synctest.Wait() // an abandoned call that honours its context has ended
				if s := tm.Snapshot(); s.AbandonedRunning != 0 {
					t.Errorf("AbandonedRunning = %d after the call returned", s.AbandonedRunning)
				}
			})
		})
	}
}

func TestCallersDeadlineEndingAfterTheAttemptsIsStillTheCallers(t *testing.T) {
	// Both deadlines pass before the function returns: the caller's context
	// has ended, so the error is the function's, untouched.
	synctest.Test(t, func(t *testing.T) {
		tm := mustNew(t, timeout.Config{Timeout: time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := timeout.Run(ctx, tm, func(context.Context) error {
			time.Sleep(3 * time.Second)
			return errLate
		})
		if err != errLate {
			t.Errorf("err = %v; want the function's error untouched", err)
		}
	})
}

func TestCallersCancellationStaysTheCallers(t *testing.T) {
	errGaveUp := errors.New("user gave up")
	for _, abandon := range []bool{false, true} {
		t.Run(fmt.Sprint("abandon=", abandon), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var timeouts, returns events
				tm := mustNew(t, timeout.Config{Timeout: 5 * time.Second, Abandon: abandon,
					Observer: &resilience.Observer{Timeout: timeouts.add, AbandonedReturn: returns.add}})
				ctx, cancel := context.WithCancelCause(context.Background())
				time.AfterFunc(time.Second, func() { cancel(errGaveUp) })
				start := time.Now()
				release := make(chan struct{})
				err := timeout.Run(ctx, tm, func(ctx context.Context) error {
					if abandon {
						<-release // ignores its context
						return errLate
					}
					<-ctx.Done()
					return context.Cause(ctx)
				})
				if err != errGaveUp {
					t.Errorf("err = %v; want the caller's cause %v", err, errGaveUp)
				}
				if elapsed := time.Since(start); elapsed != time.Second {
					t.Errorf("returned after %v, want 1s", elapsed)
				}
				want := timeout.Snapshot{Timeout: 5 * time.Second}
				if abandon {
					want.Abandoned, want.AbandonedRunning = 1, 1
				}
				wantSnapshot(t, tm, want)
				close(release)
				synctest.Wait()
				want.AbandonedRunning = 0
				wantSnapshot(t, tm, want)
				if n := len(timeouts.get()); n != 0 {
					t.Errorf("Observer.Timeout called %d times", n)
				}
				if evs := returns.get(); abandon && (len(evs) != 1 || evs[0].Err != errLate) {
					t.Errorf("AbandonedReturn events = %+v", evs)
				}
			})
		})
	}
}

func TestAttemptDeadlineNeverExtendsTheCallers(t *testing.T) {
	const limit = 3 * time.Second
	for _, abandon := range []bool{false, true} {
		for _, caller := range []time.Duration{0, time.Second, limit - time.Nanosecond, limit, limit + time.Nanosecond, time.Hour} {
			t.Run(fmt.Sprintf("abandon=%v/caller=%v", abandon, caller), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					tm := mustNew(t, timeout.Config{Timeout: limit, Abandon: abandon})
					ctx := context.Background()
					start := time.Now()
					if caller > 0 {
						var cancel context.CancelFunc
						ctx, cancel = context.WithTimeout(ctx, caller)
						defer cancel()
					}
					type seen struct {
						deadline time.Time
						ok       bool
					}
					saw := make(chan seen, 1) // the function may run on another goroutine
					err := timeout.Run(ctx, tm, func(ctx context.Context) error {
						d, ok := ctx.Deadline()
						saw <- seen{d, ok}
						return hang(ctx)
					})
					s := <-saw
					deadline, ok := s.deadline, s.ok
					want := limit
					if caller > 0 && caller < limit {
						want = caller
					}
					if !ok || deadline.Sub(start) != want {
						t.Errorf("attempt deadline = start+%v (%v), want start+%v", deadline.Sub(start), ok, want)
					}
					if elapsed := time.Since(start); elapsed != want {
						t.Errorf("returned after %v, want %v", elapsed, want)
					}
					callersFirst := caller > 0 && caller <= limit
					if callersFirst != !errors.Is(err, timeout.ErrTimeout) {
						t.Errorf("err = %v; the caller's deadline came first: %v", err, callersFirst)
					}
					synctest.Wait()
				})
			})
		}
	}
}

func TestAbandonReturnsAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var timeouts, returns events
		tm := mustNew(t, timeout.Config{Name: "legacy", Timeout: time.Second, Abandon: true,
			Observer: &resilience.Observer{Timeout: timeouts.add, AbandonedReturn: returns.add}})
		start := time.Now()
		release := make(chan struct{})
		finished := make(chan struct{})
		v, err := timeout.Do(context.Background(), tm, func(context.Context) (int, error) {
			<-release // ignores its context
			close(finished)
			return 42, errLate
		})
		if elapsed := time.Since(start); elapsed != time.Second {
			t.Errorf("Do returned after %v, want the deadline, 1s", elapsed)
		}
		if v != 0 {
			t.Errorf("value = %d, want the zero value", v)
		}
		var te *timeout.Error
		if !errors.Is(err, timeout.ErrTimeout) || !errors.As(err, &te) || !te.Abandoned ||
			te.Name != "legacy" || te.Err != context.DeadlineExceeded {
			t.Fatalf("err = %#v; want an abandoned *Error", err)
		}
		if c := resilience.Classify(err); c != resilience.ClassTransient {
			t.Errorf("Classify = %v, want transient", c)
		}
		if want := `timeout "legacy": attempt timed out after 1s and was left running`; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
		}
		want := timeout.Snapshot{Name: "legacy", Timeout: time.Second, TimedOut: 1, Abandoned: 1, AbandonedRunning: 1}
		wantSnapshot(t, tm, want)
		if evs := timeouts.get(); len(evs) != 1 || timedOut(evs[0]) == nil || !timedOut(evs[0]).Abandoned || evs[0].Err != err || evs[0].Delay != time.Second {
			t.Errorf("Timeout events = %+v", evs)
		}
		if n := len(returns.get()); n != 0 {
			t.Errorf("Observer.AbandonedReturn called %d times before the call returned", n)
		}

		time.Sleep(4 * time.Second)
		close(release)
		synctest.Wait()
		select {
		case <-finished:
		default:
			t.Error("the abandoned function did not run to its end")
		}
		want.AbandonedRunning = 0
		wantSnapshot(t, tm, want)
		evs := returns.get()
		if len(evs) != 1 {
			t.Fatalf("Observer.AbandonedReturn called %d times, want 1", len(evs))
		}
		if ev := evs[0]; ev.Type != resilience.EventAbandonedReturn || ev.Kind != resilience.KindTimeout || ev.Policy != "legacy" ||
			ev.Err != errLate || ev.Delay != 5*time.Second || ev.Reason != "" || ev.Context == nil {
			t.Errorf("AbandonedReturn event = %+v", ev)
		}
	})
}

func TestAbandonModeWithAFunctionThatHonoursItsContext(t *testing.T) {
	// The function and the deadline race: either way the result is a
	// timeout, and nothing is left running.
	synctest.Test(t, func(t *testing.T) {
		tm := mustNew(t, timeout.Config{Timeout: time.Second, Abandon: true})
		for range 20 {
			err := timeout.Run(context.Background(), tm, hang)
			if !errors.Is(err, timeout.ErrTimeout) {
				t.Fatalf("err = %v, want ErrTimeout", err)
			}
		}
		synctest.Wait()
		s := tm.Snapshot()
		if s.TimedOut != 20 || s.AbandonedRunning != 0 || s.WaitedFor != 0 {
			t.Errorf("Snapshot = %+v", s)
		}
	})
}

func TestMaxAbandonedBoundsTheCallsLeftRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var returns events
		tm := mustNew(t, timeout.Config{Timeout: time.Second, Abandon: true, MaxAbandoned: 2, Observer: &resilience.Observer{AbandonedReturn: returns.add}})
		release := make(chan struct{})
		stuck := func(context.Context) error { <-release; return errLate }
		for i := 1; i <= 2; i++ {
			if err := timeout.Run(context.Background(), tm, stuck); !errors.Is(err, timeout.ErrTimeout) {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		wantSnapshot(t, tm, timeout.Snapshot{Timeout: time.Second, TimedOut: 2, Abandoned: 2, AbandonedRunning: 2})

		// The bound is reached: the third call is waited for.
		start := time.Now()
		result := make(chan error, 1)
		go func() { result <- timeout.Run(context.Background(), tm, stuck) }()
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case err := <-result:
			t.Fatalf("the third call returned (%v) although MaxAbandoned calls were running", err)
		default:
		}
		close(release)
		err := <-result
		if elapsed := time.Since(start); elapsed != time.Hour {
			t.Errorf("the third call returned after %v, want when the function did, 1h", elapsed)
		}
		var te *timeout.Error
		if !errors.As(err, &te) || te.Abandoned || te.Err != errLate {
			t.Errorf("third call: %v; want a timeout that was waited for, wrapping the late error", err)
		}
		synctest.Wait()
		wantSnapshot(t, tm, timeout.Snapshot{Timeout: time.Second, TimedOut: 3, Abandoned: 2, WaitedFor: 1})
		if n := len(returns.get()); n != 2 {
			t.Errorf("Observer.AbandonedReturn called %d times, want 2", n)
		}

		// Room again: the next call is abandoned.
		release = make(chan struct{})
		if err := timeout.Run(context.Background(), tm, stuck); !errors.As(err, &te) || !te.Abandoned {
			t.Errorf("after the abandoned calls ended: %v; want an abandoned call", err)
		}
		close(release)
	})
}

func TestMaxAbandonedOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const calls = 2*timeout.DefaultMaxAbandoned + 1
		tm := mustNew(t, timeout.Config{Timeout: time.Second, Abandon: true, MaxAbandoned: -1})
		release := make(chan struct{})
		stuck := func(context.Context) error { <-release; return errLate }
		for i := 1; i <= calls; i++ {
			var te *timeout.Error
			if err := timeout.Run(context.Background(), tm, stuck); !errors.As(err, &te) || !te.Abandoned {
				t.Fatalf("call %d with no bound on abandoned calls: %v; want it abandoned", i, err)
			}
		}
		wantSnapshot(t, tm, timeout.Snapshot{Timeout: time.Second, TimedOut: calls, Abandoned: calls, AbandonedRunning: calls})
		close(release)
		synctest.Wait()
		wantSnapshot(t, tm, timeout.Snapshot{Timeout: time.Second, TimedOut: calls, Abandoned: calls})
	})
}

func TestMaxAbandonedReachedDuringTheAttempt(t *testing.T) {
	// Room when the attempt starts, none when its deadline passes.
	synctest.Test(t, func(t *testing.T) {
		tm := mustNew(t, timeout.Config{Timeout: time.Second, Abandon: true, MaxAbandoned: 1})
		release := make(chan struct{})
		stuck := func(context.Context) error { <-release; return errLate }
		first := make(chan error, 1)
		go func() { first <- timeout.Run(context.Background(), tm, stuck) }()
		time.Sleep(time.Second / 2)
		second := make(chan error, 1)
		go func() { second <- timeout.Run(context.Background(), tm, stuck) }()

		time.Sleep(time.Hour)
		var te *timeout.Error
		if err := <-first; !errors.As(err, &te) || !te.Abandoned {
			t.Fatalf("first call: %v, want it abandoned", err)
		}
		synctest.Wait()
		select {
		case err := <-second:
			t.Fatalf("the second call returned (%v) with no room to abandon it", err)
		default:
		}
		close(release)
		if err := <-second; !errors.As(err, &te) || te.Abandoned || te.Err != errLate {
			t.Fatalf("second call: %v, want a timeout waited for", err)
		}
		synctest.Wait()
		wantSnapshot(t, tm, timeout.Snapshot{Timeout: time.Second, TimedOut: 2, Abandoned: 1, WaitedFor: 1})
	})
}

func TestPanicsGoOnToTheCaller(t *testing.T) {
	for _, abandon := range []bool{false, true} {
		tm := mustNew(t, timeout.Config{Timeout: time.Hour, Abandon: abandon})
		boom := errors.New("boom")
		got := func() (r any) {
			defer func() { r = recover() }()
			timeout.Run(context.Background(), tm, func(context.Context) error { panic(boom) })
			return nil
		}()
		if got != boom {
			t.Errorf("abandon=%v: recovered %v, want the function's panic value", abandon, got)
		}
		if s := tm.Snapshot(); s.AbandonedRunning != 0 || s.Abandoned != 0 {
			t.Errorf("abandon=%v: Snapshot = %+v", abandon, s)
		}
	}
}

func TestGoexitGoesOnToTheCaller(t *testing.T) {
	for _, abandon := range []bool{false, true} {
		tm := mustNew(t, timeout.Config{Timeout: time.Hour, Abandon: abandon})
		after := false
		done := make(chan struct{})
		go func() {
			defer close(done)
			timeout.Run(context.Background(), tm, func(context.Context) error {
				runtime.Goexit()
				return nil
			})
			after = true
		}()
		<-done
		if after {
			t.Errorf("abandon=%v: the caller went on after the function called runtime.Goexit", abandon)
		}
	}
}

func TestExecuteKeepsAndDropsValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		cooperative := mustNew(t, timeout.Config{Timeout: time.Second})
		v, err := resilience.Do(ctx, cooperative, func(context.Context) (string, error) { return "reply", nil })
		if v != "reply" || err != nil {
			t.Errorf("resilience.Do = %q, %v", v, err)
		}
		v, err = resilience.Do(ctx, cooperative, func(ctx context.Context) (string, error) {
			<-ctx.Done()
			return "partial", ctx.Err()
		})
		if v != "partial" || !errors.Is(err, timeout.ErrTimeout) {
			t.Errorf("resilience.Do after the deadline = %q, %v; want the last value and ErrTimeout", v, err)
		}

		abandoning := mustNew(t, timeout.Config{Timeout: time.Second, Abandon: true})
		release := make(chan struct{})
		v, err = resilience.Do(ctx, abandoning, func(context.Context) (string, error) {
			<-release
			return "too late", nil
		})
		if v != "" || !errors.Is(err, timeout.ErrTimeout) {
			t.Errorf("abandoned resilience.Do = %q, %v; want no value and ErrTimeout", v, err)
		}
		close(release)
		synctest.Wait()
		if s := abandoning.Snapshot(); s.Abandoned != 1 || s.AbandonedRunning != 0 {
			t.Errorf("Snapshot = %+v", s)
		}
	})
}

func TestConcurrentCallsStayWithinTheBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bound = 5
		var mu sync.Mutex
		maxRunning := 0
		observe := func(tm *timeout.Timeout) {
			n := tm.Snapshot().AbandonedRunning
			mu.Lock()
			maxRunning = max(maxRunning, n)
			mu.Unlock()
		}
		var tm *timeout.Timeout
		var returned events
		tm = mustNew(t, timeout.Config{Timeout: time.Second, Abandon: true, MaxAbandoned: bound,
			Observer: &resilience.Observer{
				Timeout:         func(resilience.Event) { observe(tm) },
				AbandonedReturn: func(ev resilience.Event) { observe(tm); returned.add(ev) },
			},
		})
		release := make(chan struct{})
		const callers, calls = 20, 10
		var countsMu sync.Mutex
		var counts struct{ ok, abandoned, waited int }
		var wg sync.WaitGroup
		for g := range callers {
			wg.Go(func() {
				for i := range calls {
					err := timeout.Run(context.Background(), tm, func(ctx context.Context) error {
						switch (g + i) % 3 {
						case 0:
							return nil
						case 1:
							return hang(ctx)
						}
						select { // ignores its context until released, or for up to 3s
						case <-release:
						case <-time.After(3 * time.Second):
						}
						return errLate
					})
					var te *timeout.Error
					countsMu.Lock()
					switch {
					case err == nil:
						counts.ok++
					case errors.As(err, &te) && te.Abandoned:
						counts.abandoned++
					case errors.As(err, &te):
						counts.waited++
					default:
						t.Errorf("unexpected error %v", err)
					}
					countsMu.Unlock()
				}
			})
		}
		wg.Wait()
		close(release)
		synctest.Wait()
		s := tm.Snapshot()
		if maxRunning > bound || s.AbandonedRunning != 0 {
			t.Errorf("abandoned calls running: at most %d, now %d; want at most %d, now 0", maxRunning, s.AbandonedRunning, bound)
		}
		if maxRunning == 0 || s.WaitedFor == 0 {
			t.Errorf("the test did not exercise the bound: max running %d, waited for %d", maxRunning, s.WaitedFor)
		}
		if counts.ok+counts.abandoned+counts.waited != callers*calls {
			t.Errorf("outcomes %+v do not add up to %d calls", counts, callers*calls)
		}
		if uint64(counts.abandoned) > s.Abandoned || s.TimedOut != uint64(counts.abandoned+counts.waited) {
			t.Errorf("Snapshot %+v disagrees with the outcomes %+v", s, counts)
		}
		if n := len(returned.get()); uint64(n) != s.Abandoned {
			t.Errorf("%d abandoned calls returned, %d were abandoned", n, s.Abandoned)
		}
	})
}

func TestLeavingACallThatHasJustReturned(t *testing.T) {
	// The deadline and the function's return race: when the function wins,
	// the call is not abandoned and takes no room.
	tm := mustNew(t, timeout.Config{Timeout: time.Second, Abandon: true, MaxAbandoned: 1})
	if tm.LeaveForTest(true) {
		t.Fatal("a call that has returned was abandoned")
	}
	wantSnapshot(t, tm, timeout.Snapshot{Timeout: time.Second})
	if !tm.LeaveForTest(false) {
		t.Fatal("a running call was not abandoned, with room for it")
	}
	wantSnapshot(t, tm, timeout.Snapshot{Timeout: time.Second, Abandoned: 1, AbandonedRunning: 1})
	if tm.LeaveForTest(false) {
		t.Fatal("a running call was abandoned beyond MaxAbandoned")
	}
	wantSnapshot(t, tm, timeout.Snapshot{Timeout: time.Second, Abandoned: 1, AbandonedRunning: 1, WaitedFor: 1})
}

func TestWhenFullAttemptsRunOnTheCallersGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		tm := mustNew(t, timeout.Config{Timeout: time.Second, Abandon: true, MaxAbandoned: 1})
		release := make(chan struct{})
		defer close(release)
		if err := timeout.Run(ctx, tm, func(context.Context) error { <-release; return nil }); !errors.Is(err, timeout.ErrTimeout) {
			t.Fatalf("err = %v", err)
		}
		// The bound is reached: no goroutine, only the context's cost.
		contextCost := testing.AllocsPerRun(50, func() {
			_, cancel := context.WithTimeoutCause(ctx, time.Hour, errCause)
			cancel()
		})
		if got := testing.AllocsPerRun(50, func() { timeout.Do(ctx, tm, succeed) }); got != contextCost {
			t.Errorf("with MaxAbandoned calls running, a call allocates %v times; want the context's %v", got, contextCost)
		}
		// A late success is a success here too.
		v, err := timeout.Do(ctx, tm, func(context.Context) (int, error) {
			time.Sleep(5 * time.Second)
			return 42, nil
		})
		if v != 42 || err != nil {
			t.Errorf("late success = %d, %v; want 42, nil", v, err)
		}
		if s := tm.Snapshot(); s.WaitedFor != 1 || s.TimedOut != 1 {
			t.Errorf("Snapshot = %+v; want the late call waited for, and not a timeout", s)
		}
	})
}

package retry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/internal/leakcheck"
	"github.com/netresilience/resilience/retry"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// steady is exponential backoff without jitter: 100ms, 200ms, 400ms, ...
var steady = backoff.Exponential{Base: 100 * time.Millisecond, Multiplier: 2, Max: 10 * time.Second, Jitter: backoff.NoJitter}

var (
	errReset = resilience.Transient(errors.New("connection reset"))
	errBad   = errors.New("bad request")
	errOpen  = errors.New("open")
)

func mustNew(t *testing.T, cfg retry.Config) *retry.Policy {
	t.Helper()
	p, err := retry.New(cfg)
	if err != nil {
		t.Fatalf("retry.New(%+v): %v", cfg, err)
	}
	return p
}

// script returns a function that returns errs in turn, then value 42 with a
// nil error, and records the virtual time of each call.
type script struct {
	mu    sync.Mutex
	errs  []error
	calls []time.Time
}

func (s *script) call(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, time.Now())
	if i := len(s.calls) - 1; i < len(s.errs) {
		return -i, s.errs[i]
	}
	return 42, nil
}

// gaps returns the time between successive calls.
func (s *script) gaps() []time.Duration {
	var g []time.Duration
	for i := 1; i < len(s.calls); i++ {
		g = append(g, s.calls[i].Sub(s.calls[i-1]))
	}
	return g
}

func asRetryError(t *testing.T, err error) *retry.Error {
	t.Helper()
	var re *retry.Error
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *retry.Error", err, err)
	}
	return re
}

func TestRetriesTransientErrorsWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []resilience.Event
		p := mustNew(t, retry.Config{MaxAttempts: 4, Backoff: steady, Observer: &resilience.Observer{
			Retry: func(e resilience.Event) { events = append(events, e) },
		}})
		s := &script{errs: []error{errReset, errReset, errReset}}
		start := time.Now()
		v, err := retry.Do(context.Background(), p, s.call)
		if err != nil || v != 42 {
			t.Fatalf("Do = %v, %v; want 42, nil", v, err)
		}
		if got, want := fmt.Sprint(s.gaps()), "[100ms 200ms 400ms]"; got != want {
			t.Errorf("waits between attempts = %s, want %s", got, want)
		}
		if elapsed := time.Since(start); elapsed != 700*time.Millisecond {
			t.Errorf("Do took %v of virtual time, want 700ms", elapsed)
		}
		if len(events) != 3 {
			t.Fatalf("Observer.Retry called %d times, want 3", len(events))
		}
		for i, e := range events {
			if e.Attempt != i+1 || e.Err != errReset || e.Delay != s.gaps()[i] {
				t.Errorf("event %d = %+v, want attempt %d, err %v, delay %v", i, e, i+1, errReset, s.gaps()[i])
			}
		}
	})
}

func TestExhaustedAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Config{Backoff: steady}) // default: 3 attempts
		last := resilience.Transient(errors.New("third"))
		s := &script{errs: []error{errReset, errReset, last, errReset}}
		v, err := retry.Do(context.Background(), p, s.call)
		if len(s.calls) != 3 {
			t.Fatalf("%d attempts, want the default 3", len(s.calls))
		}
		re := asRetryError(t, err)
		if re.Reason != retry.Exhausted || re.Attempts != 3 || re.Err != last {
			t.Errorf("error = %+v; want Exhausted after 3 attempts with the last error", re)
		}
		if !errors.Is(err, last) {
			t.Errorf("errors.Is(err, last attempt's error) = false for %v", err)
		}
		if v != -2 {
			t.Errorf("value = %d, want the last attempt's value -2", v)
		}
		if want := "retry: gave up after 3 attempts (attempts exhausted): network error: third"; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
		}
	})
}

func TestPermanentErrorReturnsAtOnceUnchanged(t *testing.T) {
	p := mustNew(t, retry.Config{Backoff: steady})
	s := &script{errs: []error{errBad}}
	_, err := retry.Do(context.Background(), p, s.call)
	if err != errBad {
		t.Fatalf("Do returned %v (%T); want the original error itself", err, err)
	}
	if len(s.calls) != 1 {
		t.Fatalf("%d attempts for a permanent error, want 1", len(s.calls))
	}
}

func TestPermanentAfterRetrySaysWhy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Config{Backoff: steady})
		s := &script{errs: []error{errReset, errBad}}
		_, err := retry.Do(context.Background(), p, s.call)
		re := asRetryError(t, err)
		if re.Reason != retry.NotRetryable || re.Attempts != 2 || !errors.Is(err, errBad) {
			t.Fatalf("error = %+v; want NotRetryable after 2 attempts, unwrapping to errBad", re)
		}
	})
}

func TestIgnoredErrorIsNotRetried(t *testing.T) {
	// The function reports a cancellation of its own, while the caller's
	// context is fine: ignored, so returned as it is.
	p := mustNew(t, retry.Config{Backoff: steady})
	own := fmt.Errorf("sub-request: %w", context.Canceled)
	s := &script{errs: []error{own}}
	if _, err := retry.Do(context.Background(), p, s.call); err != own || len(s.calls) != 1 {
		t.Fatalf("Do = %v after %d attempts; want the function's own error after 1", err, len(s.calls))
	}
}

func TestCancelEndsTheWaitAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Config{Backoff: backoff.Constant(time.Hour)})
		ctx, cancel := context.WithCancelCause(context.Background())
		cause := errors.New("user pressed stop")
		time.AfterFunc(50*time.Millisecond, func() { cancel(cause) })
		s := &script{errs: []error{errReset, errReset}}
		start := time.Now()
		_, err := retry.Do(ctx, p, s.call)
		if elapsed := time.Since(start); elapsed != 50*time.Millisecond {
			t.Errorf("Do returned after %v, want 50ms (when the context was canceled)", elapsed)
		}
		re := asRetryError(t, err)
		if re.Reason != retry.Canceled || re.Attempts != 1 {
			t.Errorf("error = %+v; want Canceled after 1 attempt", re)
		}
		if !errors.Is(err, cause) || !errors.Is(err, errReset) {
			t.Errorf("error %v does not unwrap to both the cause and the last error", err)
		}
		if !strings.Contains(err.Error(), "user pressed stop") {
			t.Errorf("error text %q does not give the cause", err)
		}
	})
}

func TestAlreadyCanceledContext(t *testing.T) {
	p := mustNew(t, retry.Config{Backoff: steady})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	err := retry.Run(ctx, p, func(ctx context.Context) error {
		calls++
		return resilience.Transient(ctx.Err())
	})
	if calls != 0 {
		t.Fatalf("%d attempts with a canceled context, want none", calls)
	}
	if err != context.Canceled {
		t.Fatalf("error = %v; want the context's cause, context.Canceled", err)
	}
}

func TestStopsBeforeSleepingPastTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Config{MaxAttempts: 10, Backoff: steady})
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		s := &script{errs: []error{errReset, errReset, errReset, errReset}}
		start := time.Now()
		_, err := retry.Do(ctx, p, s.call)
		// Attempt 1 at 0, wait 100ms, attempt 2 at 100ms; the next wait of
		// 200ms would end at 300ms, after the deadline: stop at 100ms.
		if elapsed := time.Since(start); elapsed != 100*time.Millisecond {
			t.Errorf("Do returned after %v, want 100ms (no sleep into the deadline)", elapsed)
		}
		re := asRetryError(t, err)
		if re.Reason != retry.Deadline || re.Attempts != 2 {
			t.Errorf("error = %+v; want Deadline after 2 attempts", re)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v claims the deadline passed; it had not", err)
		}
	})
}

func TestDeadlinePassedDuringAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Config{Backoff: steady})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := retry.Run(ctx, p, func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err() // a deadline is transient, but it is the caller's
		})
		re := asRetryError(t, err)
		if re.Reason != retry.Deadline || re.Attempts != 1 || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %+v; want Deadline after 1 attempt matching context.DeadlineExceeded", re)
		}
	})
}

func TestServerHintIsAFloor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Config{Backoff: steady})
		hinted := resilience.WithRetryAfter(errReset, 2*time.Second)
		s := &script{errs: []error{hinted, errReset}}
		if _, err := retry.Do(context.Background(), p, s.call); err != nil {
			t.Fatal(err)
		}
		// The hint raises the first wait to 2s; the second wait is the
		// backoff's 200ms again.
		if got, want := fmt.Sprint(s.gaps()), "[2s 200ms]"; got != want {
			t.Errorf("waits = %s, want %s", got, want)
		}
	})
}

func TestMaxRetryAfterOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Config{Backoff: steady, MaxRetryAfter: -1})
		hinted := resilience.WithRetryAfter(errReset, 1000*time.Hour)
		s := &script{errs: []error{hinted}}
		start := time.Now()
		if _, err := retry.Do(context.Background(), p, s.call); err != nil || len(s.calls) != 2 {
			t.Fatalf("err %v after %d attempts; want the second to succeed", err, len(s.calls))
		}
		if waited := time.Since(start); waited != 1000*time.Hour {
			t.Fatalf("waited %v, want the hint's 1000h: no cap", waited)
		}
		// The caller's deadline still bounds the wait.
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		s = &script{errs: []error{hinted}}
		_, err := retry.Do(ctx, p, s.call)
		if re := asRetryError(t, err); re.Reason != retry.Deadline || len(s.calls) != 1 {
			t.Fatalf("reason %v after %d attempts; want Deadline after 1", re.Reason, len(s.calls))
		}
	})
}

func TestHintBeyondCapStopsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Config{Backoff: steady, MaxRetryAfter: time.Minute})
		hinted := resilience.WithRetryAfter(errReset, time.Hour)
		s := &script{errs: []error{hinted}}
		start := time.Now()
		_, err := retry.Do(context.Background(), p, s.call)
		if time.Since(start) != 0 || len(s.calls) != 1 {
			t.Fatalf("waited %v and made %d attempts; want no wait, 1 attempt", time.Since(start), len(s.calls))
		}
		if re := asRetryError(t, err); re.Reason != retry.HintTooLong {
			t.Fatalf("reason = %v, want HintTooLong", re.Reason)
		}
		if d, ok := resilience.RetryAfter(err); !ok || d != time.Hour {
			t.Fatalf("RetryAfter(err) = %v, %v; the error must still carry the 1h hint", d, ok)
		}
	})
}

func TestHintBeyondDeadlineStopsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Config{Backoff: steady})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s := &script{errs: []error{resilience.WithRetryAfter(errReset, 10*time.Second)}}
		_, err := retry.Do(ctx, p, s.call)
		if re := asRetryError(t, err); re.Reason != retry.Deadline || len(s.calls) != 1 {
			t.Fatalf("reason %v after %d attempts; want Deadline after 1", re.Reason, len(s.calls))
		}
	})
}

func TestMaxElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Config{MaxAttempts: 100, Backoff: backoff.Constant(time.Second), MaxElapsed: 3500 * time.Millisecond})
		calls := 0
		start := time.Now()
		err := retry.Run(context.Background(), p, func(context.Context) error {
			calls++
			time.Sleep(100 * time.Millisecond) // each attempt takes 100ms
			return errReset
		})
		// Attempts start at 0, 1.1s, 2.2s; a fourth would start at 3.3s+... 3.3s
		// fits, 4.4s does not.
		if calls != 4 {
			t.Errorf("%d attempts, want 4", calls)
		}
		if re := asRetryError(t, err); re.Reason != retry.TimeLimit {
			t.Errorf("reason = %v, want TimeLimit", re.Reason)
		}
		if elapsed := time.Since(start); elapsed != 3400*time.Millisecond {
			t.Errorf("took %v, want 3.4s", elapsed)
		}
	})
}

func TestPanicPropagatesUnchanged(t *testing.T) {
	p := mustNew(t, retry.Config{Backoff: steady})
	type boom struct{ n int }
	calls := 0
	defer func() {
		r := recover()
		if r != (boom{7}) {
			t.Fatalf("recovered %v, want boom{7}", r)
		}
		if calls != 1 {
			t.Fatalf("function ran %d times, want 1 (a panic is not retried)", calls)
		}
	}()
	retry.Run(context.Background(), p, func(context.Context) error {
		calls++
		panic(boom{7})
	})
	t.Fatal("Run returned after a panic")
}

func TestCustomClassifier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errBusy := errors.New("busy")
		p := mustNew(t, retry.Config{Backoff: steady, Classifier: func(err error) resilience.Class {
			if errors.Is(err, errBusy) {
				return resilience.ClassTransient
			}
			return resilience.Classify(err)
		}})
		s := &script{errs: []error{errBusy, errBusy}}
		if v, err := retry.Do(context.Background(), p, s.call); err != nil || v != 42 || len(s.calls) != 3 {
			t.Fatalf("Do = %v, %v after %d attempts; want 42, nil after 3", v, err, len(s.calls))
		}
	})
}

// recording is a strategy that records its arguments.
type recording struct {
	mu   sync.Mutex
	args [][3]float64
}

func (r *recording) Delay(n int, prev time.Duration, u float64) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.args = append(r.args, [3]float64{float64(n), float64(prev), u})
	return time.Duration(n) * time.Millisecond
}

func TestStrategyGetsAttemptPreviousDelayAndJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recording{}
		p := mustNew(t, retry.Config{MaxAttempts: 4, Backoff: rec})
		s := &script{errs: []error{errReset, errReset, errReset}}
		if _, err := retry.Do(context.Background(), p, s.call); err != nil {
			t.Fatal(err)
		}
		if len(rec.args) != 3 {
			t.Fatalf("strategy called %d times, want 3", len(rec.args))
		}
		distinct := map[float64]bool{}
		for i, a := range rec.args {
			n, prev, u := int(a[0]), time.Duration(a[1]), a[2]
			if n != i+1 || prev != time.Duration(i)*time.Millisecond {
				t.Errorf("call %d: n=%d prev=%v; want n=%d prev=%v", i, n, prev, i+1, time.Duration(i)*time.Millisecond)
			}
			if !(u >= 0 && u < 1) {
				t.Errorf("call %d: jitter %v outside [0, 1)", i, u)
			}
			distinct[u] = true
		}
		if len(distinct) < 2 {
			t.Errorf("jitter values %v are not random", rec.args)
		}
	})
}

func TestNewRejectsNonsense(t *testing.T) {
	for _, cfg := range []retry.Config{
		{MaxAttempts: -1},
		{MaxElapsed: -time.Second},
		{Backoff: backoff.Exponential{Multiplier: 0.5}},
		{Backoff: backoff.Exponential{Base: -time.Second}},
	} {
		p, err := retry.New(cfg)
		if err == nil || p != nil {
			t.Errorf("New(%+v) = %v, %v; want nil and an error", cfg, p, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "retry: ") {
			t.Errorf("New(%+v) error %q does not start with the package name", cfg, err)
		}
	}
	if _, err := retry.New(retry.Config{}); err != nil {
		t.Errorf("New(Config{}) = %v, want a valid default policy", err)
	}
}

func TestMustNewPanicsOnInvalidConfig(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MustNew did not panic on MaxAttempts -1")
		}
	}()
	retry.MustNew(retry.Config{MaxAttempts: -1})
}

func TestBadArgumentsAreErrorsNotPanics(t *testing.T) {
	p := mustNew(t, retry.Config{})
	var nilPolicy *retry.Policy
	ok := func(context.Context) (int, error) { return 1, nil }
	ran := false
	track := func(context.Context) (int, error) { ran = true; return 1, nil }
	if _, err := retry.Do(context.Background(), nilPolicy, track); err == nil || ran {
		t.Errorf("nil *Policy: err = %v, function ran = %v; want an error and no call", err, ran)
	}
	if _, err := retry.Do[int](context.Background(), p, nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Errorf("nil function: err = %v, want ErrNilFunc", err)
	}
	//lint:ignore SA1012 testing the nil context on purpose
	if _, err := retry.Do(nil, p, ok); !errors.Is(err, resilience.ErrNilContext) { //nolint:staticcheck
		t.Errorf("nil context: err = %v, want ErrNilContext", err)
	}
	if err := retry.Run(context.Background(), p, nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Errorf("Run with nil function: err = %v, want ErrNilFunc", err)
	}
	if err := p.Execute(context.Background(), nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Errorf("Execute with nil operation: err = %v, want ErrNilFunc", err)
	}
	if err := nilPolicy.Execute(context.Background(), resilience.OperationFunc(func(context.Context) error { return nil })); err == nil {
		t.Error("Execute on a nil *Policy returned nil")
	}
}

func TestExecuteRetriesAnOperation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Config{Backoff: steady})
		calls := 0
		err := p.Execute(context.Background(), resilience.OperationFunc(func(context.Context) error {
			calls++
			if calls < 3 {
				return syscall.ECONNREFUSED
			}
			return nil
		}))
		if err != nil || calls != 3 {
			t.Fatalf("Execute = %v after %d calls; want nil after 3", err, calls)
		}
	})
}

func TestSuccessAllocatesNothing(t *testing.T) {
	p := mustNew(t, retry.Config{})
	ctx := context.Background()
	var asPolicy resilience.Policy = p
	composed := resilience.Compose(p)
	ok := func(context.Context) (string, error) { return "ok", nil }
	okErr := func(context.Context) error { return nil }
	for name, f := range map[string]func(){
		"retry.Do":                 func() { retry.Do(ctx, p, ok) },
		"retry.Run":                func() { retry.Run(ctx, p, okErr) },
		"resilience.Do":            func() { resilience.Do(ctx, asPolicy, ok) },
		"resilience.Run":           func() { resilience.Run(ctx, asPolicy, okErr) },
		"resilience.Do(Compose())": func() { resilience.Do(ctx, composed, ok) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per successful call, want 0", name, n)
		}
	}
}

func TestDecideStepTable(t *testing.T) {
	p := mustNew(t, retry.Config{MaxAttempts: 5, Backoff: steady, MaxElapsed: 10 * time.Second, MaxRetryAfter: 5 * time.Second})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	hinted := func(d time.Duration) error { return resilience.WithRetryAfter(errReset, d) }
	for _, tc := range []struct {
		name string
		s    resilience.RetryState
		want retry.Decision
	}{
		{"first failure", resilience.RetryState{Attempts: 1, Err: errReset, Start: t0, Now: t0},
			retry.Decision{Reason: retry.Retrying, Delay: 100 * time.Millisecond, Class: resilience.ClassTransient}},
		{"third failure", resilience.RetryState{Attempts: 3, Err: errReset, Start: t0, Now: at(time.Second)},
			retry.Decision{Reason: retry.Retrying, Delay: 400 * time.Millisecond, Class: resilience.ClassTransient}},
		{"last attempt", resilience.RetryState{Attempts: 5, Err: errReset, Start: t0, Now: at(time.Second)},
			retry.Decision{Reason: retry.Exhausted, Class: resilience.ClassTransient}},
		{"permanent", resilience.RetryState{Attempts: 1, Err: errBad, Start: t0, Now: t0},
			retry.Decision{Reason: retry.NotRetryable, Class: resilience.ClassPermanent}},
		{"ignored", resilience.RetryState{Attempts: 1, Err: context.Canceled, Start: t0, Now: t0},
			retry.Decision{Reason: retry.NotRetryable, Class: resilience.ClassIgnored}},
		{"hint raises delay", resilience.RetryState{Attempts: 1, Err: hinted(3 * time.Second), Start: t0, Now: t0},
			retry.Decision{Reason: retry.Retrying, Delay: 3 * time.Second, Class: resilience.ClassTransient, Hint: 3 * time.Second}},
		{"hint below backoff", resilience.RetryState{Attempts: 2, Err: hinted(time.Millisecond), Start: t0, Now: t0},
			retry.Decision{Reason: retry.Retrying, Delay: 200 * time.Millisecond, Class: resilience.ClassTransient, Hint: time.Millisecond}},
		{"hint at cap", resilience.RetryState{Attempts: 1, Err: hinted(5 * time.Second), Start: t0, Now: t0},
			retry.Decision{Reason: retry.Retrying, Delay: 5 * time.Second, Class: resilience.ClassTransient, Hint: 5 * time.Second}},
		{"hint over cap", resilience.RetryState{Attempts: 1, Err: hinted(5*time.Second + 1), Start: t0, Now: t0},
			retry.Decision{Reason: retry.HintTooLong, Class: resilience.ClassTransient, Hint: 5*time.Second + 1}},
		{"hint counting down, read at Now", resilience.RetryState{Attempts: 1, Err: resilience.Transient(countdown{at(3 * time.Second)}), Start: t0, Now: at(time.Second)},
			retry.Decision{Reason: retry.Retrying, Delay: 2 * time.Second, Class: resilience.ClassTransient, Hint: 2 * time.Second}},
		{"within time limit", resilience.RetryState{Attempts: 1, Err: errReset, Start: t0, Now: at(9900 * time.Millisecond)},
			retry.Decision{Reason: retry.Retrying, Delay: 100 * time.Millisecond, Class: resilience.ClassTransient}},
		{"past time limit", resilience.RetryState{Attempts: 1, Err: errReset, Start: t0, Now: at(9901 * time.Millisecond)},
			retry.Decision{Reason: retry.TimeLimit, Class: resilience.ClassTransient}},
		{"before deadline", resilience.RetryState{Attempts: 1, Err: errReset, Start: t0, Now: t0, Deadline: at(101 * time.Millisecond)},
			retry.Decision{Reason: retry.Retrying, Delay: 100 * time.Millisecond, Class: resilience.ClassTransient}},
		{"wait ends at deadline", resilience.RetryState{Attempts: 1, Err: errReset, Start: t0, Now: t0, Deadline: at(100 * time.Millisecond)},
			retry.Decision{Reason: retry.Deadline, Class: resilience.ClassTransient}},
		{"canceled", resilience.RetryState{Attempts: 1, Err: errReset, Start: t0, Now: t0, Cause: context.Canceled},
			retry.Decision{Reason: retry.Canceled, Class: resilience.ClassTransient}},
		{"deadline passed", resilience.RetryState{Attempts: 1, Err: errReset, Start: t0, Now: t0, Cause: context.DeadlineExceeded},
			retry.Decision{Reason: retry.Deadline, Class: resilience.ClassTransient}},
		{"rejected before the next attempt", resilience.RetryState{Attempts: 1, Err: errReset, Start: t0, Now: t0, Rejection: errOpen, RejectedUntil: at(101 * time.Millisecond)},
			retry.Decision{Reason: retry.Rejected, Class: resilience.ClassTransient}},
		{"rejection ends as the next attempt starts", resilience.RetryState{Attempts: 1, Err: errReset, Start: t0, Now: t0, Rejection: errOpen, RejectedUntil: at(100 * time.Millisecond)},
			retry.Decision{Reason: retry.Retrying, Delay: 100 * time.Millisecond, Class: resilience.ClassTransient}},
		{"rejection without an end", resilience.RetryState{Attempts: 1, Err: errReset, Start: t0, Now: t0, Rejection: errOpen},
			retry.Decision{Reason: retry.Rejected, Class: resilience.ClassTransient}},
		{"rejection of a failure not retried", resilience.RetryState{Attempts: 1, Err: errBad, Start: t0, Now: t0, Rejection: errOpen},
			retry.Decision{Reason: retry.NotRetryable, Class: resilience.ClassPermanent}},
		{"rejection after the last attempt", resilience.RetryState{Attempts: 5, Err: errReset, Start: t0, Now: t0, Rejection: errOpen},
			retry.Decision{Reason: retry.Exhausted, Class: resilience.ClassTransient}},
		{"pushback is the delay, below the backoff", resilience.RetryState{Attempts: 3, Err: pushed(50 * time.Millisecond), Start: t0, Now: t0},
			retry.Decision{Reason: retry.Retrying, Delay: 50 * time.Millisecond, Class: resilience.ClassTransient, Hint: 50 * time.Millisecond}},
		{"pushback of zero", resilience.RetryState{Attempts: 1, Err: pushed(0), Start: t0, Now: t0},
			retry.Decision{Reason: retry.Retrying, Class: resilience.ClassTransient}},
		{"pushback over cap", resilience.RetryState{Attempts: 1, Err: pushed(5*time.Second + 1), Start: t0, Now: t0},
			retry.Decision{Reason: retry.HintTooLong, Class: resilience.ClassTransient, Hint: 5*time.Second + 1}},
		{"pushback past the deadline", resilience.RetryState{Attempts: 1, Err: pushed(time.Second), Start: t0, Now: t0, Deadline: at(time.Second)},
			retry.Decision{Reason: retry.Deadline, Class: resilience.ClassTransient, Hint: time.Second}},
		{"pushback: do not retry", resilience.RetryState{Attempts: 1, Err: pushed(-1), Start: t0, Now: t0},
			retry.Decision{Reason: retry.Refused, Class: resilience.ClassTransient}},
		{"pushback: do not retry, after the last attempt", resilience.RetryState{Attempts: 5, Err: pushed(-1), Start: t0, Now: t0},
			retry.Decision{Reason: retry.Refused, Class: resilience.ClassTransient}},
		{"pushback on a permanent error", resilience.RetryState{Attempts: 1, Err: resilience.WithPushback(errBad, 0), Start: t0, Now: t0},
			retry.Decision{Reason: retry.NotRetryable, Class: resilience.ClassPermanent}},
		{"pushback after the last attempt", resilience.RetryState{Attempts: 5, Err: pushed(0), Start: t0, Now: t0},
			retry.Decision{Reason: retry.Exhausted, Class: resilience.ClassTransient}},
		{"backoff restarted after a pushback", resilience.RetryState{Attempts: 4, Err: errReset, Start: t0, Now: t0, LastDelay: 7 * time.Second, BackoffFrom: 3},
			retry.Decision{Reason: retry.Retrying, Delay: 100 * time.Millisecond, Class: resilience.ClassTransient}},
		{"backoff grows again after the restart", resilience.RetryState{Attempts: 5, Err: errReset, Start: t0, Now: t0, LastDelay: 100 * time.Millisecond, BackoffFrom: 3},
			retry.Decision{Reason: retry.Exhausted, Class: resilience.ClassTransient}},
	} {
		if got := p.Decide(tc.s); got != tc.want {
			t.Errorf("%s: Decide = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func pushed(d time.Duration) error { return resilience.WithPushback(errReset, d) }

// TestPushbackIsExactAndRestartsTheBackoff: a pushback is the wait itself,
// even below the backoff, and the retries after it back off from the base
// again, as gRFC A6 asks.
func TestPushbackIsExactAndRestartsTheBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, retry.Config{Backoff: steady, MaxAttempts: 6})
		s := &script{errs: []error{errReset, errReset, pushed(50 * time.Millisecond), errReset, errReset}}
		if _, err := retry.Do(context.Background(), p, s.call); err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(s.gaps()), "[100ms 200ms 50ms 100ms 200ms]"; got != want {
			t.Errorf("waits = %s, want %s", got, want)
		}
	})
}

func TestPushbackRefusesRetries(t *testing.T) {
	p := mustNew(t, retry.Config{Backoff: steady})
	s := &script{errs: []error{errReset, pushed(-1)}}
	synctest.Test(t, func(t *testing.T) {
		_, err := retry.Do(context.Background(), p, s.call)
		re := asRetryError(t, err)
		if re.Reason != retry.Refused || re.Attempts != 2 || !errors.Is(err, errReset) {
			t.Fatalf("err = %v (reason %v, attempts %d)", err, re.Reason, re.Attempts)
		}
		if d, ok := resilience.Pushback(err); !ok || d != -1 {
			t.Fatalf("Pushback(err) = %v %v, want -1ns true", d, ok)
		}
	})
}

// countdown is a hint that counts down to a moment, as a circuit breaker's
// rejection does: Decide must read it at the decision's time, not the wall
// clock's.
type countdown struct{ until time.Time }

func (c countdown) Error() string                            { return "rejected until " + c.until.String() }
func (c countdown) RetryAfter() time.Duration                { return time.Until(c.until) }
func (c countdown) RetryAfterAt(now time.Time) time.Duration { return c.until.Sub(now) }

func TestReasonString(t *testing.T) {
	want := map[retry.Reason]string{
		retry.Retrying: "retrying", retry.Exhausted: "attempts exhausted", retry.TimeLimit: "time limit reached",
		retry.Deadline: "deadline too near", retry.NotRetryable: "not retryable", retry.HintTooLong: "server hint too long",
		retry.Canceled: "canceled", retry.BudgetExhausted: "retry budget exhausted",
		retry.Rejected: "next attempt would be rejected", retry.Refused: "server refused retries",
		retry.Reason(99): "Reason(99)",
	}
	for r, s := range want {
		if r.String() != s {
			t.Errorf("Reason(%d).String() = %q, want %q", r, r.String(), s)
		}
	}
}

func TestCapturingClosureStaysOnTheStack(t *testing.T) {
	// A closure that captures variables is the usual shape of a call; retry.Do
	// and retry.Run must not make it escape.
	p := mustNew(t, retry.Config{})
	ctx := context.Background()
	url, attempts := "http://127.0.0.1/", 0
	if n := testing.AllocsPerRun(1000, func() {
		retry.Do(ctx, p, func(context.Context) (int, error) { attempts++; return len(url), nil })
		retry.Run(ctx, p, func(context.Context) error { attempts++; return nil })
	}); n != 0 {
		t.Errorf("%v allocations per call with capturing closures, want 0", n)
	}
	if attempts != 2002 { // AllocsPerRun runs the function once more to warm up
		t.Errorf("closures ran %d times, want 2002", attempts)
	}
}

func TestForeseenRejectionEndsTheCallWithoutSpendingARetry(t *testing.T) {
	b := budget.MustNew(budget.Config{Ratio: 1, MinPerSecond: 100})
	retried := 0
	p := mustNew(t, retry.Config{MaxAttempts: 5, Backoff: steady, Budget: b, Observer: &resilience.Observer{Retry: func(resilience.Event) { retried++ }}})
	t0 := time.Now()
	failure := resilience.WithRetryAfter(errReset, time.Second)
	rejection := resilience.WithRetryAfter(errOpen, 30*time.Second)
	before := b.SnapshotAt(t0)
	delay, err := p.NextRetry(resilience.RetryState{Attempts: 3, Err: failure, Start: t0, Now: t0,
		Rejection: rejection, RejectedUntil: t0.Add(30 * time.Second)})
	var re *retry.Error
	if delay != 0 || !errors.As(err, &re) || re.Reason != retry.Rejected || re.Attempts != 3 || re.Err != failure || re.Cause != rejection {
		t.Fatalf("NextRetry = %v, %#v; want a Rejected Error after 3 attempts with the failure and the rejection", delay, err)
	}
	if !errors.Is(err, errOpen) || !errors.Is(err, errReset) {
		t.Errorf("error %v does not match both the rejection and the failure", err)
	}
	if d, ok := resilience.RetryAfter(err); !ok || d != 30*time.Second {
		t.Errorf("RetryAfter = %v, %v; want the rejection's 30s, ahead of the failure's hint", d, ok)
	}
	if want := "retry: gave up after 3 attempts (next attempt would be rejected: open (retry after 30s)): network error: connection reset (retry after 1s)"; err.Error() != want {
		t.Errorf("message %q, want %q", err.Error(), want)
	}
	if after := b.SnapshotAt(t0); retried != 0 || after.Retries != before.Retries {
		t.Errorf("a retry that did not happen was reported (%d) or spent (%d → %d)", retried, before.Retries, after.Retries)
	}
}

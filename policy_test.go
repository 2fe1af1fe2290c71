package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/retry"
)

// tracer is a user-written policy that records when it is entered and left.
type tracer struct {
	name string
	log  *[]string
}

func (tr tracer) Execute(ctx context.Context, op resilience.Operation) error {
	*tr.log = append(*tr.log, tr.name+">")
	err := op.Call(ctx)
	*tr.log = append(*tr.log, "<"+tr.name)
	return err
}

var noWait = backoff.Constant(0)

func TestComposeFirstIsOutermost(t *testing.T) {
	var log []string
	p := resilience.Compose(tracer{"a", &log}, tracer{"b", &log}, tracer{"c", &log})
	v, err := resilience.Do(context.Background(), p, func(context.Context) (string, error) {
		log = append(log, "call")
		return "v", nil
	})
	if v != "v" || err != nil {
		t.Fatalf("Do = %q, %v", v, err)
	}
	if got, want := strings.Join(log, " "), "a> b> c> call <c <b <a"; got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
}

func TestComposeRetryAroundUserPolicy(t *testing.T) {
	// A policy inside the retry sees every attempt; one outside sees the
	// call once.
	var log []string
	r := retry.MustNew(retry.Config{Backoff: noWait})
	p := resilience.Compose(tracer{"out", &log}, r, tracer{"in", &log})
	attempt := 0
	v, err := resilience.Do(context.Background(), p, func(context.Context) (int, error) {
		attempt++
		if attempt < 3 {
			return attempt, resilience.Transient(errors.New("flaky"))
		}
		return attempt, nil
	})
	if v != 3 || err != nil {
		t.Fatalf("Do = %v, %v; want 3, nil", v, err)
	}
	if got, want := strings.Join(log, " "), "out> in> <in in> <in in> <in <out"; got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
}

func TestComposeFlattensAndSkipsNothing(t *testing.T) {
	var log []string
	inner := resilience.Compose(tracer{"b", &log}, tracer{"c", &log})
	p := resilience.Compose(tracer{"a", &log}, inner, resilience.Compose())
	if err := resilience.Run(context.Background(), p, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(log, " "), "a> b> c> <c <b <a"; got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
}

func TestComposeNothingRunsTheCall(t *testing.T) {
	v, err := resilience.Do(context.Background(), resilience.Compose(), func(context.Context) (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Fatalf("Do = %v, %v; want 7, nil", v, err)
	}
}

func TestComposeWithNilPolicyFailsEveryCall(t *testing.T) {
	var log []string
	var r *retry.Policy // typed nil, as after an ignored error from retry.New
	for _, tc := range []struct {
		p    resilience.Policy
		want string
	}{
		{resilience.Compose(tracer{"a", &log}, nil), "resilience: Compose: policy 1 is nil"},
		{resilience.Compose(nil), "resilience: Compose: policy 0 is nil"},
		{resilience.Compose(tracer{"a", &log}, resilience.Compose(nil)), "resilience: Compose: policy 0 is nil"},
		{resilience.Compose(tracer{"a", &log}, r), "retry: nil *Policy"},
	} {
		ran := false
		err := resilience.Run(context.Background(), tc.p, func(context.Context) error { ran = true; return nil })
		if err == nil || err.Error() != tc.want || ran {
			t.Errorf("Run = %v (function ran: %v); want error %q and no call", err, ran, tc.want)
		}
		if err := tc.p.Execute(context.Background(), resilience.OperationFunc(func(context.Context) error { return nil })); err == nil {
			t.Errorf("Execute on %q returned nil", tc.want)
		}
	}
}

func TestNilArguments(t *testing.T) {
	ok := func(context.Context) (int, error) { return 1, nil }
	if _, err := resilience.Do(context.Background(), nil, ok); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Errorf("nil policy: %v", err)
	}
	if err := resilience.Run(context.Background(), nil, func(context.Context) error { return nil }); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Errorf("Run, nil policy: %v", err)
	}
	if _, err := resilience.Do[int](context.Background(), resilience.Compose(), nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Errorf("nil function: %v", err)
	}
	if err := resilience.Run(context.Background(), resilience.Compose(), nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Errorf("Run, nil function: %v", err)
	}
	if _, err := resilience.Do(nil, resilience.Compose(), ok); !errors.Is(err, resilience.ErrNilContext) { //nolint:staticcheck // on purpose
		t.Errorf("nil context: %v", err)
	}
	if err := resilience.Compose().Execute(context.Background(), nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Errorf("Execute with nil operation: %v", err)
	}
}

// twice is a hedging-like policy: it runs two attempts at once and returns
// when both are done, succeeding if either did.
type twice struct{}

func (twice) Execute(ctx context.Context, op resilience.Operation) error {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = op.Call(ctx)
		}()
	}
	wg.Wait()
	if errs[0] == nil || errs[1] == nil {
		return nil
	}
	return errors.Join(errs...)
}

func TestConcurrentAttemptsKeepTheSuccessfulValue(t *testing.T) {
	for range 50 {
		var n sync.Mutex
		calls := 0
		v, err := resilience.Do(context.Background(), twice{}, func(context.Context) (string, error) {
			n.Lock()
			defer n.Unlock()
			calls++
			if calls == 1 {
				return "first: failed", errors.New("lost")
			}
			return "second: ok", nil
		})
		if err != nil || v != "second: ok" {
			t.Fatalf("Do = %q, %v; want the successful attempt's value", v, err)
		}
	}
}

// abandon returns at once and leaves its attempt running, as a policy
// that stops waiting for a call that ignores its context would.
type abandon struct{ done chan struct{} }

func (a abandon) Execute(ctx context.Context, op resilience.Operation) error {
	go func() {
		defer close(a.done)
		op.Call(ctx)
	}()
	return errors.New("gave up waiting")
}

func TestAttemptThatOutlivesExecuteDoesNotChangeTheResult(t *testing.T) {
	release := make(chan struct{})
	a := abandon{done: make(chan struct{})}
	v, err := resilience.Do(context.Background(), a, func(context.Context) (int, error) {
		<-release
		return 99, nil
	})
	close(release)
	<-a.done
	if v != 0 || err == nil || err.Error() != "gave up waiting" {
		t.Fatalf("Do = %v, %v; want 0 and the policy's error", v, err)
	}
}

func TestUserPolicyThatNeverCalls(t *testing.T) {
	skip := policyFunc(func(context.Context, resilience.Operation) error { return nil })
	v, err := resilience.Do(context.Background(), skip, func(context.Context) (int, error) { return 5, nil })
	if v != 0 || err != nil {
		t.Fatalf("Do = %v, %v; want the zero value and nil", v, err)
	}
}

type policyFunc func(context.Context, resilience.Operation) error

func (f policyFunc) Execute(ctx context.Context, op resilience.Operation) error { return f(ctx, op) }

func TestPanicPassesThroughUserPolicyAndRetry(t *testing.T) {
	var log []string
	p := resilience.Compose(retry.MustNew(retry.Config{Backoff: noWait}), tracer{"t", &log})
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want boom", r)
		}
		if len(log) != 1 {
			t.Fatalf("log %v: the panic should have left the tracer at once", log)
		}
	}()
	resilience.Run(context.Background(), p, func(context.Context) error { panic("boom") })
}

func TestRetrierUnderComposeHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log []string
		p := resilience.Compose(tracer{"t", &log}, retry.MustNew(retry.Config{Backoff: backoff.Constant(time.Minute), MaxAttempts: 5}))
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		start := time.Now()
		err := resilience.Run(ctx, p, func(context.Context) error { return resilience.Transient(errors.New("down")) })
		// Attempts at 0 and 1m; the next would start at 2m, after the
		// deadline: it stops at 1m.
		if elapsed := time.Since(start); elapsed != time.Minute {
			t.Errorf("returned after %v, want 1m", elapsed)
		}
		var re *retry.Error
		if !errors.As(err, &re) || re.Reason != retry.Deadline || re.Attempts != 2 {
			t.Errorf("error %v; want a Deadline retry.Error after 2 attempts", err)
		}
	})
}

func TestComposedSuccessAllocatesNothing(t *testing.T) {
	r := retry.MustNew(retry.Config{})
	ctx := context.Background()
	p := resilience.Compose(r, resilience.Compose(r))
	ok := func(context.Context) (int, error) { return 1, nil }
	if n := testing.AllocsPerRun(1000, func() { resilience.Do(ctx, p, ok) }); n != 0 {
		t.Errorf("%v allocations through Compose(retry, retry), want 0", n)
	}
}

func ExampleCompose() {
	var log []string
	trace := func(name string) resilience.Policy {
		return policyFunc(func(ctx context.Context, op resilience.Operation) error {
			log = append(log, name)
			return op.Call(ctx)
		})
	}
	retries := retry.MustNew(retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(0)})
	// once runs around the whole call; each runs around every attempt.
	p := resilience.Compose(trace("once"), retries, trace("each"))

	attempts := 0
	err := resilience.Run(context.Background(), p, func(context.Context) error {
		attempts++
		if attempts < 3 {
			return resilience.Transient(errors.New("connection reset"))
		}
		return nil
	})
	fmt.Println(err, attempts, log)
	// Output: <nil> 3 [once each each each]
}

func ExampleDo() {
	p := retry.MustNew(retry.Config{MaxAttempts: 4, Backoff: backoff.Constant(0)})
	calls := 0
	answer, err := resilience.Do(context.Background(), p, func(ctx context.Context) (string, error) {
		calls++
		if calls < 3 {
			return "", resilience.Transient(errors.New("503 service unavailable"))
		}
		return "hello", nil
	})
	fmt.Println(answer, err, calls)
	// Output: hello <nil> 3
}

func ExampleRun() {
	p := retry.MustNew(retry.Config{Backoff: backoff.Constant(0)})
	err := resilience.Run(context.Background(), p, func(ctx context.Context) error {
		return resilience.Permanent(errors.New("401 unauthorized"))
	})
	fmt.Println(err)
	// Output: protocol error: 401 unauthorized
}

func TestDoWithCapturingClosureAllocatesOnlyTheClosure(t *testing.T) {
	// Documented cost: Do may hand fn to any Policy, so a capturing closure
	// escapes; Retry does not, so it stays on the stack.
	r := retry.MustNew(retry.Config{})
	var p resilience.Policy = r
	ctx := context.Background()
	x := 3
	viaDo := testing.AllocsPerRun(1000, func() {
		resilience.Do(ctx, p, func(context.Context) (int, error) { return x, nil })
	})
	viaRetry := testing.AllocsPerRun(1000, func() {
		resilience.Retry(ctx, r, func(context.Context) (int, error) { return x, nil })
	})
	if viaDo > 1 || viaRetry != 0 {
		t.Fatalf("allocations per call: Do %v (want at most 1, the closure), Retry %v (want 0)", viaDo, viaRetry)
	}
}

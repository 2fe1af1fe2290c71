package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/retry"
)

// watcher is a Guard that records every Enter, and whether the context it
// was given had ended: the executors must never enter a guard then.
type watcher struct {
	entered int
	ended   int
}

func (w *watcher) Execute(ctx context.Context, op resilience.Operation) error {
	return resilience.Run(ctx, w, op.Call)
}

func (w *watcher) Enter(ctx context.Context) (resilience.Ticket, error) {
	w.entered++
	if ctx.Err() != nil {
		w.ended++
	}
	return resilience.Ticket{}, nil
}

func (w *watcher) Exit(resilience.Ticket, resilience.Outcome) {}

// Inside a composition, a retrier or guard right inside the retry policy
// (or outermost) does not check the context again: the retry executor has
// checked it just before each attempt. These are the cases where it ends;
// in none may the guard be entered with an ended context.
func TestComposeChecksTheContextBeforeEachAttempt(t *testing.T) {
	down := resilience.Transient(errors.New("down"))
	cause := errors.New("caller left")
	for _, tc := range []struct {
		name         string
		run          func(t *testing.T, p resilience.Policy, w *watcher) (error, int)
		wantAttempts int
	}{
		{"ended before the call", func(t *testing.T, p resilience.Policy, w *watcher) (error, int) {
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(cause)
			n := 0
			err := resilience.Run(ctx, p, func(context.Context) error { n++; return nil })
			return err, n
		}, 0},
		{"ended by the first attempt", func(t *testing.T, p resilience.Policy, w *watcher) (error, int) {
			ctx, cancel := context.WithCancelCause(context.Background())
			n := 0
			err := resilience.Run(ctx, p, func(context.Context) error { n++; cancel(cause); return down })
			return err, n
		}, 1},
		{"ended during the wait", func(t *testing.T, p resilience.Policy, w *watcher) (error, int) {
			ctx, cancel := context.WithCancelCause(context.Background())
			time.AfterFunc(500*time.Millisecond, func() { cancel(cause) })
			n := 0
			err := resilience.Run(ctx, p, func(context.Context) error { n++; return down })
			return err, n
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := &watcher{}
				r := retry.MustNew(retry.Config{MaxAttempts: 5, Backoff: backoff.Constant(time.Second)})
				for _, p := range []resilience.Policy{
					resilience.Compose(r, w),
					resilience.Compose(w, r, w),
					resilience.Compose(r, resilience.Compose(r), w),
				} {
					*w = watcher{}
					err, attempts := tc.run(t, p, w)
					if !errors.Is(err, cause) {
						t.Errorf("error %v, want the caller's cause", err)
					}
					if attempts != tc.wantAttempts {
						t.Errorf("%d attempts, want %d", attempts, tc.wantAttempts)
					}
					if w.ended != 0 {
						t.Errorf("the guard was entered %d times with an ended context", w.ended)
					}
				}
			})
		})
	}
}

// stall is a guard whose Enter lets the caller's context end, as a wait in
// a bulkhead's queue may: the policy inside it must check the context.
type stall struct {
	cancel   func(error)
	outcomes []resilience.Outcome
}

func (s *stall) Execute(ctx context.Context, op resilience.Operation) error {
	return resilience.Run(ctx, s, op.Call)
}

func (s *stall) Enter(context.Context) (resilience.Ticket, error) {
	s.cancel(errors.New("gave up while queued"))
	return resilience.Ticket{}, nil
}

func (s *stall) Exit(_ resilience.Ticket, o resilience.Outcome) { s.outcomes = append(s.outcomes, o) }

func TestComposeChecksTheContextInsideAGuard(t *testing.T) {
	r := retry.MustNew(retry.Config{Backoff: backoff.Constant(0)})
	for _, inner := range []string{"guard", "retry"} {
		ctx, cancel := context.WithCancelCause(context.Background())
		s := &stall{cancel: cancel}
		w := &watcher{}
		p := resilience.Compose(s, w)
		if inner == "retry" {
			p = resilience.Compose(s, r, w)
		}
		ran := false
		err := resilience.Run(ctx, p, func(context.Context) error { ran = true; return nil })
		if err == nil || err != context.Cause(ctx) || ran || w.entered != 0 {
			t.Errorf("%s inside: Run = %v, ran %v, entered %d; want the cause, no call, no entry", inner, err, ran, w.entered)
		}
		if len(s.outcomes) != 1 || !s.outcomes[0].Canceled {
			t.Errorf("%s inside: the outer guard's outcomes %v, want one canceled", inner, s.outcomes)
		}
	}
}

// span is a user-written Scope: it gives each pass a context with a value,
// and records what it is asked.
type span struct {
	log      *[]string
	execute  bool // Begin declines, so the pass goes through Execute
	released int
}

type spanKey struct{}

func (s *span) Execute(ctx context.Context, op resilience.Operation) error {
	*s.log = append(*s.log, "execute")
	return op.Call(context.WithValue(ctx, spanKey{}, "from Execute"))
}

func (s *span) Begin(ctx context.Context) (context.Context, context.CancelFunc, bool) {
	if s.execute {
		return nil, nil, false
	}
	*s.log = append(*s.log, "begin")
	return context.WithValue(ctx, spanKey{}, "from Begin"), func() { s.released++ }, true
}

func (s *span) End(ctx, pctx context.Context, err error) error {
	if err == nil {
		*s.log = append(*s.log, "end ok")
		return nil
	}
	*s.log = append(*s.log, "end failed")
	return fmt.Errorf("span: %w", err)
}

func TestScopeIsDrivenByTheExecutors(t *testing.T) {
	down := resilience.Transient(errors.New("down"))
	var log []string
	s := &span{log: &log}
	r := retry.MustNew(retry.Config{Backoff: backoff.Constant(0)})
	for _, p := range []resilience.Policy{s, resilience.Compose(r, s), resilience.Compose(r, s, &watcher{})} {
		log, s.released = nil, 0
		n := 0
		v, err := resilience.Do(context.Background(), p, func(ctx context.Context) (string, error) {
			n++
			if n == 1 {
				return "", down
			}
			return ctx.Value(spanKey{}).(string), nil
		})
		wantLog := "begin end failed"
		if p != resilience.Policy(s) {
			wantLog = "begin end failed begin end ok"
		}
		if got := strings.Join(log, " "); got != wantLog || s.released != strings.Count(wantLog, "begin") {
			t.Errorf("log %q, released %d; want %q, each pass released", got, s.released, wantLog)
		}
		if p == resilience.Policy(s) {
			if v != "" || !errors.Is(err, down) || !strings.HasPrefix(err.Error(), "span: ") {
				t.Errorf("Do = %q, %v; want the error as End made it", v, err)
			}
			continue
		}
		if v != "from Begin" || err != nil {
			t.Errorf("Do = %q, %v; want the value from the pass's context", v, err)
		}
	}

	// A panic releases the pass, and goes on.
	log, s.released = nil, 0
	func() {
		defer func() {
			if recover() != "boom" {
				t.Error("the panic did not go on")
			}
		}()
		resilience.Run(context.Background(), resilience.Compose(r, s), func(context.Context) error { panic("boom") })
	}()
	if s.released != 1 || strings.Join(log, " ") != "begin" {
		t.Errorf("after a panic: log %q, released %d; want begin, released once", log, s.released)
	}

	// A Scope that declines runs through Execute.
	log, s.execute = nil, true
	v, err := resilience.Do(context.Background(), resilience.Compose(r, s), func(ctx context.Context) (string, error) {
		return ctx.Value(spanKey{}).(string), nil
	})
	if v != "from Execute" || err != nil || strings.Join(log, " ") != "execute" {
		t.Errorf("Do = %q, %v, log %q; want the pass through Execute", v, err, log)
	}
}

// ended is a Scope whose passes start with a context that has already
// ended, as a per-attempt timeout of a nanosecond may.
type ended struct{}

func (ended) Execute(ctx context.Context, op resilience.Operation) error { return op.Call(ctx) }

func (ended) Begin(ctx context.Context) (context.Context, context.CancelFunc, bool) {
	pctx, cancel := context.WithCancelCause(ctx)
	cancel(errTooLate)
	return pctx, func() {}, true
}

func (ended) End(_, _ context.Context, err error) error { return err }

var errTooLate = errors.New("too late")

func TestScopeContextThatHasEndedIsChecked(t *testing.T) {
	w := &watcher{}
	ran := false
	err := resilience.Run(context.Background(), resilience.Compose(ended{}, w), func(context.Context) error { ran = true; return nil })
	if err != errTooLate || ran || w.entered != 0 {
		t.Fatalf("Run = %v, ran %v, entered %d; want the pass context's cause, no call, no entry", err, ran, w.entered)
	}
}

// free is a Scope that allocates nothing.
type free struct{ begun, ended int }

func (f *free) Execute(ctx context.Context, op resilience.Operation) error { return op.Call(ctx) }
func (f *free) Begin(ctx context.Context) (context.Context, context.CancelFunc, bool) {
	f.begun++
	return ctx, nil, true
}
func (f *free) End(_, _ context.Context, err error) error { f.ended++; return err }

func TestScopeComposesWithoutAllocating(t *testing.T) {
	f := &free{}
	p := resilience.Compose(retry.MustNew(retry.Config{}), &watcher{}, f)
	ctx := context.Background()
	ok := func(context.Context) (int, error) { return 1, nil }
	if n := testing.AllocsPerRun(1000, func() { resilience.Do(ctx, p, ok) }); n != 0 {
		t.Fatalf("%v allocations per call through Compose(retry, guard, scope), want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { resilience.Do(ctx, f, ok) }); n != 0 {
		t.Fatalf("%v allocations per call through a Scope alone, want 0", n)
	}
	if f.begun != 2*1001 || f.ended != f.begun {
		t.Fatalf("begun %d, ended %d", f.begun, f.ended)
	}
}

package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/retry"
)

// recorder is a user-written Guard: it admits while open is false, and
// records every ticket and outcome.
type recorder struct {
	closed   bool
	next     uint64
	log      []string
	outcomes []resilience.Outcome
}

var errClosed = errors.New("recorder: closed")

func (r *recorder) Execute(ctx context.Context, op resilience.Operation) error {
	return resilience.Run(ctx, r, op.Call)
}

func (r *recorder) Enter(ctx context.Context) (resilience.Ticket, error) {
	if r.closed {
		r.log = append(r.log, "rejected")
		return resilience.Ticket{}, errClosed
	}
	r.next++
	r.log = append(r.log, fmt.Sprintf("enter %d", r.next))
	return resilience.Ticket{ID: r.next, Time: int64(r.next * 10), Index: int(r.next)}, nil
}

func (r *recorder) Exit(t resilience.Ticket, o resilience.Outcome) {
	r.log = append(r.log, fmt.Sprintf("exit %d/%d/%d", t.ID, t.Time, t.Index))
	r.outcomes = append(r.outcomes, o)
}

func TestGuardedReportsEveryOutcome(t *testing.T) {
	r := &recorder{}
	ctx := context.Background()
	errDown := resilience.Transient(errors.New("down"))

	v, err := resilience.Guarded(ctx, r, func(context.Context) (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Fatalf("Guarded = %v, %v", v, err)
	}
	if _, err := resilience.Guarded(ctx, r, func(context.Context) (int, error) { return 0, errDown }); err != errDown {
		t.Fatalf("Guarded = %v, want the function's error", err)
	}
	func() {
		defer func() {
			if recover() != "boom" {
				t.Fatal("the panic did not go on")
			}
		}()
		resilience.Guarded(ctx, r, func(context.Context) (int, error) { panic("boom") })
	}()
	// The caller gives up during the call.
	cctx, cancel := context.WithCancelCause(ctx)
	resilience.Guarded(cctx, r, func(ctx context.Context) (int, error) {
		cancel(errors.New("caller left"))
		return 0, context.Cause(ctx)
	})
	// The caller's own deadline, passing during the call, is not a
	// cancellation.
	synctest.Test(t, func(t *testing.T) {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		resilience.Guarded(dctx, r, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() })
	})
	// A context that ended before the call: no pass at all.
	resilience.Guarded(cctx, r, func(ctx context.Context) (int, error) {
		t.Error("the function ran with a context that had ended")
		return 0, nil
	})

	want := []resilience.Outcome{
		{},
		{Err: errDown},
		{Panicked: true},
		{Err: context.Cause(cctx), Canceled: true},
		{Err: context.DeadlineExceeded},
	}
	if fmt.Sprint(r.outcomes) != fmt.Sprint(want) {
		t.Fatalf("outcomes\n got %v\nwant %v", r.outcomes, want)
	}
	if got := fmt.Sprint(r.log[:2]); got != "[enter 1 exit 1/10/1]" {
		t.Fatalf("the ticket was not handed back unchanged: %v", r.log)
	}
}

func TestGuardRejectionSkipsTheCall(t *testing.T) {
	r := &recorder{closed: true}
	ran := false
	err := resilience.Run(context.Background(), r, func(context.Context) error { ran = true; return nil })
	if err != errClosed || ran || len(r.outcomes) != 0 {
		t.Fatalf("Run = %v, ran %v, outcomes %v; want the rejection, no call, no Exit", err, ran, r.outcomes)
	}
}

func TestGuardInsideRetrySeesEveryAttempt(t *testing.T) {
	r := &recorder{}
	p := resilience.Compose(retry.MustNew(retry.Config{Backoff: backoff.Constant(0)}), r)
	n := 0
	err := resilience.Run(context.Background(), p, func(context.Context) error {
		if n++; n < 3 {
			return resilience.Transient(errors.New("flaky"))
		}
		return nil
	})
	if err != nil || len(r.outcomes) != 3 {
		t.Fatalf("Run = %v with %d outcomes; want success after 3 attempts, each reported", err, len(r.outcomes))
	}
}

func TestGuardedNilArguments(t *testing.T) {
	ok := func(context.Context) (int, error) { return 1, nil }
	if _, err := resilience.Guarded(context.Background(), nil, ok); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Errorf("nil guard: %v", err)
	}
	if _, err := resilience.Guarded[int](context.Background(), &recorder{}, nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Errorf("nil function: %v", err)
	}
	if _, err := resilience.Guarded(nil, &recorder{}, ok); !errors.Is(err, resilience.ErrNilContext) { //nolint:staticcheck // on purpose
		t.Errorf("nil context: %v", err)
	}
}

// counter is a Guard that allocates nothing itself.
type counter struct{ in, out int }

func (c *counter) Execute(ctx context.Context, op resilience.Operation) error {
	return resilience.Run(ctx, c, op.Call)
}
func (c *counter) Enter(context.Context) (resilience.Ticket, error) {
	c.in++
	return resilience.Ticket{}, nil
}
func (c *counter) Exit(resilience.Ticket, resilience.Outcome) { c.out++ }

func TestGuardsComposeWithoutAllocating(t *testing.T) {
	c := &counter{}
	p := resilience.Compose(retry.MustNew(retry.Config{}), c, c)
	ctx := context.Background()
	x := 1
	if n := testing.AllocsPerRun(1000, func() {
		resilience.Do(ctx, p, func(context.Context) (int, error) { return x, nil })
	}); n > 1 { // the capturing closure itself may escape through Do
		t.Fatalf("%v allocations per call through Compose(retry, guard, guard); want at most the closure's 1", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		resilience.Guarded(ctx, c, func(context.Context) (int, error) { return x, nil })
	}); n != 0 {
		t.Fatalf("%v allocations per call through Guarded, want 0", n)
	}
	if c.in != c.out || c.in != 3*1001 { // AllocsPerRun runs each function 1001 times
		t.Fatalf("entered %d, exited %d", c.in, c.out)
	}
}

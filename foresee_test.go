package resilience_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/retry"
)

// TestRetryAroundABreakerStopsWhenItOpens is a new user's first stack: a
// retry policy of 4 attempts around a breaker that opens after 3 failures.
// Once the third failure opens the breaker, the policy stops at once, with
// the breaker's rejection, rather than wait for a fourth attempt that the
// breaker would reject.
func TestRetryAroundABreakerStopsWhenItOpens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := breaker.MustNew(breaker.Config{Name: "upstream", FailureThreshold: 3, RecoveryTimeout: 5 * time.Second})
		r := retry.MustNew(retry.Config{MaxAttempts: 4, Backoff: backoff.Exponential{Base: 100 * time.Millisecond, Jitter: backoff.NoJitter}})
		start := time.Now()
		var requests int
		var last time.Time
		err := resilience.Run(context.Background(), resilience.Compose(r, b), func(context.Context) error {
			requests++
			last = time.Now()
			return resilience.Transient(errors.New("503 service unavailable"))
		})
		if requests != 3 {
			t.Fatalf("%d requests reached the server, want 3", requests)
		}
		if slept := time.Since(last); slept != 0 || last.Sub(start) != 300*time.Millisecond {
			t.Errorf("waited %v after the third request (and %v before it); want no wait after it, 100ms+200ms before", slept, last.Sub(start))
		}
		var re *retry.Error
		if !errors.Is(err, breaker.ErrOpen) || !errors.As(err, &re) || re.Attempts != 3 || re.Reason != retry.Rejected {
			t.Fatalf("error %v; want a retry.Error saying 3 attempts, rejected ahead, matching breaker.ErrOpen", err)
		}
		if d, ok := resilience.RetryAfter(err); !ok || d != 5*time.Second {
			t.Errorf("RetryAfter = %v, %v; want the breaker's 5s until a probe", d, ok)
		}
		if want := `retry: gave up after 3 attempts (next attempt would be rejected: breaker "upstream" is open): network error: 503 service unavailable`; err.Error() != want {
			t.Errorf("message %q, want %q", err, want)
		}
	})
}

// TestRetryWaitsForTheProbe: an attempt that would start when the breaker
// lets a probe through, or later, is not foreseen as rejected: the policy
// waits as usual and the probe goes.
func TestRetryWaitsForTheProbe(t *testing.T) {
	for _, tc := range []struct {
		recovery time.Duration
		requests int
	}{
		{400 * time.Millisecond, 4},   // the fourth attempt starts as the breaker turns half-open
		{400*time.Millisecond + 1, 3}, // a nanosecond too early
	} {
		synctest.Test(t, func(t *testing.T) {
			b := breaker.MustNew(breaker.Config{FailureThreshold: 3, RecoveryTimeout: tc.recovery})
			r := retry.MustNew(retry.Config{MaxAttempts: 4, Backoff: backoff.Exponential{Base: 100 * time.Millisecond, Jitter: backoff.NoJitter}})
			requests := 0
			err := resilience.Run(context.Background(), resilience.Compose(r, b), func(context.Context) error {
				requests++
				return resilience.Transient(errors.New("503"))
			})
			var re *retry.Error
			if requests != tc.requests || !errors.As(err, &re) || re.Attempts != tc.requests {
				t.Fatalf("recovery %v: %d requests, error %v; want %d", tc.recovery, requests, err, tc.requests)
			}
		})
	}
}

// window is a user-written ForeseeingGuard: it rejects every pass before
// opens.
type window struct {
	opens   time.Time
	entered int
}

var errShut = errors.New("window: shut")

func (w *window) Execute(ctx context.Context, op resilience.Operation) error {
	return resilience.Run(ctx, w, op.Call)
}

func (w *window) Enter(context.Context) (resilience.Ticket, error) {
	w.entered++
	if time.Now().Before(w.opens) {
		return resilience.Ticket{}, errShut
	}
	return resilience.Ticket{}, nil
}

func (w *window) Exit(resilience.Ticket, resilience.Outcome) {}

func (w *window) Foresee(_ context.Context, now time.Time) (time.Time, error) {
	if now.Before(w.opens) {
		return w.opens, errShut
	}
	return time.Time{}, nil
}

// TestComposeFindsTheForeseeingGuardRightInside: only the guard that the
// retry policy's attempts enter first is asked, wherever Compose found it.
func TestComposeFindsTheForeseeingGuardRightInside(t *testing.T) {
	errDown := resilience.Transient(errors.New("down"))
	r := retry.MustNew(retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(time.Second)})
	passThrough := policyFunc(func(ctx context.Context, op resilience.Operation) error { return op.Call(ctx) })
	for _, tc := range []struct {
		name           string
		stack          func(g resilience.Policy) resilience.Policy
		calls, entered int
		foreseen       bool
	}{
		{"right inside", func(g resilience.Policy) resilience.Policy { return resilience.Compose(r, g) }, 1, 1, true},
		{"nested compositions", func(g resilience.Policy) resilience.Policy {
			return resilience.Compose(resilience.Compose(passThrough, r), resilience.Compose(g, passThrough))
		}, 1, 1, true},
		// The second attempt meets the rejection, which is not retried.
		{"a policy between", func(g resilience.Policy) resilience.Policy { return resilience.Compose(r, passThrough, g) }, 1, 2, false},
		{"guard outside", func(g resilience.Policy) resilience.Policy { return resilience.Compose(g, r) }, 3, 1, false},
	} {
		synctest.Test(t, func(t *testing.T) {
			// The first attempt finds the window open and fails; it shuts
			// until 1.5s later, so a second attempt, 1s on, would be
			// rejected.
			w := &window{}
			calls := 0
			err := resilience.Run(context.Background(), tc.stack(w), func(context.Context) error {
				calls++
				w.opens = time.Now().Add(1500 * time.Millisecond)
				return errDown
			})
			var re *retry.Error
			rejected := errors.As(err, &re) && re.Reason == retry.Rejected
			if calls != tc.calls || w.entered != tc.entered || rejected != tc.foreseen || rejected && !errors.Is(err, errShut) {
				t.Errorf("%s: %d calls, %d passes, error %v; want %d calls, %d passes, rejection foreseen %v",
					tc.name, calls, w.entered, err, tc.calls, tc.entered, tc.foreseen)
			}
		})
	}
}

func TestForeseeingCostsNoAllocation(t *testing.T) {
	ctx := context.Background()
	r := retry.MustNew(retry.Config{Backoff: backoff.Constant(0)})
	p := resilience.Compose(r, breaker.MustNew(breaker.Config{FailureThreshold: 1 << 20}))
	errDown := resilience.Transient(errors.New("down"))
	n := 0
	twoFailures := func(context.Context) (int, error) {
		if n++; n%3 != 0 {
			return 0, errDown
		}
		return n, nil
	}
	if a := testing.AllocsPerRun(1000, func() { resilience.Do(ctx, p, succeed) }); a != 0 {
		t.Errorf("%v allocations for a success through Compose(retry, breaker), want 0", a)
	}
	if a := testing.AllocsPerRun(1000, func() { resilience.Do(ctx, p, twoFailures) }); a != 0 {
		t.Errorf("%v allocations for two failures and a success through Compose(retry, breaker), want 0", a)
	}
}

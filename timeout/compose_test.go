package timeout_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/timeout"
)

// classified is a breaker classifier that records what it is asked.
type classified struct {
	mu   sync.Mutex
	errs []error
}

func (c *classified) classify(err error) resilience.Class {
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
	return resilience.Classify(err)
}

func TestRetryBreakerTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var asked classified
		r := retry.MustNew(retry.Config{MaxAttempts: 10, Backoff: backoff.Constant(0)})
		b := breaker.MustNew(breaker.Config{FailureThreshold: 10, Classifier: asked.classify})
		tm := mustNew(t, timeout.Config{Timeout: time.Second})
		p := resilience.Compose(r, b, tm)

		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
		defer cancel()
		var deadlines []time.Duration
		err := resilience.Run(ctx, p, func(ctx context.Context) error {
			d, _ := ctx.Deadline()
			deadlines = append(deadlines, d.Sub(start))
			return hang(ctx) // each attempt hangs until its context ends
		})

		// Each attempt had its own deadline, the last one the caller's.
		want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3500 * time.Millisecond}
		if len(deadlines) != len(want) {
			t.Fatalf("attempt deadlines %v, want %v", deadlines, want)
		}
		for i := range want {
			if deadlines[i] != want[i] {
				t.Fatalf("attempt deadlines %v, want %v", deadlines, want)
			}
		}
		if elapsed := time.Since(start); elapsed != 3500*time.Millisecond {
			t.Errorf("the call took %v, want the caller's 3.5s", elapsed)
		}
		// The caller's deadline stopped everything, with the caller's error.
		var re *retry.Error
		if !errors.As(err, &re) || re.Reason != retry.Deadline || re.Attempts != 4 {
			t.Fatalf("err = %v; want the retry policy to stop at the caller's deadline after 4 attempts", err)
		}
		if !errors.Is(err, context.DeadlineExceeded) || re.Err != context.DeadlineExceeded || errors.Is(re.Err, timeout.ErrTimeout) {
			t.Errorf("last attempt's error = %v; want the caller's context.DeadlineExceeded, not a timeout", re.Err)
		}
		// The breaker counted the timed-out attempts as failures.
		asked.mu.Lock()
		defer asked.mu.Unlock()
		if len(asked.errs) < 3 {
			t.Fatalf("the breaker classified %d failures, want at least the 3 timeouts", len(asked.errs))
		}
		for _, e := range asked.errs[:3] {
			if !errors.Is(e, timeout.ErrTimeout) || resilience.Classify(e) != resilience.ClassTransient {
				t.Errorf("the breaker saw %v; want a transient timeout", e)
			}
		}
		if got := b.Snapshot().ConsecutiveFailures; got != len(asked.errs) {
			t.Errorf("breaker ConsecutiveFailures = %d, want %d", got, len(asked.errs))
		}
		if got := tm.Snapshot().TimedOut; got != 3 {
			t.Errorf("TimedOut = %d, want 3", got)
		}
	})
}

func TestTimeoutsOpenTheBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := retry.MustNew(retry.Config{MaxAttempts: 10, Backoff: backoff.Constant(0)})
		b := breaker.MustNew(breaker.Config{FailureThreshold: 2})
		tm := mustNew(t, timeout.Config{Timeout: time.Second})
		start := time.Now()
		attempts := 0
		err := resilience.Run(context.Background(), resilience.Compose(r, b, tm), func(ctx context.Context) error {
			attempts++
			return hang(ctx)
		})
		if attempts != 2 || !errors.Is(err, breaker.ErrOpen) {
			t.Errorf("%d attempts, err %v; want the breaker to open after 2 timeouts", attempts, err)
		}
		if elapsed := time.Since(start); elapsed != 2*time.Second {
			t.Errorf("took %v, want 2s", elapsed)
		}
	})
}

func TestAbandonModeInsideCompose(t *testing.T) {
	// In Abandon mode the executor cannot drive the timeout as a
	// resilience.Scope: each attempt goes through Execute, and is left
	// running at its deadline.
	synctest.Test(t, func(t *testing.T) {
		r := retry.MustNew(retry.Config{MaxAttempts: 2, Backoff: backoff.Constant(0)})
		tm := mustNew(t, timeout.Config{Timeout: time.Second, Abandon: true})
		release := make(chan struct{})
		start := time.Now()
		var attempts atomic.Int32
		err := resilience.Run(context.Background(), resilience.Compose(r, tm), func(context.Context) error {
			attempts.Add(1)
			<-release // ignores its context
			return nil
		})
		if !errors.Is(err, timeout.ErrTimeout) || attempts.Load() != 2 || time.Since(start) != 2*time.Second {
			t.Errorf("err %v after %d attempts and %v; want a timeout after 2 abandoned attempts and 2s", err, attempts.Load(), time.Since(start))
		}
		close(release)
		synctest.Wait()
		if s := tm.Snapshot(); s.Abandoned != 2 || s.AbandonedRunning != 0 {
			t.Errorf("Snapshot = %+v; want 2 abandoned, none still running", s)
		}
	})
}

func TestNilTimeoutInsideCompose(t *testing.T) {
	var nilTimeout *timeout.Timeout
	ran := false
	err := resilience.Run(context.Background(), resilience.Compose(retry.MustNew(retry.Config{}), nilTimeout), func(context.Context) error {
		ran = true
		return nil
	})
	if err == nil || err.Error() != "timeout: nil *Timeout" || ran {
		t.Errorf("Run = %v, ran %v; want the nil timeout's error and no call", err, ran)
	}
}

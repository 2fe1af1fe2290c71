package retrystep

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// shut foresees a rejection until a time.
type shut struct {
	until time.Time
	asked int
}

var errShut = errors.New("shut")

func (s *shut) Foresee(_ context.Context, now time.Time) (time.Time, error) {
	s.asked++
	if now.Before(s.until) {
		return s.until, errShut
	}
	return time.Time{}, nil
}

func TestFailedTellsTheDecisionEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		ctx, cancel := context.WithDeadline(context.Background(), start.Add(time.Hour))
		defer cancel()
		ahead := &shut{until: start.Add(2 * time.Second)}
		c := Call{Ahead: ahead}
		c.Begin(true)
		var seen []State
		decide := func(s State) (time.Duration, error) { seen = append(seen, s); return time.Second, nil }
		errDown := errors.New("down")

		time.Sleep(time.Second)
		c.Failed(ctx, errDown)
		if d, err := c.Decided(decide(c.State)); d != time.Second || err != nil {
			t.Fatalf("Failed = %v, %v; want the decision's 1s", d, err)
		}
		if err := c.Wait(ctx, time.Second, decide); err != nil || time.Since(start) != 2*time.Second {
			t.Fatalf("Wait = %v after %v; want nil after 2s in all", err, time.Since(start))
		}
		c.Failed(ctx, errDown)
		decide(c.State)
		first, second := seen[0], seen[1]
		if first.Attempts != 1 || first.Err != errDown || !first.Start.Equal(start) || !first.Now.Equal(start.Add(time.Second)) ||
			!first.Deadline.Equal(start.Add(time.Hour)) || first.LastDelay != 0 || first.Cause != nil ||
			first.Rejection != errShut || !first.RejectedUntil.Equal(ahead.until) || first.Jitter < 0 || first.Jitter >= 1 {
			t.Errorf("first decision told %+v", first)
		}
		if second.Attempts != 2 || second.LastDelay != time.Second || second.Rejection != nil || !second.RejectedUntil.IsZero() {
			t.Errorf("second decision told %+v; want attempt 2, the 1s wait, and no rejection once the guard may admit", second)
		}
	})
}

func TestEndedContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cause := errors.New("gone")
		goOn := func(State) (time.Duration, error) { return time.Second, nil }
		errStop := errors.New("stop")
		stop := func(s State) (time.Duration, error) {
			if s.Cause != cause {
				t.Errorf("decision told cause %v, want %v", s.Cause, cause)
			}
			return 0, errStop
		}

		// Ended during the attempt: the guard is not asked, and a decision
		// that goes on anyway is overruled by the cause.
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		ahead := &shut{}
		c := Call{Ahead: ahead}
		c.Failed(ctx, errors.New("down"))
		if _, err := c.Decided(goOn(c.State)); err != cause || ahead.asked != 0 || c.Cause != cause {
			t.Errorf("Decided = %v, guard asked %d times; want the cause, and no question", err, ahead.asked)
		}
		if _, err := c.Decided(stop(c.State)); err != errStop {
			t.Errorf("Decided = %v, want the decision's own error", err)
		}

		// Ended during the wait: the decision is asked again, with the
		// cause; its error wins, and else the cause.
		for _, tc := range []struct {
			decide Decide
			want   error
		}{{stop, errStop}, {goOn, cause}} {
			ctx, cancel := context.WithCancelCause(context.Background())
			time.AfterFunc(time.Second, func() { cancel(cause) })
			start := time.Now()
			var c Call
			if err := c.Wait(ctx, time.Minute, tc.decide); err != tc.want || time.Since(start) != time.Second || c.LastDelay != 0 {
				t.Errorf("Wait = %v after %v; want %v after 1s, no wait recorded", err, time.Since(start), tc.want)
			}
		}
	})
}

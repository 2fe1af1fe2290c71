package timeout_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience/internal/fuzzprog"
	"github.com/netresilience/resilience/timeout"
)

// FuzzTimeout checks the timeout for any configuration, any caller's
// deadline and any length of call:
//
//   - New accepts exactly the configurations its doc comment calls valid (a
//     positive Timeout; MaxAbandoned — negative turns its bound off — only
//     with Abandon) and rejects the others with an error prefixed
//     "timeout: ";
//   - the attempt's context ends at the earlier of its start plus Timeout
//     (saturating at the end of time.Time's range) and the caller's
//     deadline;
//   - a call that returns before then returns what it returned; one that
//     waits for its context past its own deadline, with the caller's
//     context alive, fails with ErrTimeout; one that the caller's deadline
//     ends fails with the caller's error, not ErrTimeout.
//
// It runs in a synctest bubble, on virtual time.
func FuzzTimeout(f *testing.F) {
	s := int64(time.Second)
	f.Add(s, false, 0, int64(0), int64(s/2))
	f.Add(s, false, 0, int64(0), int64(2*s))
	f.Add(s, true, 3, int64(s/2), int64(2*s))
	f.Add(int64(math.MaxInt64), false, 0, int64(math.MaxInt64), int64(s))
	f.Add(int64(math.MaxInt64), true, 0, int64(0), int64(math.MaxInt64))
	f.Add(int64(1), true, math.MaxInt, int64(1), int64(1))
	f.Add(int64(0), false, 0, int64(0), int64(0))
	f.Add(int64(-1), false, 0, int64(0), int64(0))
	f.Add(s, false, 1, int64(0), int64(0))
	f.Add(s, true, -1, int64(0), int64(2*s))
	f.Add(s, false, -1, int64(0), int64(0))

	f.Fuzz(func(t *testing.T, limit int64, abandon bool, maxAbandoned int, deadline, takes int64) {
		cfg := timeout.Config{Timeout: time.Duration(limit), Abandon: abandon, MaxAbandoned: maxAbandoned}
		valid := limit > 0 && (maxAbandoned == 0 || abandon)
		to, err := timeout.New(cfg)
		if !fuzzprog.CheckNew(t, "timeout", cfg, to, err, valid) {
			return
		}
		takes = max(takes, 0)
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			ctx := context.Background()
			own := start.Add(time.Duration(limit))
			want := own
			if deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, start.Add(time.Duration(deadline)))
				defer cancel()
				if d := start.Add(time.Duration(deadline)); d.Before(want) {
					want = d
				}
			}
			deadlines := make(chan time.Time, 1) // the call may be left running
			err := timeout.Run(ctx, to, func(actx context.Context) error {
				d, _ := actx.Deadline()
				deadlines <- d
				select {
				case <-time.After(time.Duration(takes)):
					return nil
				case <-actx.Done():
					return actx.Err()
				}
			})
			if got := <-deadlines; !got.Equal(want) {
				t.Fatalf("the attempt's deadline is %v after its start, want %v", got.Sub(start), want.Sub(start))
			}
			callerDone := deadline > 0 && deadline <= takes
			switch {
			case takes == limit || takes == deadline || takes > 1<<62 && (limit > 1<<62 || deadline > 1<<62):
				// The call's end and a deadline come at once: either may
				// win. (The runtime's timers stop at the end of its int64
				// clock, so the call's end and a deadline 146 years or more
				// away may come at once too.)
			case takes < limit && !callerDone:
				if err != nil {
					t.Fatalf("a call of %v under a timeout of %v: %v", time.Duration(takes), cfg.Timeout, err)
				}
			case callerDone && deadline <= limit:
				if errors.Is(err, timeout.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("a call of %v under a timeout of %v, past the caller's deadline %v: %v", time.Duration(takes), cfg.Timeout, time.Duration(deadline), err)
				}
			default:
				if !errors.Is(err, timeout.ErrTimeout) {
					t.Fatalf("a call of %v under a timeout of %v (the caller's deadline %v): %v, not ErrTimeout", time.Duration(takes), cfg.Timeout, time.Duration(deadline), err)
				}
			}
		})
	})
}

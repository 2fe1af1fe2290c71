package hedge_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/hedge"
)

var (
	errUnavailable = resilience.Transient(errors.New("upstream: unavailable"))
	errInvalid     = resilience.Permanent(errors.New("upstream: invalid argument"))
)

// tokens returns the tokens left in t.
func tokens(t *budget.Tokens) float64 { return t.Snapshot().Tokens }

// TestAfterFailure steps through the decision on each failure, with and
// without Failures, and what it counts in Tokens.
func TestAfterFailure(t *testing.T) {
	next := func(d time.Duration) hedge.FailureDecision {
		return hedge.FailureDecision{Action: hedge.NextHedge, After: d}
	}
	act := func(a hedge.FailureAction) hedge.FailureDecision { return hedge.FailureDecision{Action: a} }
	for _, c := range []struct {
		failures bool
		attempt  int
		err      error
		want     hedge.FailureDecision
		counted  bool // a token taken
	}{
		// The default rule: the first attempt's failure ends the hedging,
		// a hedge's changes nothing; Tokens count by resilience.Classify.
		{false, 0, errUnavailable, act(hedge.StopHedges), true},
		{false, 1, errUnavailable, act(hedge.Continue), true},
		{false, 0, errInvalid, act(hedge.StopHedges), false},
		{false, 2, resilience.WithPushback(errInvalid, -1), act(hedge.Continue), true},
		{false, 1, resilience.WithPushback(errUnavailable, time.Second), act(hedge.Continue), true},
		{false, 0, context.Canceled, act(hedge.StopHedges), false},
		// gRFC A6.
		{true, 0, errUnavailable, next(0), true},
		{true, 3, errUnavailable, next(0), true},
		{true, 1, resilience.WithPushback(errUnavailable, 50*time.Millisecond), next(50 * time.Millisecond), true},
		{true, 1, resilience.WithPushback(errUnavailable, 0), next(0), true},
		{true, 0, resilience.WithPushback(errUnavailable, -1), act(hedge.StopHedges), true},
		{true, 1, errInvalid, act(hedge.Fatal), false},
		{true, 1, resilience.WithPushback(errInvalid, -1), act(hedge.Fatal), true},
		{true, 1, resilience.WithPushback(errInvalid, time.Second), act(hedge.Fatal), false},
		{true, 0, context.Canceled, act(hedge.Continue), false},
		{true, 0, resilience.WithPushback(context.Canceled, -1), act(hedge.Continue), false},
		// Not failures of the upstream.
		{true, 0, hedge.ErrLost, act(hedge.Continue), false},
		{true, 1, fmt.Errorf("attempt: %w", hedge.ErrLost), act(hedge.Continue), false},
		{false, 0, hedge.ErrLost, act(hedge.Continue), false},
		{true, 0, nil, act(hedge.Continue), false},
	} {
		tk := budget.MustNewTokens(budget.TokensConfig{})
		cfg := hedge.Config{Delay: time.Second, MaxHedges: 3, Tokens: tk}
		if c.failures {
			cfg.Failures = resilience.Classify
		}
		h := hedge.MustNew(cfg)
		got := h.AfterFailure(c.attempt, c.err)
		if got != c.want {
			t.Errorf("Failures %v, attempt %d failed with %v: %v after %v; want %v after %v",
				c.failures, c.attempt, c.err, got.Action, got.After, c.want.Action, c.want.After)
		}
		want := 10.0
		if c.counted {
			want = 9
		}
		if n := tokens(tk); n != want {
			t.Errorf("Failures %v, attempt %d failed with %v: %v tokens left; want %v", c.failures, c.attempt, c.err, n, want)
		}
	}

	// A classifier of one's own decides the class.
	h := hedge.MustNew(hedge.Config{Delay: time.Second, Failures: func(err error) resilience.Class {
		if errors.Is(err, errInvalid) {
			return resilience.ClassTransient
		}
		return resilience.ClassPermanent
	}})
	if d := h.AfterFailure(0, errInvalid); d.Action != hedge.NextHedge {
		t.Errorf("a failure the classifier calls transient: %v; want next hedge", d.Action)
	}
	if d := h.AfterFailure(0, errUnavailable); d.Action != hedge.Fatal {
		t.Errorf("a failure the classifier calls permanent: %v; want fatal", d.Action)
	}

	var nilH *hedge.Hedger
	if d := nilH.AfterFailure(1, errUnavailable); d != (hedge.FailureDecision{}) {
		t.Errorf("a nil Hedger: %v after %v; want continue", d.Action, d.After)
	}
	nilH.AfterSuccess()

	tk := budget.MustNewTokens(budget.TokensConfig{})
	tk.Failure()
	hedge.MustNew(hedge.Config{Tokens: tk}).AfterSuccess()
	if n := tokens(tk); n != 9.1 {
		t.Errorf("AfterSuccess: %v tokens left; want 9.1", n)
	}

	for a, want := range map[hedge.FailureAction]string{hedge.Continue: "continue", hedge.NextHedge: "next hedge",
		hedge.StopHedges: "stop hedges", hedge.Fatal: "fatal", 9: "FailureAction(9)"} {
		if a.String() != want {
			t.Errorf("%d.String() = %q; want %q", a, a.String(), want)
		}
	}
}

// attempts runs a hedged call whose attempt n (from 0) runs do(n, ctx), and
// records when each attempt started, and the cause with which the context
// of each ended, if it did before the attempt returned.
type attempts struct {
	mu     sync.Mutex
	start  time.Time
	starts []time.Duration
	causes map[int]error
}

func (a *attempts) run(t *testing.T, h *hedge.Hedger, ctx context.Context, do func(n int, ctx context.Context) (int, error)) (int, error, time.Duration) {
	t.Helper()
	a.start = time.Now()
	a.causes = map[int]error{}
	v, err := hedge.Do(ctx, h, func(ctx context.Context) (int, error) {
		a.mu.Lock()
		n := len(a.starts)
		a.starts = append(a.starts, time.Since(a.start))
		a.mu.Unlock()
		v, err := do(n, ctx)
		if c := context.Cause(ctx); c != nil {
			a.mu.Lock()
			a.causes[n] = c
			a.mu.Unlock()
		}
		return v, err
	})
	return v, err, time.Since(a.start)
}

func (a *attempts) check(t *testing.T, want ...time.Duration) {
	t.Helper()
	if fmt.Sprint(a.starts) != fmt.Sprint(want) {
		t.Errorf("attempts started at %v; want %v", a.starts, want)
	}
}

// after waits d, or until ctx ends, and then returns v and err, or the
// context's cause.
func after(ctx context.Context, d time.Duration, v int, err error) (int, error) {
	if e := sleep(ctx, d); e != nil {
		return 0, e
	}
	return v, err
}

const ms = time.Millisecond

// TestA6NonFatal: a transient failure sends the next hedge at once, and the
// one after it a delay later.
func TestA6NonFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := hedge.MustNew(hedge.Config{Delay: 100 * ms, MaxHedges: 2, Failures: resilience.Classify})
		var a attempts
		v, err, took := a.run(t, h, t.Context(), func(n int, ctx context.Context) (int, error) {
			switch n {
			case 0:
				return after(ctx, 10*ms, 0, errUnavailable)
			case 1:
				return after(ctx, time.Second, 1, nil)
			}
			return after(ctx, 20*ms, 2, nil)
		})
		if v != 2 || err != nil || took != 130*ms {
			t.Errorf("Do = %d, %v after %v; want 2, nil after 130ms", v, err, took)
		}
		a.check(t, 0, 10*ms, 110*ms)
		if !errors.Is(a.causes[1], hedge.ErrLost) {
			t.Errorf("hedge 1's context ended with %v; want ErrLost", a.causes[1])
		}
	})
	// A hedge's failure brings the next forward too.
	synctest.Test(t, func(t *testing.T) {
		h := hedge.MustNew(hedge.Config{Delay: 100 * ms, MaxHedges: 3, Failures: resilience.Classify})
		var a attempts
		v, err, took := a.run(t, h, t.Context(), func(n int, ctx context.Context) (int, error) {
			switch n {
			case 0:
				return after(ctx, time.Second, 0, nil)
			case 1:
				return after(ctx, 20*ms, 0, errUnavailable)
			}
			return after(ctx, time.Hour, n, nil)
		})
		if v != 0 || err != nil || took != time.Second {
			t.Errorf("Do = %d, %v after %v; want 0, nil after 1s", v, err, took)
		}
		a.check(t, 0, 100*ms, 120*ms, 220*ms)
	})
	// Every attempt fails: the failures, joined; no hedge past MaxHedges.
	synctest.Test(t, func(t *testing.T) {
		h := hedge.MustNew(hedge.Config{Delay: 100 * ms, MaxHedges: 2, Failures: resilience.Classify})
		var a attempts
		errs := []error{errUnavailable, resilience.Transient(errors.New("second")), resilience.Transient(errors.New("third"))}
		_, err, took := a.run(t, h, t.Context(), func(n int, ctx context.Context) (int, error) {
			return after(ctx, 10*ms, 0, errs[n])
		})
		for _, e := range errs {
			if !errors.Is(err, e) {
				t.Errorf("Do's error %v does not hold %v", err, e)
			}
		}
		if took != 30*ms {
			t.Errorf("Do returned after %v; want 30ms", took)
		}
		a.check(t, 0, 10*ms, 20*ms)
	})
}

// TestA6Fatal: a permanent failure cancels the other attempts, whose
// contexts see it, and is returned at once, alone.
func TestA6Fatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := hedge.MustNew(hedge.Config{Delay: 100 * ms, MaxHedges: 3, Failures: resilience.Classify})
		var a attempts
		_, err, took := a.run(t, h, t.Context(), func(n int, ctx context.Context) (int, error) {
			if n == 2 {
				return after(ctx, 50*ms, 0, errInvalid)
			}
			return after(ctx, time.Hour, n, nil)
		})
		if err != errInvalid || took != 250*ms {
			t.Errorf("Do = %v after %v; want %v after 250ms", err, took, errInvalid)
		}
		a.check(t, 0, 100*ms, 200*ms)
		for _, n := range []int{0, 1} {
			if c := a.causes[n]; !errors.Is(c, errInvalid) || !errors.Is(c, hedge.ErrLost) {
				t.Errorf("attempt %d's context ended with %v; want a cause matching ErrLost and the fatal failure", n, c)
			}
		}
		if s := h.Snapshot(); s.Hedges != 2 || s.Won != 0 || s.InFlight != 0 {
			t.Errorf("snapshot %+v; want 2 hedges, none won or in flight", s)
		}
	})
	// The first attempt's fatal failure: no hedge.
	synctest.Test(t, func(t *testing.T) {
		h := hedge.MustNew(hedge.Config{Delay: 100 * ms, Failures: resilience.Classify})
		var a attempts
		_, err, took := a.run(t, h, t.Context(), func(n int, ctx context.Context) (int, error) {
			return after(ctx, 10*ms, 0, errInvalid)
		})
		time.Sleep(time.Second)
		if err != errInvalid || took != 10*ms {
			t.Errorf("Do = %v after %v; want %v after 10ms", err, took, errInvalid)
		}
		a.check(t, 0)
	})
}

// TestA6Pushback: a pushback of 50ms sends the next hedge 50ms after the
// failure, and the one after it a delay later; a pushback that asks for no
// retry ends the hedging, while the attempt running goes on and wins.
func TestA6Pushback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := hedge.MustNew(hedge.Config{Delay: 100 * ms, MaxHedges: 2, Failures: resilience.Classify})
		var a attempts
		v, err, took := a.run(t, h, t.Context(), func(n int, ctx context.Context) (int, error) {
			switch n {
			case 0:
				return after(ctx, 10*ms, 0, resilience.WithPushback(errUnavailable, 50*ms))
			case 1:
				return after(ctx, time.Second, 1, nil)
			}
			return after(ctx, 20*ms, 2, nil)
		})
		if v != 2 || err != nil || took != 180*ms {
			t.Errorf("Do = %d, %v after %v; want 2, nil after 180ms", v, err, took)
		}
		a.check(t, 0, 60*ms, 160*ms)
	})
	// A pushback later than the hedge was due puts it off.
	synctest.Test(t, func(t *testing.T) {
		h := hedge.MustNew(hedge.Config{Delay: 100 * ms, MaxHedges: 2, Failures: resilience.Classify})
		var a attempts
		v, err, _ := a.run(t, h, t.Context(), func(n int, ctx context.Context) (int, error) {
			switch n {
			case 0:
				return after(ctx, time.Second, 0, nil)
			case 1:
				return after(ctx, 10*ms, 0, resilience.WithPushback(errUnavailable, 300*ms))
			}
			return after(ctx, time.Hour, 2, nil)
		})
		if v != 0 || err != nil {
			t.Errorf("Do = %d, %v; want 0, nil", v, err)
		}
		a.check(t, 0, 100*ms, 410*ms)
	})
	synctest.Test(t, func(t *testing.T) {
		h := hedge.MustNew(hedge.Config{Delay: 100 * ms, MaxHedges: 3, Failures: resilience.Classify})
		var a attempts
		v, err, took := a.run(t, h, t.Context(), func(n int, ctx context.Context) (int, error) {
			if n == 0 {
				return after(ctx, 300*ms, 7, nil)
			}
			return after(ctx, 10*ms, 0, resilience.WithPushback(errUnavailable, -1))
		})
		if v != 7 || err != nil || took != 300*ms {
			t.Errorf("Do = %d, %v after %v; want 7, nil after 300ms", v, err, took)
		}
		a.check(t, 0, 100*ms)
	})
	// The caller gives up while the next hedge waits for a pushback with no
	// attempt running: Do returns at once.
	synctest.Test(t, func(t *testing.T) {
		h := hedge.MustNew(hedge.Config{Delay: 100 * ms, Failures: resilience.Classify})
		ctx, cancel := context.WithTimeout(t.Context(), 30*ms)
		defer cancel()
		var a attempts
		_, err, took := a.run(t, h, ctx, func(n int, ctx context.Context) (int, error) {
			return after(ctx, 10*ms, 0, resilience.WithPushback(errUnavailable, time.Hour))
		})
		if !errors.Is(err, context.DeadlineExceeded) || took != 30*ms {
			t.Errorf("Do = %v after %v; want the deadline after 30ms", err, took)
		}
		a.check(t, 0)
	})
}

// TestA6Tokens: a bucket at half or less sends no hedge; the first
// attempt always goes, and its result is the call's.
func TestA6Tokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tk := budget.MustNewTokens(budget.TokensConfig{})
		for range 5 {
			tk.Failure() // 5 of 10 left: not more than half
		}
		var events []resilience.Event
		h := hedge.MustNew(hedge.Config{Delay: 100 * ms, MaxHedges: 2, Tokens: tk,
			Observer: &resilience.Observer{Reject: func(e resilience.Event) { events = append(events, e) }}})
		var a attempts
		v, err, took := a.run(t, h, t.Context(), func(n int, ctx context.Context) (int, error) {
			return after(ctx, 300*ms, 7, nil)
		})
		if v != 7 || err != nil || took != 300*ms {
			t.Errorf("Do = %d, %v after %v; want 7, nil after 300ms", v, err, took)
		}
		a.check(t, 0)
		if len(events) != 1 || events[0].Reason != "throttled" || !errors.Is(events[0].Err, budget.ErrExhausted) || events[0].Attempt != 1 {
			t.Errorf("events %+v; want one refusal of hedge 1, throttled", events)
		}
		if s := h.Snapshot(); s.Refused != 1 || s.Hedges != 0 {
			t.Errorf("snapshot %+v; want 1 refused, no hedge", s)
		}
		if n := tokens(tk); n != 5.1 {
			t.Errorf("%v tokens left; want 5.1: the success gave back 0.1", n)
		}
	})
	// Under Failures, the first attempt's failure is returned when the
	// bucket refuses the hedge it would send.
	synctest.Test(t, func(t *testing.T) {
		tk := budget.MustNewTokens(budget.TokensConfig{MaxTokens: 2})
		tk.Failure() // 1 of 2 left; the failure below takes it
		h := hedge.MustNew(hedge.Config{Delay: 100 * ms, Tokens: tk, Failures: resilience.Classify})
		var a attempts
		_, err, took := a.run(t, h, t.Context(), func(n int, ctx context.Context) (int, error) {
			return after(ctx, 10*ms, 0, errUnavailable)
		})
		if err != errUnavailable || took != 10*ms {
			t.Errorf("Do = %v after %v; want %v after 10ms", err, took, errUnavailable)
		}
		a.check(t, 0)
		if n := tokens(tk); n != 0 {
			t.Errorf("%v tokens left; want 0", n)
		}
	})
}

// TestA6TokensCounted: each attempt's outcome counts in the bucket, with or
// without Failures, but not that of an attempt the hedger canceled.
func TestA6TokensCounted(t *testing.T) {
	for _, c := range []struct {
		name     string
		failures resilience.Classifier
		do       func(n int, ctx context.Context) (int, error)
		attempts int
		want     float64
	}{
		{"A6: two transient failures, then a success", resilience.Classify, func(n int, ctx context.Context) (int, error) {
			if n < 2 {
				return after(ctx, 10*ms, 0, errUnavailable)
			}
			return after(ctx, 10*ms, 1, nil)
		}, 3, 10 - 2 + 0.1},
		{"default: a hedge's transient failure, then the first's success", nil, func(n int, ctx context.Context) (int, error) {
			if n == 0 {
				return after(ctx, 150*ms, 1, nil)
			}
			return after(ctx, 10*ms, 0, errUnavailable)
		}, 2, 10 - 1 + 0.1},
		{"default: a permanent failure counts nothing", nil, func(n int, ctx context.Context) (int, error) {
			return after(ctx, 10*ms, 0, errInvalid)
		}, 1, 10},
		{"a hedge wins: the loser canceled counts nothing", nil, func(n int, ctx context.Context) (int, error) {
			if n == 0 {
				return after(ctx, time.Hour, 1, nil)
			}
			return after(ctx, 10*ms, 2, nil)
		}, 2, 10 + 0.1},
		{"a loser that succeeds anyway counts", nil, func(n int, ctx context.Context) (int, error) {
			if n == 0 {
				sleep(ctx, time.Hour)
				return 1, nil
			}
			return after(ctx, 10*ms, 2, nil)
		}, 2, 10 + 0.2},
		{"a fatal failure: the others canceled count nothing", resilience.Classify, func(n int, ctx context.Context) (int, error) {
			if n == 0 {
				return after(ctx, time.Hour, 0, errUnavailable)
			}
			return after(ctx, 10*ms, 0, resilience.WithPushback(errInvalid, -1))
		}, 2, 9},
	} {
		synctest.Test(t, func(t *testing.T) {
			tk := budget.MustNewTokens(budget.TokensConfig{})
			tk.Failure()
			tk.Failure() // 8 left, so that a success shows
			h := hedge.MustNew(hedge.Config{Delay: 100 * ms, MaxHedges: 2, Tokens: tk, Failures: c.failures})
			var a attempts
			a.run(t, h, t.Context(), c.do)
			if len(a.starts) != c.attempts {
				t.Errorf("%s: %d attempts; want %d", c.name, len(a.starts), c.attempts)
			}
			if n := tokens(tk) + 2; n < c.want-1e-9 || n > c.want+1e-9 {
				t.Errorf("%s: %v tokens left; want %v", c.name, n-2, c.want-2)
			}
		})
	}
}

// TestA6Concurrent: many calls at once under Failures and Tokens, whose
// attempts fail transiently, fatally, with pushbacks, or succeed; no call
// leaks a goroutine, and every call returns.
func TestA6Concurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tk := budget.MustNewTokens(budget.TokensConfig{MaxTokens: 100, TokenRatio: 1})
		h := hedge.MustNew(hedge.Config{Delay: 5 * ms, MaxHedges: 4, Tokens: tk, Failures: resilience.Classify})
		outcomes := []error{nil, errUnavailable, errInvalid, resilience.WithPushback(errUnavailable, 3*ms),
			resilience.WithPushback(errUnavailable, -1), nil, errUnavailable}
		var wg sync.WaitGroup
		var calls atomic.Int64
		for i := range 50 {
			wg.Go(func() {
				var n atomic.Int64
				hedge.Do(t.Context(), h, func(ctx context.Context) (int, error) {
					k := int(n.Add(1)) + i
					calls.Add(1)
					return after(ctx, time.Duration(k%7+1)*ms, k, outcomes[k%len(outcomes)])
				})
			})
		}
		wg.Wait()
		if s := h.Snapshot(); s.InFlight != 0 || s.Calls != 50 || calls.Load() != 50+int64(s.Hedges) {
			t.Errorf("snapshot %+v after %d attempts", s, calls.Load())
		}
	})
}

// TestA6Panic: a hedge sent after the first attempt failed panics; the
// panic goes on on the caller's goroutine, which waited for the hedges, and
// the hedge running beside it is canceled.
func TestA6Panic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := hedge.MustNew(hedge.Config{Delay: 100 * ms, MaxHedges: 2, Failures: resilience.Classify})
		var a attempts
		got := func() (p any) {
			defer func() { p = recover() }()
			a.run(t, h, t.Context(), func(n int, ctx context.Context) (int, error) {
				switch n {
				case 0:
					return after(ctx, 10*ms, 0, errUnavailable)
				case 1:
					return after(ctx, time.Hour, 1, nil)
				}
				panic("boom")
			})
			return nil
		}()
		if got != "boom" {
			t.Errorf("hedge 2 panicked; Do's caller recovered %v", got)
		}
		a.check(t, 0, 10*ms, 110*ms)
		if !errors.Is(a.causes[1], hedge.ErrLost) {
			t.Errorf("hedge 1's context ended with %v; want ErrLost", a.causes[1])
		}
		if s := h.Snapshot(); s.InFlight != 0 {
			t.Errorf("%d hedges in flight after Do", s.InFlight)
		}
	})
}

package hedge_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/retry"
)

// sleep waits d on the bubble's clock, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func TestNewRejectsNonsense(t *testing.T) {
	b := budget.MustNew(budget.Config{})
	for _, tc := range []struct {
		cfg  hedge.Config
		want string
	}{
		{hedge.Config{Delay: -time.Second}, "hedge: Delay is negative: -1s"},
		{hedge.Config{InitialDelay: -1}, "hedge: InitialDelay is negative: -1ns"},
		{hedge.Config{Window: -time.Minute}, "hedge: Window is negative: -1m0s"},
		{hedge.Config{Delay: time.Second, MinSamples: -1}, "hedge: Delay is fixed, so Percentile"},
		{hedge.Config{MaxHedges: 17}, "hedge: MaxHedges is above 16: 17"},
		{hedge.Config{Percentile: 1}, "hedge: Percentile must be in (0, 1), or 0 for the default; not 1"},
		{hedge.Config{Percentile: -0.5}, "hedge: Percentile must be in (0, 1), or 0 for the default; not -0.5"},
		{hedge.Config{Delay: time.Second, Percentile: 0.9}, "hedge: Delay is fixed, so Percentile"},
		{hedge.Config{Delay: time.Second, Window: time.Second}, "hedge: Delay is fixed, so Percentile"},
		{hedge.Config{Deposit: true}, "hedge: Deposit is set but Budget is nil"},
	} {
		h, err := hedge.New(tc.cfg)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || h != nil {
			t.Errorf("New(%+v) = %v, %v; want error %q", tc.cfg, h, err, tc.want)
		}
	}
	for _, cfg := range []hedge.Config{{}, {Delay: time.Millisecond, MaxHedges: 16}, {Percentile: 0.5, Budget: b, Deposit: true}, {MinSamples: -1, MaxHedges: -2}} {
		if _, err := hedge.New(cfg); err != nil {
			t.Errorf("New(%+v): %v", cfg, err)
		}
	}
}

func TestNilHedger(t *testing.T) {
	var h *hedge.Hedger
	ctx := context.Background()
	ok := func(context.Context) (int, error) { return 1, nil }
	if _, err := hedge.Do(ctx, h, ok); err == nil {
		t.Error("Do with a nil *Hedger: no error")
	}
	if err := hedge.Run(ctx, h, func(context.Context) error { return nil }); err == nil {
		t.Error("Run with a nil *Hedger: no error")
	}
	if err := h.Execute(ctx, resilience.OperationFunc(func(context.Context) error { return nil })); err == nil {
		t.Error("Execute with a nil *Hedger: no error")
	}
	if h.Delay() != 0 || h.DelayAt(time.Now()) != 0 {
		t.Error("nil Hedger has a delay")
	}
	h.Observe(time.Second)
	h.ObserveAt(time.Now(), time.Second)

	h = hedge.MustNew(hedge.Config{})
	//lint:ignore SA1012 testing the nil check
	if _, err := hedge.Do(nil, h, ok); !errors.Is(err, resilience.ErrNilContext) { //nolint:staticcheck
		t.Errorf("nil ctx: %v", err)
	}
	if _, err := hedge.Do[int](ctx, h, nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Errorf("nil fn: %v", err)
	}
	if err := h.Execute(ctx, nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Errorf("nil op: %v", err)
	}
}

// TestHedgeWins: the first attempt is slow; the hedge starts exactly at the
// fixed delay and wins; the first attempt's context ends with ErrLost.
func TestHedgeWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []resilience.Event
		h := hedge.MustNew(hedge.Config{Name: "api", Delay: 30 * time.Millisecond, Observer: &resilience.Observer{
			Hedge: func(e resilience.Event) { events = append(events, e) },
		}})
		start := time.Now()
		var firstCause error
		var hedgeStart time.Duration
		var winnerCtx context.Context
		var attempts atomic.Int32
		v, err := hedge.Do(t.Context(), h, func(ctx context.Context) (string, error) {
			if attempts.Add(1) == 1 {
				err := sleep(ctx, time.Second)
				firstCause = context.Cause(ctx)
				return "first", err
			}
			hedgeStart = time.Since(start)
			winnerCtx = ctx
			return "hedge", sleep(ctx, 10*time.Millisecond)
		})
		if v != "hedge" || err != nil {
			t.Fatalf("Do = %q, %v; want hedge, nil", v, err)
		}
		if hedgeStart != 30*time.Millisecond {
			t.Errorf("hedge started after %v; want 30ms", hedgeStart)
		}
		if el := time.Since(start); el != 40*time.Millisecond {
			t.Errorf("Do returned after %v; want 40ms", el)
		}
		if !errors.Is(firstCause, hedge.ErrLost) {
			t.Errorf("loser's cause = %v; want ErrLost", firstCause)
		}
		if err := winnerCtx.Err(); err != nil {
			t.Errorf("the winner's context ended (%v); its value may still need it", err)
		}
		if len(events) != 1 || events[0].Type != resilience.EventHedge || events[0].Kind != resilience.KindHedge ||
			events[0].Policy != "api" || events[0].Attempt != 1 || events[0].Delay != 30*time.Millisecond ||
			events[0].Context != t.Context() || !events[0].Time.Equal(start.Add(30*time.Millisecond)) {
			t.Errorf("events = %+v", events)
		}
		if s := h.Snapshot(); s != (hedge.Snapshot{Name: "api", Delay: 30 * time.Millisecond, Calls: 1, Hedges: 1, Won: 1}) {
			t.Errorf("snapshot %+v", s)
		}
	})
}

// TestFirstInTime: no hedge when the first attempt answers before the delay,
// neither during the call nor after it.
func TestFirstInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hedges := 0
		h := hedge.MustNew(hedge.Config{Delay: 30 * time.Millisecond, Observer: &resilience.Observer{Hedge: func(resilience.Event) { hedges++ }}})
		calls := 0
		var ctxErr error
		v, err := hedge.Do(t.Context(), h, func(ctx context.Context) (int, error) {
			calls++
			err := sleep(ctx, 29*time.Millisecond)
			ctxErr = ctx.Err()
			return calls, err
		})
		time.Sleep(time.Second)
		if v != 1 || err != nil || calls != 1 || hedges != 0 || ctxErr != nil {
			t.Errorf("Do = %d, %v; calls %d, hedges %d, ctx.Err %v; want 1, nil, 1, 0, nil", v, err, calls, hedges, ctxErr)
		}
	})
}

// TestMaxHedges: hedges start one delay apart, MaxHedges of them and no more.
func TestMaxHedges(t *testing.T) {
	for _, max := range []int{0, 1, 3, -1} {
		synctest.Test(t, func(t *testing.T) {
			h := hedge.MustNew(hedge.Config{Delay: 10 * time.Millisecond, MaxHedges: max})
			want := max
			switch {
			case want == 0:
				want = hedge.DefaultMaxHedges
			case want < 0:
				want = 0 // off: no hedge
			}
			start := time.Now()
			var mu sync.Mutex
			var starts []time.Duration
			var lost atomic.Int32
			_, err := hedge.Do(t.Context(), h, func(ctx context.Context) (int, error) {
				mu.Lock()
				starts = append(starts, time.Since(start))
				n := len(starts)
				mu.Unlock()
				if n == 1 {
					return 0, sleep(ctx, time.Second) // the first wins at 1s
				}
				err := sleep(ctx, time.Hour)
				if errors.Is(err, hedge.ErrLost) {
					lost.Add(1)
				}
				return 0, err
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(starts) != want+1 {
				t.Fatalf("MaxHedges %d: %d attempts; want %d", max, len(starts), want+1)
			}
			for i, s := range starts {
				if s != time.Duration(i)*10*time.Millisecond {
					t.Errorf("attempt %d started at %v; want %v", i, s, time.Duration(i)*10*time.Millisecond)
				}
			}
			if int(lost.Load()) != want {
				t.Errorf("%d hedges lost with ErrLost; want %d", lost.Load(), want)
			}
		})
	}
}

// TestBudgetRefusal: a refused withdrawal means no hedge, not an error.
func TestBudgetRefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := budget.MustNew(budget.Config{Ratio: 0.5, MinPerSecond: -1})
		var events []resilience.Event
		h := hedge.MustNew(hedge.Config{Delay: 10 * time.Millisecond, Budget: b, Deposit: true,
			Observer: resilience.ObserveAll(func(e resilience.Event) { events = append(events, e) })})
		var attempts atomic.Int32
		slow := func(ctx context.Context) (int, error) {
			attempts.Add(1)
			return 0, sleep(ctx, 100*time.Millisecond)
		}
		// With one call deposited, 0.5 retries are allowed: no hedge.
		if _, err := hedge.Do(t.Context(), h, slow); err != nil || attempts.Load() != 1 {
			t.Fatalf("first call: %v, %d attempts; want nil, 1", err, attempts.Load())
		}
		if len(events) != 1 || events[0].Type != resilience.EventReject || events[0].Attempt != 1 ||
			events[0].Reason != "budget exhausted" || !errors.Is(events[0].Err, budget.ErrExhausted) {
			t.Errorf("events = %+v; want one refusal", events)
		}
		// Two calls deposited: one hedge allowed.
		attempts.Store(0)
		if _, err := hedge.Do(t.Context(), h, slow); err != nil || attempts.Load() != 2 {
			t.Fatalf("second call: %v, %d attempts; want nil, 2", err, attempts.Load())
		}
		if len(events) != 2 || events[1].Type != resilience.EventHedge {
			t.Errorf("events = %+v; want a hedge after the refusal", events)
		}
		if s := h.Snapshot(); s.Calls != 2 || s.Hedges != 1 || s.Refused != 1 || s.Won != 0 || s.InFlight != 0 {
			t.Errorf("snapshot %+v; want 2 calls, 1 hedge, 1 refused, none won", s)
		}
		if s := b.Snapshot(); s.Retries != 1 {
			t.Errorf("budget snapshot %+v; want 1 retry withdrawn", s)
		}
	})
}

// TestAllFail: every attempt failing returns the errors of all, joined; one
// attempt failing returns its own error.
func TestAllFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := hedge.MustNew(hedge.Config{Delay: 10 * time.Millisecond, MaxHedges: 2})
		errs := []error{errors.New("first"), errors.New("second"), errors.New("third")}
		var n atomic.Int32
		_, err := hedge.Do(t.Context(), h, func(ctx context.Context) (int, error) {
			i := n.Add(1) - 1
			sleep(ctx, 100*time.Millisecond-time.Duration(i)*10*time.Millisecond)
			return 0, errs[i]
		})
		for _, e := range errs {
			if !errors.Is(err, e) {
				t.Errorf("error %v does not match %v", err, e)
			}
		}
		if err == nil || err.Error() != "first\nsecond\nthird" {
			t.Errorf("error %q; want the attempts' errors in their order", err)
		}

		fast := errors.New("fast")
		_, err = hedge.Do(t.Context(), h, func(ctx context.Context) (int, error) { return 0, fast })
		if err != fast {
			t.Errorf("single failure: %v; want the attempt's own error", err)
		}
	})
}

// TestLoserReleased: a loser that succeeds anyway has its value released, and
// Do waits for it.
func TestLoserReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := hedge.MustNew(hedge.Config{Delay: 30 * time.Millisecond})
		var released []string
		var n atomic.Int32
		start := time.Now()
		v, err := hedge.DoRelease(t.Context(), h, func(ctx context.Context) (string, error) {
			if n.Add(1) == 1 {
				time.Sleep(100 * time.Millisecond) // ignores its context
				return "first", nil
			}
			return "hedge", nil
		}, func(s string) { released = append(released, s) })
		if v != "hedge" || err != nil {
			t.Errorf("DoRelease = %q, %v; want hedge", v, err)
		}
		if len(released) != 1 || released[0] != "first" {
			t.Errorf("released %v; want [first]", released)
		}
		if el := time.Since(start); el != 100*time.Millisecond {
			t.Errorf("returned after %v; want 100ms, when the loser returned", el)
		}
	})
}

// TestCallerCancel: the caller's cancellation ends every attempt and is
// reported with its cause.
func TestCallerCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := hedge.MustNew(hedge.Config{Delay: 10 * time.Millisecond})
		cause := errors.New("user went away")
		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(50*time.Millisecond, func() { cancel(cause) })
		var n atomic.Int32
		gaveUp := errors.New("attempt gave up")
		_, err := hedge.Do(ctx, h, func(ctx context.Context) (int, error) {
			n.Add(1)
			sleep(ctx, time.Hour)
			return 0, gaveUp
		})
		if !errors.Is(err, cause) || n.Load() != 2 {
			t.Errorf("err %v after %d attempts; want %v after 2", err, n.Load(), cause)
		}
		if _, err := hedge.Do(ctx, h, func(ctx context.Context) (int, error) { return 1, nil }); !errors.Is(err, cause) {
			t.Errorf("done ctx: %v", err)
		}
	})
}

// TestPanic: a panic in any attempt cancels the others and goes on on the
// caller's goroutine once they returned.
func TestPanic(t *testing.T) {
	for _, which := range []int32{1, 2} {
		synctest.Test(t, func(t *testing.T) {
			h := hedge.MustNew(hedge.Config{Delay: 10 * time.Millisecond})
			var n atomic.Int32
			var otherCause error
			got := func() (p any) {
				defer func() { p = recover() }()
				hedge.Do(t.Context(), h, func(ctx context.Context) (int, error) {
					i := n.Add(1)
					if i != which {
						sleep(ctx, time.Hour)
						otherCause = context.Cause(ctx)
						return 0, nil
					}
					if i == 1 {
						sleep(ctx, 20*time.Millisecond)
					}
					panic("boom")
				})
				return nil
			}()
			if got != "boom" {
				t.Errorf("attempt %d panicked; Do's caller recovered %v", which, got)
			}
			if !errors.Is(otherCause, hedge.ErrLost) {
				t.Errorf("other attempt's cause %v; want ErrLost", otherCause)
			}
		})
	}
}

// TestCompose: retry outside, hedger inside: each retry is hedged.
func TestCompose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := budget.MustNew(budget.Config{})
		r := retry.MustNew(retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(0), Budget: b})
		h := hedge.MustNew(hedge.Config{Delay: 10 * time.Millisecond, Budget: b})
		p := resilience.Compose(r, h)
		var n atomic.Int32
		v, err := resilience.Do(t.Context(), p, func(ctx context.Context) (string, error) {
			switch n.Add(1) {
			case 1: // first try fails at once: retried, not hedged
				return "", resilience.Transient(errors.New("reset"))
			case 2: // retry hangs: hedged
				return "slow", sleep(ctx, time.Hour)
			default:
				return "hedge", nil
			}
		})
		if v != "hedge" || err != nil || n.Load() != 3 {
			t.Errorf("Do = %q, %v after %d attempts; want hedge, nil after 3", v, err, n.Load())
		}
		if s := b.Snapshot(); s.Retries != 2 {
			t.Errorf("budget %+v; want 2 withdrawals (a retry and a hedge)", s)
		}
	})
}

// TestConcurrent: many callers at once, each with a random latency.
func TestConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := hedge.MustNew(hedge.Config{InitialDelay: 5 * time.Millisecond, MinSamples: 10, MaxHedges: 2})
		var wg sync.WaitGroup
		for g := range 32 {
			wg.Go(func() {
				for i := range 20 {
					want := g*100 + i
					var n atomic.Int32
					v, err := hedge.Do(t.Context(), h, func(ctx context.Context) (int, error) {
						d := time.Duration((want*7+int(n.Add(1))*13)%17) * time.Millisecond
						return want, sleep(ctx, d)
					})
					if v != want || err != nil {
						t.Errorf("Do = %d, %v; want %d", v, err, want)
					}
				}
			})
		}
		wg.Wait()
	})
}

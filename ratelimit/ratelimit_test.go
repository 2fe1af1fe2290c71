package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/ratelimit"
	"github.com/netresilience/resilience/retry"
)

// nilCtx is a missing context, passed on purpose.
var nilCtx context.Context

// t0 is the start of the virtual time of the step tables.
var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func mustNew(t *testing.T, cfg ratelimit.Config) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return l
}

// step is one decision on virtual time: at t0+at, a call of cost tokens is
// allowed or not, after which the bucket holds tokens.
type step struct {
	at      time.Duration
	cost    int
	allowed bool
	tokens  float64
}

func runSteps(t *testing.T, l *ratelimit.Limiter, steps []step) {
	t.Helper()
	for i, s := range steps {
		now := t0.Add(s.at)
		if got := l.AllowAt(now, s.cost); got != s.allowed {
			t.Fatalf("step %d: AllowAt(t0+%v, %d) = %v, want %v", i, s.at, s.cost, got, s.allowed)
		}
		if got := l.TokensAt(now); math.Abs(got-s.tokens) > 1e-9 {
			t.Fatalf("step %d: TokensAt(t0+%v) = %v after it, want %v", i, s.at, got, s.tokens)
		}
	}
}

func TestBurstThenSteadyRate(t *testing.T) {
	l := mustNew(t, ratelimit.Config{Limit: 10, Burst: 5})
	runSteps(t, l, []step{
		{0, 1, true, 4},
		{0, 1, true, 3},
		{0, 1, true, 2},
		{0, 1, true, 1},
		{0, 1, true, 0},
		{0, 1, false, 0},
		{50 * time.Millisecond, 1, false, 0.5},
		{100*time.Millisecond - 1, 1, false, 1 - 1e-8},
		{100 * time.Millisecond, 1, true, 0},
		{100 * time.Millisecond, 1, false, 0},
	})
	// Then one every 100ms, exactly, for a thousand seconds.
	for k := 2; k <= 10000; k++ {
		due := t0.Add(time.Duration(k) * 100 * time.Millisecond)
		if l.AllowAt(due.Add(-time.Nanosecond), 1) {
			t.Fatalf("token %d came 1ns before %v", k, due.Sub(t0))
		}
		if !l.AllowAt(due, 1) {
			t.Fatalf("token %d did not come at %v", k, due.Sub(t0))
		}
		if l.AllowAt(due, 1) {
			t.Fatalf("two tokens at %v", due.Sub(t0))
		}
	}
	// After a quiet spell the bucket holds Burst, not more.
	later := t0.Add(time.Hour)
	if got := l.TokensAt(later); got != 5 {
		t.Fatalf("after an hour: %v tokens, want the burst, 5", got)
	}
	if !l.AllowAt(later, 5) || l.AllowAt(later, 1) {
		t.Fatal("after an hour: want exactly 5 tokens to go at once")
	}
}

func TestTokensInFractions(t *testing.T) {
	// 3 tokens every 7s: a token takes 2⅓s.
	l := mustNew(t, ratelimit.Config{Limit: 3, Per: 7 * time.Second})
	runSteps(t, l, []step{
		{0, 3, true, 0},
		{time.Second, 0, true, 3.0 / 7},
		{3500 * time.Millisecond, 1, true, 0.5},
		{7 * time.Second, 0, true, 2},
		{7*time.Second + 7*time.Second/3, 4, false, 3}, // full, and no more
	})
}

func TestExactRateWithoutDrift(t *testing.T) {
	// A token takes 1s/3 = 333333333⅓ns: a limiter that rounded it would
	// drift by a nanosecond every three tokens. (The bucket holds two, so
	// that a call that comes at the whole nanosecond after its token does
	// not find the bucket full and lose the fraction between.)
	l := mustNew(t, ratelimit.Config{Limit: 3, Burst: 2})
	if !l.AllowAt(t0, 2) {
		t.Fatal("the first tokens did not go")
	}
	for k := int64(1); k <= 300_000; k++ { // 100,000 seconds
		due := t0.Add(time.Duration((k*1e9 + 2) / 3)) // ceil(k·1e9/3)
		if l.AllowAt(due.Add(-time.Nanosecond), 1) {
			t.Fatalf("token %d came before %v", k, due.Sub(t0))
		}
		if !l.AllowAt(due, 1) {
			t.Fatalf("token %d did not come at %v", k, due.Sub(t0))
		}
	}
}

func TestWeightedCosts(t *testing.T) {
	// 100 tokens a second: one every 10ms.
	l := mustNew(t, ratelimit.Config{Limit: 100})
	runSteps(t, l, []step{
		{0, 60, true, 40},
		{0, 50, false, 40}, // a rejected call spends nothing
		{0, 40, true, 0},
		{0, 1, false, 0},
		{10*time.Millisecond - 1, 1, false, 1 - 1e-7},
		{10 * time.Millisecond, 1, true, 0},
		{10 * time.Millisecond, 0, true, 0}, // a free call goes even now
		{510 * time.Millisecond, 51, false, 50},
		{510 * time.Millisecond, 50, true, 0},
		{5 * time.Second, 101, false, 100}, // never more than the burst
		{5 * time.Second, 100, true, 0},
		{5 * time.Second, -1, false, 0},
	})
}

func TestCostTheBucketCannotHoldFailsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(t, ratelimit.Config{Name: "llm", Limit: 100, Per: time.Minute, MaxWait: time.Hour})
		start := time.Now()
		for _, n := range []int{101, -1, math.MaxInt} {
			err := l.Wait(context.Background(), n)
			if !errors.Is(err, ratelimit.ErrBadCost) || errors.Is(err, ratelimit.ErrLimited) {
				t.Fatalf("Wait(%d) = %v; want ErrBadCost, not ErrLimited", n, err)
			}
			ran := false
			err = ratelimit.Run(l.WithCost(context.Background(), n), l, func(context.Context) error { ran = true; return nil })
			if !errors.Is(err, ratelimit.ErrBadCost) || ran {
				t.Fatalf("Run with cost %d: %v, ran=%v; want ErrBadCost and no call", n, err, ran)
			}
			if r := l.Reserve(n); r.OK() {
				t.Fatalf("Reserve(%d) is OK", n)
			}
			if l.Allow(n) {
				t.Fatalf("Allow(%d) = true", n)
			}
		}
		if time.Since(start) != 0 {
			t.Fatalf("bad costs took %v; want them to fail at once", time.Since(start))
		}
		if got := l.Tokens(); got != 100 {
			t.Fatalf("bad costs spent tokens: %v left, want 100", got)
		}
		for n, want := range map[int]string{
			101: `ratelimit "llm": a call of 101 tokens can never go: the bucket holds 100 tokens`,
			-1:  `ratelimit "llm": cost is negative: -1`,
		} {
			if err := l.Wait(context.Background(), n); err.Error() != want {
				t.Errorf("Wait(%d): %q, want %q", n, err.Error(), want)
			}
		}
	})
}

func TestWaitBurstThenRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(t, ratelimit.Config{Limit: 10, Burst: 5, MaxWait: time.Hour})
		start := time.Now()
		for i := range 12 {
			if err := l.Wait(context.Background(), 1); err != nil {
				t.Fatalf("Wait %d: %v", i, err)
			}
			want := time.Duration(max(i-4, 0)) * 100 * time.Millisecond
			if got := time.Since(start); got != want {
				t.Fatalf("call %d went at %v, want %v", i, got, want)
			}
		}
	})
}

func TestMaxWaitIsHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A token every 100ms; waits of up to 200ms.
		l := mustNew(t, ratelimit.Config{Name: "api", Limit: 10, Burst: 3, MaxWait: 200 * time.Millisecond})
		ctx := context.Background()
		start := time.Now()
		if err := l.Wait(ctx, 3); err != nil || time.Since(start) != 0 {
			t.Fatalf("Wait(3) on a full bucket: %v after %v; want nil at once", err, time.Since(start))
		}
		// Three tokens would take 300ms: rejected at once, spending none.
		err := l.Wait(ctx, 3)
		var le *ratelimit.Error
		if !errors.Is(err, ratelimit.ErrLimited) || !errors.As(err, &le) {
			t.Fatalf("Wait(3) on an empty bucket = %v; want a *Error matching ErrLimited", err)
		}
		if time.Since(start) != 0 {
			t.Fatalf("the rejection took %v, want none", time.Since(start))
		}
		if le.Name != "api" || le.Reason != ratelimit.WaitTooLong || le.Cost != 3 || le.MaxWait != 200*time.Millisecond {
			t.Fatalf("rejection %+v; want api, WaitTooLong, cost 3, MaxWait 200ms", *le)
		}
		if got := le.RetryAfter(); got != 300*time.Millisecond {
			t.Fatalf("RetryAfter() = %v, want 300ms", got)
		}
		if d, ok := resilience.RetryAfter(err); !ok || d != 300*time.Millisecond {
			t.Fatalf("resilience.RetryAfter = %v, %v; want 300ms", d, ok)
		}
		if want := `ratelimit "api": 3 tokens not available within 200ms`; err.Error() != want {
			t.Fatalf("Error() = %q, want %q", err.Error(), want)
		}
		// Two tokens take exactly MaxWait: the call waits. Had the rejected
		// call spent its tokens, this one would be rejected too.
		if err := l.Wait(ctx, 2); err != nil {
			t.Fatalf("Wait(2), due in exactly MaxWait: %v", err)
		}
		if got := time.Since(start); got != 200*time.Millisecond {
			t.Fatalf("Wait(2) returned after %v, want 200ms", got)
		}
		// The hint is read when it is asked for: 100ms have passed.
		time.Sleep(100 * time.Millisecond)
		if got := le.RetryAfter(); got != 200*time.Millisecond {
			t.Fatalf("RetryAfter() 100ms later = %v, want 200ms", got)
		}

		// One nanosecond over MaxWait is too long.
		m := mustNew(t, ratelimit.Config{Limit: 10, Burst: 1, MaxWait: 100*time.Millisecond - 1})
		m.Allow(1)
		if err := m.Wait(ctx, 1); !errors.Is(err, ratelimit.ErrLimited) {
			t.Fatalf("a wait 1ns over MaxWait: %v, want a rejection", err)
		}
	})
}

func TestDefaultsRejectAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(t, ratelimit.Config{Name: "search", Limit: 10})
		if l.Burst() != 10 || l.Name() != "search" {
			t.Fatalf("Burst() = %d, Name() = %q; want the default burst, Limit (10), and search", l.Burst(), l.Name())
		}
		calls := 0
		call := func(context.Context) error { calls++; return nil }
		for range 10 {
			if err := ratelimit.Run(context.Background(), l, call); err != nil {
				t.Fatal(err)
			}
		}
		err := ratelimit.Run(context.Background(), l, call)
		var le *ratelimit.Error
		if !errors.As(err, &le) || le.Reason != ratelimit.NoWait || calls != 10 {
			t.Fatalf("11th call: %v after %d calls; want a NoWait rejection after 10", err, calls)
		}
		if want := `ratelimit "search": 1 token not available now`; err.Error() != want {
			t.Fatalf("Error() = %q, want %q", err.Error(), want)
		}
		if got := le.RetryAfter(); got != 100*time.Millisecond {
			t.Fatalf("RetryAfter() = %v, want 100ms: a token a second / 10", got)
		}
		time.Sleep(100 * time.Millisecond)
		if le.RetryAfter() != 0 {
			t.Fatalf("RetryAfter() once the token is there = %v, want 0", le.RetryAfter())
		}
		if err := ratelimit.Run(context.Background(), l, call); err != nil {
			t.Fatalf("after 100ms: %v", err)
		}
	})
}

func TestDeadlineIsHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(t, ratelimit.Config{Limit: 10, Burst: 1, MaxWait: time.Hour})
		l.Allow(1) // the next token comes in 100ms
		for _, tc := range []struct {
			timeout time.Duration
			goes    bool
		}{
			{99 * time.Millisecond, false},
			{100 * time.Millisecond, false}, // it would go as the context ends
			{100*time.Millisecond + 1, true},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			start := time.Now()
			err := l.Wait(ctx, 1)
			elapsed := time.Since(start)
			cancel()
			if !tc.goes {
				var le *ratelimit.Error
				if !errors.As(err, &le) || le.Reason != ratelimit.PastDeadline || elapsed != 0 {
					t.Fatalf("timeout %v: %v after %v; want a PastDeadline rejection at once", tc.timeout, err, elapsed)
				}
				if errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("timeout %v: the rejection %v claims the context ended; it has not", tc.timeout, err)
				}
				if !strings.HasSuffix(err.Error(), "1 token not available before the context's deadline") {
					t.Fatalf("Error() = %q", err.Error())
				}
				if got := l.Tokens(); got != 0 {
					t.Fatalf("timeout %v: the rejection changed the bucket: %v tokens, want 0", tc.timeout, got)
				}
				continue
			}
			if err != nil || elapsed != 100*time.Millisecond {
				t.Fatalf("timeout %v: %v after %v; want nil after 100ms", tc.timeout, err, elapsed)
			}
		}
	})
}

func TestCanceledWaitGivesTheTokensBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errGone := errors.New("user went away")
		l := mustNew(t, ratelimit.Config{Limit: 1, Burst: 1, MaxWait: time.Hour})
		l.Allow(1) // the next token comes at 1s
		start := time.Now()
		ctx, cancel := context.WithCancelCause(context.Background())
		var (
			ran     bool
			err     error
			elapsed time.Duration
		)
		done := make(chan struct{})
		go func() {
			defer close(done)
			err = ratelimit.Run(ctx, l, func(context.Context) error { ran = true; return nil })
			elapsed = time.Since(start)
		}()
		time.Sleep(300 * time.Millisecond)
		if got := l.Tokens(); got >= 0 {
			t.Fatalf("while the call waits the bucket holds %v tokens; want its reservation to show", got)
		}
		cancel(errGone)
		<-done
		if elapsed != 300*time.Millisecond || ran {
			t.Fatalf("the canceled call returned after %v, ran=%v; want at 300ms, without running", elapsed, ran)
		}
		if !errors.Is(err, errGone) || errors.Is(err, ratelimit.ErrLimited) {
			t.Fatalf("canceled wait: %v; want it to wrap the cause, and not match ErrLimited", err)
		}
		if want := "ratelimit: gave up waiting for tokens: user went away"; err.Error() != want {
			t.Fatalf("Error() = %q, want %q", err.Error(), want)
		}
		// The next caller gets the token the canceled one had reserved, at 1s.
		if err := l.Wait(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != time.Second {
			t.Fatalf("the next caller went at %v; want 1s, not held up by the canceled reservation", got)
		}
	})
}

func TestDoneContextSpendsNothing(t *testing.T) {
	l := mustNew(t, ratelimit.Config{Limit: 5})
	ctx, cancel := context.WithCancelCause(context.Background())
	errStop := errors.New("shutting down")
	cancel(errStop)
	ran := false
	err := ratelimit.Run(ctx, l, func(context.Context) error { ran = true; return nil })
	if !errors.Is(err, errStop) || ran {
		t.Fatalf("Run on a done context: %v, ran=%v; want the cause and no call", err, ran)
	}
	if got := l.Tokens(); got != 5 {
		t.Fatalf("a done context spent tokens: %v left", got)
	}
	// A free call too: the caller has gone.
	if err := l.Wait(ctx, 0); !errors.Is(err, errStop) {
		t.Fatalf("Wait(done, 0) = %v; want the cause", err)
	}
	if err := ratelimit.Run(l.WithCost(ctx, 0), l, func(context.Context) error { ran = true; return nil }); !errors.Is(err, errStop) || ran {
		t.Fatalf("Run of a free call on a done context: %v, ran=%v; want the cause and no call", err, ran)
	}
}

func TestReservations(t *testing.T) {
	sec := time.Second
	l := mustNew(t, ratelimit.Config{Limit: 1, Burst: 1})
	now := t0
	r0 := l.ReserveAt(now, 1)
	if !r0.OK() || r0.DelayAt(now) != 0 || !r0.Time().Equal(now) {
		t.Fatalf("first reservation: ok=%v delay=%v time=%v; want at once", r0.OK(), r0.DelayAt(now), r0.Time())
	}
	r1 := l.ReserveAt(now, 1)
	r2 := l.ReserveAt(now, 1)
	if r1.DelayAt(now) != sec || r2.DelayAt(now) != 2*sec || r2.DelayAt(now.Add(3*sec)) != 0 {
		t.Fatalf("delays %v, %v; want 1s, 2s", r1.DelayAt(now), r2.DelayAt(now))
	}
	if !r2.Time().Equal(t0.Add(2 * sec)) {
		t.Fatalf("r2.Time() = %v, want t0+2s", r2.Time())
	}

	// r1 gives up with r2 behind it: r2 keeps its time, and since r2 was
	// made to wait for r1's token, none comes back.
	now = t0.Add(sec / 2)
	r1.CancelAt(now)
	r3 := l.ReserveAt(now, 1)
	if got := r3.Time().Sub(t0); got != 3*sec {
		t.Fatalf("after canceling r1 with r2 behind it, the next reservation goes at %v; want 3s", got)
	}
	// r3 gives up, the last one made: undone exactly, and only once.
	r3.CancelAt(now)
	r3.CancelAt(now)
	r4 := l.ReserveAt(now, 1)
	if got := r4.Time().Sub(t0); got != 3*sec {
		t.Fatalf("after canceling the last reservation, the next goes at %v; want its time, 3s", got)
	}
	r5 := l.ReserveAt(now, 1)
	if got := r5.Time().Sub(t0); got != 4*sec {
		t.Fatalf("a second cancel gave tokens back again: the next goes at %v, want 4s", got)
	}
	// Once its time has come, a reservation's tokens count as spent.
	r5.CancelAt(t0.Add(4*sec + 1))
	if got := l.ReserveAt(now, 1).Time().Sub(t0); got != 5*sec {
		t.Fatalf("a cancel after the reservation's time gave tokens back: next at %v, want 5s", got)
	}

	// A partial refund: r6 costs 3, r7 (cost 1) is reserved behind it;
	// canceling r6 gives back the 2 tokens r7 was not made to wait for,
	// less a nanosecond.
	m := mustNew(t, ratelimit.Config{Limit: 1, Burst: 3})
	m.AllowAt(t0, 3)
	r6 := m.ReserveAt(t0, 3)
	r7 := m.ReserveAt(t0, 1)
	r6.CancelAt(t0)
	if r7.Time().Sub(t0) != 4*sec {
		t.Fatalf("r7 at %v, want 4s", r7.Time().Sub(t0))
	}
	if got := m.ReserveAt(t0, 1).Time().Sub(t0); got != 3*sec+1 {
		t.Fatalf("after the partial refund the next call goes at %v; want 3s and 1ns", got)
	}

	// Zero costs and the zero Reservation.
	if r := l.ReserveAt(now, 0); !r.OK() || r.DelayAt(now) != 0 {
		t.Fatal("a free reservation is not OK at once")
	}
	var zero ratelimit.Reservation
	zero.Cancel()
	zero.CancelAt(now)
	if zero.OK() || zero.Delay() != 0 || zero.DelayAt(now) != 0 || !zero.Time().IsZero() {
		t.Fatal("the zero Reservation is OK, or has a time")
	}
}

func TestReservationFarAwayIsRefused(t *testing.T) {
	// A token a day: 20,000 reservations reach 54 years, beyond the
	// limiter's range of 36 years.
	l := mustNew(t, ratelimit.Config{Limit: 1, Per: 24 * time.Hour, Burst: 1})
	refused := -1
	for i := range 20_000 {
		if !l.ReserveAt(t0, 1).OK() {
			refused = i
			break
		}
	}
	if want := 1 + (1<<60)/int(24*time.Hour); refused != want {
		t.Fatalf("the first refused reservation is number %d, want %d (36 years of tokens, and the first at once)", refused, want)
	}
}

func TestLongIdleDoesNotOverflow(t *testing.T) {
	year := 365 * 24 * time.Hour
	for _, cfg := range []ratelimit.Config{
		{Limit: 1, Per: time.Hour, Burst: 3},
		{Limit: 10},
		{Limit: math.MaxInt, Per: time.Nanosecond},                       // MaxInt tokens every ns
		{Limit: 1_000_003, Per: 24 * time.Hour},                          // a prime number of tokens a day
		{Limit: 7, Per: 10 * year, Burst: 7},                             // a bucket that takes 10 years to fill
		{Limit: math.MaxInt, Per: time.Second, MaxWait: math.MaxInt64},   // tiny tokens
		{Limit: 3, Per: 7 * time.Nanosecond, Burst: 1 << 40, MaxWait: 1}, // many short tokens
	} {
		l := mustNew(t, cfg)
		burst := l.Burst()
		// Forward, with quiet spells longer than the bucket takes to fill;
		// the last is beyond the clock's range of 73 years, and clamped.
		for _, at := range []time.Duration{0, 11 * year, 33 * year, 55 * year, 200 * year} {
			now := t0.Add(at)
			if got := l.TokensAt(now); got != float64(burst) {
				t.Fatalf("%+v: at t0+%v the bucket holds %v tokens, want the burst %d", cfg, at, got, burst)
			}
			if !l.AllowAt(now, burst) || l.AllowAt(now, 1) {
				t.Fatalf("%+v: at t0+%v want exactly the burst, %d tokens, to go", cfg, at, burst)
			}
		}
		// The ends of time, forward and back, after the bucket was emptied
		// at the end of the clock's range: no tokens, and no overflow.
		for _, now := range []time.Time{t0.Add(math.MaxInt64), t0.Add(-100 * year), t0.Add(math.MinInt64), {}} {
			if l.AllowAt(now, 1) {
				t.Fatalf("%+v: a call went at %v, after the bucket was emptied at the end of time", cfg, now)
			}
			if got := l.TokensAt(now); got > 0 || math.IsNaN(got) || math.IsInf(got, 0) {
				t.Fatalf("%+v: TokensAt(%v) = %v; want a finite number, not positive", cfg, now, got)
			}
		}
		if r := l.ReserveAt(t0.Add(-100*year), 1); r.OK() {
			t.Fatalf("%+v: reserved a token 146 years ahead", cfg)
		}
	}
}

func TestTinyAndHugeRates(t *testing.T) {
	// MaxInt tokens a nanosecond, with a bucket of 1: the clock is in whole
	// nanoseconds, so one call per nanosecond.
	l := mustNew(t, ratelimit.Config{Limit: math.MaxInt, Per: time.Nanosecond, Burst: 1})
	if !l.AllowAt(t0, 1) || l.AllowAt(t0, 1) || !l.AllowAt(t0.Add(1), 1) {
		t.Fatal("want one call per nanosecond")
	}
	// One token a year.
	y := 365 * 24 * time.Hour
	s := mustNew(t, ratelimit.Config{Limit: 1, Per: y})
	if !s.AllowAt(t0, 1) || s.AllowAt(t0.Add(y-1), 1) || !s.AllowAt(t0.Add(y), 1) {
		t.Fatal("want one call a year")
	}
}

func TestWithCostThroughResilienceDo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(t, ratelimit.Config{Limit: 100, Per: time.Minute})
		b := breaker.MustNew(breaker.Config{})
		ctx := l.WithCost(context.Background(), 40)
		ok := func(context.Context) (string, error) { return "ok", nil }

		if v, err := resilience.Do(ctx, l, ok); err != nil || v != "ok" {
			t.Fatalf("resilience.Do = %q, %v", v, err)
		}
		if got := l.Tokens(); got != 60 {
			t.Fatalf("after a call of cost 40: %v tokens, want 60", got)
		}
		// Through a composition, and with the innermost cost winning.
		inner := l.WithCost(context.WithValue(ctx, struct{}{}, "x"), 25)
		if _, err := resilience.Do(inner, resilience.Compose(b, l), ok); err != nil {
			t.Fatal(err)
		}
		if got := l.Tokens(); got != 35 {
			t.Fatalf("after a call of cost 25: %v tokens, want 35", got)
		}
		// A free call, and a context without a cost: one token.
		if _, err := resilience.Do(l.WithCost(ctx, 0), l, ok); err != nil {
			t.Fatal(err)
		}
		if _, err := resilience.Do(context.Background(), l, ok); err != nil {
			t.Fatal(err)
		}
		if got := l.Tokens(); got != 34 {
			t.Fatalf("after a free call and a plain one: %v tokens, want 34", got)
		}
		// Too many for what is left: rejected, and the hint is for 40.
		_, err := resilience.Do(ctx, l, ok)
		var le *ratelimit.Error
		if !errors.As(err, &le) || le.Cost != 40 || le.RetryAfter() != 6*600*time.Millisecond {
			t.Fatalf("a call of cost 40 with 34 tokens: %v; want a rejection of cost 40, due in 3.6s", err)
		}
	})
}

// TestCostIsPerLimiter checks that each limiter reads its own cost: a stack
// of a limiter of requests and one of model tokens charges a call one
// request and its tokens.
func TestCostIsPerLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		requests := mustNew(t, ratelimit.Config{Name: "requests", Limit: 10, Per: time.Minute})
		tokens := mustNew(t, ratelimit.Config{Name: "tokens", Limit: 10_000, Per: time.Minute})
		stack := resilience.Compose(requests, tokens)
		ok := func(context.Context) (int, error) { return 1, nil }
		want := func(r, tk float64) {
			t.Helper()
			if requests.Tokens() != r || tokens.Tokens() != tk {
				t.Fatalf("requests %v, tokens %v left; want %v and %v", requests.Tokens(), tokens.Tokens(), r, tk)
			}
		}

		ctx := tokens.WithCost(context.Background(), 6000)
		if _, err := resilience.Do(ctx, stack, ok); err != nil {
			t.Fatal(err)
		}
		want(9, 4000)
		// A cost for one limiter leaves the other's alone, whichever is
		// innermost.
		both := requests.WithCost(tokens.WithCost(context.Background(), 1000), 2)
		if _, err := resilience.Do(both, stack, ok); err != nil {
			t.Fatal(err)
		}
		want(7, 3000)
		// Of two costs for one limiter, the innermost wins.
		twice := tokens.WithCost(requests.WithCost(tokens.WithCost(context.Background(), 2000), 3), 500)
		if _, err := ratelimit.Do(twice, tokens, ok); err != nil {
			t.Fatal(err)
		}
		if _, err := ratelimit.Do(twice, requests, ok); err != nil {
			t.Fatal(err)
		}
		want(4, 2500)
		// Another limiter with the same configuration has a cost of its own.
		twin := mustNew(t, ratelimit.Config{Name: "tokens", Limit: 10_000, Per: time.Minute})
		if _, err := ratelimit.Do(ctx, twin, ok); err != nil || twin.Tokens() != 9999 {
			t.Fatalf("a limiter given no cost of its own: %v, %v tokens left; want one spent", err, twin.Tokens())
		}
		// A rejection by the tokens' limiter says its own cost.
		_, err := resilience.Do(ctx, stack, ok)
		var le *ratelimit.Error
		if !errors.As(err, &le) || le.Name != "tokens" || le.Cost != 6000 {
			t.Fatalf("6000 tokens with 2500 left: %v; want the tokens' rejection of cost 6000", err)
		}
	})
}

func TestWithCostContext(t *testing.T) {
	l := mustNew(t, ratelimit.Config{Name: "llm", Limit: 10})
	if l.WithCost(nilCtx, 3) != nil {
		t.Fatal("WithCost(nil, 3) is not nil")
	}
	ctx := l.WithCost(context.Background(), 3)
	if got := fmt.Sprint(ctx); got != `context.Background.WithCost("llm", 3)` {
		t.Fatalf("String() = %q", got)
	}
	var none *ratelimit.Limiter
	if none.WithCost(ctx, 5) != ctx {
		t.Fatal("a nil *Limiter's WithCost changed the context")
	}
	type key struct{}
	parent := context.WithValue(context.Background(), key{}, "v")
	ctx = l.WithCost(parent, 2)
	if ctx.Value(key{}) != "v" {
		t.Fatal("WithCost hides its parent's values")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if cctx.Err() == nil {
		t.Fatal("a context derived from WithCost is not canceled")
	}
	if err := ratelimit.Run(nilCtx, mustNew(t, ratelimit.Config{Limit: 1}), func(context.Context) error { return nil }); !errors.Is(err, resilience.ErrNilContext) {
		t.Fatalf("Run(nil ctx) = %v, want ErrNilContext", err)
	}
}

func TestRetryAroundTheLimiter(t *testing.T) {
	l := mustNew(t, ratelimit.Config{Name: "api", Limit: 4, Per: time.Hour})
	r := retry.MustNew(retry.Config{MaxAttempts: 10, Backoff: backoff.Constant(0)})
	attempts := 0
	err := resilience.Run(context.Background(), resilience.Compose(r, l), func(context.Context) error {
		attempts++
		return resilience.Transient(errors.New("503"))
	})
	// Every attempt spends a token; the rejection of the fifth is not
	// retried, since the limiter has already waited as long as it may.
	if attempts != 4 || !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("%d attempts, %v; want 4 and a rejection", attempts, err)
	}
}

func TestRejectionsDoNotCountAgainstTheService(t *testing.T) {
	// A breaker outside the limiter: the limiter's refusals never reached
	// the service, so they are not failures.
	b := breaker.MustNew(breaker.Config{FailureThreshold: 1})
	l := mustNew(t, ratelimit.Config{Limit: 1, Per: time.Hour})
	p := resilience.Compose(b, l)
	ok := func(context.Context) error { return nil }
	for i := range 4 {
		err := resilience.Run(context.Background(), p, ok)
		if (i == 0) != (err == nil) || i > 0 && !errors.Is(err, ratelimit.ErrLimited) {
			t.Fatalf("call %d: %v; want the first to go and the rest to be rejected by the limiter", i, err)
		}
		if i > 0 && resilience.Classify(err) != resilience.ClassIgnored {
			t.Fatalf("Classify(%v) = %v, want ignored", err, resilience.Classify(err))
		}
	}
	if got := b.State(); got != breaker.Closed {
		t.Fatalf("the breaker outside is %v after the limiter's rejections; want closed", got)
	}
	// Not so for a cost the limiter can never serve: that is the caller's
	// mistake, and the default classifier calls it permanent.
	err := resilience.Run(l.WithCost(context.Background(), 2), l, ok)
	if !errors.Is(err, ratelimit.ErrBadCost) || resilience.Classify(err) != resilience.ClassPermanent {
		t.Fatalf("a bad cost: %v, classified %v; want ErrBadCost, permanent", err, resilience.Classify(err))
	}
}

func TestObserver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu     sync.Mutex
			events []string
			l      *ratelimit.Limiter
		)
		start := time.Now()
		l = mustNew(t, ratelimit.Config{
			Name: "h", Limit: 10, Burst: 2, MaxWait: 150 * time.Millisecond,
			Observer: resilience.ObserveAll(func(e resilience.Event) {
				l.Tokens() // the observer may call back into the limiter
				mu.Lock()
				events = append(events, fmt.Sprintf("%v %v %s at %v: cost %d, %v (%s)",
					e.Type, e.Kind, e.Policy, e.Time.Sub(start), e.Cost, e.Delay, e.Reason))
				mu.Unlock()
			}),
		})
		ctx := context.Background()
		l.Wait(ctx, 2)                            // at once
		l.Wait(ctx, 1)                            // waits 100ms
		l.Wait(ctx, 2)                            // would wait 200ms: rejected
		ratelimit.Run(l.WithCost(ctx, 2), l, nil) // nil fn: no call at all
		timeout, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		l.Wait(timeout, 1) // would wait 100ms, past the deadline
		cancel()
		l.Allow(1) // a decision: no event
		want := []string{
			"admit ratelimit h at 0s: cost 2, 0s ()",
			"admit ratelimit h at 100ms: cost 1, 100ms ()",
			"reject ratelimit h at 100ms: cost 2, 200ms (wait too long)",
			"reject ratelimit h at 100ms: cost 1, 100ms (past the deadline)",
		}
		if strings.Join(events, "\n") != strings.Join(want, "\n") {
			t.Fatalf("events\n%s\nwant\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
		}
	})
}

func TestPanickingObserverLeavesTheLimiterWorking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(t, ratelimit.Config{Limit: 10, Burst: 1, MaxWait: time.Second,
			Observer: resilience.ObserveAll(func(resilience.Event) { panic("observer") })})
		start := time.Now()
		ran := 0
		for range 3 { // at once, then after 100ms each
			if err := ratelimit.Run(context.Background(), l, func(context.Context) error { ran++; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if ran != 3 || time.Since(start) != 200*time.Millisecond {
			t.Fatalf("%d calls ran in %v; want 3 in 200ms", ran, time.Since(start))
		}
		l.Allow(1)
		if err := l.Wait(context.Background(), 1); err != nil {
			t.Fatalf("Wait = %v", err)
		}
		if _, err := ratelimit.Do(context.Background(), mustNew(t, ratelimit.Config{Limit: 1, Per: time.Hour, Burst: 1,
			Observer: resilience.ObserveAll(func(resilience.Event) { panic("observer") })}), okInt); err != nil {
			t.Fatalf("Do = %v", err)
		}
	})
}

func okInt(context.Context) (int, error) { return 1, nil }

func TestSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(t, ratelimit.Config{Name: "s", Limit: 10, Burst: 4, MaxWait: time.Second})
		if s := l.Snapshot(); s != (ratelimit.Snapshot{Name: "s", Burst: 4, Tokens: 4}) {
			t.Fatalf("new limiter: %+v", s)
		}
		l.Allow(3)
		done := make(chan error)
		go func() { done <- l.Wait(context.Background(), 3) }() // waits 200ms
		synctest.Wait()
		l2 := mustNew(t, ratelimit.Config{Limit: 1, Burst: 1})
		l2.Allow(1)
		ratelimit.Run(context.Background(), l2, func(context.Context) error { return nil })
		s := l.Snapshot()
		if s.Waiting != 1 || s.Admitted != 2 || s.Tokens != -2 || s.Rejected != 0 {
			t.Errorf("while a call waits: %+v; want 1 waiting, 2 admitted, -2 tokens", s)
		}
		if s := l.SnapshotAt(time.Now().Add(200 * time.Millisecond)); s.Tokens != 0 {
			t.Errorf("in 200ms: %+v; want 0 tokens", s)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if s := l.Snapshot(); s.Waiting != 0 || s.Tokens != 0 {
			t.Errorf("after the wait: %+v; want none waiting, 0 tokens", s)
		}
		if s := l2.Snapshot(); s.Rejected != 1 || s.Admitted != 1 {
			t.Errorf("a dry limiter after a rejection: %+v; want 1 rejected, 1 admitted", s)
		}
		var nl *ratelimit.Limiter
		if s := nl.Snapshot(); s != (ratelimit.Snapshot{}) {
			t.Errorf("nil limiter: %+v", s)
		}
	})
}

func TestRejectionsShareTheirErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(t, ratelimit.Config{Limit: 1, Per: time.Hour, Burst: 100})
		l.Allow(100)
		ctx := context.Background()
		first := l.Wait(ctx, 1)
		if again := l.Wait(ctx, 1); again != first {
			t.Fatal("two rejections of cost one made two errors")
		}
		five := l.Wait(ctx, 5)
		if again := l.Wait(ctx, 5); again != five {
			t.Fatal("two rejections of cost 5 made two errors")
		}
		// 37 shares a slot with 5: each rejection still says its own cost.
		for _, n := range []int{5, 37, 5, 37, 69} {
			var le *ratelimit.Error
			if err := l.Wait(ctx, n); !errors.As(err, &le) || le.Cost != n {
				t.Fatalf("rejection of cost %d: %v", n, err)
			}
			if got := le.RetryAfterAt(time.Now()); got != time.Duration(n)*time.Hour {
				t.Fatalf("RetryAfterAt for cost %d = %v, want %dh", n, got, n)
			}
		}
		var made ratelimit.Error // not made by a limiter
		if made.RetryAfter() != 0 || made.RetryAfterAt(t0) != 0 {
			t.Fatal("a Error of no limiter gives a hint")
		}
	})
}

func TestErrorTexts(t *testing.T) {
	for _, tc := range []struct {
		err  ratelimit.Error
		want string
	}{
		{ratelimit.Error{Cost: 1}, "ratelimit: 1 token not available now"},
		{ratelimit.Error{Name: "x", Reason: ratelimit.WaitTooLong, Cost: 2, MaxWait: time.Second}, `ratelimit "x": 2 tokens not available within 1s`},
		{ratelimit.Error{Reason: ratelimit.PastDeadline, Cost: 3}, "ratelimit: 3 tokens not available before the context's deadline"},
		{ratelimit.Error{Reason: 9, Cost: 3}, "ratelimit: 3 tokens not available (Reason(9))"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
		if !errors.Is(&tc.err, ratelimit.ErrLimited) {
			t.Errorf("%v does not match ErrLimited", &tc.err)
		}
	}
	for r, want := range map[ratelimit.Reason]string{
		ratelimit.NoWait: "no wait allowed", ratelimit.WaitTooLong: "wait too long",
		ratelimit.PastDeadline: "past the deadline", 7: "Reason(7)",
	} {
		if r.String() != want {
			t.Errorf("Reason(%d).String() = %q, want %q", r, r.String(), want)
		}
	}
}

func TestNewRejectsNonsense(t *testing.T) {
	for _, tc := range []struct {
		cfg  ratelimit.Config
		want string
	}{
		{ratelimit.Config{}, "ratelimit: Limit is zero: a limiter needs a rate"},
		{ratelimit.Config{Limit: -1}, "ratelimit: Limit is negative: -1"},
		{ratelimit.Config{Limit: 1, Per: -time.Second}, "ratelimit: Per is negative: -1s"},
		{ratelimit.Config{Limit: 1, Burst: -2}, "ratelimit: Burst is negative: -2"},
		{ratelimit.Config{Limit: 1, MaxWait: -time.Millisecond}, "ratelimit: MaxWait is negative: -1ms"},
		{ratelimit.Config{Limit: 1, Per: time.Duration(math.MaxInt64)}, "ratelimit: refilling a Burst of 1 token at 1 per 2562047h47m16.854775807s takes more than 36 years"},
		{ratelimit.Config{Limit: 1000, Per: 24 * time.Hour, Burst: 14_000_000}, "takes more than 36 years"},
		{ratelimit.Config{Limit: 3, Per: time.Hour, Burst: math.MaxInt}, "takes more than 36 years"},
	} {
		l, err := ratelimit.New(tc.cfg)
		if err == nil || l != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, %v; want an error containing %q", tc.cfg, l, err, tc.want)
		}
	}
	for _, cfg := range []ratelimit.Config{
		{Limit: 1},
		{Limit: 1000, Per: 24 * time.Hour, Burst: 13_000_000}, // 35.6 years
		{Limit: math.MaxInt, Burst: math.MaxInt},
		{Limit: 1, MaxWait: math.MaxInt64, Observer: &resilience.Observer{Admit: func(resilience.Event) {}}},
	} {
		if _, err := ratelimit.New(cfg); err != nil {
			t.Errorf("New(%+v) = %v, want a valid limiter", cfg, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("MustNew of an invalid config did not panic")
		}
	}()
	ratelimit.MustNew(ratelimit.Config{})
}

func TestNilLimiter(t *testing.T) {
	var l *ratelimit.Limiter
	ctx := context.Background()
	ran := false
	fn := func(context.Context) error { ran = true; return nil }
	if err := ratelimit.Run(ctx, l, fn); err == nil || ran {
		t.Fatalf("Run on a nil limiter: %v, ran=%v; want an error and no call", err, ran)
	}
	if _, err := ratelimit.Do(ctx, l, func(context.Context) (int, error) { return 1, nil }); err == nil {
		t.Fatal("Do on a nil limiter returned no error")
	}
	if err := resilience.Run(ctx, l, fn); err == nil || ran {
		t.Fatalf("resilience.Run on a nil limiter: %v, ran=%v", err, ran)
	}
	if err := l.Execute(ctx, resilience.OperationFunc(fn)); err == nil || ran {
		t.Fatalf("Execute on a nil limiter: %v, ran=%v", err, ran)
	}
	if err := l.Wait(ctx, 1); err == nil {
		t.Fatal("Wait on a nil limiter returned no error")
	}
	if _, err := l.Enter(ctx); err == nil {
		t.Fatal("Enter on a nil limiter returned no error")
	}
	l.Exit(resilience.Ticket{}, resilience.Outcome{})
	if l.Allow(1) || l.AllowAt(t0, 1) || l.Reserve(1).OK() || l.ReserveAt(t0, 1).OK() {
		t.Fatal("a nil limiter allowed or reserved")
	}
	if l.Tokens() != 0 || l.TokensAt(t0) != 0 || l.Burst() != 0 || l.Name() != "" {
		t.Fatal("a nil limiter reports tokens, a burst or a name")
	}
}

func TestBadArguments(t *testing.T) {
	l := mustNew(t, ratelimit.Config{Limit: 1})
	if err := l.Execute(context.Background(), nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Fatalf("Execute(nil) = %v, want ErrNilFunc", err)
	}
	if err := l.Wait(nilCtx, 1); !errors.Is(err, resilience.ErrNilContext) {
		t.Fatalf("Wait(nil) = %v, want ErrNilContext", err)
	}
	if _, err := l.Enter(nilCtx); !errors.Is(err, resilience.ErrNilContext) {
		t.Fatalf("Enter(nil) = %v, want ErrNilContext", err)
	}
	if err := ratelimit.Run(context.Background(), l, nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Fatalf("Run(nil fn) = %v, want ErrNilFunc", err)
	}
	if got := l.Tokens(); got != 1 {
		t.Fatalf("bad arguments spent tokens: %v left", got)
	}
	ran := false
	if err := l.Execute(context.Background(), resilience.OperationFunc(func(context.Context) error { ran = true; return nil })); err != nil || !ran {
		t.Fatalf("Execute: %v, ran=%v", err, ran)
	}
}

func TestNoAllocations(t *testing.T) {
	ctx := context.Background()
	ok := func(context.Context) (int, error) { return 1, nil }
	okErr := func(context.Context) error { return nil }
	// A bucket that never runs dry, and one that always is.
	plenty := mustNew(t, ratelimit.Config{Limit: math.MaxInt, Burst: math.MaxInt})
	dry := mustNew(t, ratelimit.Config{Limit: 1, Per: time.Hour, Burst: 5, MaxWait: time.Minute})
	dry.Allow(5)
	// A context in which a call costs each limiter 3 tokens.
	weighted := dry.WithCost(plenty.WithCost(ctx, 3), 3)
	composed := resilience.Compose(retry.MustNew(retry.Config{}), plenty)
	nop := resilience.ObserveAll(func(resilience.Event) {})
	observed := mustNew(t, ratelimit.Config{Limit: math.MaxInt, Burst: math.MaxInt, Observer: nop})
	dryObserved := mustNew(t, ratelimit.Config{Limit: 1, Per: time.Hour, Burst: 5, MaxWait: time.Minute, Observer: nop})
	dryObserved.Allow(5)
	for name, f := range map[string]func(){
		"Do, observer":            func() { ratelimit.Do(ctx, observed, ok) },
		"rejection, observer":     func() { ratelimit.Do(ctx, dryObserved, ok) },
		"Do":                      func() { ratelimit.Do(ctx, plenty, ok) },
		"Run":                     func() { ratelimit.Run(ctx, plenty, okErr) },
		"Do, weighted":            func() { ratelimit.Do(weighted, plenty, ok) },
		"resilience.Do":           func() { resilience.Do(weighted, plenty, ok) },
		"Compose(retry, limiter)": func() { resilience.Do(weighted, composed, ok) },
		"Allow":                   func() { plenty.Allow(2) },
		"Wait":                    func() { plenty.Wait(ctx, 2) },
		"Reserve":                 func() { plenty.Reserve(2).Cancel() },
		"rejection":               func() { ratelimit.Do(ctx, dry, ok) },
		"rejection, weighted":     func() { ratelimit.Do(weighted, dry, ok) },
		"rejection, Allow":        func() { dry.Allow(1) },
		"RetryAfter": func() {
			_, err := ratelimit.Do(weighted, dry, ok)
			resilience.RetryAfter(err)
		},
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}

func TestDoubleCancelGivesBackOnce(t *testing.T) {
	l := mustNew(t, ratelimit.Config{Limit: 1, Burst: 2})
	now := t0
	a := l.ReserveAt(now, 1)
	b := l.ReserveAt(now, 1)
	c := l.ReserveAt(now, 1) // waits a second
	if !a.OK() || !b.OK() || !c.OK() {
		t.Fatal("reservations refused")
	}
	c.CancelAt(now)
	c.CancelAt(now) // twice: what was reserved comes back once
	b.CancelAt(now)
	b.CancelAt(now)
	if got := l.TokensAt(now); got != 1 {
		t.Fatalf("%v tokens after two reservations of three were canceled twice each, want 1", got)
	}
	// A copy of a partly refunded reservation is the same reservation.
	d := l.ReserveAt(now, 1)
	e := l.ReserveAt(now, 1) // admitted after d: d can come back only in part
	d.CancelAt(now)
	after := l.TokensAt(now)
	d2 := d
	d2.CancelAt(now)
	if got := l.TokensAt(now); got != after {
		t.Fatalf("a second Cancel of a partly refunded reservation moved the bucket from %v to %v", after, got)
	}
	e.CancelAt(now)

	// Undone exactly, then a call of the same cost admitted: the bucket is
	// where the first reservation left it, but the tokens are the new
	// call's, and a second Cancel must not give them back.
	l = mustNew(t, ratelimit.Config{Limit: 1, Burst: 1})
	l.ReserveAt(now, 1)
	r := l.ReserveAt(now, 1) // waits a second
	r.CancelAt(now)
	x := l.ReserveAt(now, 1) // waits a second too: the tokens r gave back
	if x.DelayAt(now) != time.Second {
		t.Fatalf("the call after the undo waits %v, want 1s", x.DelayAt(now))
	}
	r.CancelAt(now)
	if y := l.ReserveAt(now, 1); y.DelayAt(now) != 2*time.Second {
		t.Fatalf("a second Cancel of an undone reservation gave back the next call's tokens: a third call waits %v, want 2s", y.DelayAt(now))
	}

	// Partly refunded, then canceled again after more calls.
	l = mustNew(t, ratelimit.Config{Limit: 1, Burst: 1})
	l.ReserveAt(now, 1)
	p := l.ReserveAt(now, 1) // at 1s
	l.ReserveAt(now, 1)      // at 2s
	p.CancelAt(now)          // partly: the call at 2s keeps its time
	z := l.ReserveAt(now, 1)
	at := z.Time()
	p.CancelAt(now)
	if w := l.ReserveAt(now, 1); !w.Time().After(at) {
		t.Fatalf("a second Cancel of a partly refunded reservation gave back tokens: a call reserved after one at %v goes at %v", at, w.Time())
	}
}

func TestForesee(t *testing.T) {
	l := mustNew(t, ratelimit.Config{Name: "api", Limit: 2, Burst: 2})
	ctx := context.Background()
	t0 := time.Now()
	step := func(what string, ctx context.Context, at time.Time, until time.Time, limited bool) {
		t.Helper()
		gotUntil, err := l.Foresee(ctx, at)
		if errors.Is(err, ratelimit.ErrLimited) != limited || (err == nil) == limited || !gotUntil.Equal(until) {
			t.Errorf("%s: Foresee = %v, %v; want until %v, a rejection %v", what, gotUntil, err, until, limited)
		}
	}
	step("full", ctx, t0, time.Time{}, false)
	if !l.AllowAt(t0, 2) {
		t.Fatal("a full bucket refused its burst")
	}
	before := l.TokensAt(t0.Add(250 * time.Millisecond))
	step("empty", ctx, t0, t0.Add(500*time.Millisecond), true)
	step("a nanosecond before a token", ctx, t0.Add(500*time.Millisecond-1), t0.Add(500*time.Millisecond), true)
	step("a token back", ctx, t0.Add(500*time.Millisecond), time.Time{}, false)
	step("two tokens", l.WithCost(ctx, 2), t0.Add(500*time.Millisecond), t0.Add(time.Second), true)
	step("no tokens", l.WithCost(ctx, 0), t0, time.Time{}, false)
	step("more than the bucket holds", l.WithCost(ctx, 3), t0, time.Time{}, false) // ErrBadCost, not a rejection
	if after := l.TokensAt(t0.Add(250 * time.Millisecond)); after != before {
		t.Fatalf("Foresee changed the bucket: %v tokens, then %v", before, after)
	}

	waits := mustNew(t, ratelimit.Config{Limit: 1, MaxWait: time.Second})
	waits.AllowAt(t0, 1)
	if until, err := waits.Foresee(ctx, t0); err != nil || !until.IsZero() {
		t.Errorf("a limiter that waits foresees %v, %v; want nothing, since waits given up hand tokens back", until, err)
	}
	if _, err := (*ratelimit.Limiter)(nil).Foresee(ctx, t0); err == nil {
		t.Error("a nil *Limiter foresees no rejection, want its error")
	}
}

package backoff_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/netresilience/resilience/backoff"
)

// FuzzExponential checks Delay's contract for arbitrary fields and
// arguments, valid or not:
//
//   - it does not panic and is deterministic in its arguments;
//   - the delay lies in [0, M], where M is Max after defaulting (10s when
//     zero) and clamping (0 when negative);
//   - n below 1 acts as 1;
//   - each jitter mode stays within its formula's bounds relative to the
//     no-jitter delay d (full: [0, d); equal: [d/2, d]; decorrelated:
//     [Base, min(Max, 3·max(prev, Base))], independent of n and Multiplier),
//     and grows with u;
//   - with NoJitter and a config that Validate accepts, the delay starts at
//     Base and never shrinks as n grows.
func FuzzExponential(f *testing.F) {
	const (
		ms     = int64(time.Millisecond)
		s      = int64(time.Second)
		maxI64 = int64(math.MaxInt64)
	)
	nan, inf := math.NaN(), math.Inf(1)
	below1 := math.Nextafter(1, 0)
	above1 := math.Nextafter(1, 2)
	// n, baseNs, maxNs, mult, prevNs, u, mode
	f.Add(1, int64(0), int64(0), 0.0, int64(0), 0.5, uint8(backoff.NoJitter))
	f.Add(7, int64(0), int64(0), 0.0, int64(0), 0.5, uint8(backoff.NoJitter))
	f.Add(8, int64(0), int64(0), 0.0, int64(0), 0.5, uint8(backoff.NoJitter))
	f.Add(1_000_000, int64(0), int64(0), 0.0, int64(0), 0.5, uint8(backoff.NoJitter))
	f.Add(math.MaxInt, int64(0), int64(0), 0.0, int64(0), 0.5, uint8(backoff.NoJitter))
	f.Add(math.MaxInt-1, 100*ms, maxI64, 2.0, int64(0), 0.5, uint8(backoff.NoJitter))
	f.Add(1_000_000, int64(1), maxI64, 1.5, int64(0), 0.5, uint8(backoff.NoJitter))
	f.Add(math.MaxInt, int64(1), maxI64, above1, int64(0), below1, uint8(backoff.NoJitter))
	f.Add(1<<52, int64(1), maxI64, above1, int64(0), 0.0, uint8(backoff.NoJitter))
	f.Add(0, int64(0), int64(0), 0.0, int64(0), 0.5, uint8(backoff.FullJitter))
	f.Add(-5, int64(0), int64(0), 0.0, int64(0), 0.5, uint8(backoff.EqualJitter))
	f.Add(math.MinInt, int64(0), int64(0), 0.0, int64(0), 0.5, uint8(backoff.NoJitter))
	f.Add(3, 100*ms, 10*s, 2.0, int64(0), 0.0, uint8(backoff.FullJitter))
	f.Add(3, 100*ms, 10*s, 2.0, int64(0), below1, uint8(backoff.FullJitter))
	f.Add(1_000_000, 100*ms, maxI64, 2.0, int64(0), below1, uint8(backoff.FullJitter))
	f.Add(math.MaxInt, 100*ms, maxI64, 2.0, int64(0), below1, uint8(backoff.EqualJitter))
	f.Add(math.MaxInt, 100*ms, 10*s, 2.0, maxI64, below1, uint8(backoff.DecorrelatedJitter))
	f.Add(2, 100*ms, 10*s, 1.0, int64(math.MinInt64), 0.5, uint8(backoff.DecorrelatedJitter))
	f.Add(2, maxI64, maxI64, 2.0, maxI64, 0.5, uint8(backoff.DecorrelatedJitter))
	f.Add(2, 100*ms, 10*s, 2.0, int64(-1), nan, uint8(backoff.FullJitter))
	f.Add(2, 100*ms, 10*s, 2.0, int64(0), inf, uint8(backoff.EqualJitter))
	f.Add(2, 100*ms, 10*s, 2.0, int64(0), -inf, uint8(backoff.EqualJitter))
	f.Add(2, 100*ms, 10*s, 2.0, int64(0), 2.0, uint8(backoff.DecorrelatedJitter))
	f.Add(2, 100*ms, 10*s, 2.0, int64(0), -1.0, uint8(backoff.DecorrelatedJitter))
	// Invalid configs.
	f.Add(5, -s, int64(0), 2.0, int64(0), 0.5, uint8(backoff.NoJitter))
	f.Add(2000, -s, int64(0), 2.0, int64(0), 0.5, uint8(backoff.NoJitter))
	f.Add(5, int64(math.MinInt64), int64(math.MinInt64), 2.0, int64(0), 0.5, uint8(backoff.FullJitter))
	f.Add(5, int64(0), -s, 2.0, int64(0), 0.5, uint8(backoff.NoJitter))
	f.Add(5, int64(0), -s, 2.0, s, 0.5, uint8(backoff.DecorrelatedJitter))
	f.Add(5, int64(0), int64(0), 0.5, int64(0), 0.5, uint8(backoff.NoJitter))
	f.Add(5, int64(0), int64(0), nan, int64(0), 0.5, uint8(backoff.NoJitter))
	f.Add(5, int64(0), int64(0), inf, int64(0), 0.5, uint8(backoff.EqualJitter))
	f.Add(5, int64(0), int64(0), -inf, int64(0), 0.5, uint8(backoff.FullJitter))
	f.Add(5, 20*s, int64(0), 2.0, int64(0), 0.5, uint8(backoff.NoJitter))
	f.Add(5, maxI64, s, 2.0, int64(0), 0.5, uint8(backoff.EqualJitter))
	f.Add(5, int64(0), int64(0), 2.0, int64(0), 0.5, uint8(9))
	f.Add(math.MaxInt, int64(0), int64(0), 2.0, int64(0), below1, uint8(255))

	f.Fuzz(func(t *testing.T, n int, baseNs, maxNs int64, mult float64, prevNs int64, u float64, mode uint8) {
		e := backoff.Exponential{
			Base:       time.Duration(baseNs),
			Multiplier: mult,
			Max:        time.Duration(maxNs),
			Jitter:     backoff.Jitter(mode),
		}
		prev := time.Duration(prevNs)

		// The effective bounds, after defaulting and clamping.
		top := e.Max
		if top == 0 {
			top = backoff.DefaultMax
		}
		top = max(top, 0)
		base := e.Base
		if base == 0 {
			base = min(backoff.DefaultBase, top)
		}
		base = min(max(base, 0), top)

		d := e.Delay(n, prev, u)
		if d < 0 || d > top {
			t.Fatalf("%+v.Delay(%d, %v, %v) = %v (%d), outside [0, %v]", e, n, prev, u, d, int64(d), top)
		}
		if again := e.Delay(n, prev, u); again != d {
			t.Fatalf("%+v.Delay(%d, %v, %v) gave %v, then %v", e, n, prev, u, d, again)
		}
		if n < 1 {
			if one := e.Delay(1, prev, u); one != d {
				t.Fatalf("%+v.Delay(%d, %v, %v) = %v, but Delay(1, ...) = %v", e, n, prev, u, d, one)
			}
		}

		noJitter := e
		noJitter.Jitter = backoff.NoJitter
		raw := noJitter.Delay(n, prev, u)
		// slack covers float64 rounding of durations above 2^52ns (52 days);
		// below that every bound is exact.
		slack := func(x time.Duration) time.Duration { return max(x, 0) >> 52 }
		// plusSlack is x + slack(x), saturating instead of overflowing.
		plusSlack := func(x time.Duration) time.Duration {
			if x > math.MaxInt64-slack(x) {
				return math.MaxInt64
			}
			return x + slack(x)
		}

		switch e.Jitter {
		case backoff.NoJitter:
			if d != raw {
				t.Fatalf("NoJitter: %v != %v", d, raw)
			}
		case backoff.EqualJitter:
			if d < raw/2-slack(raw) || d > plusSlack(raw) {
				t.Fatalf("%+v.Delay(%d, %v, %v) = %v, outside [d/2, d] for d = %v", e, n, prev, u, d, raw)
			}
		case backoff.DecorrelatedJitter:
			upper := math.Min(float64(top), 3*math.Max(float64(prev), float64(base)))
			if d < base-slack(base) || float64(d) > upper*(1+0x1p-50)+1 {
				t.Fatalf("%+v.Delay(%d, %v, %v) = %v, outside [%v, %v]", e, n, prev, u, d, base, time.Duration(upper))
			}
			other := e
			other.Multiplier = 1
			if o := other.Delay(1, prev, u); o != d {
				t.Fatalf("DecorrelatedJitter depends on n or Multiplier: %+v.Delay(%d, ...) = %v, %+v.Delay(1, ...) = %v", e, n, d, other, o)
			}
		default: // FullJitter and unknown modes, which Delay treats as full
			// u < 1 keeps the delay strictly below d, even where float64
			// rounds d: [0, d), or exactly 0 when d is.
			if d > 0 && d >= raw {
				t.Fatalf("%+v.Delay(%d, %v, %v) = %v, not below d = %v", e, n, prev, u, d, raw)
			}
			if !(u > 0) && d != 0 {
				t.Fatalf("%+v.Delay(%d, %v, %v) = %v, want 0 for u ≤ 0", e, n, prev, u, d)
			}
		}

		// Delays grow with u.
		if u >= 0 && u < 1 {
			u2 := u + (1-u)/2
			if d2 := e.Delay(n, prev, u2); d2 < d {
				t.Fatalf("%+v: Delay(%d, %v, %v) = %v > Delay(..., %v) = %v", e, n, prev, u, d, u2, d2)
			}
		}

		if e.Jitter != backoff.NoJitter || e.Validate() != nil {
			return
		}
		// A valid no-jitter config starts at Base and never shrinks.
		first := e.Delay(1, 0, 0)
		if base < 1<<52 && first != base {
			t.Fatalf("%+v.Delay(1) = %v, want Base %v", e, first, base)
		}
		if d < first {
			t.Fatalf("%+v.Delay(%d) = %v < Delay(1) = %v", e, n, d, first)
		}
		if n < math.MaxInt {
			if next := e.Delay(n+1, prev, u); next < d {
				t.Fatalf("%+v: Delay(%d) = %v > Delay(%d) = %v", e, n, d, n+1, next)
			}
		}
	})
}

// FuzzValidate checks that Validate accepts exactly the Exponential
// configurations its doc comment calls sound — durations not negative, a
// Multiplier that is zero (the default) or a finite number of at least 1, a
// known Jitter, Base (after the defaults) not above Max — and rejects the
// others with an error prefixed "backoff: ".
func FuzzValidate(f *testing.F) {
	s := int64(time.Second)
	f.Add(int64(0), int64(0), 0.0, uint8(0))
	f.Add(100*int64(time.Millisecond), 10*s, 2.0, uint8(backoff.NoJitter))
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), math.MaxFloat64, uint8(backoff.DecorrelatedJitter))
	f.Add(int64(0), int64(time.Millisecond), 1.0, uint8(backoff.EqualJitter)) // the default Base, lowered to Max
	f.Add(int64(-1), int64(0), 0.0, uint8(0))
	f.Add(int64(0), int64(-1), 0.0, uint8(0))
	f.Add(int64(0), int64(0), math.NaN(), uint8(0))
	f.Add(int64(0), int64(0), math.Inf(1), uint8(0))
	f.Add(int64(0), int64(0), math.Inf(-1), uint8(0))
	f.Add(int64(0), int64(0), math.Nextafter(1, 0), uint8(0))
	f.Add(int64(0), int64(0), -2.0, uint8(0))
	f.Add(int64(0), int64(0), 2.0, uint8(backoff.NoJitter+1))
	f.Add(20*s, int64(0), 2.0, uint8(0))
	f.Add(2*s, s, 2.0, uint8(0))

	f.Fuzz(func(t *testing.T, baseNs, maxNs int64, mult float64, mode uint8) {
		e := backoff.Exponential{Base: time.Duration(baseNs), Max: time.Duration(maxNs), Multiplier: mult, Jitter: backoff.Jitter(mode)}
		top := e.Max
		if top == 0 {
			top = backoff.DefaultMax
		}
		base := e.Base
		if base == 0 {
			base = min(backoff.DefaultBase, top)
		}
		valid := baseNs >= 0 && maxNs >= 0 && (mult == 0 || mult >= 1 && !math.IsInf(mult, 1)) &&
			e.Jitter <= backoff.NoJitter && base <= top
		err := e.Validate()
		if valid != (err == nil) {
			t.Fatalf("%+v.Validate() = %v; valid: %v", e, err, valid)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "backoff: ") {
			t.Fatalf("%+v.Validate(): error %q does not start with the package name", e, err)
		}
	})
}

// FuzzJitterSpans checks that each jitter mode of a sound Exponential
// spreads its delays over the whole range its formula gives, at every
// attempt, the cap included ("jitter survives at the cap"): as u runs over
// [0, 1), full jitter runs over [0, d), equal jitter over [d/2, d), and
// decorrelated jitter over [Base, min(Max, 3·max(prev, Base))), where d is
// the capped exponential delay; the no-jitter delay is d whatever u.
func FuzzJitterSpans(f *testing.F) {
	s := int64(time.Second)
	f.Add(1, int64(0), int64(0), 0.0, int64(0), uint8(backoff.FullJitter))
	f.Add(1000, int64(0), int64(0), 0.0, int64(0), uint8(backoff.EqualJitter))
	f.Add(math.MaxInt, int64(1), int64(math.MaxInt64), 1.5, int64(0), uint8(backoff.FullJitter))
	f.Add(math.MaxInt, int64(math.MaxInt64), int64(math.MaxInt64), 2.0, int64(math.MaxInt64), uint8(backoff.DecorrelatedJitter))
	f.Add(3, 100*int64(time.Millisecond), 10*s, 2.0, 5*s, uint8(backoff.DecorrelatedJitter))
	f.Add(64, s, 30*s, math.MaxFloat64, int64(0), uint8(backoff.NoJitter))

	f.Fuzz(func(t *testing.T, n int, baseNs, maxNs int64, mult float64, prevNs int64, mode uint8) {
		e := backoff.Exponential{Base: time.Duration(baseNs), Max: time.Duration(maxNs), Multiplier: mult, Jitter: backoff.Jitter(mode)}
		if e.Validate() != nil {
			return
		}
		prev := time.Duration(prevNs)
		noJitter := e
		noJitter.Jitter = backoff.NoJitter
		d := noJitter.Delay(n, prev, 0.5)
		lo, hi := e.Delay(n, prev, 0), e.Delay(n, prev, math.Nextafter(1, 0))
		// Float64 rounds durations above 2^53ns; allow that much.
		near := func(got, want time.Duration) bool {
			diff := got - want
			if diff < 0 {
				diff = -diff
			}
			return diff <= max(want, 0)>>50+1
		}
		switch e.Jitter {
		case backoff.NoJitter:
			if lo != d || hi != d {
				t.Fatalf("%+v: Delay(%d) at u = 0 and u → 1: %v and %v, not %v", e, n, lo, hi, d)
			}
		case backoff.FullJitter:
			if lo != 0 || !near(hi, d) || d > 0 && hi >= d {
				t.Fatalf("%+v: Delay(%d) spans [%v, %v], want [0, %v)", e, n, lo, hi, d)
			}
		case backoff.EqualJitter:
			if !near(lo, d/2) || !near(hi, d) {
				t.Fatalf("%+v: Delay(%d) spans [%v, %v], want [%v, %v)", e, n, lo, hi, d/2, d)
			}
		case backoff.DecorrelatedJitter:
			top := e.Max
			if top == 0 {
				top = backoff.DefaultMax
			}
			base := e.Base
			if base == 0 {
				base = min(backoff.DefaultBase, top)
			}
			upper := top
			if x := 3 * math.Max(float64(prev), float64(base)); x < float64(top) {
				upper = time.Duration(x)
			}
			if !near(lo, base) || !near(hi, upper) {
				t.Fatalf("%+v: Delay(%d, prev %v) spans [%v, %v], want [%v, %v)", e, n, prev, lo, hi, base, upper)
			}
		}
	})
}

// FuzzConstant checks that Constant(d) waits d after every failure, zero
// for a negative d, whatever the attempt, the previous delay and u.
func FuzzConstant(f *testing.F) {
	f.Add(int64(time.Second), 1, int64(0), 0.5)
	f.Add(int64(-1), math.MaxInt, int64(math.MaxInt64), math.NaN())
	f.Add(int64(math.MaxInt64), math.MinInt, int64(math.MinInt64), math.Inf(1))
	f.Add(int64(math.MinInt64), 0, int64(0), -1.0)
	f.Fuzz(func(t *testing.T, dNs int64, n int, prevNs int64, u float64) {
		want := max(time.Duration(dNs), 0)
		if got := backoff.Constant(time.Duration(dNs)).Delay(n, time.Duration(prevNs), u); got != want {
			t.Fatalf("Constant(%v).Delay(%d, %v, %v) = %v, want %v", time.Duration(dNs), n, time.Duration(prevNs), u, got, want)
		}
	})
}

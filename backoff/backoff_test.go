package backoff_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/netresilience/resilience/backoff"
)

// justBelowOne is the largest float64 below 1, the top of u's range.
var justBelowOne = math.Nextafter(1, 0)

// Every strategy is a Strategy.
var (
	_ backoff.Strategy = backoff.Exponential{}
	_ backoff.Strategy = backoff.Constant(time.Second)
)

func TestExponentialNoJitterSteps(t *testing.T) {
	const maxDur = time.Duration(math.MaxInt64)
	noJitter := backoff.Exponential{Jitter: backoff.NoJitter}
	tests := []struct {
		name string
		e    backoff.Exponential
		n    int
		want time.Duration
	}{
		// Defaults: 100ms doubling, capped at 10s.
		{"defaults/1", noJitter, 1, 100 * time.Millisecond},
		{"defaults/2", noJitter, 2, 200 * time.Millisecond},
		{"defaults/3", noJitter, 3, 400 * time.Millisecond},
		{"defaults/4", noJitter, 4, 800 * time.Millisecond},
		{"defaults/5", noJitter, 5, 1600 * time.Millisecond},
		{"defaults/6", noJitter, 6, 3200 * time.Millisecond},
		{"defaults/7", noJitter, 7, 6400 * time.Millisecond},
		{"defaults/8 capped", noJitter, 8, 10 * time.Second},
		{"defaults/9 capped", noJitter, 9, 10 * time.Second},
		{"defaults/1000000", noJitter, 1_000_000, 10 * time.Second},
		{"defaults/MaxInt", noJitter, math.MaxInt, 10 * time.Second},

		// n ≤ 0 is taken as 1.
		{"defaults/0", noJitter, 0, 100 * time.Millisecond},
		{"defaults/-1", noJitter, -1, 100 * time.Millisecond},
		{"defaults/MinInt", noJitter, math.MinInt, 100 * time.Millisecond},

		// Explicit fields.
		{"base 1s mult 3/1", backoff.Exponential{Base: time.Second, Multiplier: 3, Max: time.Minute, Jitter: backoff.NoJitter}, 1, time.Second},
		{"base 1s mult 3/2", backoff.Exponential{Base: time.Second, Multiplier: 3, Max: time.Minute, Jitter: backoff.NoJitter}, 2, 3 * time.Second},
		{"base 1s mult 3/4", backoff.Exponential{Base: time.Second, Multiplier: 3, Max: time.Minute, Jitter: backoff.NoJitter}, 4, 27 * time.Second},
		{"base 1s mult 3/5 capped", backoff.Exponential{Base: time.Second, Multiplier: 3, Max: time.Minute, Jitter: backoff.NoJitter}, 5, time.Minute},

		// Multiplier 1 is constant.
		{"mult 1/1", backoff.Exponential{Base: 250 * time.Millisecond, Multiplier: 1, Jitter: backoff.NoJitter}, 1, 250 * time.Millisecond},
		{"mult 1/2", backoff.Exponential{Base: 250 * time.Millisecond, Multiplier: 1, Jitter: backoff.NoJitter}, 2, 250 * time.Millisecond},
		{"mult 1/50", backoff.Exponential{Base: 250 * time.Millisecond, Multiplier: 1, Jitter: backoff.NoJitter}, 50, 250 * time.Millisecond},
		{"mult 1/MaxInt", backoff.Exponential{Base: 250 * time.Millisecond, Multiplier: 1, Jitter: backoff.NoJitter}, math.MaxInt, 250 * time.Millisecond},

		// Multiplier 1.5: 100ms·1.5^(n−1), truncated to whole nanoseconds.
		{"mult 1.5/1", backoff.Exponential{Multiplier: 1.5, Jitter: backoff.NoJitter}, 1, 100 * time.Millisecond},
		{"mult 1.5/2", backoff.Exponential{Multiplier: 1.5, Jitter: backoff.NoJitter}, 2, 150 * time.Millisecond},
		{"mult 1.5/3", backoff.Exponential{Multiplier: 1.5, Jitter: backoff.NoJitter}, 3, 225 * time.Millisecond},
		{"mult 1.5/4", backoff.Exponential{Multiplier: 1.5, Jitter: backoff.NoJitter}, 4, 337_500 * time.Microsecond},
		{"mult 1.5/5", backoff.Exponential{Multiplier: 1.5, Jitter: backoff.NoJitter}, 5, 506_250 * time.Microsecond},
		{"mult 1.5/6", backoff.Exponential{Multiplier: 1.5, Jitter: backoff.NoJitter}, 6, 759_375 * time.Microsecond},
		// 1e8·1.5^9 = 3844335937.5ns exactly; the half is truncated.
		{"mult 1.5/10", backoff.Exponential{Multiplier: 1.5, Jitter: backoff.NoJitter}, 10, 3_844_335_937 * time.Nanosecond},
		{"mult 1.5/12", backoff.Exponential{Multiplier: 1.5, Jitter: backoff.NoJitter}, 12, 8_649_755_859 * time.Nanosecond},
		{"mult 1.5/13 capped", backoff.Exponential{Multiplier: 1.5, Jitter: backoff.NoJitter}, 13, 10 * time.Second},

		// Base equal to Max stays there.
		{"base = max", backoff.Exponential{Base: time.Second, Max: time.Second, Jitter: backoff.NoJitter}, 3, time.Second},

		// The largest Max a Duration can hold: huge attempt numbers reach
		// exactly that cap without overflowing into a negative delay.
		{"max MaxInt64/1", backoff.Exponential{Max: maxDur, Jitter: backoff.NoJitter}, 1, 100 * time.Millisecond},
		{"max MaxInt64/31", backoff.Exponential{Max: maxDur, Jitter: backoff.NoJitter}, 31, 100 * time.Millisecond << 30},
		{"max MaxInt64/1000", backoff.Exponential{Max: maxDur, Jitter: backoff.NoJitter}, 1000, maxDur},
		{"max MaxInt64/1000000", backoff.Exponential{Max: maxDur, Jitter: backoff.NoJitter}, 1_000_000, maxDur},
		{"max MaxInt64/MaxInt", backoff.Exponential{Max: maxDur, Jitter: backoff.NoJitter}, math.MaxInt, maxDur},
		{"max MaxInt64 mult 1.5/MaxInt", backoff.Exponential{Multiplier: 1.5, Max: maxDur, Jitter: backoff.NoJitter}, math.MaxInt, maxDur},
		{"max MaxInt64 base 1ns/MaxInt", backoff.Exponential{Base: 1, Max: maxDur, Jitter: backoff.NoJitter}, math.MaxInt, maxDur},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// NoJitter ignores prev and u.
			for _, prev := range []time.Duration{0, time.Hour, -time.Second} {
				for _, u := range []float64{0, 0.5, justBelowOne} {
					if got := tt.e.Delay(tt.n, prev, u); got != tt.want {
						t.Fatalf("%+v.Delay(%d, %v, %v) = %v (%d), want %v (%d)",
							tt.e, tt.n, prev, u, got, int64(got), tt.want, int64(tt.want))
					}
				}
			}
		})
	}
}

// TestExponentialNoJitterMonotone walks the attempt numbers of a few valid
// configurations and checks that delays never shrink and end at Max.
func TestExponentialNoJitterMonotone(t *testing.T) {
	configs := []backoff.Exponential{
		{Jitter: backoff.NoJitter},
		{Multiplier: 1.5, Jitter: backoff.NoJitter},
		{Multiplier: math.Nextafter(1, 2), Max: math.MaxInt64, Jitter: backoff.NoJitter},
		{Base: time.Nanosecond, Multiplier: 1.01, Max: math.MaxInt64, Jitter: backoff.NoJitter},
		{Base: time.Second, Multiplier: 10, Max: time.Hour, Jitter: backoff.NoJitter},
	}
	for _, e := range configs {
		if err := e.Validate(); err != nil {
			t.Fatalf("%+v: %v", e, err)
		}
		prev := e.Delay(1, 0, 0)
		for n := 2; n <= 5000; n++ {
			d := e.Delay(n, 0, 0)
			if d < prev {
				t.Fatalf("%+v: Delay(%d) = %v < Delay(%d) = %v", e, n, d, n-1, prev)
			}
			prev = d
		}
	}
	e := backoff.Exponential{Jitter: backoff.NoJitter}
	if d := e.Delay(5000, 0, 0); d != backoff.DefaultMax {
		t.Errorf("Delay(5000) = %v, want %v", d, backoff.DefaultMax)
	}
}

func TestFullJitter(t *testing.T) {
	e := backoff.Exponential{} // FullJitter is the zero value
	const d3 = 400 * time.Millisecond
	tests := []struct {
		n    int
		u    float64
		want time.Duration
	}{
		{1, 0, 0},
		{3, 0, 0},
		{50, 0, 0},
		{1, 0.5, 50 * time.Millisecond},
		{3, 0.5, d3 / 2},
		{3, 0.25, d3 / 4},
		{3, 0.75, 3 * d3 / 4},
		{50, 0.5, 5 * time.Second}, // half of the 10s cap
		{50, 0.125, 1250 * time.Millisecond},
		// Just below one gives just below d: the largest float below 1
		// times 1e8ns rounds to 1e8 − 2^-26, truncated to 1e8 − 1.
		{1, justBelowOne, 100*time.Millisecond - 1},
		{50, justBelowOne, 10*time.Second - 1},
		// n ≤ 0 is taken as 1.
		{0, 0.5, 50 * time.Millisecond},
		{-7, 0.5, 50 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := e.Delay(tt.n, 0, tt.u); got != tt.want {
			t.Errorf("FullJitter Delay(%d, 0, %v) = %v (%d), want %v (%d)", tt.n, tt.u, got, int64(got), tt.want, int64(tt.want))
		}
		// prev does not matter.
		if got := e.Delay(tt.n, time.Hour, tt.u); got != tt.want {
			t.Errorf("FullJitter Delay(%d, 1h, %v) = %v, want %v", tt.n, tt.u, got, tt.want)
		}
	}
	// The explicit constant equals the zero value.
	if got, want := (backoff.Exponential{Jitter: backoff.FullJitter}).Delay(3, 0, 0.5), e.Delay(3, 0, 0.5); got != want {
		t.Errorf("explicit FullJitter = %v, zero Jitter = %v", got, want)
	}
}

// TestJitterClampsU checks that u outside [0, 1) acts as the nearest value
// inside it and never yields a delay outside [0, Max].
func TestJitterClampsU(t *testing.T) {
	outside := []struct {
		u, as float64
	}{
		{-0.5, 0},
		{-1, 0},
		{math.Inf(-1), 0},
		{math.NaN(), 0},
		{math.Copysign(0, -1), 0},
		{1, justBelowOne},
		{2, justBelowOne},
		{math.Inf(1), justBelowOne},
	}
	modes := []backoff.Jitter{backoff.FullJitter, backoff.EqualJitter, backoff.DecorrelatedJitter, backoff.NoJitter}
	for _, mode := range modes {
		for _, capD := range []time.Duration{0, time.Second, math.MaxInt64} {
			e := backoff.Exponential{Max: capD, Jitter: mode}
			effMax := capD
			if effMax == 0 {
				effMax = backoff.DefaultMax
			}
			for _, n := range []int{1, 3, 1000, math.MaxInt} {
				for _, prev := range []time.Duration{0, 300 * time.Millisecond, math.MaxInt64} {
					for _, o := range outside {
						got := e.Delay(n, prev, o.u)
						if got < 0 || got > effMax {
							t.Errorf("%v Max %v: Delay(%d, %v, %v) = %v, outside [0, %v]", mode, capD, n, prev, o.u, got, effMax)
						}
						if want := e.Delay(n, prev, o.as); got != want {
							t.Errorf("%v Max %v: Delay(%d, %v, %v) = %v, want %v as for u = %v", mode, capD, n, prev, o.u, got, want, o.as)
						}
					}
				}
			}
		}
	}
	// The clamp is visible, not just consistent: with full jitter u ≥ 1
	// gives just below d, and u < 0 or NaN gives 0.
	e := backoff.Exponential{}
	if got, want := e.Delay(1, 0, 2), 100*time.Millisecond-1; got != want {
		t.Errorf("FullJitter Delay(1, 0, 2) = %v, want %v", got, want)
	}
	if got := e.Delay(5, 0, math.NaN()); got != 0 {
		t.Errorf("FullJitter Delay(5, 0, NaN) = %v, want 0", got)
	}
	if got := e.Delay(5, 0, -3); got != 0 {
		t.Errorf("FullJitter Delay(5, 0, -3) = %v, want 0", got)
	}
}

func TestEqualJitter(t *testing.T) {
	e := backoff.Exponential{Jitter: backoff.EqualJitter}
	tests := []struct {
		n    int
		u    float64
		want time.Duration
	}{
		// d = 400ms: 200ms + u·200ms.
		{3, 0, 200 * time.Millisecond},
		{3, 0.25, 250 * time.Millisecond},
		{3, 0.5, 300 * time.Millisecond},
		{3, 0.75, 350 * time.Millisecond},
		// u just below 1: 2e8 + 2e8·(1 − 2^-53) rounds to 4e8 in float64,
		// so the top of the range is reached (but not passed).
		{3, justBelowOne, 400 * time.Millisecond},
		// d = 100ms.
		{1, 0, 50 * time.Millisecond},
		{1, 0.5, 75 * time.Millisecond},
		{0, 0.5, 75 * time.Millisecond},
		// At the cap, d = 10s: 5s + u·5s.
		{20, 0, 5 * time.Second},
		{20, 0.5, 7500 * time.Millisecond},
		{math.MaxInt, 0.1, 5500 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := e.Delay(tt.n, 0, tt.u); got != tt.want {
			t.Errorf("EqualJitter Delay(%d, 0, %v) = %v (%d), want %v (%d)", tt.n, tt.u, got, int64(got), tt.want, int64(tt.want))
		}
		if got := e.Delay(tt.n, time.Hour, tt.u); got != tt.want {
			t.Errorf("EqualJitter Delay(%d, 1h, %v) = %v, want %v", tt.n, tt.u, got, tt.want)
		}
	}
	// An odd d: d/2 is computed without integer truncation first.
	odd := backoff.Exponential{Base: 3, Max: time.Second, Jitter: backoff.EqualJitter}
	if got, want := odd.Delay(1, 0, 0.5), time.Duration(2); got != want { // 1.5 + 0.75 = 2.25
		t.Errorf("EqualJitter Base 3ns Delay(1, 0, 0.5) = %v, want %v", got, want)
	}
}

func TestDecorrelatedJitter(t *testing.T) {
	e := backoff.Exponential{Jitter: backoff.DecorrelatedJitter} // Base 100ms, Max 10s
	const ms = time.Millisecond
	tests := []struct {
		prev time.Duration
		u    float64
		want time.Duration
	}{
		// prev below Base counts as Base: upper = 300ms.
		{0, 0, 100 * ms},
		{0, 0.5, 200 * ms},
		{0, 0.25, 150 * ms},
		{-time.Second, 0.5, 200 * ms},
		{50 * ms, 0.5, 200 * ms},
		// upper = 3·prev.
		{time.Second, 0, 100 * ms},
		{time.Second, 0.5, 1550 * ms}, // 100ms + 0.5·(3s − 100ms)
		{2 * time.Second, 0.5, 3050 * ms},
		// upper = Max once 3·prev exceeds it.
		{5 * time.Second, 0.5, 5050 * ms}, // 100ms + 0.5·(10s − 100ms)
		{time.Hour, 0.25, 2575 * ms},
		{math.MaxInt64, 0.5, 5050 * ms},
		{math.MaxInt64, justBelowOne, 10*time.Second - 1},
	}
	for _, tt := range tests {
		for _, n := range []int{1, 2, 50, math.MaxInt} { // n does not matter
			if got := e.Delay(n, tt.prev, tt.u); got != tt.want {
				t.Errorf("DecorrelatedJitter Delay(%d, %v, %v) = %v (%d), want %v (%d)", n, tt.prev, tt.u, got, int64(got), tt.want, int64(tt.want))
			}
		}
		// Multiplier is not used.
		m := backoff.Exponential{Multiplier: 7, Jitter: backoff.DecorrelatedJitter}
		if got := m.Delay(4, tt.prev, tt.u); got != tt.want {
			t.Errorf("DecorrelatedJitter Multiplier 7 Delay(4, %v, %v) = %v, want %v", tt.prev, tt.u, got, tt.want)
		}
	}
}

// TestDecorrelatedJitterSpreadAtCap checks the point of the modified
// formula: with prev far above Max, delays are spread over [Base, Max)
// instead of collapsing onto Max.
func TestDecorrelatedJitterSpreadAtCap(t *testing.T) {
	const base, top = 100 * time.Millisecond, 10 * time.Second
	e := backoff.Exponential{Base: base, Max: top, Jitter: backoff.DecorrelatedJitter}
	r := rand.New(rand.NewPCG(1, 2))
	lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
	atMax := 0
	const draws = 1000
	for range draws {
		d := e.Delay(10, time.Hour, r.Float64())
		if d < base || d >= top {
			t.Fatalf("delay %v outside [%v, %v)", d, base, top)
		}
		if d == top {
			atMax++
		}
		lo, hi = min(lo, d), max(hi, d)
	}
	if atMax == draws {
		t.Fatalf("all %d delays equal Max", draws)
	}
	span := top - base
	if lo >= base+span/10 {
		t.Errorf("smallest delay %v, want below %v", lo, base+span/10)
	}
	if hi <= base+span*9/10 {
		t.Errorf("largest delay %v, want above %v", hi, base+span*9/10)
	}
	// A chain of delays, each fed back as prev, stays spread too.
	prev := time.Duration(0)
	seen := map[time.Duration]bool{}
	for range draws {
		prev = e.Delay(1, prev, r.Float64())
		if prev < base || prev >= top {
			t.Fatalf("chained delay %v outside [%v, %v)", prev, base, top)
		}
		seen[prev] = true
	}
	if len(seen) < draws/2 {
		t.Errorf("chained delays took only %d distinct values in %d draws", len(seen), draws)
	}
}

// TestJitterSurvivesAtCap checks that full and equal jitter still spread
// delays at attempt numbers where the exponential is far above Max.
func TestJitterSurvivesAtCap(t *testing.T) {
	const top = 10 * time.Second
	tests := []struct {
		mode   backoff.Jitter
		lo, hi time.Duration // documented range [lo, hi)
	}{
		{backoff.FullJitter, 0, top},
		{backoff.EqualJitter, top / 2, top},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			e := backoff.Exponential{Max: top, Jitter: tt.mode}
			for _, n := range []int{20, 1_000_000, math.MaxInt} {
				r := rand.New(rand.NewPCG(1, 2))
				first := e.Delay(n, 0, r.Float64())
				lo, hi := first, first
				allEqual := true
				for range 1000 {
					d := e.Delay(n, 0, r.Float64())
					if d < tt.lo || d >= tt.hi {
						t.Fatalf("n=%d: delay %v outside [%v, %v)", n, d, tt.lo, tt.hi)
					}
					if d != first {
						allEqual = false
					}
					lo, hi = min(lo, d), max(hi, d)
				}
				if allEqual {
					t.Fatalf("n=%d: all 1000 delays equal %v", n, first)
				}
				span := tt.hi - tt.lo
				if lo >= tt.lo+span/10 || hi <= tt.lo+span*9/10 {
					t.Errorf("n=%d: delays span only [%v, %v] of [%v, %v)", n, lo, hi, tt.lo, tt.hi)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	invalid := []struct {
		name    string
		e       backoff.Exponential
		mention string // what the message must name
	}{
		{"negative Base", backoff.Exponential{Base: -time.Second}, "Base"},
		{"negative Base 1ns", backoff.Exponential{Base: -1}, "Base"},
		{"negative Max", backoff.Exponential{Max: -time.Second}, "Max"},
		{"Multiplier 0.5", backoff.Exponential{Multiplier: 0.5}, "Multiplier"},
		{"Multiplier just below 1", backoff.Exponential{Multiplier: justBelowOne}, "Multiplier"},
		{"Multiplier -2", backoff.Exponential{Multiplier: -2}, "Multiplier"},
		{"Multiplier NaN", backoff.Exponential{Multiplier: math.NaN()}, "Multiplier"},
		{"Multiplier +Inf", backoff.Exponential{Multiplier: math.Inf(1)}, "Multiplier"},
		{"Multiplier -Inf", backoff.Exponential{Multiplier: math.Inf(-1)}, "Multiplier"},
		{"Jitter(4)", backoff.Exponential{Jitter: backoff.NoJitter + 1}, "Jitter(4)"},
		{"Jitter(9)", backoff.Exponential{Jitter: backoff.Jitter(9)}, "Jitter(9)"},
		{"Jitter(255)", backoff.Exponential{Jitter: backoff.Jitter(255)}, "Jitter(255)"},
		{"Base above default Max", backoff.Exponential{Base: 20 * time.Second}, "Base"},
		{"Base above Max", backoff.Exponential{Base: 2 * time.Second, Max: time.Second}, "Base"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.e.Validate()
			if err == nil {
				t.Fatalf("%+v.Validate() = nil, want an error", tt.e)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "backoff: ") {
				t.Errorf("error %q does not start with %q", msg, "backoff: ")
			}
			if !strings.Contains(msg, tt.mention) {
				t.Errorf("error %q does not mention %q", msg, tt.mention)
			}
		})
	}

	valid := []backoff.Exponential{
		{},
		{Jitter: backoff.NoJitter},
		{Jitter: backoff.EqualJitter},
		{Jitter: backoff.DecorrelatedJitter},
		{Multiplier: 1},
		{Multiplier: 1.5},
		{Multiplier: 1000},
		{Base: time.Nanosecond},
		{Base: 10 * time.Second},      // equal to the default Max
		{Max: 100 * time.Millisecond}, // equal to the default Base
		{Max: 50 * time.Millisecond},  // below it: the default Base becomes 50ms
		{Base: 20 * time.Second, Max: time.Minute},
		{Base: time.Second, Multiplier: 3, Max: time.Hour, Jitter: backoff.DecorrelatedJitter},
		{Max: math.MaxInt64},
		{Base: math.MaxInt64, Max: math.MaxInt64},
	}
	for _, e := range valid {
		if err := e.Validate(); err != nil {
			t.Errorf("%+v.Validate() = %v, want nil", e, err)
		}
	}
}

// TestDelayOnInvalidConfig checks that Delay clamps what Validate rejects:
// no panic, and every delay lies in [0, max(0, Max)] (Max defaulted when
// zero).
func TestDelayOnInvalidConfig(t *testing.T) {
	configs := []backoff.Exponential{
		{Base: -time.Second},
		{Base: math.MinInt64},
		{Max: -time.Second},
		{Max: math.MinInt64},
		{Base: -time.Second, Max: -time.Second},
		{Multiplier: 0.5},
		{Multiplier: -3},
		{Multiplier: math.NaN()},
		{Multiplier: math.Inf(1)},
		{Multiplier: math.Inf(-1)},
		{Base: 20 * time.Second},
		{Base: math.MaxInt64, Max: time.Second},
	}
	modes := []backoff.Jitter{backoff.FullJitter, backoff.EqualJitter, backoff.DecorrelatedJitter, backoff.NoJitter, 4, 9, 255}
	for _, c := range configs {
		for _, mode := range modes {
			e := c
			e.Jitter = mode
			if e.Validate() == nil {
				t.Fatalf("%+v.Validate() = nil; the test wants invalid configs", e)
			}
			limit := e.Max
			if limit == 0 {
				limit = backoff.DefaultMax
			}
			limit = max(limit, 0)
			for _, n := range []int{math.MinInt, 0, 1, 2, 10, 1000, 1_000_000, math.MaxInt} {
				for _, prev := range []time.Duration{math.MinInt64, 0, time.Second, math.MaxInt64} {
					for _, u := range []float64{0, 0.5, justBelowOne, math.NaN(), -1, 2} {
						d := e.Delay(n, prev, u)
						if d < 0 || d > limit {
							t.Fatalf("%+v.Delay(%d, %v, %v) = %v, outside [0, %v]", e, n, prev, u, d, limit)
						}
					}
				}
			}
		}
	}

	// The documented clamps, checked exactly.
	tests := []struct {
		name string
		e    backoff.Exponential
		n    int
		want time.Duration
	}{
		// A negative Max is taken as zero: every delay is 0.
		{"negative Max", backoff.Exponential{Max: -time.Second, Jitter: backoff.NoJitter}, 5, 0},
		// A multiplier below 1 is taken as 1: constant Base.
		{"Multiplier 0.5", backoff.Exponential{Multiplier: 0.5, Jitter: backoff.NoJitter}, 5, 100 * time.Millisecond},
		{"Multiplier NaN", backoff.Exponential{Multiplier: math.NaN(), Jitter: backoff.NoJitter}, 5, 100 * time.Millisecond},
		{"Multiplier -Inf", backoff.Exponential{Multiplier: math.Inf(-1), Jitter: backoff.NoJitter}, math.MaxInt, 100 * time.Millisecond},
		// +Inf is not a finite multiplier of at least 1 either.
		{"Multiplier +Inf", backoff.Exponential{Multiplier: math.Inf(1), Jitter: backoff.NoJitter}, 5, 100 * time.Millisecond},
		// A negative Base is taken as zero.
		{"negative Base", backoff.Exponential{Base: -time.Second, Jitter: backoff.NoJitter}, 5, 0},
		// Base above Max is capped at Max.
		{"Base above Max", backoff.Exponential{Base: 20 * time.Second, Jitter: backoff.NoJitter}, 1, 10 * time.Second},
	}
	for _, tt := range tests {
		if got := tt.e.Delay(tt.n, 0, 0.5); got != tt.want {
			t.Errorf("%s: %+v.Delay(%d, 0, 0.5) = %v, want %v", tt.name, tt.e, tt.n, got, tt.want)
		}
	}
}

// TestDelayNegativeBaseLargeN: Delay's doc comment says a negative Base is
// clamped to zero, so d = min(Max, 0·Multiplier^(n−1)) = 0 for every n, even
// once Multiplier^(n−1) overflows to +Inf (0·Inf would be NaN).
func TestDelayNegativeBaseLargeN(t *testing.T) {
	e := backoff.Exponential{Base: -time.Second, Jitter: backoff.NoJitter}
	for _, n := range []int{1, 1000, 1074, 2000, math.MaxInt} {
		if got := e.Delay(n, 0, 0.5); got != 0 {
			t.Errorf("%+v.Delay(%d, 0, 0.5) = %v, want 0", e, n, got)
		}
	}
}

func TestJitterString(t *testing.T) {
	tests := []struct {
		j    backoff.Jitter
		want string
	}{
		{backoff.FullJitter, "full"},
		{backoff.EqualJitter, "equal"},
		{backoff.DecorrelatedJitter, "decorrelated"},
		{backoff.NoJitter, "none"},
		{backoff.Jitter(4), "Jitter(4)"},
		{backoff.Jitter(9), "Jitter(9)"},
		{backoff.Jitter(255), "Jitter(255)"},
	}
	for _, tt := range tests {
		if got := tt.j.String(); got != tt.want {
			t.Errorf("Jitter(%d).String() = %q, want %q", uint8(tt.j), got, tt.want)
		}
	}
	var zero backoff.Jitter
	if zero != backoff.FullJitter {
		t.Errorf("zero Jitter is %v, want full", zero)
	}
}

func TestConstant(t *testing.T) {
	for _, d := range []time.Duration{0, time.Nanosecond, 250 * time.Millisecond, time.Hour, math.MaxInt64} {
		s := backoff.Constant(d)
		for _, n := range []int{math.MinInt, 0, 1, 2, 100, math.MaxInt} {
			for _, prev := range []time.Duration{math.MinInt64, 0, time.Second, math.MaxInt64} {
				for _, u := range []float64{0, 0.5, justBelowOne, -1, 2, math.NaN()} {
					if got := s.Delay(n, prev, u); got != d {
						t.Fatalf("Constant(%v).Delay(%d, %v, %v) = %v, want %v", d, n, prev, u, got, d)
					}
				}
			}
		}
	}
	for _, d := range []time.Duration{-1, -time.Second, math.MinInt64} {
		if got := backoff.Constant(d).Delay(3, time.Second, 0.5); got != 0 {
			t.Errorf("Constant(%v).Delay = %v, want 0", d, got)
		}
	}
}

// sink keeps results alive so the compiler cannot drop the calls measured.
var sink time.Duration

// TestDelayAllocs enforces that computing a delay allocates nothing, through
// the concrete type and through the Strategy interface.
func TestDelayAllocs(t *testing.T) {
	modes := []backoff.Jitter{backoff.FullJitter, backoff.EqualJitter, backoff.DecorrelatedJitter, backoff.NoJitter}
	for _, mode := range modes {
		e := backoff.Exponential{Base: 50 * time.Millisecond, Max: 30 * time.Second, Jitter: mode}
		var s backoff.Strategy = e
		n := 0
		if allocs := testing.AllocsPerRun(1000, func() {
			n++
			sink = e.Delay(n, sink, 0.37)
		}); allocs != 0 {
			t.Errorf("%v: Exponential.Delay allocates %v times per call, want 0", mode, allocs)
		}
		if allocs := testing.AllocsPerRun(1000, func() {
			n++
			sink = s.Delay(n, sink, 0.37)
		}); allocs != 0 {
			t.Errorf("%v: Strategy.Delay allocates %v times per call, want 0", mode, allocs)
		}
	}
	c := backoff.Constant(time.Second)
	if allocs := testing.AllocsPerRun(1000, func() { sink = c.Delay(3, sink, 0.5) }); allocs != 0 {
		t.Errorf("Constant.Delay allocates %v times per call, want 0", allocs)
	}
}

func TestDefaultBaseFollowsASmallerMax(t *testing.T) {
	e := backoff.Exponential{Max: 50 * time.Millisecond, Jitter: backoff.NoJitter}
	for n := 1; n <= 3; n++ {
		if got := e.Delay(n, 0, 0); got != 50*time.Millisecond {
			t.Errorf("%+v.Delay(%d) = %v, want 50ms (the default Base lowered to Max)", e, n, got)
		}
	}
}

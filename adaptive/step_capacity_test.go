package adaptive_test

import (
	"testing"
	"time"

	"github.com/netresilience/resilience/adaptive"
)

func TestGradientFollowsACapacityChangeWithinASecond(t *testing.T) {
	// Capacity 40 calls at 50ms (800 calls a second), halved for 4s from
	// the 30th second, and for 30s from the 60th; 1,200 calls a second
	// offered throughout.
	const full, half = 40, 20
	capacity := func(now time.Duration) int {
		if (now >= 30*time.Second && now < 34*time.Second) || (now >= 60*time.Second && now < 90*time.Second) {
			return half
		}
		return full
	}
	l := mustNew(t, adaptive.Config{Algorithm: adaptive.Gradient, Initial: 10})
	r := drive(t, l, service{base: constant(50 * time.Millisecond), capacity: capacity}, 1200, 120*time.Second, 2)
	t.Logf("limits by second: %v", r.limits)
	t.Logf("baselines by second: %v", r.baselines)
	// The limit at the end of second s, and the calls completed in it.
	check := func(what string, s, lo, hi int) {
		t.Helper()
		if got := r.limits[s]; got < lo || got > hi {
			t.Errorf("%s: limit %d at the end of second %d, want it in [%d, %d]", what, got, s, lo, hi)
		}
	}
	// Settled at about Tolerance × capacity + √L.
	check("before the dip", 29, full, 2*full)
	// A second into each dip, it is down near Tolerance × half + √L.
	check("a second into the 4s dip", 30, half, 1.5*half+6)
	check("a second into the 30s dip", 60, half, 1.5*half+6)
	check("late in the 30s dip", 89, half, 1.5*half+6)
	// Two seconds after each recovery, it is back above capacity.
	check("two seconds after the 4s dip", 35, full, 2*full)
	check("two seconds after the 30s dip", 91, full, 2*full)
	for _, p := range [][2]int{{5, 30}, {30, 34}, {36, 60}, {60, 90}, {92, 120}} {
		done, _, _, _, p99 := r.span(p[0], p[1])
		c := full
		if p[0] == 30 || p[0] == 60 {
			c = half
		}
		goodput := float64(done) / float64(p[1]-p[0]) / float64(c*20)
		t.Logf("seconds %3d-%3d: goodput %.1f%% of capacity, p99 %v", p[0], p[1], 100*goodput, p99)
		if goodput < 0.85 {
			t.Errorf("seconds %d-%d: goodput %.1f%% of capacity, want at least 85%%", p[0], p[1], 100*goodput)
		}
		if p99 > 3*55*time.Millisecond {
			t.Errorf("seconds %d-%d: p99 %v, want at most 3 × the unloaded 55ms", p[0], p[1], p99)
		}
	}
}

func TestGradientFollowsAServiceThatGetsSlower(t *testing.T) {
	// Capacity c calls at 50ms, then, from the 30th second on, at 100ms:
	// the service itself is slower, with the same concurrency. The limit
	// first falls, then the next probe finds the new baseline and it grows
	// back.
	base := func(now time.Duration) time.Duration {
		if now >= 30*time.Second {
			return 100 * time.Millisecond
		}
		return 50 * time.Millisecond
	}
	for _, c := range []int{40, 3} {
		l := mustNew(t, adaptive.Config{Algorithm: adaptive.Gradient, Initial: 2})
		r := drive(t, l, service{base: base, capacity: constant(c)}, 1200, 60*time.Second, 3)
		t.Logf("capacity %d: limits by second: %v", c, r.limits)
		t.Logf("capacity %d: baselines by second: %v", c, r.baselines)
		// One BaselinePeriod, and a little, after the change.
		for s := 43; s < 60; s++ {
			// Below about 6 calls, the limit's floor (where the ratio 0.5
			// and the √L balance, 4) is above capacity, so the probe finds
			// the service loaded at the limit and keeps the old baseline;
			// the limit holds at that floor, above capacity, all the same.
			if b := r.baselines[s]; c > 6 && (b < 90*time.Millisecond || b > 110*time.Millisecond) {
				t.Fatalf("capacity %d: baseline %v at the end of second %d, want 100ms ±10%%", c, b, s)
			}
			if got := r.limits[s]; got < c || got > 2*c+2 {
				t.Fatalf("capacity %d: limit %d at the end of second %d, want it in [%d, %d]", c, got, s, c, 2*c+2)
			}
		}
	}
}

func TestAIMDFollowsAServiceThatSheds(t *testing.T) {
	// A service that refuses at once, with a 503, a call beyond its
	// capacity: 40 calls at 50ms, 20 for 30s from the 30th second. AIMD
	// keeps the limit just below it, and the refusals few.
	capacity := func(now time.Duration) int {
		if now >= 30*time.Second && now < 60*time.Second {
			return 20
		}
		return 40
	}
	l := mustNew(t, adaptive.Config{Initial: 10})
	r := drive(t, l, service{base: constant(50 * time.Millisecond), capacity: capacity, shed: true}, 1200, 90*time.Second, 5)
	t.Logf("limits by second: %v", r.limits)
	for _, p := range [][2]int{{5, 30}, {31, 60}, {62, 90}} {
		c := 40
		if p[0] == 31 {
			c = 20
		}
		done, lo, hi, _, _ := r.span(p[0], p[1])
		goodput := float64(done) / float64(p[1]-p[0]) / float64(c*20)
		t.Logf("seconds %d-%d: limit in [%d, %d], goodput %.1f%% of capacity", p[0], p[1], lo, hi, 100*goodput)
		if goodput < 0.85 {
			t.Errorf("seconds %d-%d: goodput %.1f%% of capacity, want at least 85%%", p[0], p[1], 100*goodput)
		}
		if hi > c+3 || lo < c*8/10 {
			t.Errorf("seconds %d-%d: limit in [%d, %d], want it within [80%%, 100%%] of %d, give or take", p[0], p[1], lo, hi, c)
		}
	}
}

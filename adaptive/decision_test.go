package adaptive_test

import (
	"testing"
	"time"

	"github.com/netresilience/resilience/adaptive"
)

// t0 is the start of the explicit time the tests step on.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// step is one row of a step table: n samples (1 if zero) fed at At, After
// apart, and the limit wanted after them.
type step struct {
	name     string
	at       time.Duration
	after    time.Duration // between the n samples
	n        int
	latency  time.Duration
	inflight int
	dropped  bool
	want     int
}

func runSteps(t *testing.T, l *adaptive.Limiter, steps []step) {
	t.Helper()
	for _, s := range steps {
		for i := range max(s.n, 1) {
			l.RecordAt(at(s.at+time.Duration(i)*s.after), s.latency, s.inflight, s.dropped)
		}
		if got := l.Limit(); got != s.want {
			t.Fatalf("%s: limit %d, want %d (snapshot %+v)", s.name, got, s.want, l.Snapshot())
		}
	}
}

func TestAIMDSteps(t *testing.T) {
	l := mustNew(t, adaptive.Config{Initial: 10, Min: 2, Max: 12})
	ms := time.Millisecond
	runSteps(t, l, []step{
		{name: "unused limit does not grow", at: time.Second, n: 50, latency: 10 * ms, inflight: 4, want: 10},
		// Each success with the limit at least half used adds 1/L: 11 of
		// them take 10 to 11.05.
		{name: "used limit grows by 1 a round", at: time.Second, n: 10, latency: 10 * ms, inflight: 6, want: 10},
		{name: "eleventh success", at: time.Second, latency: 10 * ms, inflight: 6, want: 11},
		{name: "drop cuts by 0.9", at: 2 * time.Second, latency: 10 * ms, inflight: 11, dropped: true, want: 9},
		{name: "drop admitted before the cut does not cut again", at: 2*time.Second + 5*ms, latency: 10 * ms, inflight: 11, dropped: true, want: 9},
		{name: "drop admitted after the cut cuts", at: 2*time.Second + 60*ms, latency: 50 * ms, inflight: 9, dropped: true, want: 8},
		{name: "slow success is no drop without Timeout", at: 3 * time.Second, latency: time.Hour, inflight: 1, want: 8},
		{name: "drops stop at Min", at: 4 * time.Second, after: time.Second, n: 40, latency: ms, inflight: 1, dropped: true, want: 2},
		{name: "growth stops at Max", at: 100 * time.Second, n: 10000, latency: ms, inflight: 12, want: 12},
	})
}

func TestAIMDTimeoutIsADrop(t *testing.T) {
	l := mustNew(t, adaptive.Config{Initial: 10, AIMD: adaptive.AIMDConfig{Timeout: 100 * time.Millisecond, Backoff: 0.5}})
	runSteps(t, l, []step{
		{name: "at the timeout", at: time.Second, latency: 100 * time.Millisecond, inflight: 1, want: 10},
		{name: "past the timeout", at: 2 * time.Second, latency: 101 * time.Millisecond, inflight: 1, want: 5},
	})
}

// gradientConfig has windows of 5 to 10 samples over 100ms and no
// smoothing, so that each window's result is exact.
func gradientConfig() adaptive.Config {
	return adaptive.Config{
		Algorithm: adaptive.Gradient, Initial: 20, Max: 100,
		Gradient: adaptive.GradientConfig{Window: 100 * time.Millisecond, MinSamples: 5, WindowSamples: 10, Smoothing: 1},
	}
}

func TestGradientSteps(t *testing.T) {
	l := mustNew(t, gradientConfig())
	ms := time.Millisecond
	runSteps(t, l, []step{
		{name: "first window: the baseline", at: 0, after: 25 * ms, n: 5, latency: 10 * ms, inflight: 20, want: 20},
		{name: "too few samples keep a window open", at: 200 * ms, after: 100 * ms, n: 4, latency: 10 * ms, inflight: 20, want: 20},
		// 20 + √20 = 24.47
		{name: "at the baseline, a used limit grows by √L", at: 600 * ms, latency: 10 * ms, inflight: 20, want: 24},
		// 24.47 × 1.2×10/20 + √24.47 = 19.63
		{name: "twice the baseline: ratio 0.6", at: 700 * ms, after: 30 * ms, n: 5, latency: 20 * ms, inflight: 24, want: 19},
		// 19.63 × 0.5 + √19.63 = 14.25
		{name: "ten times the baseline: the ratio stops at 0.5", at: 900 * ms, n: 10, latency: 100 * ms, inflight: 19, want: 14},
		{name: "at the baseline, an unused limit holds", at: 1100 * ms, n: 10, latency: 10 * ms, inflight: 6, want: 14},
		// 14.25 + √14.25 = 18.02
		{name: "within the tolerance, it grows", at: 1200 * ms, n: 10, latency: 12 * ms, inflight: 14, want: 18},
	})
	if s := l.Snapshot(); s.Baseline != 10*ms || s.Latency != 12*ms || s.Probing {
		t.Fatalf("snapshot %+v, want a baseline of 10ms, a last window of 12ms, no probe", s)
	}
}

package adaptive_test

import (
	"math"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
)

// garbage feeds l samples a hostile caller or a broken simulator might
// give: latencies and in-flight counts at the limits of their types, and
// times that jump centuries ahead and back.
func garbage(t *testing.T, l *adaptive.Limiter, base time.Time) {
	t.Helper()
	latencies := []time.Duration{0, -1, math.MaxInt64, math.MinInt64, 1, 1000000 * time.Hour}
	inflights := []int{0, -5, 1, math.MaxInt, math.MinInt}
	times := []time.Time{base, base.Add(-time.Hour), base.Add(math.MaxInt64), {}, base.Add(math.MinInt64)}
	for i := range 3000 {
		l.RecordAt(times[i%len(times)], latencies[i%len(latencies)], inflights[i%len(inflights)], i%7 == 0)
		if lim := l.Limit(); lim < 1 || lim > 1<<30 {
			t.Fatalf("limit %d after sample %d", lim, i)
		}
	}
}

func TestGradientLearnsAfterHostileSamples(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := mustNew(t, adaptive.Config{Algorithm: adaptive.Gradient, Initial: 10, Max: 1 << 30})
	garbage(t, l, base)
	// Then ordinary calls of 10ms, one at a time: the baseline must come
	// from them, not from a latency of centuries, and not stop moving
	// because a sample once came from the year 2318.
	for i := range 2000 {
		now := base.Add(time.Duration(i) * time.Millisecond)
		p, err := l.TryAcquireAt(now, adaptive.Normal)
		if err != nil {
			t.Fatalf("call %d rejected: %v", i, err)
		}
		p.ReleaseAt(now.Add(10*time.Millisecond), resilience.Outcome{})
	}
	if s := l.Snapshot(); s.Baseline != 10*time.Millisecond || s.Latency != 10*time.Millisecond || s.InFlight != 0 {
		t.Errorf("after 2,000 calls of 10ms: %+v, want a baseline and latency of 10ms", s)
	}
}

func TestAIMDCutsAfterHostileSamples(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := mustNew(t, adaptive.Config{Initial: 10, Max: 1 << 30, AIMD: adaptive.AIMDConfig{Backoff: 0.5}})
	garbage(t, l, base)
	// A cut remembered from a time far ahead must not make every later
	// drop look older than it.
	l.RecordAt(base, time.Millisecond, 1000, false)
	before := l.Limit()
	l.RecordAt(base.Add(time.Second), time.Millisecond, before, true)
	if after := l.Limit(); after >= before && before > 1 {
		t.Errorf("a drop after the garbage left the limit at %d (was %d): want it cut", after, before)
	}
}

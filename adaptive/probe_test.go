package adaptive_test

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
)

func TestGradientProbeIsNotBiasedTowardFastCalls(t *testing.T) {
	// A service far from its capacity whose latencies vary widely: a
	// lognormal with a median of 50ms and a p99 of 150ms, a mean of about
	// 56ms. The probe's baseline must be the mean of the calls admitted
	// during it, not of the first calls to end, which are the fastest of
	// those in flight (that would read about 35ms, and hold the limit
	// below what the service takes).
	const median, p99 = 50 * time.Millisecond, 150 * time.Millisecond
	sigma := math.Log(float64(p99)/float64(median)) / 2.326
	mean := time.Duration(float64(median) * math.Exp(sigma*sigma/2))
	for seed := range uint64(3) {
		rng := rand.New(rand.NewPCG(seed, 7))
		l := mustNew(t, adaptive.Config{Algorithm: adaptive.Gradient, Initial: 40})
		var pending calls
		var baselines []time.Duration
		last := time.Duration(0)
		for now := time.Duration(0); now < 65*time.Second; now += time.Millisecond / 2 {
			for len(pending) > 0 && pending[0].end <= now {
				c := heap.Pop(&pending).(call)
				c.p.ReleaseAt(at(c.end), resilience.Outcome{})
			}
			if s := l.Snapshot(); s.Baseline != last && now > 11*time.Second {
				baselines, last = append(baselines, s.Baseline), s.Baseline
			}
			p, err := l.TryAcquireAt(at(now), adaptive.Normal)
			if err != nil {
				continue
			}
			lat := time.Duration(float64(median) * math.Exp(sigma*rng.NormFloat64()))
			heap.Push(&pending, call{start: now, end: now + lat, p: p})
		}
		for _, c := range pending {
			c.p.ReleaseAt(at(65*time.Second), resilience.Outcome{Canceled: true})
		}
		b := l.Snapshot().Baseline
		t.Logf("seed %d: baseline %v (true mean %v), changes after the first probe %v, limit %d", seed, b, mean, baselines, l.Limit())
		if b < mean*7/10 || b > mean*5/4 {
			t.Errorf("seed %d: baseline %v, want the mean latency %v, -30%% +25%% (a sample of ten is noisy, and the baseline falls more readily than it rises)", seed, b, mean)
		}
	}
}

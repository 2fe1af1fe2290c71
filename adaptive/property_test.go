package adaptive_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/netresilience/resilience/adaptive"
)

// The properties are checked on runs of random samples, each run from its
// own seed, so that a failure names the seed that reproduces it.

const seeds = 300

// randomConfig returns a valid Config of the algorithm alg with random
// bounds and tuning.
func randomConfig(rng *rand.Rand, alg adaptive.Algorithm) adaptive.Config {
	lo := 1 + rng.IntN(20)
	hi := lo + rng.IntN(200)
	return adaptive.Config{
		Algorithm: alg,
		Min:       lo, Max: hi, Initial: lo + rng.IntN(hi-lo+1),
		AIMD: adaptive.AIMDConfig{Increase: 0.5 + 3*rng.Float64(), Backoff: 0.3 + 0.69*rng.Float64()},
		Gradient: adaptive.GradientConfig{
			Window: time.Duration(1+rng.IntN(200)) * time.Millisecond, MinSamples: 1 + rng.IntN(10), WindowSamples: 10 + rng.IntN(100),
			Tolerance: 1 + 0.9*rng.Float64(), Smoothing: 0.05 + 0.95*rng.Float64(),
			BaselinePeriod: time.Duration(200+rng.IntN(5000)) * time.Millisecond,
		},
	}
}

var algorithms = []adaptive.Algorithm{adaptive.AIMD, adaptive.Gradient}

func TestPropertyLimitStaysWithinMinAndMax(t *testing.T) {
	for _, alg := range algorithms {
		for seed := range uint64(seeds) {
			rng := rand.New(rand.NewPCG(seed, 1))
			cfg := randomConfig(rng, alg)
			l := mustNew(t, cfg)
			now := time.Duration(0)
			for range 2000 {
				now += time.Duration(rng.IntN(int(20 * time.Millisecond)))
				lat := time.Duration(rng.ExpFloat64() * float64(time.Duration(1+rng.IntN(3))*50*time.Millisecond))
				l.RecordAt(at(now), lat, rng.IntN(2*cfg.Max+2), rng.IntN(10) == 0)
				if got := l.Limit(); got < cfg.Min || got > cfg.Max {
					t.Fatalf("%v seed %d: limit %d outside [%d, %d]", alg, seed, got, cfg.Min, cfg.Max)
				}
			}
		}
	}
}

func TestPropertySuccessesAtConstantLatencyNeverLowerTheLimit(t *testing.T) {
	for _, alg := range algorithms {
		for seed := range uint64(seeds) {
			rng := rand.New(rand.NewPCG(seed, 2))
			cfg := randomConfig(rng, alg)
			l := mustNew(t, cfg)
			lat := time.Duration(1+rng.IntN(500)) * time.Millisecond
			now, prev := time.Duration(0), l.Limit()
			for i := range 3000 {
				now += time.Duration(rng.IntN(int(5 * time.Millisecond)))
				l.RecordAt(at(now), lat, 1+rng.IntN(cfg.Max+1), false)
				got := l.Limit()
				if got < prev {
					t.Fatalf("%v seed %d, sample %d: the limit fell from %d to %d on successes at a constant %v", alg, seed, i, prev, got, lat)
				}
				prev = got
			}
		}
	}
}

func TestPropertyRisingLatencyLowersTheLimit(t *testing.T) {
	for _, alg := range algorithms {
		for seed := range uint64(seeds) {
			rng := rand.New(rand.NewPCG(seed, 3))
			cfg := randomConfig(rng, alg)
			lat := time.Duration(1+rng.IntN(100)) * time.Millisecond
			// AIMD reads latency only through its Timeout.
			cfg.AIMD.Timeout = 2 * lat
			cfg.Min = 1
			l := mustNew(t, cfg)
			now := time.Duration(0)
			feed := func(n int, lat time.Duration) {
				for range n {
					now += time.Millisecond
					l.RecordAt(at(now), lat, l.Limit(), false)
				}
			}
			// Settle at the steady latency, with the limit in use.
			feed(2000, lat)
			before := l.Limit()
			if before == 1 {
				continue // nothing to lower
			}
			// Latency then rises beyond the tolerance: well over twice as
			// slow, for long enough to close a window and to come after
			// the last cut.
			feed(max(cfg.Gradient.WindowSamples, int(cfg.Gradient.Window/time.Millisecond))+int(cfg.Gradient.BaselinePeriod/time.Millisecond/10)+int(4*lat/time.Millisecond), 4*lat)
			if after := l.Limit(); after >= before {
				t.Fatalf("%v seed %d: the limit went from %d to %d as latency rose from %v to %v (%+v; %+v)", alg, seed, before, after, lat, 4*lat, cfg, l.Snapshot())
			}
		}
	}
}

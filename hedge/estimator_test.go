package hedge_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/netresilience/resilience/hedge"
)

// TestPercentileAccuracy compares the adaptive delay with the exact
// percentile of generated samples: the histogram's buckets span 1/8 of their
// lower bound, so the estimate is within 6.25% of a sample value at the
// exact rank.
func TestPercentileAccuracy(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dists := map[string]func(r *rand.Rand) time.Duration{
		"lognormal 10ms": func(r *rand.Rand) time.Duration {
			return time.Duration(float64(10*time.Millisecond) * math.Exp(0.5*r.NormFloat64()))
		},
		"exponential 1ms": func(r *rand.Rand) time.Duration {
			return time.Duration(float64(time.Millisecond) * r.ExpFloat64())
		},
		"uniform 1µs-10s": func(r *rand.Rand) time.Duration {
			return time.Microsecond + time.Duration(r.Int64N(int64(10*time.Second)))
		},
		"bimodal 5ms/500ms": func(r *rand.Rand) time.Duration {
			if r.IntN(10) == 0 {
				return 500*time.Millisecond + time.Duration(r.IntN(1e6))
			}
			return 5*time.Millisecond + time.Duration(r.IntN(1e6))
		},
	}
	for name, gen := range dists {
		for _, p := range []float64{0.5, 0.9, 0.95, 0.99} {
			h := hedge.MustNew(hedge.Config{Percentile: p, MinSamples: 1})
			r := rand.New(rand.NewPCG(7, uint64(p*100)))
			samples := make([]time.Duration, 5000)
			for i := range samples {
				samples[i] = gen(r)
				h.ObserveAt(now, samples[i])
			}
			slices.Sort(samples)
			exact := samples[int(math.Ceil(p*float64(len(samples))))-1]
			got := h.DelayAt(now)
			if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 1.0/16 {
				t.Errorf("%s p%v: estimate %v, exact %v: off by %.1f%%", name, p*100, got, exact, 100*rel)
			}
		}
	}
}

// TestAdaptiveDelaySteps drives the delay decision on an explicit clock:
// InitialDelay until MinSamples are in the window, then the percentile, and
// latencies forgotten after the window.
func TestAdaptiveDelaySteps(t *testing.T) {
	h := hedge.MustNew(hedge.Config{Percentile: 0.5, InitialDelay: 7 * time.Millisecond, MinSamples: 3, Window: 10 * time.Second})
	t0 := time.Now() // the halves of the window start at the first call, at t0
	steps := []struct {
		at      time.Duration // after t0
		observe time.Duration // 0: none
		want    time.Duration
	}{
		{0, 0, 7 * time.Millisecond},
		{0, 20 * time.Millisecond, 7 * time.Millisecond},
		{time.Second, 20 * time.Millisecond, 7 * time.Millisecond},
		// 3 samples: 20ms lies in the bucket [9<<21, 10<<21)ns, whose
		// midpoint is 19.922944ms.
		{2 * time.Second, 20 * time.Millisecond, 19922944},
		{3 * time.Second, 0, 19922944},
		// At 9s the half holding the first samples is still kept.
		{9 * time.Second, 0, 19922944},
		// After 15s both halves that held them have gone.
		{16 * time.Second, 0, 7 * time.Millisecond},
		{16 * time.Second, time.Second, 7 * time.Millisecond},
		{16 * time.Second, time.Second, 7 * time.Millisecond},
		{16 * time.Second, time.Second, 973078528}, // 1s is in [14<<26, 15<<26)ns: its midpoint
	}
	for i, s := range steps {
		now := t0.Add(s.at)
		if s.observe > 0 {
			h.ObserveAt(now, s.observe)
		}
		if got := h.DelayAt(now); got != s.want {
			t.Errorf("step %d at +%v: delay %v; want %v", i, s.at, got, s.want)
		}
	}

	fixed := hedge.MustNew(hedge.Config{Delay: 3 * time.Millisecond})
	fixed.ObserveAt(t0, time.Hour)
	if d := fixed.DelayAt(t0); d != 3*time.Millisecond {
		t.Errorf("fixed delay %v after an observation; want 3ms", d)
	}
}

func TestMinSamplesOff(t *testing.T) {
	h := hedge.MustNew(hedge.Config{Percentile: 0.5, InitialDelay: 7 * time.Millisecond, MinSamples: -1})
	t0 := time.Now()
	if got := h.DelayAt(t0); got != 7*time.Millisecond {
		t.Fatalf("delay %v before any latency; want InitialDelay, 7ms", got)
	}
	h.ObserveAt(t0, 20*time.Millisecond)
	if got := h.DelayAt(t0); got != 19922944 { // 20ms's bucket's midpoint
		t.Fatalf("delay %v after one latency of 20ms, with no minimum of samples; want about 20ms", got)
	}
}

// TestDelayCountsOnlyDifferencesOfTimes checks that the adaptive delay
// depends on the times given to ObserveAt and DelayAt only through their
// differences: the same calls shifted by any amount give the same delays,
// as a simulator on virtual time needs whatever the hedger's clock reads.
func TestDelayCountsOnlyDifferencesOfTimes(t *testing.T) {
	var want []time.Duration
	for _, base := range []time.Time{
		time.Now(),
		time.Now().Add(1234567 * time.Microsecond),
		time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 987654321, time.UTC),
	} {
		h := hedge.MustNew(hedge.Config{Percentile: 0.9, MinSamples: 5, Window: 2 * time.Second})
		var got []time.Duration
		for i := range 200 {
			at := base.Add(time.Duration(i) * 37 * time.Millisecond)
			h.ObserveAt(at, time.Duration(1+i%13)*time.Millisecond)
			got = append(got, h.DelayAt(at))
		}
		if want == nil {
			want = got
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("from %v: delay after call %d is %v; from the first base %v", base, i, got[i], want[i])
			}
		}
	}
}

// TestPercentileRank pins the rank: on the samples 1ms, 2ms, ..., 10ms, each
// in a bucket of its own, the p-th percentile is the sample at rank ⌈10p⌉.
func TestPercentileRank(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{0.05, time.Millisecond}, {0.1, time.Millisecond}, {0.5, 5 * time.Millisecond}, {0.55, 6 * time.Millisecond}, {0.9, 9 * time.Millisecond}, {0.95, 10 * time.Millisecond}} {
		h := hedge.MustNew(hedge.Config{Percentile: tc.p, MinSamples: 10})
		for i := 1; i <= 10; i++ {
			h.ObserveAt(now, time.Duration(i)*time.Millisecond)
		}
		got := h.DelayAt(now)
		if rel := math.Abs(float64(got-tc.want)) / float64(tc.want); rel > 1.0/16 {
			t.Errorf("p%v of 1..10ms: %v; want %v within 6.25%%", tc.p*100, got, tc.want)
		}
	}
}

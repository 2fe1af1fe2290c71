package hedge_test

import (
	"encoding/binary"
	"math"
	"math/big"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/internal/fuzzprog"
)

// FuzzHedgeDelay checks the hedger's delay decision for any configuration
// and any latencies, observed at times that may lie anywhere, however far
// apart:
//
//   - New accepts exactly the configurations its doc comments call valid,
//     and rejects the others with an error prefixed "hedge: ";
//   - a fixed Delay is the delay whatever is observed;
//   - an adaptive delay is InitialDelay while the window holds fewer than
//     MinSamples latencies, and otherwise within 1/16 (6.25%) of the
//     latency at the Percentile's rank among those it holds (a negative
//     latency counting as zero), and never below zero; a higher Percentile
//     never gives a shorter delay;
//   - the window is two halves of Window/2, aligned to the first call: a
//     latency counts in the half of its time (or the newest half, if its time
//     is before that one), and the window holds the newest half and the one
//     before it, the newest being the one of the latest time seen.
//
// It runs in a synctest bubble, so that the hedger's clock starts at a time
// known to the test. The program is 17 bytes a step: an operation, 8 bytes
// of time and 8 bytes of latency.
func FuzzHedgeDelay(f *testing.F) {
	step := func(op byte, at, latency int64) []byte { return fuzzprog.Step(op, at, latency) }
	prog := fuzzprog.Prog
	ms := int64(time.Millisecond)
	s := int64(time.Second)
	obs := func(at, latency int64) []byte { return step(hedgeObserve, at, latency) }
	f.Add(int64(0), 0.5, int64(7*ms), 3, int64(10*s), 0, prog(obs(0, 20*ms), obs(s, 20*ms), obs(s, 20*ms), step(hedgeDelay, 7*s, 0), step(hedgeDelay, 9*s, 0)))
	f.Add(int64(0), 0.0, int64(0), 1, int64(0), 16, prog(obs(0, math.MaxInt64), obs(0, -5), obs(0, 15), obs(0, 16), step(hedgeDelay, 0, 0)))
	f.Add(int64(0), math.Nextafter(1, 0), int64(math.MaxInt64), 1, int64(math.MaxInt64), 1, prog(obs(0, 1), step(hedgeObserve|hedgeAbs, math.MaxInt64, 2), step(hedgeDelay|hedgeAbs, math.MinInt64, 0)))
	f.Add(int64(time.Second), 0.0, int64(0), 0, int64(0), 0, prog(obs(0, 1), step(hedgeDelay, 0, 0)))
	f.Add(int64(math.MaxInt64), 0.0, int64(0), 0, int64(0), 16, prog(obs(0, 1), step(hedgeDelay|hedgeAbs, math.MinInt64, 0)))
	// MinSamples and MaxHedges off.
	f.Add(int64(0), 0.0, int64(0), -1, int64(0), -1, prog(step(hedgeDelay, 0, 0), obs(0, 20*ms), step(hedgeDelay, 0, 0)))
	// Invalid configurations.
	f.Add(int64(time.Second), 0.0, int64(0), -1, int64(0), 0, []byte(nil))
	f.Add(int64(-1), 0.0, int64(0), 0, int64(0), 0, []byte(nil))
	f.Add(int64(0), 1.0, int64(0), 0, int64(0), 0, []byte(nil))
	f.Add(int64(0), math.NaN(), int64(0), 0, int64(0), 0, []byte(nil))
	f.Add(int64(0), -0.5, int64(0), 0, int64(0), 0, []byte(nil))
	f.Add(int64(0), 0.0, int64(-1), 0, int64(0), 0, []byte(nil))
	f.Add(int64(0), 0.0, int64(0), 0, int64(-1), 0, []byte(nil))
	f.Add(int64(0), 0.0, int64(0), 0, int64(0), 17, []byte(nil))
	f.Add(int64(time.Second), 0.5, int64(0), 0, int64(0), 0, []byte(nil))
	f.Add(int64(time.Second), 0.0, int64(0), 0, int64(time.Second), 0, []byte(nil))

	f.Fuzz(func(t *testing.T, delay int64, percentile float64, initialDelay int64, minSamples int, window int64, maxHedges int, program []byte) {
		cfg := hedge.Config{
			Delay:        time.Duration(delay),
			Percentile:   percentile,
			InitialDelay: time.Duration(initialDelay),
			MinSamples:   minSamples,
			Window:       time.Duration(window),
			MaxHedges:    maxHedges,
		}
		// A negative MinSamples or MaxHedges turns it off.
		valid := delay >= 0 && initialDelay >= 0 && window >= 0 &&
			maxHedges <= 16 && percentile >= 0 && percentile < 1 &&
			(delay == 0 || percentile == 0 && initialDelay == 0 && minSamples == 0 && window == 0)
		h, err := hedge.New(cfg)
		if !fuzzprog.CheckNew(t, "hedge", cfg, h, err, valid) {
			return
		}
		if len(program) > 17*200 {
			program = program[:17*200]
		}
		synctest.Test(t, func(t *testing.T) { runHedge(t, cfg, program) })
	})
}

// The operations of FuzzHedgeDelay's programs: bit 0, ObserveAt (else
// DelayAt); bit 1, the time is absolute, from the bubble's start (else a
// step forward from the last time, by up to a window).
const (
	hedgeDelay, hedgeObserve = 0, 1
	hedgeAbs                 = 2
)

func runHedge(t *testing.T, cfg hedge.Config, program []byte) {
	start := time.Now()
	h := hedge.MustNew(cfg)
	var higher *hedge.Hedger // the same, at a higher percentile
	if cfg.Delay == 0 {
		c := cfg
		p := c.Percentile
		if p == 0 {
			p = hedge.DefaultPercentile
		}
		c.Percentile = p + (1-p)/2
		if c.Percentile < 1 {
			higher = hedge.MustNew(c)
		}
	}
	p := cfg.Percentile
	if p == 0 {
		p = hedge.DefaultPercentile
	}
	minSamples := cfg.MinSamples
	switch {
	case minSamples == 0:
		minSamples = hedge.DefaultMinSamples
	case minSamples < 0:
		minSamples = 1 // off: the delay follows the first latency
	}
	initial := cfg.InitialDelay
	if initial == 0 {
		initial = hedge.DefaultInitialDelay
	}
	length := cfg.Window
	if length == 0 {
		length = hedge.DefaultWindow
	}
	ref := halves{half: big.NewInt(max(int64(length/2), 1))}

	var last int64
	for i := 0; i+17 <= len(program); i += 17 {
		op := program[i]
		x := int64(binary.LittleEndian.Uint64(program[i+1:]))
		latency := time.Duration(binary.LittleEndian.Uint64(program[i+9:]))
		if op&hedgeAbs != 0 {
			last = x
		} else {
			step := int64(uint64(x) % (uint64(length) + 1))
			if last > math.MaxInt64-step {
				last = math.MaxInt64
			} else {
				last += step
			}
		}
		now := start.Add(time.Duration(last))
		if op&hedgeObserve != 0 {
			h.ObserveAt(now, latency)
			if higher != nil {
				higher.ObserveAt(now, latency)
			}
			ref.observe(last, max(latency, 0))
			continue
		}
		got := h.DelayAt(now)
		var atHigher time.Duration
		if higher != nil {
			atHigher = higher.DelayAt(now) // at every step, so that both see the same calls
		}
		if cfg.Delay > 0 {
			if got != cfg.Delay {
				t.Fatalf("step %d: fixed delay %v, DelayAt = %v", i/17, cfg.Delay, got)
			}
			continue
		}
		live := ref.live(last)
		if len(live) < minSamples {
			if got != initial {
				t.Fatalf("step %d at %v: %d latencies in the window, below %d, but DelayAt = %v, not %v", i/17, time.Duration(last), len(live), minSamples, got, initial)
			}
			continue
		}
		slices.Sort(live)
		rank := min(max(int(math.Ceil(p*float64(len(live))-1e-9)), 1), len(live))
		want := live[rank-1]
		// |got − want| ≤ want/16, in exact integers.
		diff := new(big.Int).Sub(big.NewInt(int64(got)), big.NewInt(int64(want)))
		if got < 0 || diff.Abs(diff).Mul(diff, big.NewInt(16)).Cmp(big.NewInt(int64(want))) > 0 {
			t.Fatalf("step %d at %v: DelayAt = %v (%d ns), but the latency at rank %d of %d (percentile %v) is %v (%d ns)",
				i/17, time.Duration(last), got, int64(got), rank, len(live), p, want, int64(want))
		}
		if higher != nil && atHigher < got {
			t.Fatalf("step %d: DelayAt = %v at a higher percentile, %v at %v", i/17, atHigher, got, p)
		}
	}
}

// halves is the adaptive delay's window as FuzzHedgeDelay's doc comment
// describes it, in exact integers.
type halves struct {
	half    *big.Int
	started bool
	first   *big.Int // the first call's time
	newest  *big.Int // the number of the newest half
	samples []halfSample
}

type halfSample struct {
	half    *big.Int
	latency time.Duration
}

// advance brings the newest half up to now's and returns its number.
func (r *halves) advance(now int64) *big.Int {
	if !r.started {
		r.started, r.first, r.newest = true, big.NewInt(now), big.NewInt(0)
	}
	k := new(big.Int).Sub(big.NewInt(now), r.first)
	k.Div(k, r.half)
	if k.Cmp(r.newest) > 0 {
		r.newest = k
	}
	return r.newest
}

func (r *halves) observe(now int64, latency time.Duration) {
	r.samples = append(r.samples, halfSample{new(big.Int).Set(r.advance(now)), latency})
}

// live returns the latencies in the window at now.
func (r *halves) live(now int64) []time.Duration {
	oldest := new(big.Int).Sub(r.advance(now), big.NewInt(1))
	var l []time.Duration
	for _, s := range r.samples {
		if s.half.Cmp(oldest) >= 0 {
			l = append(l, s.latency)
		}
	}
	return l
}

package sim

import (
	"math/bits"
	"slices"
	"time"
)

// histogram counts latencies in nanoseconds in log-linear buckets: exact
// below 256ns, then 128 buckets per power of two, so a bucket's midpoint is
// within 0.4% of any value in it. It covers any int64.
type histogram struct {
	counts [(64-8+2)*128 + 1]uint32
	n      int
}

func histIndex(v int64) int {
	if v < 256 {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - 8
	return e*128 + int(uint64(v)>>e)
}

func histValue(i int) int64 {
	if i < 256 {
		return int64(i)
	}
	e := i/128 - 1
	m := int64(i%128 + 128)
	return m<<e + (int64(1)<<e)/2
}

func (h *histogram) add(v int64) {
	h.counts[histIndex(v)]++
	h.n++
}

// quantile returns the q-quantile: the smallest bucket value at or below
// which a share q of the values lie; 0 without values.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), uint64(h.n))
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			return time.Duration(histValue(i))
		}
	}
	return 0
}

// recoveryBuckets is how many buckets in a row must be good for the
// clients to count as recovered.
const recoveryBuckets = 5

// collect turns the runs into a Result.
func collect(s *Scenario, runs []*run) *Result {
	res := &Result{Scenario: s, Bucket: time.Duration(runs[0].width)}
	n := 0
	for _, r := range runs {
		n = max(n, len(r.series))
	}
	// The series grow within the capacity they were made with, which holds
	// every bucket of the run: padded to n in place, they need no copy.
	res.Offered = pad(runs[0].offered, n)
	var firstTrouble int64 = -1
	for _, w := range s.Upstream.Windows {
		if !res.HasHeal || time.Duration(w.To) > res.Healed {
			res.Healed, res.HasHeal = time.Duration(w.To), true
		}
		if firstTrouble < 0 || int64(w.From) < firstTrouble {
			firstTrouble = int64(w.From)
		}
	}
	for _, r := range runs {
		p := r.res
		p.PeakInFlight = r.peakInflight
		p.FleetOpened = r.fleetOpened
		p.Series = pad(r.series, n)
		r.series, r.offered = nil, nil
		if p.Requests > 0 {
			p.Amplification = float64(p.Calls) / float64(p.Requests)
			p.SuccessRatio = float64(p.Succeeded) / float64(p.Requests)
		}
		p.P50, p.P99, p.P999 = r.hist.quantile(0.5), r.hist.quantile(0.99), r.hist.quantile(0.999)
		for _, pt := range p.Series {
			p.PeakLoad = max(p.PeakLoad, float64(pt.Calls)/res.Bucket.Seconds())
		}
		if res.HasHeal {
			p.Recovery, p.Recovered = recovery(p.Series, r.width, firstTrouble, int64(res.Healed))
			p.TroubleAmplification = amplification(p.Series, res.Offered, r.width, firstTrouble, int64(res.Healed))
			p.Resumed = resumed(r.refusals, r.width, int64(res.Healed))
		}
		r.refusals = nil
		res.Policies = append(res.Policies, p)
	}
	return res
}

// amplification returns the upstream calls per offered request in the
// buckets of series that lie wholly within [from, to), or 0 if no request
// arrived in them.
func amplification(series []Point, offered []int, width, from, to int64) float64 {
	var calls, requests int
	for i := (from + width - 1) / width; i < to/width && i < int64(len(series)); i++ {
		calls += series[i].Calls
		requests += offered[i]
	}
	if requests == 0 {
		return 0
	}
	return float64(calls) / float64(requests)
}

// resumed returns how long after healed retries went on being refused:
// from healed to the end of the run of buckets, from the one that holds
// healed, whose bits are set in refusals; 0 if that one's is not.
func resumed(refusals []uint64, width, healed int64) time.Duration {
	i := healed / width
	for i/64 < int64(len(refusals)) && refusals[i/64]&(1<<(i%64)) != 0 {
		i++
	}
	return time.Duration(max(i*width-healed, 0))
}

// pad returns s extended with zero values to length n.
func pad[T any](s []T, n int) []T {
	m := len(s)
	s = slices.Grow(s, n-m)[:n]
	clear(s[m:])
	return s
}

// recovery returns how long after healed the success ratio of the series got
// back to 95% of its ratio before trouble (all of it if it had none) and
// stayed there for recoveryBuckets buckets, counted from the start of the
// first good bucket that starts at or after healed.
func recovery(series []Point, width, trouble, healed int64) (time.Duration, bool) {
	var ok, all int
	for i := 0; i < len(series) && int64(i+1)*width <= trouble; i++ {
		ok += series[i].Succeeded
		all += series[i].Succeeded + series[i].Failed
	}
	baseline := 1.0
	if all > 0 {
		baseline = float64(ok) / float64(all)
	}
	threshold := 0.95 * baseline
	good := func(i int) bool {
		ratio, any := series[i].Ratio()
		return !any || ratio >= threshold
	}
	first := int((healed + width - 1) / width)
	for i := first; i < len(series); i++ {
		run := 0
		for j := i; j < len(series) && j < i+recoveryBuckets && good(j); j++ {
			run++
		}
		if _, any := series[i].Ratio(); any && good(i) && (run == recoveryBuckets || i+run == len(series)) {
			return time.Duration(int64(i)*width - healed), true
		}
	}
	return 0, false
}

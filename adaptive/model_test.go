package adaptive_test

import (
	"container/heap"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
)

// service models a dependency that takes capacity calls at once at its
// unloaded latency base; beyond that, calls share it, and a call admitted
// with k in flight takes base × k / capacity. Latencies vary by ±10%.
type service struct {
	base     func(now time.Duration) time.Duration
	capacity func(now time.Duration) int
	// shed, if set, makes the service refuse at once, with a transient
	// error, a call that finds capacity calls in flight, as a server that
	// sheds load does.
	shed bool
}

// constant returns a func that always returns v.
func constant[T any](v T) func(time.Duration) T { return func(time.Duration) T { return v } }

// run is the outcome of driving a limiter with a service.
type run struct {
	completed []int // calls completed, per second
	limits    []int // the limit at the end of each second
	baselines []time.Duration
	latencies [][]time.Duration
}

// drive offers rate calls a second to l, for d of explicit time, with
// each admitted call served by svc: a discrete-event run on the
// limiter's explicit-time forms, as a simulator drives it.
func drive(t *testing.T, l *adaptive.Limiter, svc service, rate int, d time.Duration, seed uint64) run {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	secs := int(d / time.Second)
	r := run{completed: make([]int, secs), limits: make([]int, secs), baselines: make([]time.Duration, secs), latencies: make([][]time.Duration, secs)}
	var pending calls
	interval := time.Second / time.Duration(rate)
	sec := 0
	for now := time.Duration(0); now < d; now += interval {
		for len(pending) > 0 && pending[0].end <= now {
			c := heap.Pop(&pending).(call)
			if c.shed {
				c.p.ReleaseAt(at(c.end), resilience.Outcome{Err: errShed})
				continue
			}
			c.p.ReleaseAt(at(c.end), resilience.Outcome{})
			if s := int(c.end / time.Second); s < secs {
				r.completed[s]++
				r.latencies[s] = append(r.latencies[s], c.end-c.start)
			}
		}
		for ; sec < int(now/time.Second); sec++ {
			r.limits[sec] = l.Limit()
			r.baselines[sec] = l.Snapshot().Baseline.Round(time.Millisecond)
		}
		p, err := l.TryAcquireAt(at(now), adaptive.Normal)
		if err != nil {
			continue
		}
		k, c := l.InFlight(), svc.capacity(now)
		if svc.shed && k > c {
			heap.Push(&pending, call{start: now, end: now + time.Millisecond, p: p, shed: true})
			continue
		}
		lat := svc.base(now) * time.Duration(max(k, c)) / time.Duration(c)
		lat = time.Duration(float64(lat) * (0.9 + 0.2*rng.Float64()))
		heap.Push(&pending, call{start: now, end: now + lat, p: p})
	}
	for ; sec < secs; sec++ {
		r.limits[sec] = l.Limit()
		r.baselines[sec] = l.Snapshot().Baseline.Round(time.Millisecond)
	}
	for _, c := range pending {
		c.p.ReleaseAt(at(d), resilience.Outcome{Canceled: true})
	}
	return r
}

// errShed is a shed call's error.
var errShed = resilience.Transient(errors.New("503 Service Unavailable"))

type call struct {
	start, end time.Duration
	p          adaptive.Permit
	shed       bool
}

// calls is a min-heap of calls by end.
type calls []call

func (h calls) Len() int           { return len(h) }
func (h calls) Less(i, j int) bool { return h[i].end < h[j].end }
func (h calls) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *calls) Push(x any)        { *h = append(*h, x.(call)) }
func (h *calls) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// span sums r's completions over seconds [from, to) and returns the
// lowest, highest and mean limit there, and the 99th percentile of the
// latencies of the calls completed.
func (r run) span(from, to int) (completed, lo, hi int, mean float64, p99 time.Duration) {
	lo = 1 << 30
	var lats []time.Duration
	for s := from; s < to; s++ {
		completed += r.completed[s]
		lo, hi = min(lo, r.limits[s]), max(hi, r.limits[s])
		mean += float64(r.limits[s])
		lats = append(lats, r.latencies[s]...)
	}
	slices.Sort(lats)
	if len(lats) > 0 {
		p99 = lats[len(lats)*99/100]
	}
	return completed, lo, hi, mean / float64(to-from), p99
}

func TestGradientDoesNotDriftInAnHourOfOverload(t *testing.T) {
	if testing.Short() {
		t.Skip("an hour of explicit time")
	}
	// Capacity 20 calls at 100ms: 200 calls a second. 400 a second are
	// offered, for an hour.
	const capacity, rate = 20, 400
	svc := service{base: constant(100 * time.Millisecond), capacity: constant(capacity)}
	l := mustNew(t, adaptive.Config{Algorithm: adaptive.Gradient, Initial: 10})
	r := drive(t, l, svc, rate, time.Hour, 1)

	// The limit settles near Tolerance × capacity + √L, about 29, with the
	// noise of the latencies around it, and stays there: no ten minutes of
	// the hour see it outside [capacity, 2 × capacity], nor its mean
	// higher than in the first ten.
	const lo, hi = capacity, 2 * capacity
	var first float64
	for m := 0; m < 60; m += 10 {
		from := max(m*60, 30) // after a half-minute's start
		done, low, high, mean, p99 := r.span(from, (m+10)*60)
		goodput := float64(done) / float64((m+10)*60-from) / (capacity * 10)
		t.Logf("minutes %2d-%2d: limit in [%d, %d], mean %.1f; goodput %.1f%% of capacity; p99 %v", m, m+10, low, high, mean, 100*goodput, p99)
		if low < lo || high > hi {
			t.Errorf("minutes %d-%d: limit in [%d, %d], want it within [%d, %d]", m, m+10, low, high, lo, hi)
		}
		if m == 0 {
			first = mean
		} else if mean > first+1 {
			t.Errorf("minutes %d-%d: mean limit %.1f, above the first ten minutes' %.1f: drift", m, m+10, mean, first)
		}
		if goodput < 0.95 {
			t.Errorf("minutes %d-%d: goodput %.1f%% of capacity, want at least 95%%", m, m+10, 100*goodput)
		}
		// Unloaded, the p99 is 110ms.
		if p99 > 3*110*time.Millisecond {
			t.Errorf("minutes %d-%d: p99 latency %v, want at most 3 × the unloaded 110ms", m, m+10, p99)
		}
	}
	if s := l.Snapshot(); s.Baseline < 90*time.Millisecond || s.Baseline > 110*time.Millisecond {
		t.Errorf("after an hour the baseline is %v, want 100ms ±10%%", s.Baseline)
	}
}

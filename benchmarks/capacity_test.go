package benchmarks

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/failsafe-go/failsafe-go/failsafehttp"

	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/resiliencehttp"
)

// TestCapacity is issue 18's proof on real sockets: a loopback HTTP backend
// whose capacity changes — 16 slots that each hold a request 40ms, then 4,
// then 16 again — under an open-loop load above its capacity, served
// through an adaptive concurrency limit. One run puts two limiters in front
// of the same backend, one after the other: ours (resiliencehttp.Shed with
// an adaptive.Limiter, Gradient, its defaults) and failsafe-go's
// adaptivelimiter (its defaults, through failsafehttp.NewHandler), and logs
// a table of both, per phase and per second.
//
// The backend: a handler with N slots (N changes by phase) that holds each
// slot 40ms; a request beyond the slots waits for one, first come first
// served, so that without a limit in front its latency grows with the
// queue. Its capacity is N/40ms: 400 requests a second with 16 slots, 100
// with 4.
//
// The load: open loop, arrivals of a Poisson process at a fixed rate
// (seeded, so each run offers the same arrivals), each request on its own
// goroutine, from an http.Client on 127.0.0.1 whose transport keeps enough
// connections; every request ends within 10s (its timeout) and the count
// is bounded by the rates and the phases' lengths. A request's latency runs
// from its scheduled arrival, so a late sender does not hide queueing.
//
// First the backend alone, at a quarter of its capacity, gives the unloaded
// p99 latency. Then, for each limiter: a phase at half the capacity of 16
// slots (which also warms the limiter up), then 16, 4 and 16 slots under a
// load of 1.5 times the capacity of 16 slots (6 times that of 4).
//
// The goals, asserted for ours and only reported for failsafe-go, per
// phase: goodput (successful answers a second) at least 85% of the
// capacity; the p99 latency of the successful calls that end after the
// phase's first second at most 3 times the unloaded p99; at half capacity
// at most 1% shed. A goroutine that sleeps a millisecond at a time watches
// for stalls of the whole process (the table's "stall" column): a phase in
// which it stalled 20ms or more, which alone can push its p99 or its
// shedding past the goals, is not failed on those two goals but logged as
// not judged; its goodput is judged all the same.
//
// The full run (4s a phase, about 35s in all) runs only without -short and
// without the race detector, which slows a request down so much that the
// latencies on this 2-core machine measure the detector rather than the
// limiter. Otherwise a short run of ours alone (about 7s: 1.5s a phase, 8
// slots in place of 16, 300 requests a second) checks what holds at any
// speed: the limit comes down in the dip and goes back up after it, at
// least half of what the backend could serve is served, and at half
// capacity at most 1% is shed; it logs its latencies without judging
// them.
//
//	go test -count=1 -run Capacity -v .
func TestCapacity(t *testing.T) {
	full := !testing.Short() && !raceEnabled
	run := capacityRun{hold: 40 * time.Millisecond, phase: 4 * time.Second, bucket: time.Second, unloadedFor: 2 * time.Second}
	high, low, load := 16, 4, 600.0
	if !full {
		run.phase, run.bucket, run.unloadedFor = 1500*time.Millisecond, 500*time.Millisecond, time.Second
		high, load = 8, 300
	}
	half := float64(high) / run.hold.Seconds() / 2
	run.phases = []capacityPhase{
		{name: "half load", slots: high, rate: half},
		{name: strconv.Itoa(high) + " slots", slots: high, rate: load},
		{name: strconv.Itoa(low) + " slots", slots: low, rate: load},
		{name: strconv.Itoa(high) + " again", slots: high, rate: load},
	}

	unloaded := run.unloaded(t, high)
	t.Logf("unloaded p99 (%d slots, a quarter of their capacity, no limiter): %v", high, unloaded)

	ours := func() capacitySystem {
		lim := adaptive.MustNew(adaptive.Config{Name: "capacity", Algorithm: adaptive.Gradient})
		shed := resiliencehttp.MustShed(resiliencehttp.ShedConfig{Adaptive: lim})
		return capacitySystem{name: "ours", wrap: shed, limit: lim.Limit, shedCode: http.StatusServiceUnavailable}
	}
	peer := func() capacitySystem {
		lim := adaptivelimiter.NewWithDefaults[*http.Response]()
		return capacitySystem{
			name:     "failsafe-go",
			wrap:     func(h http.Handler) http.Handler { return failsafehttp.NewHandler(h, lim) },
			limit:    lim.Limit,
			shedCode: http.StatusTooManyRequests,
		}
	}
	systems := []func() capacitySystem{ours}
	if full {
		systems = append(systems, peer)
	}
	var results []capacityResult
	for _, sys := range systems {
		results = append(results, run.drive(t, sys()))
	}
	for _, r := range results {
		t.Logf("%s, every %v:\n%s", r.name, run.bucket, r.perSecond())
	}
	t.Logf("per phase (capacity = slots/%v; p99 of the successful calls ending after the phase's first second; unloaded p99 %v):\n%s",
		run.hold, unloaded, capacityTable(results))

	r := results[0] // ours
	// miss fails the test, unless the process stalled long enough in the
	// phase to explain the miss: then it only says so.
	miss := func(p capacityStats, format string, args ...any) {
		t.Helper()
		if p.stall >= capacityStallExcuses {
			t.Logf("not judged, the process stalled %v in the phase: "+format, append([]any{p.stall}, args...)...)
			return
		}
		t.Errorf(format, args...)
	}
	if full {
		for i, p := range r.phases {
			ph := run.phases[i]
			// At half load, the goodput is what is offered.
			if want := min(ph.capacity(run.hold), ph.rate); p.goodput < 0.85*want {
				t.Errorf("%s, %s: goodput %.0f/s, below 85%% of the %.0f/s the backend could serve", r.name, ph.name, p.goodput, want)
			}
			if p.p99 > 3*unloaded {
				miss(p, "%s, %s: p99 %v after the first second, above 3 × the unloaded %v", r.name, ph.name, p.p99, unloaded)
			}
		}
	} else {
		// The limit at the end of the first phase under overload, at the
		// end of the dip, and at the end of the recovery.
		before, dip, after := r.phases[1].lastLimit, r.phases[2].lastLimit, r.phases[3].lastLimit
		if dip >= before || after <= dip {
			t.Errorf("%s: limits %d before the dip, %d at its end, %d after it: want it to come down and go back up", r.name, before, dip, after)
		}
		for i, p := range r.phases[1:] {
			ph := run.phases[i+1]
			if p.goodput < 0.5*ph.capacity(run.hold) && p.goodput < 0.5*ph.rate {
				t.Errorf("%s, %s: goodput %.0f/s, below half of what the backend could serve", r.name, ph.name, p.goodput)
			}
		}
	}
	if p := r.phases[0]; p.shedShare > 0.01 {
		miss(p, "%s, half load: %.2f%% of the requests shed, want at most 1%%", r.name, 100*p.shedShare)
	}
}

// capacityRun is the scenario: the phases, the time a request holds its
// slot, and how long each phase lasts.
type capacityRun struct {
	hold        time.Duration
	phase       time.Duration
	bucket      time.Duration // the span of a line of the table by time, a divisor of phase
	unloadedFor time.Duration // how long the unloaded latency is measured
	phases      []capacityPhase
}

// capacityPhase is one phase: the backend's slots and the arrival rate.
type capacityPhase struct {
	name  string
	slots int
	rate  float64
}

// capacity returns the requests a second the backend serves in p.
func (p capacityPhase) capacity(hold time.Duration) float64 {
	return float64(p.slots) / hold.Seconds()
}

// capacitySystem is a limiter in front of the backend.
type capacitySystem struct {
	name     string
	wrap     func(http.Handler) http.Handler
	limit    func() int
	shedCode int // the status of a request the limiter sheds
}

// capacitySlots is the backend's semaphore of a size that changes: a
// request that finds every slot taken waits for one, first come first
// served.
type capacitySlots struct {
	mu      sync.Mutex
	size    int
	used    int
	waiters []chan struct{}
}

// acquire takes a slot, waiting for one, or returns ctx's error.
func (s *capacitySlots) acquire(ctx context.Context) error {
	s.mu.Lock()
	if s.used < s.size && len(s.waiters) == 0 {
		s.used++
		s.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	s.waiters = append(s.waiters, ready)
	s.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		if i := slices.Index(s.waiters, ready); i >= 0 {
			s.waiters = slices.Delete(s.waiters, i, i+1)
			return ctx.Err()
		}
		s.used-- // granted meanwhile: give it back
		s.grant()
		return ctx.Err()
	}
}

// release gives a slot back.
func (s *capacitySlots) release() {
	s.mu.Lock()
	s.used--
	s.grant()
	s.mu.Unlock()
}

// resize sets the number of slots; the requests holding slots above it
// keep them until they end.
func (s *capacitySlots) resize(n int) {
	s.mu.Lock()
	s.size = n
	s.grant()
	s.mu.Unlock()
}

// grant hands free slots to the waiters, first come first served; the
// caller holds mu.
func (s *capacitySlots) grant() {
	for s.used < s.size && len(s.waiters) > 0 {
		s.used++
		close(s.waiters[0])
		s.waiters = s.waiters[1:]
	}
}

// backend returns the handler that holds a slot for hold.
func (s *capacitySlots) backend(hold time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.acquire(r.Context()); err != nil {
			http.Error(w, "gave up waiting for a slot", http.StatusServiceUnavailable)
			return
		}
		time.Sleep(hold)
		s.release()
		io.WriteString(w, "ok")
	})
}

// capacityCall is what one request got.
type capacityCall struct {
	at, end time.Duration // scheduled arrival and end, from the run's start
	code    int           // 0: the request failed (timeout, connection error)
}

// capacityResult is what a system did, per phase and per second.
type capacityResult struct {
	name    string
	phases  []capacityStats
	seconds []capacityStats
}

// capacityStats are the figures of one span of time.
type capacityStats struct {
	name       string
	capacity   float64       // requests a second the backend serves
	goodput    float64       // successful answers a second, by their end
	p99        time.Duration // of the successful calls ending in the span (after its first second, for a phase)
	shedShare  float64       // share of the requests arriving in the span that the limiter shed
	failed     int           // requests that ended without an answer, or with another status
	lastLimit  int           // the limit at the end of the span
	minL, maxL int           // the lowest and highest limit sampled in the span
	stall      time.Duration // the longest the process did not run in the span
}

// unloaded returns the p99 latency of the backend alone, with slots, at a
// quarter of their capacity.
func (run capacityRun) unloaded(t *testing.T, slots int) time.Duration {
	sys := capacitySystem{name: "bare", wrap: func(h http.Handler) http.Handler { return h }, limit: func() int { return 0 }}
	ph := capacityPhase{slots: slots}
	ph.rate = ph.capacity(run.hold) / 4
	calls := run.load1(t, sys, []capacityPhase{ph}, run.unloadedFor).calls
	var lat []time.Duration
	for _, c := range calls {
		if c.code == http.StatusOK {
			lat = append(lat, c.end-c.at)
		}
	}
	if len(lat) < len(calls)*9/10 || len(lat) < 20 {
		t.Fatalf("only %d of %d unloaded requests succeeded", len(lat), len(calls))
	}
	return percentile(lat, 0.99)
}

// drive runs the phases through sys and sums them up.
func (run capacityRun) drive(t *testing.T, sys capacitySystem) capacityResult {
	rec := run.load1(t, sys, run.phases, run.phase)
	r := capacityResult{name: sys.name}
	for i, ph := range run.phases {
		from := time.Duration(i) * run.phase
		st := run.stats(rec, sys, from, from+run.phase, from+time.Second)
		st.name, st.capacity = ph.name, ph.capacity(run.hold)
		r.phases = append(r.phases, st)
	}
	total := time.Duration(len(run.phases)) * run.phase
	for from := time.Duration(0); from < total; from += run.bucket {
		ph := run.phases[int(from/run.phase)]
		st := run.stats(rec, sys, from, from+run.bucket, from)
		st.name, st.capacity = fmt.Sprintf("%4.1fs %s", (from+run.bucket).Seconds(), ph.name), ph.capacity(run.hold)
		r.seconds = append(r.seconds, st)
	}
	return r
}

// capacityLimit is a sample of a limiter's limit.
type capacityLimit struct {
	at    time.Duration
	limit int
}

// stats sums up the calls of [from, to): goodput and failures by their
// end, the shed share by their arrival, and the p99 of the successful
// calls ending in [settled, to), with the longest stall in that time.
func (run capacityRun) stats(rec capacityRecord, sys capacitySystem, from, to, settled time.Duration) capacityStats {
	calls, limits := rec.calls, rec.limits
	var st capacityStats
	var ok int
	var lat []time.Duration
	var arrived, shed int
	for _, c := range calls {
		if c.at >= from && c.at < to {
			arrived++
			if c.code == sys.shedCode {
				shed++
			}
		}
		if c.end < from || c.end >= to {
			continue
		}
		switch c.code {
		case http.StatusOK:
			ok++
			if c.end >= settled {
				lat = append(lat, c.end-c.at)
			}
		case sys.shedCode:
		default:
			st.failed++
		}
	}
	st.goodput = float64(ok) / (to - from).Seconds()
	st.p99 = percentile(lat, 0.99)
	if arrived > 0 {
		st.shedShare = float64(shed) / float64(arrived)
	}
	st.minL = math.MaxInt
	for _, l := range limits {
		if l.at >= from && l.at < to {
			st.minL, st.maxL, st.lastLimit = min(st.minL, l.limit), max(st.maxL, l.limit), l.limit
		}
	}
	if st.minL == math.MaxInt {
		st.minL = 0
	}
	for _, s := range rec.stalls {
		if s.at >= from && s.at < to {
			st.stall = max(st.stall, s.late)
		}
	}
	return st
}

// capacityRecord is what one load recorded.
type capacityRecord struct {
	calls  []capacityCall
	limits []capacityLimit // sampled every 50ms
	stalls []capacityStall
}

// capacityStall is a time when the process did not run for a while.
type capacityStall struct {
	at, late time.Duration
}

// capacityStallMin is the shortest stall recorded.
const capacityStallMin = 5 * time.Millisecond

// capacityStallExcuses is the shortest stall that excuses a phase from the
// goals on latency and shedding. A stall delays every call in flight by its
// length, and its arrivals come at once when it ends: on a machine shared
// with other work (2 cores here), stalls of tens or hundreds of
// milliseconds come now and then, and say nothing of the limiter.
const capacityStallExcuses = 20 * time.Millisecond

// load1 serves the backend through sys on a loopback server and offers it
// the phases' load, each phase lasting d, and returns what it recorded.
func (run capacityRun) load1(t *testing.T, sys capacitySystem, phases []capacityPhase, d time.Duration) capacityRecord {
	t.Helper()
	slots := &capacitySlots{size: phases[0].slots}
	srv := httptest.NewServer(sys.wrap(slots.backend(run.hold)))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	// The arrivals, drawn in advance so that sending them costs little.
	rng := rand.New(rand.NewPCG(18, uint64(len(phases))))
	var at []time.Duration
	for i, ph := range phases {
		start, end := time.Duration(i)*d, time.Duration(i+1)*d
		for next := start + time.Duration(rng.ExpFloat64()/ph.rate*float64(time.Second)); next < end; next += time.Duration(rng.ExpFloat64() / ph.rate * float64(time.Second)) {
			at = append(at, next)
		}
	}
	calls := make([]capacityCall, len(at))

	var limits []capacityLimit
	var stalls []capacityStall
	start := time.Now()
	stop := make(chan struct{})
	var sampling sync.WaitGroup
	sampling.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				limits = append(limits, capacityLimit{at: time.Since(start), limit: sys.limit()})
			}
		}
	})
	sampling.Go(func() {
		// A goroutine that asks to wake every millisecond: when it wakes
		// much later, the process did not run for that long.
		for {
			select {
			case <-stop:
				return
			default:
			}
			t0 := time.Now()
			time.Sleep(time.Millisecond)
			if late := time.Since(t0) - time.Millisecond; late >= capacityStallMin {
				stalls = append(stalls, capacityStall{at: time.Since(start), late: late})
			}
		}
	})

	var wg sync.WaitGroup
	phase := 0
	for i, a := range at {
		if p := int(a / d); p != phase {
			// A new phase: its slots from its start.
			if w := time.Until(start.Add(time.Duration(p) * d)); w > 0 {
				time.Sleep(w)
			}
			phase = p
			slots.resize(phases[p].slots)
		}
		if w := time.Until(start.Add(a)); w > 0 {
			time.Sleep(w)
		}
		wg.Go(func() {
			c := &calls[i]
			c.at = a
			resp, err := client.Get(srv.URL)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				c.code = resp.StatusCode
			}
			c.end = time.Since(start)
		})
	}
	if w := time.Until(start.Add(time.Duration(len(phases)) * d)); w > 0 {
		time.Sleep(w)
	}
	close(stop)
	sampling.Wait()
	wg.Wait()
	return capacityRecord{calls, limits, stalls}
}

// percentile returns the q-quantile of d (nearest rank), or 0 for none.
func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[max(int(math.Ceil(q*float64(len(s))))-1, 0)]
}

// perSecond formats r's seconds as a table.
func (r capacityResult) perSecond() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s %9s %9s %8s %9s %6s %7s %11s\n", "until", "capacity", "goodput", "shed", "p99", "failed", "stall", "limit (end)")
	for _, s := range r.seconds {
		fmt.Fprintf(&b, "%-16s %8.0f/s %8.0f/s %7.1f%% %9v %6d %7v %5d [%d-%d]\n",
			s.name, s.capacity, s.goodput, 100*s.shedShare, s.p99.Round(100*time.Microsecond), s.failed, s.stall.Round(time.Millisecond), s.lastLimit, s.minL, s.maxL)
	}
	return b.String()
}

// capacityTable formats the phases of every result as one table.
func capacityTable(rs []capacityResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %-10s %9s %9s %8s %8s %9s %6s %7s %14s\n", "limiter", "phase", "capacity", "goodput", "of cap.", "shed", "p99", "failed", "stall", "limit [range]")
	for _, r := range rs {
		for _, p := range r.phases {
			fmt.Fprintf(&b, "%-12s %-10s %8.0f/s %8.0f/s %7.1f%% %7.1f%% %9v %6d %7v %4d [%d-%d]\n",
				r.name, p.name, p.capacity, p.goodput, 100*p.goodput/p.capacity, 100*p.shedShare, p.p99.Round(100*time.Microsecond), p.failed, p.stall.Round(time.Millisecond), p.lastLimit, p.minL, p.maxL)
		}
	}
	return b.String()
}

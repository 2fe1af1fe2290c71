package sim

import (
	"bytes"
	"encoding/json"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"
)

// fuzzLimits are the limits of the fuzz test: small enough that whatever
// the loader accepts runs in milliseconds, with the durations left at
// their limit so that virtual time still reaches a year.
var fuzzLimits = limits{
	input:     64 << 10,
	scenarios: 4,
	duration:  defaultLimits.duration,
	buckets:   2_000,
	clients:   20,
	rate:      defaultLimits.rate,
	capacity:  1_000,
	requests:  2_000,
	bursts:    16,
	burstReqs: 500,
	windows:   8,
	policies:  4,
	attempts:  20,
	probes:    8,
	calls:     20_000,
	samples:   50_000,
	syncs:     20_000,
	inFlight:  1_000,
	events:    4_000,
	memory:    64 << 20,
}

// runStats is what a run held and did, seen by runHook before the run lets
// go of it.
type runStats struct {
	policy           *Policy
	events           int
	requests         int
	eventCap, reqCap int
	series           int
}

// watchRuns records the stats of every run until the test ends.
func watchRuns(t testing.TB) func() []runStats {
	var mu sync.Mutex
	var stats []runStats
	runHook = func(r *run) {
		mu.Lock()
		defer mu.Unlock()
		stats = append(stats, runStats{policy: r.p, events: r.events, requests: r.res.Requests,
			eventCap: cap(r.q.h), reqCap: len(r.reqs.chunks) * chunkSize, series: len(r.series)})
	}
	t.Cleanup(func() { runHook = nil })
	return func() []runStats {
		mu.Lock()
		defer mu.Unlock()
		all := stats
		stats = nil
		return all
	}
}

// checkRun runs s, which Parse accepted, and checks that the run kept
// within its bounds: its events (the work) at most what the requests,
// attempts and hedges allow; what it held at once within lim.inFlight and
// lim.events; its series within its buckets; the memory it allocated within
// the bound of its runs and results; and that every request is counted once.
func checkRun(t *testing.T, s *Scenario, stats func() []runStats) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := runSafely(s)
	runtime.ReadMemStats(&after)
	all := stats()
	if err != nil {
		if !stoppedAtLimits(err) {
			t.Fatalf("%s: %v; want no error, or a run stopped at lim.inFlight or lim.events", s.Name, err)
		}
		return
	}
	totalEvents := 0
	for _, st := range all {
		a, h := st.policy.attempts(), st.policy.hedges()
		work := st.requests*(1+a*(3+2*h)) + len(s.Load.Bursts)
		if f := st.policy.Fleet; f != nil {
			// A sync per replica and Interval, and a message per opening
			// and closing, each from a failed probe or call.
			work += s.Load.clients()*int(s.horizon()/f.interval()+1) + 2*st.requests*a
		}
		if st.events > work {
			t.Errorf("%s/%s: %d events for %d requests; want at most %d", s.Name, st.policy.Name, st.events, st.requests, work)
		}
		if st.reqCap > lim.inFlight*5/4+256 || st.eventCap > lim.events*5/4+256 {
			t.Errorf("%s/%s: held %d request slots and %d events; limits %d and %d", s.Name, st.policy.Name, st.reqCap, st.eventCap, lim.inFlight, lim.events)
		}
		if int64(st.series) > s.buckets() {
			t.Errorf("%s/%s: %d buckets; the scenario has %d", s.Name, st.policy.Name, st.series, s.buckets())
		}
		totalEvents += st.events
	}
	// Allocations: what the runs and results hold, and a little per event
	// (errors of requests that fail, the breakers' state changes).
	bound := uint64(int64(len(s.Policies))*s.runBytes()+s.resultBytes()) + 512*uint64(totalEvents) + 1<<20
	if got := after.TotalAlloc - before.TotalAlloc; got > bound {
		t.Errorf("%s: allocated %d bytes; want at most %d", s.Name, got, bound)
	}
	for i := range res.Policies {
		p := &res.Policies[i]
		countedOnce(t, s.Name, p)
		if p.P50 < 0 || p.P99 < p.P50 || p.P999 < p.P99 || p.Recovery < 0 && p.Recovered {
			t.Errorf("%s/%s: percentiles %v %v %v, recovery %v", s.Name, p.Name, p.P50, p.P99, p.P999, p.Recovery)
		}
	}
}

// stoppedAtLimits reports whether err is the error of runs stopped at
// lim.inFlight or lim.events, one or more of them: the only errors of Run
// on a scenario that Parse accepted.
func stoppedAtLimits(err error) bool {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		if _, ok := e.(*limitError); !ok {
			return false
		}
	}
	return len(errs) > 0
}

// shrink cuts a built-in scenario down to the fuzz limits, keeping its
// shape: two seconds of load, its trouble windows scaled to them.
func shrink(s *Scenario) *Scenario {
	scale := float64(2*time.Second) / float64(s.Duration)
	s.Duration = Duration(2 * time.Second)
	s.Resolution = Duration(100 * time.Millisecond)
	s.Load.Rate = min(s.Load.Rate, 300)
	s.Load.Clients = min(s.Load.Clients, fuzzLimits.clients)
	s.Load.Deadline = Duration(time.Second)
	for i := range s.Load.Bursts {
		s.Load.Bursts[i] = Burst{At: Duration(time.Second), Requests: 100}
	}
	for i := range s.Upstream.Windows {
		w := &s.Upstream.Windows[i]
		w.From, w.To = Duration(float64(w.From)*scale), Duration(float64(w.To)*scale)
	}
	s.Upstream.Capacity = min(s.Upstream.Capacity, fuzzLimits.capacity)
	s.Policies = s.Policies[:min(len(s.Policies), fuzzLimits.policies)]
	for i := range s.Policies {
		if r := s.Policies[i].Retry; r != nil && r.MaxAttempts > 5 {
			r.MaxAttempts = 5
		}
	}
	return s
}

// hostile are the scenario files of the issue that panicked, exhausted
// memory, gave wrong results or ran for an hour, and their neighbours.
var hostile = []string{
	`{"Name": "x", "Duration": "2562047h", "Resolution": "2562047h", "Load": {"Rate": 1e-9}, "Policies": [{"Name": "p"}]}`,
	`{"Name": "x", "Duration": "8760h", "Resolution": "8760h", "Load": {"Rate": 1e-12, "Deadline": "8760h"}, "Policies": [{"Name": "p", "Breaker": {}}]}`,
	`{"Name": "x", "Duration": "1m", "Load": {"Rate": 10, "Deadline": "2000000h"}, "Policies": [{"Name": "p"}]}`,
	`{"Name": "x", "Duration": "1m", "Load": {"Rate": 10}, "Policies": [{"Name": "p", "Retry": {"Backoff": {"Constant": "2000000h"}}}]}`,
	`{"Name": "x", "Duration": "10s", "Load": {"Rate": 20}, "Upstream": {"Windows": [{"From": "0s", "To": "10s", "LatencyFactor": 1e9}]}, "Policies": [{"Name": "p", "Breaker": {}}]}`,
	`{"Name": "x", "Duration": "10s", "Load": {"Rate": 20}, "Upstream": {"Windows": [{"From": "0s", "To": "10s", "LatencyFactor": 1e12}]}, "Policies": [{"Name": "p", "Retry": {}}]}`,
	`{"Name": "x", "Duration": "10s", "Load": {"Rate": 20}, "Upstream": {"Latency": {"Median": "1000000h"}}, "Policies": [{"Name": "p"}]}`,
	`{"Name": "x", "Duration": "10s", "Load": {"Rate": 20}, "Upstream": {"Latency": {"Median": "8760h", "TailProbability": 0.5, "Tail": "8760h"}}, "Policies": [{"Name": "p", "Hedge": {}}]}`,
	`{"Name": "x", "Duration": "10s", "Load": {"Bursts": [{"At": "1s", "Requests": 10000000}, {"At": "2s", "Requests": 10000000}]}, "Policies": [{"Name": "p"}]}`,
	`{"Name": "x", "Duration": "10s", "Load": {"Bursts": [{"At": "1s", "Requests": 1}]}, "Policies": [{"Name": "p", "Retry": {"MaxAttempts": 2000000000, "Backoff": {"Constant": "1ns"}}}]}`,
	`{"Name": "x", "Duration": "10s", "Load": {"Bursts": [{"At": "1s", "Requests": 1}]}, "Upstream": {"Windows": [{"From": "0s", "To": "10s", "Down": true}]}, "Policies": [{"Name": "p", "Retry": {"MaxAttempts": 20, "Backoff": {"Constant": "1ns"}}}]}`,
	`{"Name": "x", "Duration": "27h", "Load": {"Clients": 10000, "Bursts": [{"At": "1s", "Requests": 11}]}, "Policies": [{"Name": "p", "Breaker": {}}]}`,
	`{"Name": "x", "Duration": "100s", "Resolution": "1s", "Load": {"Clients": 20, "Rate": 5}, "Upstream": {"Capacity": 2, "MaxQueueDelay": "8760h", "RetryAfter": "8760h"}, "Policies": [{"Name": "p", "Retry": {"MaxRetryAfter": "8760h"}, "Breaker": {"RecoveryTimeout": "8760h"}}]}`,
	`{"Name": "x", "Duration": "2s", "Load": {"Rate": 100}, "Policies": [{"Name": "p", "Timeout": "1ns", "Retry": {"MaxAttempts": 20, "Backoff": {"Base": "1ns", "Max": "8760h", "Multiplier": 1000}}, "Hedge": {"Delay": "1ns", "MaxHedges": 16}}]}`,
	// More requests in flight at once than the fuzz limits allow: the run
	// stops with the error that says so.
	`{"Name":"x","Duration":"10s","Load":{"Rate":190,"Deadline":"9s"},"Upstream":{"Latency":{"Median":"8s","P99":"8s"}},"Policies":[{"Name":"p"}]}`,
}

// FuzzScenario feeds arbitrary JSON to the loader and runs what it accepts,
// under limits small enough for each input to run in milliseconds: no
// panic, the work and what a run holds within the bounds of the limits
// (checkRun), every request counted once. The seeds are the built-in
// scenarios as "sim -dump" writes them (which the small limits refuse), the
// same cut down to fit, and the files of the issue.
func FuzzScenario(f *testing.F) {
	for _, s := range Builtins() {
		data, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		if data, err = json.Marshal(shrink(s)); err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, h := range hostile {
		f.Add([]byte(h))
	}
	setLimits(f, fuzzLimits)
	stats := watchRuns(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, s := range list {
			checkRun(t, s, stats)
		}
	})
}

// TestShrunkBuiltinsRun checks that the fuzz test's cut-down built-in
// scenarios pass the fuzz limits, so that its seeds run the simulator.
func TestShrunkBuiltinsRun(t *testing.T) {
	setLimits(t, fuzzLimits)
	for _, s := range Builtins() {
		if err := shrink(s).Check(); err != nil {
			t.Error(err)
		}
	}
}

// fuzzValues are the numbers FuzzScenarioValues puts in a scenario, in the
// order of its arguments.
type fuzzValues struct {
	seed                                              uint64
	duration, resolution, deadline, median, p99, tail int64
	tailProb, rate, errRate                           float64
	clients, capacity                                 int
	from, to                                          int64
	down                                              bool
	factor, winErr                                    float64
	burstAt                                           int64
	burst, attempts                                   int
	base                                              int64
	multiplier                                        float64
	jitter                                            uint8
	retryAfter                                        int64
	parts                                             uint8
	probes, hedges                                    int
	recovery                                          int64
	failureRate                                       float64
	timeout, hedgeDelay                               int64
	extra                                             []byte
}

func (v fuzzValues) args() []any {
	return []any{v.seed, v.duration, v.resolution, v.deadline, v.median, v.p99, v.tail, v.tailProb, v.rate, v.errRate,
		v.clients, v.capacity, v.from, v.to, v.down, v.factor, v.winErr, v.burstAt, v.burst, v.attempts, v.base,
		v.multiplier, v.jitter, v.retryAfter, v.parts, v.probes, v.hedges, v.recovery, v.failureRate, v.timeout, v.hedgeDelay, v.extra}
}

// FuzzScenarioValues is FuzzScenario with the fuzzer's numbers put in the
// fields of a scenario, rather than in its JSON, which mutations mostly
// break: the scenario goes to the loader as JSON and runs as FuzzScenario's
// do. parts chooses the policy's sections, one bit each: retry, budget,
// breaker, throttle, hedge, hedges spending the budget, a window rather
// than consecutive failures for the breaker, and an attempt timeout; extra
// feeds the other fields of the sections chosen (fillRest).
func FuzzScenarioValues(f *testing.F) {
	ms, sec, year := int64(time.Millisecond), int64(time.Second), int64(defaultLimits.duration)
	for _, v := range []fuzzValues{
		{seed: 1, duration: 2 * sec, resolution: 100 * ms, deadline: sec, median: 20 * ms, p99: 80 * ms, tail: sec, tailProb: 0.02,
			rate: 300, errRate: 0.1, clients: 5, capacity: 10, from: 500 * ms, to: 1500 * ms, down: true, factor: 1, burstAt: sec, burst: 50,
			attempts: 3, base: 100 * ms, multiplier: 2, parts: 0b11111111, probes: 5, recovery: sec, failureRate: 0.5, timeout: 50 * ms, hedgeDelay: 200 * ms},
		{seed: 7, duration: year, resolution: 24 * int64(time.Hour), deadline: year, median: year, rate: 1e-12, clients: 1, to: year, parts: 0b100},
		{seed: 3, duration: 10 * sec, deadline: ms, median: 20 * ms, rate: 20, errRate: 0.5, clients: 20, capacity: 1, to: 10 * sec,
			factor: 1e300, winErr: 0.2, burstAt: sec, burst: 20, attempts: 5, base: 1, multiplier: 1000, jitter: 3, retryAfter: 100 * ms,
			parts: 0b10011101, probes: 1, hedges: 16, recovery: year, failureRate: 0.01, timeout: 1, hedgeDelay: 1},
		{seed: 5, duration: 5 * sec, resolution: 100 * ms, median: 30 * ms, rate: 200, errRate: 0.3, clients: 3, capacity: 20,
			from: sec, to: 3 * sec, factor: 3, attempts: 4, base: 10 * ms, multiplier: 2, parts: 0b01011111, probes: 2,
			recovery: 500 * ms, failureRate: 0.5,
			// A second window, a backoff's cap, a budget, a breaker, a throttle and a hedger with their
			// fields set: durations as a unit and a count, numbers as 8 bytes.
			extra: []byte{3, 1, 3, 250, 0, 0, 0, 0, 0, 0, 0, 1, 4, 2, 4, 4, 0, 0, 0, 0, 0, 0, 0x33, 0x33, 0, 0, 0, 0, 0, 0, 0x7f, 0xff,
				4, 2, 4, 60, 3, 200, 0, 0, 0, 0, 0, 0, 0, 0,
				0, 0, 0, 0, 0, 0, 0x0c, 0xcc, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 4, 10,
				0, 0, 0, 0, 0, 0, 0, 5, 4, 30, 3, 100, 3, 200, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 10,
				0, 0, 0, 0, 0, 0, 0xff, 0xff, 4, 30, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0x66, 0x66,
				0, 0, 0, 0, 0, 0, 0x73, 0x33, 3, 5, 0, 0, 0, 0, 0, 0, 0, 20, 4, 10}},
	} {
		add := f.Add // with the values of v, which vet cannot count
		add(v.args()...)
	}
	setLimits(f, fuzzLimits)
	stats := watchRuns(f)
	f.Fuzz(func(t *testing.T, seed uint64, duration, resolution, deadline, median, p99, tail int64, tailProb,
		rate, errRate float64, clients, capacity int, from, to int64, down bool, factor, winErr float64, burstAt int64, burst int,
		attempts int, base int64, multiplier float64, jitter uint8, retryAfter int64, parts uint8, probes, hedges int,
		recovery int64, failureRate float64, timeout, hedgeDelay int64, extra []byte) {
		d := func(v int64) Duration { return Duration(v) }
		s := &Scenario{
			Name: "fuzz", Seed: seed, Duration: d(duration), Resolution: d(resolution),
			Upstream: Upstream{
				Latency:    Latency{Median: d(median), P99: d(p99), TailProbability: tailProb, Tail: d(tail)},
				ErrorRate:  errRate,
				Capacity:   capacity,
				RetryAfter: d(retryAfter),
				Windows:    []Window{{From: d(from), To: d(to), Down: down, ErrorRate: winErr, LatencyFactor: factor}},
			},
			Load: Load{Rate: rate, Clients: clients, Deadline: d(deadline), Bursts: []Burst{{At: d(burstAt), Requests: burst}}},
		}
		p := Policy{Name: "fuzzed", Timeout: d(timeout)}
		if parts&1 != 0 {
			p.Retry = &RetryConfig{MaxAttempts: attempts, Backoff: &BackoffConfig{Base: d(base), Multiplier: multiplier,
				Jitter: []string{"full", "equal", "decorrelated", "none"}[jitter%4]}}
		}
		if parts&2 != 0 {
			p.Budget = &BudgetConfig{}
		}
		if parts&4 != 0 {
			p.Breaker = &BreakerConfig{HalfOpenProbes: probes, RecoveryTimeout: d(recovery)}
			if parts&64 != 0 {
				p.Breaker.Window, p.Breaker.FailureRate = d(recovery), failureRate
			}
		}
		if parts&8 != 0 {
			p.Throttle = &ThrottleConfig{}
		}
		if parts&16 != 0 {
			p.Hedge = &HedgeConfig{Delay: d(hedgeDelay), MaxHedges: hedges, UseBudget: parts&32 != 0}
		}
		if parts&128 == 0 {
			p.Timeout = 0
		}
		fillRest(s, &p, &feed{b: extra})
		s.Policies = []Policy{p, {Name: "plain"}}
		data, err := json.Marshal(s)
		if err != nil {
			return // a NaN or an infinity, which JSON cannot hold
		}
		list, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		checkRun(t, list[0], stats)
	})
}

// feed hands out numbers read from the fuzzer's bytes, zero once they run
// out.
type feed struct{ b []byte }

func (f *feed) uint64() uint64 {
	var v uint64
	for i := 0; i < 8 && len(f.b) > 0; i++ {
		v, f.b = v<<8|uint64(f.b[0]), f.b[1:]
	}
	return v
}

func (f *feed) int() int { return int(int64(f.uint64())) }

// float64 is a number in [0, 2] in steps of 1/32767, or any float64 (a
// NaN or an infinity too) when the top bit of its bytes is set.
func (f *feed) float64() float64 {
	v := f.uint64()
	if v>>63 != 0 {
		return math.Float64frombits(v << 1)
	}
	return float64(v&0xffff) / 32767
}

// duration is a duration of any scale: a byte chooses the unit, from the
// nanosecond to a year, or -1ns, and the next byte how many.
func (f *feed) duration() Duration {
	if len(f.b) == 0 {
		return 0
	}
	units := []int64{0, 1, int64(time.Microsecond), int64(time.Millisecond), int64(time.Second), int64(time.Hour), int64(defaultLimits.duration), -1}
	u := units[int(f.b[0])%len(units)]
	f.b = f.b[1:]
	if len(f.b) == 0 {
		return Duration(u)
	}
	n := int64(f.b[0])
	f.b = f.b[1:]
	return Duration(u * n)
}

// fillRest sets the fields of s and p that FuzzScenarioValues's arguments
// leave at zero from f: the upstream's refusals, a second trouble window,
// and the rest of each section of p.
func fillRest(s *Scenario, p *Policy, f *feed) {
	s.Upstream.RejectLatency = f.duration()
	s.Upstream.MaxQueueDelay = f.duration()
	if f.uint64()&1 != 0 {
		s.Upstream.Windows = append(s.Upstream.Windows, Window{From: f.duration(), To: f.duration(), ErrorRate: f.float64(), LatencyFactor: f.float64()})
	}
	if r := p.Retry; r != nil {
		r.MaxElapsed, r.MaxRetryAfter, r.Backoff.Max = f.duration(), f.duration(), f.duration()
		if f.uint64()&1 != 0 {
			r.Backoff = &BackoffConfig{Constant: f.duration()}
		}
	}
	if b := p.Budget; b != nil {
		b.Ratio, b.MinPerSecond, b.Window = f.float64(), f.float64(), f.duration()
	}
	if b := p.Breaker; b != nil {
		b.FailureThreshold, b.MaxRecoveryTimeout, b.ProbeTimeout = f.int(), f.duration(), f.duration()
		b.SlowCall, b.SlowCallRate, b.MinCalls = f.duration(), f.float64(), f.int()
	}
	if t := p.Throttle; t != nil {
		t.K, t.Window, t.MinRequests, t.MaxRejectProbability = f.float64(), f.duration(), f.int(), f.float64()
	}
	if h := p.Hedge; h != nil {
		h.Percentile, h.InitialDelay, h.MinSamples, h.Window = f.float64(), f.duration(), f.int(), f.duration()
	}
	if b := p.Breaker; b != nil && f.uint64()&1 != 0 {
		p.Fleet = &FleetConfig{Interval: f.duration(), RoundTrip: f.duration(), Quorum: f.int(), ProbeTTL: f.duration()}
	}
	if len(s.Upstream.Windows) > 0 {
		s.Upstream.Windows[0].Clients = f.int()
	}
	// Read last, so that the bytes of the seeds before them keep their
	// meaning.
	switch f.uint64() % 4 {
	case 1:
		p.Bulkhead = &BulkheadConfig{MaxConcurrent: f.int()}
	case 2:
		p.Adaptive = &AdaptiveConfig{Initial: f.int(), Min: f.int(), Max: f.int(), AIMD: AIMDConfig{Increase: f.float64(), Backoff: f.float64(), Timeout: f.duration()}}
	case 3:
		p.Adaptive = &AdaptiveConfig{Algorithm: "gradient", Initial: f.int(), Min: f.int(), Max: f.int(),
			Gradient: GradientConfig{Window: f.duration(), WindowSamples: f.int(), MinSamples: f.int(), Tolerance: f.float64(),
				Smoothing: f.float64(), BaselinePeriod: f.duration()}}
	}
	if len(s.Upstream.Windows) > 0 {
		s.Upstream.Windows[len(s.Upstream.Windows)-1].CapacityFactor = f.float64()
	}
}

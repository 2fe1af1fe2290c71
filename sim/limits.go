package sim

import (
	"cmp"
	"math"
	"reflect"
	"strconv"
	"time"
	"unsafe"

	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/retry"
)

// limits bounds what a scenario may ask of the simulator, so that a run
// ends in bounded time and fits in bounded memory, whatever the input. The
// package doc lists them with their reasons. Every one is checked before
// anything runs, by Parse and Check, except the two that only a run can
// know, inFlight and events, which Run checks as it goes.
type limits struct {
	input     int64         // bytes of one input to Parse
	scenarios int           // scenarios in one input
	duration  time.Duration // every duration of a scenario
	buckets   int64         // time buckets: (Duration + Load.Deadline) / Resolution
	clients   int           // Load.Clients
	rate      float64       // Load.Rate, per second
	capacity  int           // Upstream.Capacity
	requests  float64       // Load.Rate × Duration + the bursts' requests
	bursts    int           // entries of Load.Bursts
	burstReqs int           // the requests of all the bursts together
	windows   int           // entries of Upstream.Windows
	policies  int           // entries of Policies
	attempts  int           // Retry.MaxAttempts
	probes    int           // Breaker.HalfOpenProbes
	// calls bounds the upstream calls a scenario's policies could make
	// together: requests × attempts × (1 + hedges), summed over the
	// policies (and over the scenarios of one input).
	calls float64
	// samples bounds the breaker states and adaptive limits sampled:
	// clients × buckets, summed over the policies with a breaker or an
	// adaptive limit (and the scenarios of one input).
	samples float64
	// syncs bounds the fleet breakers' syncs: clients × horizon /
	// Fleet.Interval, summed over the policies with a Fleet.
	syncs float64
	// inFlight and events bound the requests in flight and the events
	// pending at once in one policy's run; Run stops with an error past them.
	inFlight int
	events   int
	// memory is what the runs of one scenario and its results may hold at
	// once: Run runs as many policies at once as fit in it (one at least).
	memory int64
}

// defaultLimits are the limits of every run. Each is far above what the
// built-in scenarios ask (in brackets, their most): a year of virtual time
// (10 minutes), 100,000 buckets (645), 10,000 clients (2,000), 100 million
// requests (600,000), 16 policies (5), 1,000 attempts (15).
var defaultLimits = limits{
	input:     4 << 20,
	scenarios: 32,
	duration:  365 * 24 * time.Hour,
	buckets:   100_000,
	clients:   10_000,
	rate:      1e7,
	capacity:  1_000_000,
	requests:  1e8,
	bursts:    1_000,
	burstReqs: 200_000,
	windows:   100,
	policies:  16,
	attempts:  1_000,
	probes:    100,
	calls:     5e8,
	samples:   1e8,
	syncs:     1e8,
	inFlight:  400_000,
	events:    1_600_000,
	memory:    1 << 30,
}

// lim is the limits in force; tests tighten them.
var lim = defaultLimits

// Sizes behind the memory bound of a run.
const (
	// clientBytes bounds one client's instances of a Policy: a breaker, a
	// budget and a throttle with a sliding window each (at most 600
	// buckets), a hedger's latency histogram, HalfOpenProbes probe slots.
	// TestClientBytes measures the largest.
	clientBytes = 64 << 10
	// requestBytes is a request slot, and the tokens of the permits it
	// holds (of its limit, throttle and breaker, 8 bytes each, pooled by
	// their packages).
	requestBytes = int64(unsafe.Sizeof(request{})) + 3*8
	eventBytes   = int64(unsafe.Sizeof(event{}))
	pointBytes   = int64(unsafe.Sizeof(Point{})) + 8 // and the offered count of its bucket
	histBytes    = int64(unsafe.Sizeof(histogram{}))
)

// growth bounds what a slice grown by append holds, as a multiple of its
// length, in quarters: its capacity is at most 5/4 of the length, and
// while it grows the old array is still live beside the new one.
const growth = 9

// runBytes bounds the memory one policy's run of s holds: the clients'
// policy instances, the requests and events in flight (at most lim.inFlight
// and lim.events), the series, the upstream's workers and the histogram.
func (s *Scenario) runBytes() int64 {
	return int64(s.Load.clients())*clientBytes +
		s.requestsBytes() +
		int64(lim.events)*eventBytes*growth/4 +
		s.buckets()*pointBytes + s.buckets()/8 + 8 + // and a bit per bucket: refused retries
		int64(maxWorkers(&s.Upstream))*8 +
		int64(len(s.Upstream.Windows)+1)*int64(2*len(s.Upstream.Windows))*int64(unsafe.Sizeof(segment{})) +
		int64(s.Load.clients())*int64(unsafe.Sizeof(replica{})) +
		histBytes
}

// requestsBytes bounds the memory of the request slots of a run, at most
// lim.inFlight: whole chunks of them, which do not move as they grow, the
// chunks' index and the free list, which do.
func (s *Scenario) requestsBytes() int64 {
	chunks := (int64(lim.inFlight) + chunkSize - 1) / chunkSize
	return chunks*chunkSize*requestBytes + chunks*8*growth/4 + int64(lim.inFlight)*4*growth/4
}

// resultBytes bounds the memory of the results of s: one series per
// policy, and the offered load.
func (s *Scenario) resultBytes() int64 {
	return int64(len(s.Policies)+1) * s.buckets() * pointBytes
}

// parallel is how many policies of s Run runs at once: as many as fit in
// lim.memory beside the results, and one at least. The runs share the
// processors as goroutines do, so more runs than processors cost no time.
func (s *Scenario) parallel() int {
	fit := (lim.memory - s.resultBytes()) / s.runBytes()
	return int(max(1, min(int64(len(s.Policies)), fit)))
}

// horizon is the end of the last bucket that a request can touch: every
// request arrives before Duration and ends by its deadline.
func (s *Scenario) horizon() time.Duration {
	return time.Duration(s.Duration) + s.Load.deadline()
}

// buckets is the number of time buckets of s's series, at most.
func (s *Scenario) buckets() int64 {
	w := s.resolution()
	return int64((s.horizon() + w - 1) / w)
}

// requests is the requests s's load makes: the Poisson load's expected
// count, and the bursts'.
func (s *Scenario) requests() float64 {
	return s.Load.Rate*time.Duration(s.Duration).Seconds() + s.Load.burstRequests()
}

// burstRequests is the requests of all the bursts of l.
func (l *Load) burstRequests() float64 {
	n := 0.0
	for _, b := range l.Bursts {
		n += float64(max(b.Requests, 0))
	}
	return n
}

// cost returns the most upstream calls the policies of s can make, and the
// breaker states and adaptive limits they sample: the work of a run.
func (s *Scenario) cost() (calls, samples float64) {
	requests := s.requests()
	for i := range s.Policies {
		p := &s.Policies[i]
		calls += requests * float64(p.attempts()) * float64(1+p.hedges())
		if p.Breaker != nil || p.Adaptive != nil {
			samples += float64(s.Load.clients()) * float64(s.buckets())
		}
	}
	return calls, samples
}

// attempts is the most attempts a request makes under p.
func (p *Policy) attempts() int {
	if p.Retry == nil {
		return 1
	}
	return cmp.Or(p.Retry.MaxAttempts, retry.DefaultMaxAttempts)
}

// hedges is the most hedges an attempt sends under p.
func (p *Policy) hedges() int {
	if p.Hedge == nil {
		return 0
	}
	return max(cmp.Or(p.Hedge.MaxHedges, hedge.DefaultMaxHedges), 0) // negative: hedging off
}

// checkLimits reports the first limit on the size of s that it goes past,
// with the path of the field: the counts first, so that nothing long is
// walked, then every duration, attempts and probes, and the bursts. Check
// calls it before its other checks.
func (s *Scenario) checkLimits(fail func(format string, args ...any) error) error {
	u, l := &s.Upstream, &s.Load
	switch {
	case len(s.Policies) > lim.policies:
		return fail("Policies has %d policies, above the limit of %d", len(s.Policies), lim.policies)
	case len(u.Windows) > lim.windows:
		return fail("Upstream.Windows has %d windows, above the limit of %d", len(u.Windows), lim.windows)
	case len(l.Bursts) > lim.bursts:
		return fail("Load.Bursts has %d bursts, above the limit of %d", len(l.Bursts), lim.bursts)
	}
	if path, d := longDuration(reflect.ValueOf(s).Elem(), ""); path != "" {
		return fail("%s %v is above the limit of %s", path, time.Duration(d), fmtDur(lim.duration))
	}
	for i := range s.Policies {
		p := &s.Policies[i]
		switch {
		case p.Retry != nil && p.Retry.MaxAttempts > lim.attempts:
			return fail("Policies[%d] (%s): Retry.MaxAttempts %d is above the limit of %d", i, p.Name, p.Retry.MaxAttempts, lim.attempts)
		case p.Breaker != nil && p.Breaker.HalfOpenProbes > lim.probes:
			return fail("Policies[%d] (%s): Breaker.HalfOpenProbes %d is above the limit of %d", i, p.Name, p.Breaker.HalfOpenProbes, lim.probes)
		}
	}
	if burst := l.burstRequests(); burst > float64(lim.burstReqs) {
		return fail("Load.Bursts ask for %s requests in all, above the limit of %d (a burst's requests are all in flight at once)", fmtCount(burst), lim.burstReqs)
	}
	return nil
}

// checkWork reports the first limit on the work of a run that s goes
// past: its buckets, its requests, the upstream calls its policies could
// make and the breaker states they sample. Check calls it last, once the
// fields it reads are known to make sense.
func (s *Scenario) checkWork(fail func(format string, args ...any) error) error {
	if n := s.buckets(); n > lim.buckets {
		return fail("(Duration + Load.Deadline) / Resolution is %d buckets, above the limit of %d; raise Resolution", n, lim.buckets)
	}
	if n := s.requests(); n > lim.requests {
		return fail("Load.Rate × Duration, with the bursts, is %s requests, above the limit of %s; simulate less", fmtCount(n), fmtCount(lim.requests))
	}
	calls, samples := s.cost()
	var syncs float64
	for i := range s.Policies {
		if f := s.Policies[i].Fleet; f != nil {
			syncs += float64(s.Load.clients()) * float64(s.horizon()) / float64(f.interval())
		}
	}
	switch {
	case syncs > lim.syncs:
		return fail("Load.Clients × (Duration + Load.Deadline) / Fleet.Interval, for each policy with a Fleet, is %s syncs, above the limit of %s; fewer clients or a longer Interval",
			fmtCount(syncs), fmtCount(lim.syncs))
	case calls > lim.calls:
		return fail("Policies could make up to %s upstream calls (requests × Retry.MaxAttempts × (1 + Hedge.MaxHedges), summed over the policies), above the limit of %s; simulate fewer requests or attempts",
			fmtCount(calls), fmtCount(lim.calls))
	case samples > lim.samples:
		return fail("Load.Clients × buckets, for each policy with a Breaker or an Adaptive limit, is %s breaker states (or limits) to sample, above the limit of %s; fewer clients or a coarser Resolution",
			fmtCount(samples), fmtCount(lim.samples))
	}
	return nil
}

var durationType = reflect.TypeFor[Duration]()

// longDuration returns the path of the first Duration in v that is above
// lim.duration, and its value; "" if none is.
func longDuration(v reflect.Value, path string) (string, Duration) {
	if v.Type() == durationType {
		if d := Duration(v.Int()); d > Duration(lim.duration) {
			return path, d
		}
		return "", 0
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			return longDuration(v.Elem(), path)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			name := v.Type().Field(i).Name
			if path != "" {
				name = path + "." + name
			}
			if p, d := longDuration(v.Field(i), name); p != "" {
				return p, d
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			if p, d := longDuration(v.Index(i), path+"["+strconv.Itoa(i)+"]"); p != "" {
				return p, d
			}
		}
	}
	return "", 0
}

// fmtCount formats a count, rounded up, readably and exactly: 12345,
// 1.5e+09, 1.001e+08.
func fmtCount(f float64) string {
	f = math.Ceil(f)
	if f < 1e7 {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// fmtBytes formats a size in bytes: "4 MiB", or "1500 bytes".
func fmtBytes(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

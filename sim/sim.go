package sim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/throttle"
)

// epoch is virtual time zero. Any fixed time would do: the policies count
// only differences of times.
var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func at(t int64) time.Time { return epoch.Add(time.Duration(t)) }

// The errors of upstream calls, made once so that a call allocates nothing.
var (
	errUpstream = resilience.Transient(errors.New("upstream: 503 Service Unavailable"))
	errRefused  = resilience.Transient(errors.New("upstream: connection refused"))
	errShed     = resilience.Transient(errors.New("upstream: 503 Service Unavailable (overloaded)"))
	errTimeout  = resilience.Transient(timeoutError{})
)

// timeoutError is an attempt that ran past its per-attempt timeout.
type timeoutError struct{}

func (timeoutError) Error() string { return "sim: attempt timed out" }
func (timeoutError) Timeout() bool { return true }

// Run runs every policy of s over the same load and upstream, and returns
// what each did. It checks s as Check does first. The policies run
// concurrently, as many at once as fit in the memory bound of the package
// doc; a run that goes past the requests in flight or the events pending
// that a run may hold is stopped, and Run returns an error saying so.
func Run(s *Scenario) (*Result, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	runs := make([]*run, len(s.Policies))
	errs := make([]error, len(s.Policies))
	slots := make(chan struct{}, s.parallel())
	var wg sync.WaitGroup
	for i := range s.Policies {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			r, err := newRun(s, &s.Policies[i])
			if err == nil {
				err = r.loop()
			}
			if err != nil {
				errs[i] = err
				return
			}
			runs[i] = r
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return collect(s, runs), nil
}

// Event kinds.
const (
	evArrival  uint8 = iota // the next request of the Poisson load
	evBurst                 // a burst of the load; sub holds nothing, req the burst's index
	evCallDone              // an upstream call answers
	evLimit                 // an attempt reaches its timeout or the request its deadline
	evHedge                 // a hedge of the current attempt is due
	evRetry                 // a backoff ends: the next attempt starts
	evSync                  // a replica of a fleet breaker syncs; req is the replica
	evFleetMsg              // a fleet's transition reaches the other replicas; req is the sender, sub the message
)

// Outcomes of an upstream call, in event.result.
const (
	callOK      uint8 = iota
	callFailed        // the upstream worked on it and failed
	callRefused       // refused at once: down; it held no capacity
	callShed          // refused at once: overloaded; it held no capacity
)

// event is one entry of the queue, ordered by time, then by seq (the order
// of scheduling), so that equal times are processed reproducibly.
type event struct {
	at     int64
	seq    uint64
	start  int64 // evCallDone: when the call started
	req    int32
	life   uint32 // the request's life when scheduled: a later life makes it stale
	att    int32  // the attempt it belongs to
	kind   uint8
	sub    uint8 // evCallDone: 0 for the first call of an attempt, i for hedge i
	result uint8 // evCallDone: callOK, callFailed or callRefused
	gen    uint8 // evHedge: the request's hedgeGen when scheduled: another makes it stale
}

func (a *event) before(b *event) bool {
	return a.at < b.at || a.at == b.at && a.seq < b.seq
}

// queue is a binary heap of events, of at most max events: past it, push
// drops the event and sets full, and the run stops.
type queue struct {
	h    []event
	seq  uint64
	max  int
	full bool
}

func (q *queue) push(e event) {
	if len(q.h) >= q.max {
		q.full = true
		return
	}
	q.seq++
	e.seq = q.seq
	q.h = append(q.h, e)
	i := len(q.h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.h[i].before(&q.h[p]) {
			break
		}
		q.h[i], q.h[p] = q.h[p], q.h[i]
		i = p
	}
}

func (q *queue) pop() event {
	top := q.h[0]
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h = q.h[:n]
	i := 0
	for {
		l, m := 2*i+1, i
		if l < n && q.h[l].before(&q.h[m]) {
			m = l
		}
		if r := l + 1; r < n && q.h[r].before(&q.h[m]) {
			m = r
		}
		if m == i {
			break
		}
		q.h[i], q.h[m] = q.h[m], q.h[i]
		i = m
	}
	return top
}

// request is one client request in flight. Slots are reused; life tells
// the uses of a slot apart.
type request struct {
	life     uint32
	client   int32
	arrived  int64
	deadline int64
	attempt  int32 // the current attempt, from 1
	open     bool  // an attempt is running (not waiting for a retry)
	attStart int64
	limit    int64 // when the attempt runs out of time: timeout or deadline
	timerSet bool  // an evLimit is scheduled for this attempt
	running  int8  // upstream calls of the attempt not yet answered
	hedges   int8  // hedges started in the attempt
	stopped  bool  // no more hedges in the attempt
	firstEnd bool  // the first call of the attempt has ended, or was cut short
	lastFail uint8 // how the last call of the attempt that failed ended: a call result
	hedgeGen uint8 // counts the times the next hedge was scheduled: only the last one stands
	delay    int64 // the hedge delay of the attempt
	last     time.Duration
	bpermit  breaker.Permit
	tpermit  throttle.Permit
	hpermit  bulkhead.Permit
	apermit  adaptive.Permit
	hasB     bool
	hasT     bool
	hasL     bool // the attempt holds room in the bulkhead or the adaptive limiter
}

// chunkSize is how many requests a chunk of requests holds.
const chunkSize = 256

// requests holds the request slots of a run in chunks of chunkSize, which
// never move: the slots grow without copying, so that the most a run holds
// is its slots, not twice as many while a slice grows.
type requests struct {
	chunks []*[chunkSize]request
	n      int // slots in use, from the first
}

// at returns the slot id.
func (rs *requests) at(id int32) *request {
	return &rs.chunks[id/chunkSize][id%chunkSize]
}

// add returns a new slot.
func (rs *requests) add() int32 {
	if rs.n == len(rs.chunks)*chunkSize {
		rs.chunks = append(rs.chunks, new([chunkSize]request))
	}
	rs.n++
	return int32(rs.n - 1)
}

// run is the simulation of one policy.
type run struct {
	s       *Scenario
	p       *Policy
	clients []*stack
	q       queue
	reqs    requests
	free    []int32

	arrivals, upstream, decisions *rand.Rand

	events int // processed, for the tests
	err    error

	// Load.
	end      int64 // no request arrives at or after it
	horizon  int64 // every request has ended by then: end + deadline
	lastEnd  int64 // the end of the bucket that holds horizon - 1
	rate     float64
	next     int32 // the client of the next request
	deadline int64

	// Fleet breaker, or nil.
	fleet       *fleet
	fleetOpened int

	// Upstream.
	inflight, peakInflight int
	median, sigma          float64
	rejectLatency          int64
	// groups hold the trouble windows as spans of time, for the clients
	// below each one's bound (the windows limited to some clients make more
	// than one group).
	groups   []segGroup
	errShed  error   // a refusal for overload, with the hint if any
	workers  []int64 // a min-heap of when each working worker is free: pool[:n]
	maxQueue int64
	// pool holds when each worker the upstream has had is free, the
	// working ones first; capSegs are the spans of time in which windows
	// change the capacity, and capSeg the span of the last call.
	pool    []int64
	capSegs []capSegment
	capSeg  int

	// Measures.
	width   int64 // bucket width
	offered []int
	series  []Point
	sampled int // buckets whose breaker states are recorded
	hist    histogram
	res     PolicyResult
	// refusals has a bit set for each bucket in which the budget or the
	// token bucket refused a retry, for PolicyResult.Resumed.
	refusals []uint64
}

func newRun(s *Scenario, p *Policy) (*run, error) {
	seed := s.seed()
	r := &run{
		s:         s,
		p:         p,
		arrivals:  rand.New(rand.NewPCG(seed, 0x61727269)),
		upstream:  rand.New(rand.NewPCG(seed, 0x75707374)),
		decisions: rand.New(rand.NewPCG(seed, 0x64656369)),
		end:       int64(s.Duration),
		horizon:   int64(s.horizon()),
		rate:      s.Load.Rate,
		deadline:  int64(s.Load.deadline()),
		groups:    segGroups(s.Upstream.Windows, s.Upstream.ErrorRate),
		width:     int64(s.resolution()),
		maxQueue:  int64(cmp.Or(time.Duration(s.Upstream.MaxQueueDelay), defaultMaxQueueDelay)),
		capSegs:   capSegments(&s.Upstream),
	}
	r.pool = make([]int64, s.Upstream.Capacity, maxWorkers(&s.Upstream))
	r.workers = r.pool
	r.errShed = errShed
	if s.Upstream.RetryAfter > 0 {
		r.errShed = resilience.WithRetryAfter(errShed, time.Duration(s.Upstream.RetryAfter))
	}
	r.rejectLatency = int64(cmp.Or(time.Duration(s.Upstream.RejectLatency), defaultRejectLatency))
	lat := s.Upstream.Latency
	median := s.Upstream.latencyMedian()
	p99 := time.Duration(lat.P99)
	if p99 == 0 {
		p99 = 3 * median
	}
	r.median = float64(median)
	r.sigma = math.Log(float64(p99)/float64(median)) / 2.3263478740408408 // z of the 99th percentile
	n := s.Load.clients()
	r.clients = make([]*stack, n)
	if p.Fleet != nil {
		cs, _ := p.configs(0, nil, nil) // checked by Check
		d := cs.breaker.WithDefaults()
		r.fleet = newFleet(p.Fleet, d, n)
	}
	for i := range r.clients {
		var obs *resilience.Observer
		if r.fleet != nil {
			obs = r.fleet.observer(i)
		}
		st, err := p.build(seed*0x9e3779b97f4a7c15+uint64(i), obs)
		if err != nil {
			return nil, err
		}
		r.clients[i] = st
	}
	r.res.Name = p.Name
	r.res.HasBreaker = p.Breaker != nil
	r.res.HasLimit = p.Bulkhead != nil || p.Adaptive != nil
	r.q.max = lim.events
	buckets := s.buckets()
	r.lastEnd = buckets * r.width
	r.offered = make([]int, 0, buckets)
	r.series = make([]Point, 0, buckets)
	if r.rate > 0 {
		if first := r.interarrival(0); first < r.end {
			r.q.push(event{at: first, kind: evArrival})
		}
	}
	for i, b := range s.Load.Bursts {
		r.q.push(event{at: int64(b.At), kind: evBurst, req: int32(i)})
	}
	if r.fleet != nil {
		r.startSyncs(seed)
	}
	return r, nil
}

// interarrival returns the time of the next Poisson arrival after now, or
// r.end if it comes at or after the end of the load. The wait is drawn as a
// float, so it is compared with what is left before it becomes an integer:
// a low rate draws waits far beyond any int64.
func (r *run) interarrival(now int64) int64 {
	wait := r.arrivals.ExpFloat64() / r.rate * 1e9
	if !(wait < float64(r.end-now)) {
		return r.end
	}
	return now + max(int64(wait), 1)
}

// bucket returns the series point of time t, growing the series to it.
func (r *run) bucket(t int64) *Point {
	i := int(t / r.width)
	for len(r.series) <= i {
		r.series = append(r.series, Point{})
		r.offered = append(r.offered, 0)
	}
	return &r.series[i]
}

// loop processes events until none is left, and then lets go of what only
// the run needed. It stops with an error when the run holds more requests
// or events at once than lim allows.
func (r *run) loop() error {
	for len(r.q.h) > 0 {
		if r.q.full || r.err != nil {
			return r.stopped()
		}
		e := r.q.pop()
		r.events++
		r.sample(e.at)
		if r.fleet != nil {
			r.react(e.at)
		}
		switch e.kind {
		case evArrival:
			r.arrive(e.at)
			if n := r.interarrival(e.at); n < r.end {
				r.q.push(event{at: n, kind: evArrival})
			}
		case evBurst:
			for range r.s.Load.Bursts[e.req].Requests {
				if r.q.full || r.err != nil {
					break
				}
				r.arrive(e.at)
			}
		case evCallDone:
			r.callDone(&e)
		case evLimit:
			if q := r.reqs.at(e.req); q.life == e.life && q.open && q.attempt == e.att {
				q.timerSet = false
				err := errTimeout
				if e.at >= q.deadline {
					err = context.DeadlineExceeded
				}
				r.firstEnded(q, e.at, err)
				r.attemptEnded(e.req, e.at, err)
			}
		case evHedge:
			r.hedge(&e)
		case evRetry:
			if q := r.reqs.at(e.req); q.life == e.life && q.attempt == e.att {
				r.startAttempt(e.req, e.at)
			}
		case evSync:
			r.sync(e.req, e.at)
		case evFleetMsg:
			r.deliver(&e)
		}
		if r.fleet != nil {
			r.react(e.at)
		}
	}
	if r.q.full || r.err != nil {
		return r.stopped()
	}
	r.sample(math.MaxInt64)
	if runHook != nil {
		runHook(r)
	}
	r.clients, r.q.h, r.reqs, r.free, r.workers, r.pool = nil, nil, requests{}, nil, nil, nil
	return nil
}

// successHook, if set, sees every request that succeeds, in its run: when
// it arrived and when it ended. The tests measure latencies by phase.
var successHook func(r *run, arrived, now int64)

// runHook, if set, sees every run that ends well before it lets go of what
// only it needed: the tests measure what a run held.
var runHook func(*run)

// limitError is the error of a run stopped for holding more requests in
// flight or more events pending at once than lim allows: the two limits
// that only a run can know (see the package doc).
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

// stopped returns the error of a run stopped for holding too much at once.
func (r *run) stopped() error {
	r.clients, r.q.h, r.reqs, r.free, r.workers, r.pool = nil, nil, requests{}, nil, nil, nil
	if r.err != nil {
		return r.err
	}
	return &limitError{fmt.Sprintf("sim: scenario %s: policy %s: more than %d events pending at once (timers, and upstream calls that outlast their attempts); simulate fewer requests or shorter latencies",
		scenarioName(r.s), r.p.Name, lim.events)}
}

// sample records, at the end of every bucket that ends at or before now,
// the clients' breaker states and the sum of their concurrency limits.
//
// The samples stop at the end of the bucket that holds the horizon: after
// it only calls that every client has given up on end, and the series
// would grow without bound past it.
func (r *run) sample(now int64) {
	if r.p.Breaker == nil && r.p.Bulkhead == nil && r.p.Adaptive == nil {
		return
	}
	final := now == math.MaxInt64
	if !final {
		now = min(now, r.lastEnd)
	}
	for {
		end := int64(r.sampled+1) * r.width
		if end > now || (final && r.sampled >= len(r.series)) {
			return
		}
		pt := r.bucket(end - 1)
		if r.p.Breaker != nil {
			var open, half int
			t := at(end)
			for _, c := range r.clients {
				switch c.breaker.StateAt(t) {
				case breaker.Open:
					open++
				case breaker.HalfOpen:
					half++
				}
			}
			pt.Open = float64(open) / float64(len(r.clients))
			pt.HalfOpen = float64(half) / float64(len(r.clients))
		}
		switch {
		case r.p.Bulkhead != nil:
			pt.Limit = len(r.clients) * cmp.Or(r.p.Bulkhead.MaxConcurrent, bulkhead.DefaultMaxConcurrent)
		case r.p.Adaptive != nil:
			for _, c := range r.clients {
				pt.Limit += c.limiter.Limit()
			}

		}
		r.sampled++
	}
}

// arrive starts a client request at now.
func (r *run) arrive(now int64) {
	var id int32
	if n := len(r.free); n > 0 {
		id = r.free[n-1]
		r.free = r.free[:n-1]
	} else {
		if r.reqs.n >= lim.inFlight {
			r.err = &limitError{fmt.Sprintf("sim: scenario %s: policy %s: more than %d requests in flight at once; simulate a lower Load.Rate, fewer burst requests or a shorter Load.Deadline",
				scenarioName(r.s), r.p.Name, lim.inFlight)}
			return
		}
		id = r.reqs.add()
	}
	q := r.reqs.at(id)
	*q = request{life: q.life, client: r.next, arrived: now, deadline: now + r.deadline}
	r.next++
	if int(r.next) == len(r.clients) {
		r.next = 0
	}
	r.res.Requests++
	r.bucket(now)
	r.offered[now/r.width]++
	if p := r.clients[q.client].retry; p != nil {
		p.BeginRetriesAt(at(now)) // counts the request in the budget
	}
	r.startAttempt(id, now)
}

// startAttempt runs the next attempt of request id at now: through the
// throttle and the breaker, then to the upstream, with its hedges.
func (r *run) startAttempt(id int32, now int64) {
	q := r.reqs.at(id)
	st := r.clients[q.client]
	q.attempt++
	q.open, q.attStart = true, now
	q.running, q.hedges, q.stopped, q.firstEnd, q.timerSet = 0, 0, false, false, false
	q.hasB, q.hasT, q.hasL = false, false, false
	q.limit = q.deadline
	if st.timeout > 0 {
		q.limit = min(q.limit, now+int64(st.timeout))
	}
	switch {
	case st.bulkhead != nil:
		p, err := st.bulkhead.TryAcquire()
		if err != nil {
			r.attemptEnded(id, now, err)
			return
		}
		q.hpermit, q.hasL = p, true
	case st.limiter != nil:
		p, err := st.limiter.TryAcquireAt(at(now), adaptive.Normal)
		if err != nil {
			r.attemptEnded(id, now, err)
			return
		}
		q.apermit, q.hasL = p, true
	}
	if st.throttle != nil {
		p, err := st.throttle.AllowAt(at(now), r.decisions.Float64())
		if err != nil {
			r.attemptEnded(id, now, err)
			return
		}
		q.tpermit, q.hasT = p, true
	}
	if st.breaker != nil {
		p, err := st.breaker.AllowAt(at(now))
		if err != nil {
			r.attemptEnded(id, now, err)
			return
		}
		q.bpermit, q.hasB = p, true
		if p.Probe() {
			r.bucket(now).Probes++
		}
	}
	if st.hedger != nil {
		q.delay = max(int64(st.hedger.StartAt(at(now))), 0)
	}
	done := r.call(id, now, 0)
	if st.hedger != nil {
		// A first call that ends by then needs no hedge at that time: a
		// success ends the attempt, and a failure has the hedger decide
		// anew.
		if due := now + q.delay; done > due && due < q.limit {
			q.hedgeGen++
			r.q.push(event{at: due, kind: evHedge, req: id, life: q.life, att: q.attempt, sub: 1, gen: q.hedgeGen})
		}
	}
}

// hedgeDue makes the next hedge of the current attempt of request id due
// at t. A hedge due when the attempt has run out of time never starts,
// unless a failure brings it forward; with no call running, the attempt
// then ends at its limit, as the executor's context does.
func (r *run) hedgeDue(id int32, t int64) {
	q := r.reqs.at(id)
	q.hedgeGen++ // a hedge scheduled before is stale
	switch {
	case t < q.limit:
		r.q.push(event{at: t, kind: evHedge, req: id, life: q.life, att: q.attempt, sub: uint8(q.hedges + 1), gen: q.hedgeGen})
	case q.running == 0 && !q.timerSet:
		q.timerSet = true
		r.q.push(event{at: q.limit, kind: evLimit, req: id, life: q.life, att: q.attempt})
	}
}

// call sends call sub of the current attempt of request id to the upstream
// at now, and returns when it will answer.
func (r *run) call(id int32, now int64, sub uint8) int64 {
	q := r.reqs.at(id)
	q.running++
	r.res.Calls++
	r.bucket(now).Calls++
	latency, result := r.serve(now, q.client)
	done := now + latency
	r.q.push(event{at: done, kind: evCallDone, req: id, life: q.life, att: q.attempt, sub: sub, result: result, start: now})
	if done > q.limit && !q.timerSet {
		q.timerSet = true
		r.q.push(event{at: q.limit, kind: evLimit, req: id, life: q.life, att: q.attempt})
	}
	return done
}

// serve is the upstream: it takes a call of client at now and returns how
// long it takes and how it ends.
func (r *run) serve(now int64, client int32) (int64, uint8) {
	u := &r.s.Upstream
	errRate, factor := u.ErrorRate, 1.0
	g := &r.groups[0]
	for k := 1; k < len(r.groups) && int(client) >= g.below; k++ {
		g = &r.groups[k]
	}
	for g.seg < len(g.segs) && now >= g.segs[g.seg].to {
		g.seg++
	}
	if g.seg < len(g.segs) && now >= g.segs[g.seg].from {
		sg := &g.segs[g.seg]
		if sg.down {
			return r.rejectLatency, callRefused
		}
		errRate, factor = sg.errRate, sg.factor
	}
	var latency float64
	if tp := u.Latency.TailProbability; tp > 0 && r.upstream.Float64() < tp {
		latency = float64(u.Latency.Tail) * (0.9 + 0.2*r.upstream.Float64())
	} else {
		latency = r.median * math.Exp(r.sigma*r.upstream.NormFloat64())
	}
	// A call that takes the horizon or longer ends after every client has
	// given up on it, whatever its length: it saturates there, so that a
	// latency beyond any int64 (or NaN) is long, never short.
	took := r.horizon
	if f := latency * factor; f < float64(r.horizon) {
		took = max(int64(f), 1)
	}
	if len(r.capSegs) > 0 {
		r.resize(now)
	}
	if len(r.workers) > 0 {
		// The worker free first takes the call, after those in line.
		start := max(now, r.workers[0])
		if start-now > r.maxQueue {
			return r.rejectLatency, callShed
		}
		r.workers[0] = start + took
		siftDown(r.workers)
		took += start - now
	}
	r.inflight++
	r.peakInflight = max(r.peakInflight, r.inflight)
	result := callOK
	if errRate > 0 && r.upstream.Float64() < errRate {
		result = callFailed
	}
	return took, result
}

// segment is a span of time [from, to) in which the same trouble windows
// are open, and what they make of the upstream: down, the error rate (the
// highest of the upstream's and theirs) and the latency factor (theirs
// multiplied, in the order of the windows).
type segment struct {
	from, to int64
	down     bool
	errRate  float64
	factor   float64
}

// segments cuts time at every edge of the windows ws and returns the spans
// in which any is open, in order, for an upstream whose own error rate is
// errRate. Calls come in order of time, so serve walks them with a cursor,
// whatever the number of windows.
func segments(ws []Window, errRate float64) []segment {
	cuts := make([]int64, 0, 2*len(ws))
	for _, w := range ws {
		cuts = append(cuts, int64(w.From), int64(w.To))
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	var segs []segment
	for i := 0; i+1 < len(cuts); i++ {
		sg := segment{from: cuts[i], to: cuts[i+1], errRate: errRate, factor: 1}
		open := false
		for _, w := range ws {
			if sg.from < int64(w.From) || sg.from >= int64(w.To) {
				continue
			}
			open = true
			sg.down = sg.down || w.Down
			sg.errRate = max(sg.errRate, w.ErrorRate)
			if w.LatencyFactor > 0 {
				sg.factor *= w.LatencyFactor
			}
		}
		if open {
			segs = append(segs, sg)
		}
	}
	return segs
}

// capSegment is a span of time [from, to) in which windows change the
// upstream's capacity to workers.
type capSegment struct {
	from, to int64
	workers  int
}

// capSegments returns the spans of time in which the windows of u change
// its capacity, in order: cut at every edge of those windows, with the
// capacity that their factors, multiplied, make of u.Capacity; nil if no
// window has a CapacityFactor.
func capSegments(u *Upstream) []capSegment {
	var ws []Window
	for _, w := range u.Windows {
		if w.CapacityFactor != 0 {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 || u.Capacity == 0 {
		return nil
	}
	var segs []capSegment
	for _, sg := range segments(ws, 0) {
		f := 1.0
		for _, w := range ws {
			if sg.from >= int64(w.From) && sg.from < int64(w.To) {
				f *= w.CapacityFactor
			}
		}
		segs = append(segs, capSegment{from: sg.from, to: sg.to, workers: workersOf(u.Capacity, f)})
	}
	return segs
}

// workersOf returns capacity × f rounded, at least 1 and, for factors far
// beyond any limit, saturated where Check refuses it.
func workersOf(capacity int, f float64) int {
	w := math.Round(float64(capacity) * f)
	if !(w < math.MaxInt32) {
		return math.MaxInt32
	}
	return max(int(w), 1)
}

// maxWorkers returns the most workers u has at once, in or out of its
// windows.
func maxWorkers(u *Upstream) int {
	n := u.Capacity
	for _, sg := range capSegments(u) {
		n = max(n, sg.workers)
	}
	return n
}

// resize sets the upstream's working workers to the capacity at now, for a
// call that comes then. When the capacity falls, the workers that will be
// free last stop taking calls, after they have ended the calls they have
// taken; when it rises, the workers that stopped come back (the first free
// first), and new ones join if there are too few.
func (r *run) resize(now int64) {
	for r.capSeg < len(r.capSegs) && now >= r.capSegs[r.capSeg].to {
		r.capSeg++
	}
	n := r.s.Upstream.Capacity
	if r.capSeg < len(r.capSegs) && now >= r.capSegs[r.capSeg].from {
		n = r.capSegs[r.capSeg].workers
	}
	if n == len(r.workers) {
		return
	}
	if n > len(r.pool) {
		r.pool = pad(r.pool, n) // free since the start
	}
	// A sorted slice is a min-heap: the first n are the working workers.
	slices.Sort(r.pool)
	r.workers = r.pool[:n]
}

// segGroup is the trouble windows as spans of time for the clients below
// its bound (and at or above the bound of the group before).
type segGroup struct {
	below int // clients from the previous group's bound to below it; math.MaxInt for the last
	segs  []segment
	seg   int // the span of the group's last call: calls come in order of time
}

// segGroups returns the groups of ws, ordered by bound: one group for
// every client, unless some windows are limited to the first Clients
// clients, which cut the clients into groups at their bounds.
func segGroups(ws []Window, errRate float64) []segGroup {
	var bounds []int
	for _, w := range ws {
		if w.Clients > 0 {
			bounds = append(bounds, w.Clients)
		}
	}
	slices.Sort(bounds)
	bounds = append(slices.Compact(bounds), math.MaxInt)
	groups := make([]segGroup, len(bounds))
	for k, b := range bounds {
		// A client just below b meets the windows for every client and
		// those limited to b clients or more.
		var mine []Window
		for _, w := range ws {
			if w.Clients == 0 || w.Clients >= b {
				mine = append(mine, w)
			}
		}
		groups[k] = segGroup{below: b, segs: segments(mine, errRate)}
	}
	return groups
}

// siftDown restores the heap order of h after h[0] grew.
func siftDown(h []int64) {
	i, n := 0, len(h)
	for {
		l, m := 2*i+1, i
		if l < n && h[l] < h[m] {
			m = l
		}
		if r := l + 1; r < n && h[r] < h[m] {
			m = r
		}
		if m == i {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// callDone handles the answer of an upstream call.
func (r *run) callDone(e *event) {
	if e.result == callOK || e.result == callFailed {
		r.inflight--
	}
	q := r.reqs.at(e.req)
	if q.life != e.life || !q.open || q.attempt != e.att {
		return // the attempt has already ended; the answer comes too late
	}
	q.running--
	err := r.callErr(e.result)
	switch {
	case e.sub == 0:
		r.firstEnded(q, e.at, err)
	case err == nil:
		r.firstEnded(q, e.at, hedge.ErrLost) // a hedge won: the first call is cut short
	}
	h := r.clients[q.client].hedger
	if err == nil {
		h.AfterSuccess()
		r.attemptEnded(e.req, e.at, nil)
		return
	}
	q.lastFail = e.result
	if h == nil {
		q.stopped = true // the attempt's only call failed
	} else {
		// As hedge.Do does, the hedger decides: by default a failure of
		// the first call starts no more hedges, and the attempt ends with
		// the last call running; under gRFC A6's rules the next hedge is
		// due now, or after a pushback.
		switch d := h.AfterFailure(int(e.sub), err); d.Action {
		case hedge.NextHedge:
			if !q.stopped {
				t := e.at + int64(d.After)
				if t < e.at {
					t = math.MaxInt64
				}
				r.hedgeDue(e.req, t)
			}
		case hedge.StopHedges:
			q.stopped = true
		case hedge.Fatal:
			r.attemptEnded(e.req, e.at, err)
			return
		}
	}
	if q.running == 0 && q.stopped {
		r.attemptEnded(e.req, e.at, err)
	}
}

// callErr returns the error of a call that ended with result: nil for
// callOK.
func (r *run) callErr(result uint8) error {
	switch result {
	case callFailed:
		return errUpstream
	case callRefused:
		return errRefused
	case callShed:
		return r.errShed
	}
	return nil
}

// firstEnded tells the hedger, if there is one, how the first call of the
// current attempt of q ended at now, once, as hedge.Do does when its first
// attempt returns: err is nil for a success, hedge.ErrLost if a hedge won
// while it ran, or its error. The hedger decides what its delay learns.
func (r *run) firstEnded(q *request, now int64, err error) {
	if q.firstEnd {
		return
	}
	q.firstEnd = true
	if h := r.clients[q.client].hedger; h != nil {
		h.ObserveFirstAt(at(now), time.Duration(now-q.attStart), err)
	}
}

// hedge starts a due hedge of an attempt, if the hedger allows it, and
// schedules the next if it allows one.
func (r *run) hedge(e *event) {
	q := r.reqs.at(e.req)
	if q.life != e.life || !q.open || q.attempt != e.att || q.stopped || e.gen != q.hedgeGen || int(e.sub) != int(q.hedges)+1 {
		return // stale: the attempt ended, or a failure moved the hedge
	}
	ok, more := r.clients[q.client].hedger.AllowHedgeAt(at(e.at), int(q.hedges)+1)
	if !ok {
		q.stopped = true
		if q.running == 0 { // every call failed: the last failure is the attempt's
			r.attemptEnded(e.req, e.at, r.callErr(q.lastFail))
		}
		return
	}
	q.hedges++
	r.call(e.req, e.at, uint8(q.hedges))
	if more {
		r.hedgeDue(e.req, e.at+q.delay)
	} else {
		q.stopped = true
	}
}

// attemptEnded ends the current attempt of request id at now with err (nil
// for success): it reports the outcome to the breaker and the throttle, and
// asks the retry policy and the budget what next.
func (r *run) attemptEnded(id int32, now int64, err error) {
	q := r.reqs.at(id)
	st := r.clients[q.client]
	q.open = false
	t := at(now)
	if q.hasB {
		q.bpermit.DoneAt(t, err)
	}
	if q.hasT {
		q.tpermit.DoneAt(t, err)
	}
	if q.hasL {
		// As resilience.Guarded tells a guard: the attempt's error, which
		// the limiter classifies (a refusal by the throttle or the breaker
		// inside it teaches it nothing). The simulated caller cancels
		// nothing: its deadline is a context.DeadlineExceeded, a drop.
		q.hpermit.Release()
		q.apermit.ReleaseAt(t, resilience.Outcome{Err: err})
		q.hpermit, q.apermit, q.hasL = bulkhead.Permit{}, adaptive.Permit{}, false
	}
	if err == nil {
		if st.tokens != nil && st.retry != nil {
			// As the executors do when BeginRetries asks them: the bucket
			// gets TokenRatio back.
			st.retry.Succeeded(resilience.RetryState{Attempts: int(q.attempt), Start: at(q.arrived), Now: t})
		}
		r.finish(id, now, true, nil)
		return
	}
	if now >= q.deadline {
		r.res.Failures.Deadline++
		r.finish(id, now, false, nil)
		return
	}
	if st.retry == nil {
		r.finish(id, now, false, err)
		return
	}
	// NextRetry is what every executor of a retry policy asks: Decide, then
	// the token bucket's Failure and Allow and the budget's WithdrawAt, at
	// the state's time. As in
	// resilience.Compose(retry, breaker), a breaker right inside the retry
	// tells it when the next attempt would certainly be rejected; a
	// throttle between them foresees nothing.
	s := resilience.RetryState{
		Attempts:  int(q.attempt),
		Err:       err,
		Start:     at(q.arrived),
		Now:       t,
		Deadline:  at(q.deadline),
		LastDelay: q.last,
		Jitter:    r.decisions.Float64(),
	}
	if st.breaker != nil && st.throttle == nil {
		s.RejectedUntil, s.Rejection = st.breaker.Foresee(context.Background(), t)
	}
	delay, err := st.retry.NextRetry(s)
	if err == nil {
		q.last = delay
		r.bucket(now).Retries++
		r.q.push(event{at: now + int64(delay), kind: evRetry, req: id, life: q.life, att: q.attempt})
		return
	}
	// NextRetry returns a *retry.Error when it stops, or the attempt's own
	// error when that was not retryable on the first attempt.
	if stop, ok := err.(*retry.Error); ok {
		switch stop.Reason {
		case retry.BudgetExhausted:
			if stop.Cause == retry.ErrThrottled {
				r.res.Failures.Tokens++
			} else {
				r.res.Failures.Budget++
			}
			r.refused(now)
			err = nil
		case retry.Deadline:
			r.res.Failures.Deadline++
			err = nil
		case retry.Exhausted, retry.NotRetryable:
			err = stop.Err
		case retry.Rejected:
			err = stop.Cause // the breaker's rejection
		default:
			r.res.Failures.NotRetryable++
			err = nil
		}
	}
	r.finish(id, now, false, err)
}

// refused records that the budget or the token bucket refused a retry at
// now.
func (r *run) refused(now int64) {
	i := now / r.width
	for int64(len(r.refusals)) <= i/64 {
		r.refusals = append(r.refusals, 0)
	}
	r.refusals[i/64] |= 1 << (i % 64)
}

// finish ends request id at now. A failure is counted by reason: the
// reason counted already, or the last attempt's error if reason is that.
func (r *run) finish(id int32, now int64, ok bool, err error) {
	q := r.reqs.at(id)
	pt := r.bucket(now)
	if ok {
		r.res.Succeeded++
		pt.Succeeded++
		r.hist.add(now - q.arrived)
		if successHook != nil {
			successHook(r, q.arrived, now)
		}
	} else {
		pt.Failed++
		switch {
		case err == nil:
		case errors.Is(err, breaker.ErrOpen):
			r.res.Failures.BreakerOpen++
		case errors.Is(err, throttle.ErrThrottled):
			r.res.Failures.Throttled++
		case errors.Is(err, bulkhead.ErrFull): // adaptive.ErrLimited matches it too
			r.res.Failures.Limited++
		case err == context.DeadlineExceeded:
			r.res.Failures.Deadline++
		default:
			r.res.Failures.Exhausted++
		}
	}
	q.life++
	q.open = false
	r.free = append(r.free, id)
}

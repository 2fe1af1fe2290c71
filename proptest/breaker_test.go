package proptest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
)

// The breaker's state machine, checked against a reference model written
// here from the breaker's documentation, on virtual time: the test moves a
// clock of its own forward, by steps that often land exactly on (or 1ns
// before) a recovery or probe deadline, and calls the forms that take the
// time (AllowAt, Permit.DoneAt, StateAt, SnapshotAt). ForceOpen and Reset
// read the real clock; they are in the model too, which takes the time of
// their change of state from readings of the real clock around the call.
//
// The model (semantics from package breaker's docs):
//
//   - Every change of state starts a new generation. A permit remembers the
//     generation that admitted it; its report changes nothing once the
//     generation has changed.
//   - Closed admits every call. A failure (transient or permanent) adds one
//     to the failures in a row and opens the breaker when they reach
//     FailureThreshold; a success clears them; an ignored outcome
//     (context.Canceled) does nothing.
//   - Open rejects with an *breaker.Error whose Until is RecoveryTimeout after it
//     opened, and turns half-open at exactly that time, by the clock, when
//     next consulted.
//   - Half-open admits HalfOpenProbes probes at once and rejects the rest
//     with an *breaker.Error of State HalfOpen. A probe's success frees its slot
//     and counts; HalfOpenProbes successes close the breaker. A probe's
//     failure opens it again. An ignored outcome only frees the slot. A
//     probe that has not reported ProbeTimeout after it was admitted counts
//     as failed when the breaker is next consulted (AllowAt, StateAt,
//     SnapshotAt — not DoneAt): the breaker opens at the moment the first
//     such probe timed out, and may by now be half-open again.
//   - ForceOpen opens the breaker until Reset; Reset closes it, or, when it
//     is closed already, clears its counts without a change of state (so the
//     generation, and the permits it admitted, live on).
//   - Snapshots count openings and rejections since New.
//
// Left out: MaxRecoveryTimeout (growing, jittered open times; off here, so
// every opening lasts RecoveryTimeout); and a second report of a closed
// breaker's permit within its generation: Permit says to report "exactly
// once", and a closed-state permit carries nothing that could tell a second
// report from a first (a failure reported twice counts twice). A second
// report of a permit whose generation has ended is in the model (it must
// change nothing), and TestBreakerProbeReportedTwice checks second reports of
// half-open probes, which the breaker drops. The sliding window is modelled
// by bounds (TestBreakerWindow).
//
// rapid first replays the cases kept in testdata/rapid/<test>/*.fail (and
// writes one there for each new failure, unless run with -rapid.nofailfile).
// TestBreakerStateMachine-probe-timeout-order.fail is the minimal case of two
// probes timing out unseen: the model opens the breaker when the first of
// them timed out, the breaker when the one in the lower slot did.

// TestBreakerStateMachine drives one breaker with consecutive counting
// through random sequences of calls, reports, clock steps and queries, and
// checks every answer, every snapshot and every state-change event against
// the model.
func TestBreakerStateMachine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		run(t, newHarness(t, options{}))
	})
}

// TestBreakerProbeReportedTwice is TestBreakerStateMachine where the
// permits reported a second time are half-open probes of the current
// generation: the model says the second report changes nothing, as the
// breaker means it to (a probe's ticket carries a sequence number, so that
// its report is not taken for a later probe's in the same slot).
func TestBreakerProbeReportedTwice(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		run(t, newHarness(t, options{probeTwice: true}))
	})
}

// TestBreakerWindow is TestBreakerStateMachine with a sliding window and
// failure-rate and slow-call-rate conditions. The window's counts depend on
// where its buckets' edges fall on the breaker's own clock, which the test
// cannot see, so the model checks them between bounds: a call reported at
// most Window-100ms ago (the bucket width for whole-second windows) is
// counted, one reported Window or more ago is not (the clock often steps by
// exactly those ages). Whether a report opens the breaker is then checked
// exactly against the counts the breaker's snapshot shows just before it.
func TestBreakerWindow(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		run(t, newHarness(t, options{windowed: true}))
	})
}

// rounds is how many times run repeats random actions: one Repeat averages
// about 30 actions (rapid's -rapid.steps), too few to reach the states where
// several probes have come and gone in one half-open period.
const rounds = 16

// run plays rounds of random actions on h.
func run(t *rapid.T, h *harness) {
	for h.round = range rounds {
		h.admin = true
		t.Repeat(h.actions())
	}
}

// outcome is how a call ended, as the test reports it.
type outcome int

const (
	success outcome = iota
	transient
	permanent
	ignored
)

func (o outcome) String() string {
	return [...]string{"success", "transient", "permanent", "ignored"}[o]
}

func (o outcome) failed() bool { return o == transient || o == permanent }

var (
	errUpstream   = errors.New("connection reset by upstream")
	errBadRequest = errors.New("bad request")
)

// err returns an error that resilience.Classify puts in o's class.
func (o outcome) err() error {
	switch o {
	case transient:
		return resilience.Transient(errUpstream)
	case permanent:
		return errBadRequest
	case ignored:
		return context.Canceled
	}
	return nil
}

// The service the breaker guards is, by turns, up, down or flaky: the
// outcomes of calls are drawn with weights that depend on its health, so
// that sequences open the breaker and close it again often.
var drawOutcome = map[string]*rapid.Generator[outcome]{
	"up":    rapid.SampledFrom([]outcome{success, success, success, success, success, transient, permanent, ignored}),
	"down":  rapid.SampledFrom([]outcome{transient, permanent, transient, permanent, transient, permanent, success, ignored}),
	"flaky": rapid.SampledFrom([]outcome{success, transient, permanent, ignored}),
}

// permit is one admitted call.
type permit struct {
	p        breaker.Permit
	n        int       // its number, for messages
	gen      uint64    // the generation that admitted it
	probe    bool      // admitted half-open: it holds a probe slot
	at       time.Time // when it was admitted
	reported bool
}

// event is a state change the model expects.
type event struct {
	from, to breaker.State
	gen      uint64
	// The time of the change: lo == hi on virtual time, an interval of the
	// real clock for ForceOpen and Reset.
	lo, hi time.Time
}

// model is the reference breaker: plain, single-threaded and unoptimized.
type model struct {
	name                   string
	threshold, probes      int
	recovery, probeTimeout time.Duration

	state            breaker.State
	gen              uint64
	failures         int       // failures in a row, while closed
	successes        int       // probe successes, while half-open
	inFlight         []*permit // probes holding a slot, while half-open
	until            time.Time // while open: when it turns half-open; zero if forced
	forced           bool
	sinceLo, sinceHi time.Time // when the current state began
	opened, rejected uint64
	events           []event

	window *windowModel // nil without a window
}

// bucket is the width of the window's buckets for whole-second windows.
const bucket = 100 * time.Millisecond

// windowModel keeps the closed state's reports since it last closed.
type windowModel struct {
	length      time.Duration // whole seconds: buckets are 100ms wide
	minCalls    int
	failureRate float64
	slowRate    float64
	slowCall    time.Duration
	records     []record
}

type record struct {
	at           time.Time
	failed, slow bool
}

// set changes the state at a time in [lo, hi].
func (m *model) set(to breaker.State, lo, hi time.Time) {
	m.gen++
	m.events = append(m.events, event{from: m.state, to: to, gen: m.gen, lo: lo, hi: hi})
	m.state = to
	m.sinceLo, m.sinceHi = lo, hi
	m.failures, m.successes, m.inFlight = 0, 0, nil
	switch to {
	case breaker.Open:
		m.opened++
		m.until = time.Time{}
		if !m.forced {
			m.until = lo.Add(m.recovery)
		}
	case breaker.Closed:
		if m.window != nil {
			m.window.records = nil
		}
	}
}

func (m *model) setAt(to breaker.State, at time.Time) { m.set(to, at, at) }

// reset is Reset at a time in [lo, hi]: it closes the breaker, or, if it is
// closed already, clears its counts within the same generation.
func (m *model) reset(lo, hi time.Time) {
	m.forced = false
	if m.state != breaker.Closed {
		m.set(breaker.Closed, lo, hi)
		return
	}
	m.failures = 0
	if m.window != nil {
		m.window.records = nil
	}
}

// refresh makes the changes that time alone brings, as of now.
func (m *model) refresh(now time.Time) {
	for {
		switch m.state {
		case breaker.Open:
			if m.forced || now.Before(m.until) {
				return
			}
			m.setAt(breaker.HalfOpen, m.until)
		case breaker.HalfOpen:
			// The probe that timed out first fails.
			var first *permit
			for _, p := range m.inFlight {
				if now.Sub(p.at) >= m.probeTimeout && (first == nil || p.at.Before(first.at)) {
					first = p
				}
			}
			if first == nil {
				return
			}
			m.setAt(breaker.Open, first.at.Add(m.probeTimeout))
		default:
			return
		}
	}
}

// allow admits p at now, or returns the rejection the breaker must give.
func (m *model) allow(now time.Time, p *permit) *breaker.Error {
	m.refresh(now)
	switch m.state {
	case breaker.Open:
		m.rejected++
		return &breaker.Error{Name: m.name, State: breaker.Open, Until: m.until}
	case breaker.HalfOpen:
		if len(m.inFlight) == m.probes {
			m.rejected++
			return &breaker.Error{Name: m.name, State: breaker.HalfOpen}
		}
		p.probe = true
		m.inFlight = append(m.inFlight, p)
	}
	p.gen, p.at = m.gen, now
	return nil
}

// done reports p's outcome at now. In a windowed closed breaker, prior is
// the window's counts (calls, failures, slow calls) just before.
func (m *model) done(p *permit, now time.Time, o outcome, prior [3]int) {
	if p.reported || p.gen != m.gen {
		return
	}
	switch m.state {
	case breaker.Closed:
		trip := false
		switch {
		case o.failed():
			m.failures++
			trip = m.failures >= m.threshold
		case o == success:
			m.failures = 0
		}
		if w := m.window; w != nil && o != ignored {
			slow := w.slowCall > 0 && now.Sub(p.at) > w.slowCall
			w.records = append(w.records, record{at: now, failed: o.failed(), slow: slow})
			if o.failed() || slow {
				calls, failures, slows := prior[0]+1, prior[1], prior[2]
				if o.failed() {
					failures++
				}
				if slow {
					slows++
				}
				trip = trip || w.tripped(calls, failures, slows)
			}
		}
		if trip {
			m.setAt(breaker.Open, now)
		}
	case breaker.HalfOpen:
		i := slices.Index(m.inFlight, p)
		if i < 0 {
			return
		}
		m.inFlight = slices.Delete(m.inFlight, i, i+1)
		switch {
		case o.failed():
			m.setAt(breaker.Open, now)
		case o == success:
			if m.successes++; m.successes >= m.probes {
				m.setAt(breaker.Closed, now)
			}
		}
	}
}

// tripped reports whether the window's rate conditions hold for the counts.
func (w *windowModel) tripped(calls, failures, slows int) bool {
	if calls < w.minCalls {
		return false
	}
	return (w.failureRate > 0 && float64(failures) >= w.failureRate*float64(calls)) ||
		(w.slowRate > 0 && float64(slows) >= w.slowRate*float64(calls))
}

// bounds returns the least and the most the window may count at now, as
// calls, failures and slow calls.
func (w *windowModel) bounds(now time.Time) (lo, hi [3]int) {
	for _, r := range w.records {
		age := now.Sub(r.at)
		add := func(c *[3]int) {
			c[0]++
			if r.failed {
				c[1]++
			}
			if r.slow {
				c[2]++
			}
		}
		if age <= w.length-bucket {
			add(&lo)
		}
		if age < w.length {
			add(&hi)
		}
	}
	return lo, hi
}

// options choose the variant of the test.
type options struct {
	windowed   bool // add a sliding window with rate conditions
	probeTwice bool // also report half-open probes a second time
}

// harness drives one breaker and its model.
type harness struct {
	opts    options
	b       *breaker.Breaker
	m       *model
	start   time.Time
	now     time.Time
	permits []*permit
	got     []resilience.Event // state changes, from the Observer
	health  string             // of the service: a key of drawOutcome
	round   int                // of actions: see run
	admin   bool               // a ForceOpen or Reset may run in this round
}

func newHarness(t *rapid.T, opts options) *harness {
	h := &harness{opts: opts, health: "flaky"}
	cfg := breaker.Config{
		Name:            rapid.SampledFrom([]string{"", "llm-api"}).Draw(t, "Name"),
		RecoveryTimeout: drawDuration(t, "RecoveryTimeout", time.Second, 10*time.Second),
		ProbeTimeout:    drawDuration(t, "ProbeTimeout", time.Millisecond, 20*time.Second),
		// 0 is the default, 1; rapid favours the first values, and several
		// probes make the richer sequences.
		HalfOpenProbes:     rapid.SampledFrom([]int{2, 3, 1, 0}).Draw(t, "HalfOpenProbes"),
		MaxRecoveryTimeout: 0,
		Observer:           &resilience.Observer{StateChange: func(c resilience.Event) { h.got = append(h.got, c) }},
	}
	if opts.windowed {
		cfg.FailureThreshold = rapid.IntRange(0, 20).Draw(t, "FailureThreshold")
		cfg.Window = time.Duration(rapid.IntRange(1, 10).Draw(t, "WindowSeconds")) * time.Second
		cfg.MinCalls = rapid.IntRange(0, 8).Draw(t, "MinCalls")
		rate := rapid.SampledFrom([]float64{0, 0.25, 0.5, 0.6, 1})
		cfg.FailureRate = rate.Draw(t, "FailureRate")
		cfg.SlowCallRate = rate.Draw(t, "SlowCallRate")
		if cfg.FailureRate == 0 && cfg.SlowCallRate == 0 {
			cfg.FailureRate = 0.5
		}
		if cfg.SlowCallRate > 0 {
			cfg.SlowCall = time.Duration(rapid.Int64Range(1, int64(5*time.Second)).Draw(t, "SlowCall"))
		}
	} else {
		// 0 is the default, 5.
		cfg.FailureThreshold = rapid.SampledFrom([]int{1, 2, 3, 4, 0, 6}).Draw(t, "FailureThreshold")
	}
	h.m = &model{
		name:         cfg.Name,
		threshold:    orDefault(cfg.FailureThreshold, breaker.DefaultFailureThreshold),
		recovery:     orDefault(cfg.RecoveryTimeout, breaker.DefaultRecoveryTimeout),
		probes:       orDefault(cfg.HalfOpenProbes, breaker.DefaultHalfOpenProbes),
		probeTimeout: orDefault(cfg.ProbeTimeout, breaker.DefaultProbeTimeout),
	}
	if opts.windowed {
		h.m.window = &windowModel{
			length:      cfg.Window,
			minCalls:    orDefault(cfg.MinCalls, breaker.DefaultMinCalls),
			failureRate: cfg.FailureRate,
			slowRate:    cfg.SlowCallRate,
			slowCall:    cfg.SlowCall,
		}
	}
	// The virtual clock starts well before or well after the real one.
	h.start = rapid.SampledFrom([]time.Time{
		time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC),
		time.Date(2099, 12, 31, 23, 0, 0, 0, time.UTC),
	}).Draw(t, "start")
	h.now = h.start
	h.m.sinceLo = time.Now()
	b, err := breaker.New(cfg)
	h.m.sinceHi = time.Now()
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	h.b = b
	return h
}

// drawDuration draws zero (the default) or a duration in [lo, hi].
func drawDuration(t *rapid.T, label string, lo, hi time.Duration) time.Duration {
	if rapid.IntRange(0, 3).Draw(t, label+"IsDefault") == 0 {
		return 0
	}
	return time.Duration(rapid.Int64Range(int64(lo), int64(hi)).Draw(t, label))
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func (h *harness) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"health":    h.setHealth,
		"allow":     h.allow,
		"call":      h.call,
		"done":      h.done,
		"doneAgain": h.doneAgain,
		"advance":   h.advance,
		"state":     h.state,
		"snapshot":  h.snapshot,
		"forceOpen": h.forceOpen,
		"reset":     h.reset,
		"":          h.checkEvents,
	}
}

// rel formats a virtual time as an offset from the start.
func (h *harness) rel(at time.Time) string {
	if at.IsZero() {
		return "zero"
	}
	return "start+" + at.Sub(h.start).String()
}

// when formats a time the model knows to be in [lo, hi]: virtual when lo ==
// hi, else on the real clock.
func (h *harness) when(at, lo, hi time.Time) string {
	if lo.Equal(hi) {
		return h.rel(at)
	}
	return "real clock " + at.Format(time.RFC3339Nano)
}

// admit asks the breaker and the model for a permit at now; it returns the
// permit, or nil when both reject the call alike.
func (h *harness) admit(t *rapid.T) *permit {
	p := &permit{n: len(h.permits)}
	want := h.m.allow(h.now, p)
	bp, err := h.b.AllowAt(h.now)
	if want == nil {
		if err != nil {
			t.Fatalf("AllowAt(%s) = %v; the model admits the call (state %v, generation %d)", h.rel(h.now), err, h.m.state, h.m.gen)
		}
		p.p = bp
		h.permits = append(h.permits, p)
		t.Logf("permit #%d: generation %d, probe %v", p.n, p.gen, p.probe)
		return p
	}
	if err == nil {
		t.Fatalf("AllowAt(%s) admitted the call; the model rejects it: %v until %s", h.rel(h.now), want, h.rel(want.Until))
	}
	if !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("AllowAt(%s) = %v, which does not match ErrOpen", h.rel(h.now), err)
	}
	var oe *breaker.Error
	if !errors.As(err, &oe) {
		t.Fatalf("AllowAt(%s) = %T %v, not an *breaker.Error", h.rel(h.now), err, err)
	}
	if oe.Name != want.Name || oe.State != want.State || !oe.Until.Equal(want.Until) {
		t.Fatalf("AllowAt(%s) = breaker.Error{Name: %q, State: %v, Until: %s}; want {Name: %q, State: %v, Until: %s}",
			h.rel(h.now), oe.Name, oe.State, h.rel(oe.Until), want.Name, want.State, h.rel(want.Until))
	}
	if bp != (breaker.Permit{}) {
		t.Fatalf("AllowAt(%s) rejected the call with a non-zero Permit", h.rel(h.now))
	}
	bp.DoneAt(h.now, errBadRequest) // the zero Permit reports nothing
	return nil
}

func (h *harness) allow(t *rapid.T) { h.admit(t) }

// call is a synchronous call: admitted and reported at the same moment.
func (h *harness) call(t *rapid.T) {
	if p := h.admit(t); p != nil {
		h.report(t, p, h.outcome(t))
	}
}

// setHealth changes how the service's calls end from now on.
func (h *harness) setHealth(t *rapid.T) {
	h.health = rapid.SampledFrom([]string{"up", "down", "flaky"}).Draw(t, "health")
}

// outcome draws how a call ends.
func (h *harness) outcome(t *rapid.T) outcome { return drawOutcome[h.health].Draw(t, "outcome") }

// done reports an outstanding permit.
func (h *harness) done(t *rapid.T) {
	// Permits of ended generations pile up; half the time, report one of
	// the current generation, if there is one.
	current := rapid.Bool().Draw(t, "current")
	var open []*permit
	for _, p := range h.permits {
		if !p.reported && (!current || p.gen == h.m.gen) {
			open = append(open, p)
		}
	}
	if len(open) == 0 {
		t.Skip("no outstanding permit")
	}
	p := open[rapid.IntRange(0, len(open)-1).Draw(t, "which")]
	h.report(t, p, h.outcome(t))
}

// doneAgain reports a permit a second time, which must change nothing: a
// permit of an ended generation, or with probeTwice a half-open probe of the
// current one.
func (h *harness) doneAgain(t *rapid.T) {
	var again []*permit
	for _, p := range h.permits {
		if p.reported && (h.opts.probeTwice && p.probe && p.gen == h.m.gen || !h.opts.probeTwice && p.gen != h.m.gen) {
			again = append(again, p)
		}
	}
	if len(again) == 0 {
		t.Skip("no permit to report again")
	}
	p := again[rapid.IntRange(0, len(again)-1).Draw(t, "which")]
	h.report(t, p, h.outcome(t))
}

func (h *harness) report(t *rapid.T, p *permit, o outcome) {
	t.Logf("report permit #%d (generation %d, probe %v, admitted %s, reported before %v): %v at %s",
		p.n, p.gen, p.probe, h.rel(p.at), p.reported, o, h.rel(h.now))
	var prior [3]int
	if !p.reported && h.m.window != nil && h.m.state == breaker.Closed && p.gen == h.m.gen && o != ignored {
		s := h.b.SnapshotAt(h.now) // closed: consulting changes nothing
		h.checkWindow(t, s)
		prior = [3]int{s.Calls, s.Failures, s.SlowCalls}
	}
	h.m.done(p, h.now, o, prior)
	p.reported = true
	p.p.DoneAt(h.now, o.err())
}

// advance moves the virtual clock forward, often onto a boundary.
func (h *harness) advance(t *rapid.T) {
	m := h.m
	var step time.Duration
	switch kind := rapid.SampledFrom([]string{
		"0", "1ns", "recovery-1ns", "recovery", "recovery+1ns", "probeTimeout-1ns", "probeTimeout",
		"until-1ns", "until", "expiry-1ns", "expiry", "last expiry", "window", "window-bucket", "short", "random",
	}).Draw(t, "step"); kind {
	case "0":
	case "1ns":
		step = 1
	case "recovery-1ns", "recovery", "recovery+1ns":
		step = m.recovery + map[string]time.Duration{"recovery-1ns": -1, "recovery": 0, "recovery+1ns": 1}[kind]
	case "probeTimeout-1ns", "probeTimeout":
		step = m.probeTimeout
		if kind == "probeTimeout-1ns" {
			step--
		}
	case "until-1ns", "until":
		if m.state != breaker.Open || m.forced || !m.until.After(h.now) {
			t.Skip("not open")
		}
		step = m.until.Sub(h.now)
		if kind == "until-1ns" {
			step--
		}
	case "expiry-1ns", "expiry":
		var ahead []time.Duration
		for _, p := range m.inFlight {
			if d := p.at.Add(m.probeTimeout).Sub(h.now); d > 0 {
				ahead = append(ahead, d)
			}
		}
		if len(ahead) == 0 {
			t.Skip("no probe to time out")
		}
		step = ahead[rapid.IntRange(0, len(ahead)-1).Draw(t, "probe")]
		if kind == "expiry-1ns" {
			step--
		}
	case "last expiry": // every probe in flight times out
		for _, p := range m.inFlight {
			step = max(step, p.at.Add(m.probeTimeout).Sub(h.now))
		}
		if step == 0 {
			t.Skip("no probe to time out")
		}
	case "window", "window-bucket": // the edges of the window's bounds
		if m.window == nil {
			t.Skip("no window")
		}
		step = m.window.length
		if kind == "window-bucket" {
			step -= bucket
		}
	case "short": // within a probe's time
		step = time.Duration(rapid.Int64Range(1, max(int64(m.probeTimeout/4), 1)).Draw(t, "by"))
	case "random":
		step = time.Duration(rapid.Int64Range(0, int64(3*m.recovery)).Draw(t, "by"))
	}
	h.now = h.now.Add(step)
	t.Logf("now %s", h.rel(h.now))
}

func (h *harness) state(t *rapid.T) {
	h.m.refresh(h.now)
	if got := h.b.StateAt(h.now); got != h.m.state {
		t.Fatalf("StateAt(%s) = %v; model: %v", h.rel(h.now), got, h.m.state)
	}
}

func (h *harness) snapshot(t *rapid.T) {
	m := h.m
	got := h.b.SnapshotAt(h.now)
	m.refresh(h.now)
	if got.Since.Before(m.sinceLo) || got.Since.After(m.sinceHi) {
		t.Fatalf("SnapshotAt(%s).Since = %s; model: between %s and %s", h.rel(h.now),
			h.when(got.Since, m.sinceLo, m.sinceHi), h.when(m.sinceLo, m.sinceLo, m.sinceHi), h.when(m.sinceHi, m.sinceLo, m.sinceHi))
	}
	wantUntil := time.Time{}
	if m.state == breaker.Open {
		wantUntil = m.until
	}
	if !got.OpenUntil.Equal(wantUntil) {
		t.Fatalf("SnapshotAt(%s).OpenUntil = %s; model: %s", h.rel(h.now), h.rel(got.OpenUntil), h.rel(wantUntil))
	}
	h.checkWindow(t, got)
	want := breaker.Snapshot{
		Name:       m.name,
		State:      m.state,
		Generation: m.gen,
		Forced:     m.forced,
		Opened:     m.opened,
		Rejected:   m.rejected,
	}
	switch m.state {
	case breaker.Closed:
		want.ConsecutiveFailures = m.failures
	case breaker.HalfOpen:
		want.ProbesInFlight = len(m.inFlight)
	}
	got.Since, got.OpenUntil = time.Time{}, time.Time{}
	got.Calls, got.Failures, got.SlowCalls = 0, 0, 0
	if got != want {
		t.Fatalf("SnapshotAt(%s):\n got %+v\nwant %+v", h.rel(h.now), got, want)
	}
}

// checkWindow checks a snapshot's window counts against the model's bounds.
func (h *harness) checkWindow(t *rapid.T, s breaker.Snapshot) {
	got := [3]int{s.Calls, s.Failures, s.SlowCalls}
	if h.m.window == nil {
		if got != [3]int{} {
			t.Fatalf("SnapshotAt(%s): window counts %v without a window", h.rel(h.now), got)
		}
		return
	}
	lo, hi := h.m.window.bounds(h.now)
	for i, name := range []string{"Calls", "Failures", "SlowCalls"} {
		if got[i] < lo[i] || got[i] > hi[i] {
			t.Fatalf("SnapshotAt(%s).%s = %d; model: in [%d, %d]", h.rel(h.now), name, got[i], lo[i], hi[i])
		}
	}
}

// forceOpen and reset read the real clock: the model takes the time of the
// change from the real clock's readings around the call. At most one of them
// runs in a round of actions, and ForceOpen only in every fourth round, so
// that sequences reach deep states between them.
func (h *harness) forceOpen(t *rapid.T) {
	if !h.admin || h.round%4 != 3 {
		t.Skip("one ForceOpen or Reset a round; ForceOpen every fourth round")
	}
	h.admin = false
	lo := time.Now()
	h.b.ForceOpen()
	hi := time.Now()
	h.m.forced = true
	h.m.set(breaker.Open, lo, hi)
}

func (h *harness) reset(t *rapid.T) {
	if !h.admin {
		t.Skip("one ForceOpen or Reset a round")
	}
	h.admin = false
	lo := time.Now()
	h.b.Reset()
	hi := time.Now()
	h.m.reset(lo, hi)
}

// checkEvents, after every action, compares the state changes the observer
// saw with the model's, in order.
func (h *harness) checkEvents(t *rapid.T) {
	ok := len(h.got) == len(h.m.events)
	for i := 0; ok && i < len(h.got); i++ {
		g, w := h.got[i], h.m.events[i]
		ok = g.Type == resilience.EventStateChange && g.Kind == resilience.KindBreaker &&
			g.Policy == h.m.name && g.From == w.from.String() && g.To == w.to.String() && uint64(g.Attempt) == w.gen &&
			!g.Time.Before(w.lo) && !g.Time.After(w.hi)
	}
	if ok {
		return
	}
	var b strings.Builder
	b.WriteString("state changes differ from the model's\n got:")
	for i, g := range h.got {
		at := h.rel(g.Time)
		if i < len(h.m.events) {
			at = h.when(g.Time, h.m.events[i].lo, h.m.events[i].hi)
		}
		fmt.Fprintf(&b, "\n\t%v -> %v gen %d at %s (name %q)", g.From, g.To, g.Attempt, at, g.Policy)
	}
	b.WriteString("\nwant:")
	for _, w := range h.m.events {
		at := h.rel(w.lo)
		if !w.lo.Equal(w.hi) {
			at = "real clock " + w.lo.Format(time.RFC3339Nano) + " .. " + w.hi.Format(time.RFC3339Nano)
		}
		fmt.Fprintf(&b, "\n\t%v -> %v gen %d at %s", w.from, w.to, w.gen, at)
	}
	t.Fatal(b.String())
}

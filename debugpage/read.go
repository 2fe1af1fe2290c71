package debugpage

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/ratelimit"
	"github.com/netresilience/resilience/throttle"
	"github.com/netresilience/resilience/timeout"
)

// kind is the kind of a registered policy, as the root package names it.
type kind = resilience.Kind

// maxSeries is the most series sampled for one policy.
const maxSeries = 5

// seriesSpec describes one sampled series: its label, and its fixed range
// when it has one (a state, a probability); lo == hi means the sparkline
// scales to the values.
type seriesSpec struct {
	label  string
	lo, hi float64
	delta  bool // a running total, drawn as its increase between samples
	// sparse: some policies of the kind have no such values (an AIMD
	// limiter has no baseline), and a single policy's panel leaves the
	// sparkline out while no sample has one.
	sparse bool
}

// jsonName is the series' name in the JSON form, which holds running
// totals as they are: "rejected" for "rejected per interval".
func (s seriesSpec) jsonName() string {
	if s.delta {
		return strings.TrimSuffix(s.label, " per interval")
	}
	return s.label
}

// seriesOf returns the series sampled for a policy of kind k.
func seriesOf(k kind) []seriesSpec {
	switch k {
	case resilience.KindBreaker:
		return []seriesSpec{{label: "state", lo: 0, hi: 1}, {label: "rejected per interval", delta: true}}
	case resilience.KindBudget:
		return []seriesSpec{{label: "balance"}}
	case resilience.KindBulkhead:
		return []seriesSpec{{label: "in flight"}, {label: "waiting"}}
	case resilience.KindAdaptive:
		return []seriesSpec{{label: "limit"}, {label: "in flight"}, {label: "waiting"},
			{label: "baseline latency (s)", sparse: true}, {label: "window latency (s)", sparse: true}}
	case resilience.KindThrottle:
		return []seriesSpec{{label: "rejection probability", lo: 0, hi: 1}}
	case resilience.KindRateLimit:
		return []seriesSpec{{label: "tokens"}}
	case resilience.KindHedge:
		return []seriesSpec{{label: "hedge delay (s)"}}
	case resilience.KindTimeout:
		return []seriesSpec{{label: "timed out per interval", delta: true}}
	}
	return nil
}

// field is one number of a snapshot, as the page shows it.
type field struct {
	Label, Value string
}

// reading is what the page shows of a policy at one moment.
type reading struct {
	kind     kind
	state    string // a breaker's state; "" for other kinds
	fields   []field
	series   [maxSeries]float64
	snapshot any     // the policy's Snapshot, for JSON
	settings []field // the settings in effect, also among fields
}

// breakerLevel places a breaker's state on its sparkline: closed at the
// bottom, open at the top.
func breakerLevel(s breaker.State) float64 {
	switch s {
	case breaker.Open:
		return 1
	case breaker.HalfOpen:
		return 0.5
	}
	return 0
}

// readPolicy takes the snapshot of p at now, with SnapshotAt where the
// policy has it, and adds the settings in effect of a policy that can be
// reconfigured, so that a live change shows on the page.
func readPolicy(p any, now time.Time) reading {
	r := readSnapshot(p, now)
	r.settings = settings(p)
	r.fields = append(r.fields, r.settings...)
	return r
}

// settings returns the main settings in effect of a policy that can be
// reconfigured (its Config with the defaults filled in), and whether it
// runs in shadow mode; nothing for the others.
func settings(p any) []field {
	var f []field
	shadow := false
	switch p := p.(type) {
	case *breaker.Breaker:
		c := p.Config().WithDefaults()
		f = []field{{"threshold", itoa(c.FailureThreshold)}, {"recovery timeout", dur(c.RecoveryTimeout)}}
		if c.Window > 0 {
			f = append(f, field{"window", dur(c.Window)}, field{"failure rate", ftoa(c.FailureRate, 2)})
		}
		shadow = c.Shadow
	case *budget.Budget:
		c := p.Config().WithDefaults()
		f = []field{{"max ratio", ftoa(c.Ratio, 3)}, {"min per second", ftoa(c.MinPerSecond, 2)}}
		shadow = c.Shadow
	case *bulkhead.Bulkhead:
		c := p.Config().WithDefaults()
		f = []field{{"max concurrent", itoa(c.MaxConcurrent)}, {"max wait", dur(c.MaxWait)}}
		shadow = c.Shadow
	case *adaptive.Limiter:
		c := p.Config().WithDefaults()
		f = []field{{"algorithm", c.Algorithm.String()}, {"min", itoa(c.Min)}, {"max", itoa(c.Max)}, {"max wait", dur(c.MaxWait)}}
		shadow = c.Shadow
	case *throttle.Throttle:
		c := p.Config().WithDefaults()
		f = []field{{"max reject probability", ftoa(c.MaxRejectProbability, 2)}}
		shadow = c.Shadow
	case *ratelimit.Limiter:
		c := p.Config().WithDefaults()
		f = []field{{"limit", itoa(c.Limit) + " per " + dur(c.Per)}, {"burst", itoa(c.Burst)}}
		shadow = c.Shadow
	default:
		return nil
	}
	if shadow {
		f = append(f, field{"mode", "shadow: decides and reports, rejects nothing"})
	}
	return f
}

// readSnapshot takes the snapshot of p at now.
func readSnapshot(p any, now time.Time) reading {
	switch p := p.(type) {
	case *breaker.Breaker:
		s := p.SnapshotAt(now)
		r := reading{kind: resilience.KindBreaker, state: s.State.String(), snapshot: s}
		r.fields = []field{
			{"state", s.State.String()},
			{"for", age(now, s.Since)},
			{"consecutive failures", itoa(s.ConsecutiveFailures)},
			{"window calls", itoa(s.Calls)},
			{"window failures", itoa(s.Failures)},
			{"window slow", itoa(s.SlowCalls)},
			{"probes in flight", itoa(s.ProbesInFlight)},
			{"opened", utoa(s.Opened)},
			{"rejected", utoa(s.Rejected)},
		}
		probe := "—"
		switch {
		case s.Forced:
			probe = "forced open"
		case s.State == breaker.Open && !s.OpenUntil.IsZero():
			probe = dur(s.OpenUntil.Sub(now))
		}
		r.fields = append(r.fields, field{"probe in", probe})
		r.series = [maxSeries]float64{breakerLevel(s.State), float64(s.Rejected)}
		return r
	case *budget.Budget:
		s := p.SnapshotAt(now)
		r := reading{kind: resilience.KindBudget, snapshot: s}
		r.fields = []field{
			{"balance", ftoa(s.Balance, 2)},
			{"calls", itoa(s.Calls)},
			{"retries", itoa(s.Retries)},
			{"ratio", ftoa(s.Ratio, 3)},
			{"floor", ftoa(s.Floor, 2)},
			{"exhausted", utoa(s.Exhausted)},
		}
		r.series[0] = s.Balance
		return r
	case *bulkhead.Bulkhead:
		s := p.Snapshot()
		r := reading{kind: resilience.KindBulkhead, snapshot: s}
		r.fields = []field{
			{"in flight", itoa(s.InFlight) + " of " + itoa(s.MaxConcurrent)},
			{"waiting", itoa(s.Waiting)},
			{"admitted", utoa(s.Admitted)},
			{"rejected", utoa(s.Rejected)},
			{"abandoned", utoa(s.Abandoned)},
		}
		r.series = [maxSeries]float64{float64(s.InFlight), float64(s.Waiting)}
		return r
	case *adaptive.Limiter:
		s := p.Snapshot()
		r := reading{kind: resilience.KindAdaptive, snapshot: s}
		// The Gradient's latencies, once its first window has closed; an
		// AIMD limiter has none.
		baseline, latency, probing := "—", "—", "—"
		bs, ls := math.NaN(), math.NaN()
		if s.Algorithm == adaptive.Gradient {
			probing = "no"
			if s.Probing {
				probing = "yes"
			}
			if s.Baseline > 0 {
				baseline, bs = dur(s.Baseline), s.Baseline.Seconds()
			}
			if s.Latency > 0 {
				latency, ls = dur(s.Latency), s.Latency.Seconds()
			}
		}
		r.fields = []field{
			{"limit", itoa(s.Limit)},
			{"in flight", itoa(s.InFlight)},
			{"waiting", itoa(s.Waiting)},
			{"baseline latency", baseline},
			{"window latency", latency},
			{"probing", probing},
			{"admitted", utoa(s.Admitted)},
			{"rejected", utoa(s.Rejected)},
			{"shadow rejected", utoa(s.ShadowRejected)},
			{"abandoned", utoa(s.Abandoned)},
		}
		r.series = [maxSeries]float64{float64(s.Limit), float64(s.InFlight), float64(s.Waiting), bs, ls}
		return r
	case *throttle.Throttle:
		s := p.SnapshotAt(now)
		r := reading{kind: resilience.KindThrottle, snapshot: s}
		r.fields = []field{
			{"rejection probability", ftoa(s.Probability*100, 1) + "%"},
			{"requests", itoa(s.Requests)},
			{"accepts", itoa(s.Accepts)},
			{"rejected", utoa(s.Rejected)},
		}
		r.series[0] = s.Probability
		return r
	case *ratelimit.Limiter:
		s := p.SnapshotAt(now)
		r := reading{kind: resilience.KindRateLimit, snapshot: s}
		r.fields = []field{
			{"tokens", ftoa(s.Tokens, 1) + " of " + itoa(s.Burst)},
			{"waiting", itoa(s.Waiting)},
			{"admitted", utoa(s.Admitted)},
			{"rejected", utoa(s.Rejected)},
		}
		r.series[0] = s.Tokens
		return r
	case *hedge.Hedger:
		s := p.SnapshotAt(now)
		r := reading{kind: resilience.KindHedge, snapshot: s}
		r.fields = []field{
			{"delay", dur(s.Delay)},
			{"samples", itoa(s.Samples)},
			{"calls", utoa(s.Calls)},
			{"hedges", utoa(s.Hedges)},
			{"refused", utoa(s.Refused)},
			{"won", utoa(s.Won)},
			{"in flight", itoa(s.InFlight)},
		}
		r.series[0] = s.Delay.Seconds()
		return r
	case *timeout.Timeout:
		s := p.Snapshot()
		r := reading{kind: resilience.KindTimeout, snapshot: s}
		r.fields = []field{
			{"timeout", dur(s.Timeout)},
			{"timed out", utoa(s.TimedOut)},
			{"abandoned", utoa(s.Abandoned)},
			{"abandoned running", itoa(s.AbandonedRunning)},
			{"waited for", utoa(s.WaitedFor)},
		}
		r.series[0] = float64(s.TimedOut)
		return r
	}
	return reading{}
}

func itoa(n int) string    { return strconv.Itoa(n) }
func utoa(n uint64) string { return strconv.FormatUint(n, 10) }

func ftoa(f float64, dec int) string { return strconv.FormatFloat(f, 'f', dec, 64) }

// dur formats d rounded for reading: to the millisecond below a minute, to
// the second above.
func dur(d time.Duration) string {
	switch {
	case d >= time.Minute || d <= -time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second || d <= -time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// age formats how long before now since was, or "—" without a time.
func age(now, since time.Time) string {
	if since.IsZero() {
		return "—"
	}
	return dur(now.Sub(since))
}

package adaptive

import (
	"math"
	"time"
)

// decision is the limit as an algorithm moves it: a pure state machine fed
// with samples on explicit time, which never reads a clock. Times are
// nanoseconds on the limiter's clock. The Limiter guards it with its lock.
type decision struct {
	alg       Algorithm
	min, max  float64
	limit     float64 // in [min, max]
	aimd      AIMDConfig
	grad      GradientConfig
	probeMax  int64 // the longest probe, BaselinePeriod/20
	hasCut    bool
	lastCut   int64 // AIMD: when the limit was last cut
	win       window
	baseline  float64 // Gradient: the latency without load, in ns; 0 until the first window
	short     float64 // Gradient: the mean latency of the last window, in ns
	loaded    float64 // Gradient: the mean of the last loaded window since the last evaluation; 0 if none
	period    int64   // Gradient: when the current baseline period began
	started   bool    // Gradient: the first sample has come
	uN        int     // Gradient: uncongested samples in the period (or probe)
	uSum      float64 // and the sum of their latencies
	probing   bool    // Gradient: admissions are capped at half the limit
	probeFrom int64
}

// window is one Gradient window of samples.
type window struct {
	open        bool
	start       int64
	n           int
	sum         float64
	maxInflight int
}

// newDecision returns the decision of a valid Config with its defaults.
func newDecision(d Config) decision {
	return decision{
		alg:      d.Algorithm,
		min:      float64(d.Min),
		max:      float64(d.Max),
		limit:    float64(d.Initial),
		aimd:     d.AIMD,
		grad:     d.Gradient,
		probeMax: max(int64(d.Gradient.BaselinePeriod/20), int64(d.Gradient.Window)),
	}
}

// current returns the whole limit, at least 1.
func (d *decision) current() int { return max(int(d.limit), 1) }

// probeCap returns the most calls that may be in flight while the decision
// probes for its baseline, or false when it does not probe.
func (d *decision) probeCap() (int, bool) {
	if !d.probing {
		return 0, false
	}
	return max(int(math.Ceil(d.limit/2)), 1), true
}

// record feeds one sample: a call that was admitted when inflight calls
// (itself included) were in flight, and ended at now after latency,
// dropped or not.
func (d *decision) record(now int64, latency time.Duration, inflight int, dropped bool) {
	latency = max(latency, 0)
	if d.alg == AIMD {
		d.recordAIMD(now, int64(latency), inflight, dropped)
		return
	}
	d.recordGradient(now, float64(latency), inflight, dropped)
}

// recordAIMD: a drop cuts the limit by Backoff, once for the calls that
// were admitted before the last cut (they were in flight when it was made,
// and their drops answer the same overload); a call that was admitted with
// the limit at least half used raises it by Increase/limit.
func (d *decision) recordAIMD(now, latency int64, inflight int, dropped bool) {
	if d.aimd.Timeout > 0 && latency > int64(d.aimd.Timeout) {
		dropped = true
	}
	if dropped {
		start := now - latency
		if d.hasCut && start < d.lastCut {
			return
		}
		d.limit = max(d.min, d.limit*d.aimd.Backoff)
		d.hasCut, d.lastCut = true, now
		return
	}
	if float64(inflight)*2 >= d.limit {
		d.limit = min(d.max, d.limit+d.aimd.Increase/d.limit)
	}
}

// recordGradient adds a sample to the window and closes it when it is
// full; it counts the sample toward the baseline if the limiter was at most
// half full when the call was admitted.
func (d *decision) recordGradient(now int64, latency float64, inflight int, dropped bool) {
	g := &d.grad
	if !d.started {
		d.started, d.period = true, now
	}
	if dropped && d.baseline > 0 {
		latency = max(latency, 2*d.baseline)
	}
	w := &d.win
	if !w.open {
		*w = window{open: true, start: now}
	}
	w.n++
	w.sum += latency
	w.maxInflight = max(w.maxInflight, inflight)
	if !dropped && float64(inflight)*2 <= d.limit {
		d.uN++
		d.uSum += latency
	}

	switch {
	case d.probing && d.uN >= g.MinSamples:
		d.evaluate(now)
	case d.probing && now-d.probeFrom >= d.probeMax:
		// Gave up: the calls take too long, or too few come. Try again
		// next period.
		d.probing, d.period, d.uN, d.uSum = false, now, 0, 0
	case !d.probing && now-d.period >= int64(g.BaselinePeriod):
		if d.uN >= g.MinSamples {
			d.evaluate(now)
		} else {
			d.probing, d.probeFrom = true, now
		}
	}

	if w.n >= g.WindowSamples || (w.n >= g.MinSamples && now-w.start >= int64(g.Window)) {
		d.closeWindow()
	}
}

// evaluate takes the baseline afresh from the period's uncongested samples,
// and begins a new period.
func (d *decision) evaluate(now int64) {
	u := d.uSum / float64(d.uN)
	tol := d.grad.Tolerance
	switch {
	case d.baseline == 0, d.loaded == 0, u*tol >= d.loaded:
		// Load does not raise the latency beyond the tolerance: u is the
		// service's latency now, higher or lower than the baseline.
		d.baseline = u
	case u*tol < d.baseline:
		// Load raises the latency, and u is clearly below the baseline.
		d.baseline = u
	}
	d.loaded = 0
	d.probing, d.period, d.uN, d.uSum = false, now, 0, 0
}

// closeWindow judges the window: the ratio of the baseline to its mean
// latency moves the limit.
func (d *decision) closeWindow() {
	w := d.win
	d.win = window{}
	short := w.sum / float64(w.n)
	d.short = short
	tol := d.grad.Tolerance
	switch {
	case d.baseline == 0:
		d.baseline = short
		return
	case short*tol < d.baseline:
		d.baseline = short // clearly faster than the baseline
	}
	if d.probing {
		return // a window at half the limit says nothing about the limit
	}
	used := float64(w.maxInflight)*2 >= d.limit
	if used {
		d.loaded = short
	}
	ratio := min(max(tol*d.baseline/short, 0.5), 1)
	target := d.limit*ratio + math.Sqrt(d.limit)
	if !used {
		target = min(target, d.limit) // no use, no evidence for more
	}
	d.limit = min(max(d.limit+d.grad.Smoothing*(target-d.limit), d.min), d.max)
}

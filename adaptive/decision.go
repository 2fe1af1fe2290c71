package adaptive

import (
	"math"
	"time"
)

// decision is the limit as an algorithm moves it: a pure state machine fed
// with samples on explicit time, which never reads a clock. Times are
// nanoseconds on the limiter's clock. The Limiter guards it with its lock.
type decision struct {
	alg      Algorithm
	min, max float64
	limit    float64 // in [min, max]
	aimd     AIMDConfig
	grad     GradientConfig
	probeMax int64 // the longest probe, BaselinePeriod/20 or Window, unless its calls take longer

	seen bool  // a sample has come
	last int64 // the latest time a sample came at

	// AIMD
	hasCut  bool
	lastCut int64 // when the limit was last cut

	// Gradient
	win       window
	started   bool    // the first sample has come
	baseline  float64 // the latency without load, in ns; 0 until the first window
	short     float64 // the mean latency of the last window, in ns
	loaded    float64 // the mean of the last window that used the limit; 0 if none
	loadedAt  int64   // when it closed
	next      int64   // when the next probe begins
	probing   bool    // admissions are capped at half the limit
	probeFrom int64   // when the probe began
	pN        int     // calls of the probe's sample that have ended, not dropped
	pSum      float64 // and the sum of their latencies
	pDone     int     // calls of the probe's sample that have ended, in any way
	pSize     int     // calls in the probe's sample: the first MinSamples admitted during it
	pEnd      int64   // when the last of them was admitted, once pSize is MinSamples
	pending   float64 // a probe's mean that waits for the next window's verdict; 0 if none
	probeTo   int64   // when the last probe ended: calls admitted during it count in no window
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

// reconfigure takes the parameters of the valid Config c with its
// defaults, keeping the limit (within the new Min and Max) and the time of
// the last sample. The rest of the state carries over if the algorithm
// stays, and starts afresh if it changes.
func (d *decision) reconfigure(c Config) {
	n := newDecision(c)
	if c.Algorithm == d.alg {
		n = *d
		fresh := newDecision(c)
		n.min, n.max, n.aimd, n.grad, n.probeMax = fresh.min, fresh.max, fresh.aimd, fresh.grad, fresh.probeMax
	}
	n.limit = min(max(d.limit, n.min), n.max)
	n.seen, n.last = d.seen, d.last
	*d = n
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
//
// Samples must come in the order of time. A sample from before the last
// one (a simulator's clock reset, a hostile caller) starts the decision's
// timing afresh from it: the open window, the probe schedule and the last
// cut are forgotten, and the limit and baseline kept. Latencies are taken
// in [0, maxSample], so that no arithmetic on them overflows.
func (d *decision) record(now int64, latency time.Duration, inflight int, dropped bool) {
	latency = min(max(latency, 0), maxSample)
	now = min(now, math.MaxInt64-int64(maxSample))   // so now + a period cannot overflow
	now = max(now, math.MinInt64+2*int64(maxSample)) // nor now - a latency
	if d.seen && now < d.last {
		d.restart()
	}
	d.seen, d.last = true, now
	if d.alg == AIMD {
		d.recordAIMD(now, int64(latency), inflight, dropped)
		return
	}
	d.recordGradient(now, float64(latency), inflight, dropped)
}

// maxSample is the longest latency a sample is taken at: about 36 years.
const maxSample = time.Duration(math.MaxInt64 / 8)

// restart forgets the decision's timing, when a sample comes from before
// the last one.
func (d *decision) restart() {
	d.hasCut, d.lastCut = false, 0
	d.started, d.win = false, window{}
	d.probing, d.probeFrom, d.probeTo, d.pN, d.pSum, d.pending = false, 0, 0, 0, 0, 0
	d.loaded, d.loadedAt = 0, 0
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
// full, and runs the probes for the baseline.
func (d *decision) recordGradient(now int64, latency float64, inflight int, dropped bool) {
	g := &d.grad
	if !d.started {
		d.started, d.next = true, now+int64(g.BaselinePeriod)
	}
	admitted := now - int64(latency)
	if dropped && d.baseline > 0 {
		latency = max(latency, 2*d.baseline)
	}
	if d.probing {
		if d.inSample(admitted) {
			d.pDone++
			if c, _ := d.probeCap(); !dropped && inflight <= c {
				d.pN++
				d.pSum += latency
			}
		}
		if d.probeOver(now) {
			return
		}
	} else if now >= d.next {
		d.probing, d.probeFrom = true, now
		d.pN, d.pSum, d.pDone, d.pSize, d.pEnd = 0, 0, 0, 0, 0
		d.win = window{}
		return
	}
	if admitted >= d.probeFrom && (d.probing || admitted < d.probeTo) {
		return // admitted during the probe, at another load
	}

	w := &d.win
	if !w.open {
		*w = window{open: true, start: now}
	}
	w.n++
	w.sum += latency
	w.maxInflight = max(w.maxInflight, inflight)
	if w.n >= g.WindowSamples || (w.n >= g.MinSamples && now-w.start >= int64(g.Window)) {
		d.closeWindow(now)
	}
}

// admitted notes a call admitted at now through the limiter. While the
// decision probes, the first MinSamples calls admitted make the probe's
// sample, and the probe ends when they have all ended: not when the first
// MinSamples calls of the probe end, which would be its fastest, and take
// the baseline too low when latencies vary.
func (d *decision) admitted(now int64) {
	switch {
	case !d.probing || now < d.probeFrom:
	case d.pSize == 0:
		d.pSize, d.pEnd = 1, now
	case d.pSize < d.grad.MinSamples:
		d.pSize++
		d.pEnd = max(d.pEnd, now)
	case now <= d.pEnd:
		d.pSize++ // admitted before the last of the sample, and noted after it
	}
}

// inSample reports whether a call admitted at admitted belongs to the
// probe's sample. Without admissions noted (samples fed by RecordAt alone),
// every call admitted since the probe began does, and the probe ends with
// the first MinSamples of them to end.
func (d *decision) inSample(admitted int64) bool {
	if admitted < d.probeFrom {
		return false
	}
	return d.pSize == 0 || d.pSize < d.grad.MinSamples || admitted <= d.pEnd
}

// unsampled notes a call admitted at start that ended at now without a
// sample (canceled, panicked, ignored): it no longer keeps a probe open.
func (d *decision) unsampled(now, start int64) {
	if d.alg != Gradient || !d.probing || !d.inSample(start) {
		return
	}
	d.pDone++
	d.probeOver(now)
}

// probeOver ends the probe at now if its sample has ended, or if it has
// lasted too long, and reports whether it ended.
func (d *decision) probeOver(now int64) bool {
	g := &d.grad
	switch {
	case d.pSize == 0 && d.pN >= g.MinSamples, // fed by RecordAt alone
		d.pSize >= g.MinSamples && d.pDone >= d.pSize && d.pN > 0:
		d.endProbe(now, d.pN*2 >= d.pSize)
		return true
	case d.pSize >= g.MinSamples && d.pDone >= d.pSize:
		d.endProbe(now, false) // every call of the sample dropped or ignored
		return true
	case now-d.probeFrom >= d.probeLength():
		d.endProbe(now, false)
		return true
	}
	return false
}

// probeLength returns how long a probe may last: BaselinePeriod/20, or
// Window, or long enough for MinSamples calls to end at the probe's cap
// (two latencies and MinSamples/cap more), whichever is longest.
func (d *decision) probeLength() int64 {
	c, _ := d.probeCap()
	calls := 2 + float64(d.grad.MinSamples)/float64(max(c, 1))
	return max(d.probeMax, int64(min(d.short*calls, math.MaxInt64/2)))
}

// endProbe ends a probe at now: with its mean latency u, if it gathered
// enough calls (ok), the baseline falls to u, or rises to it if the
// windows that used the limit just before and just after the probe were
// not slower than Tolerance × u. The second verdict comes when the next
// window closes.
func (d *decision) endProbe(now int64, ok bool) {
	// The next probe comes after BaselinePeriod, or later, so that probes
	// take at most a twentieth of the time.
	d.probing, d.probeTo = false, now
	d.next = now + max(int64(d.grad.BaselinePeriod), 20*(now-d.probeFrom))
	d.win = window{}
	if !ok {
		return
	}
	u := d.pSum / float64(d.pN)
	tol := d.grad.Tolerance
	stale := now-d.loadedAt > 10*int64(d.grad.Window)+(now-d.probeFrom)
	switch {
	case d.baseline == 0:
		d.baseline = u
	case d.loaded == 0 || stale || tol*u >= d.loaded:
		d.pending = u
	case tol*u < d.baseline:
		d.baseline = u // load raises the latency, and u is clearly lower
	}
	d.loaded = 0
}

// closeWindow judges the window that closes at now: the ratio of the
// baseline to its mean latency moves the limit.
func (d *decision) closeWindow(now int64) {
	w := d.win
	d.win = window{}
	short := w.sum / float64(w.n)
	d.short = short
	tol := d.grad.Tolerance
	used := float64(w.maxInflight)*2 >= d.limit
	if u := d.pending; u > 0 {
		// The verdict on the last probe: a window that used the limit and
		// was slower than Tolerance × u says load raises the latency, and
		// u may only lower the baseline.
		if !used || short <= tol*u || tol*u < d.baseline {
			d.baseline = u
		}
		d.pending = 0
	}
	switch {
	case d.baseline == 0:
		d.baseline = short
		return
	case short > 0 && short*tol < d.baseline:
		d.baseline = short // clearly faster than the baseline
	}
	if used {
		d.loaded, d.loadedAt = short, now
	}
	ratio := 1.0 // a window of calls that took no time at all
	if short > 0 {
		ratio = min(max(tol*d.baseline/short, 0.5), 1)
	}
	target := d.limit*ratio + math.Sqrt(d.limit)
	if !used {
		target = min(target, d.limit) // no use, no evidence for more
	}
	d.limit = min(max(d.limit+d.grad.Smoothing*(target-d.limit), d.min), d.max)
}

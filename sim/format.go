package sim

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// The formatting shared by the terminal table and the HTML report.

// setupLine summarises the scenario's setup in one line: how long the load
// runs, its rate, the clients, their deadline, the upstream's capacity if
// it has one, the bursts and the trouble windows. Fields left at zero show
// the defaults documented on Scenario.
func setupLine(s *Scenario) string {
	var parts []string
	parts = append(parts, fmtDur(time.Duration(s.Duration))+" of load")
	parts = append(parts, fmtTrim(s.Load.Rate, 2)+" req/s")
	clients := s.Load.clients()
	if clients == 1 {
		parts = append(parts, "1 client")
	} else {
		parts = append(parts, fmtInt(clients)+" clients")
	}
	parts = append(parts, "deadline "+fmtDur(s.Load.deadline()))
	if s.Upstream.Capacity > 0 {
		parts = append(parts, "upstream capacity "+fmtInt(s.Upstream.Capacity))
	}
	for _, b := range s.Load.Bursts {
		parts = append(parts, "burst of "+fmtInt(b.Requests)+" at "+fmtDur(time.Duration(b.At)))
	}
	if len(s.Upstream.Windows) == 0 {
		parts = append(parts, "no trouble windows")
	} else {
		ws := make([]string, len(s.Upstream.Windows))
		for i, w := range s.Upstream.Windows {
			ws[i] = windowLabel(i, w)
		}
		parts = append(parts, "trouble: "+strings.Join(ws, "; "))
	}
	return strings.Join(parts, " · ")
}

// windowLabel describes the i-th trouble window as "name from–to (what)",
// where what is "down", or the error rate and latency factor it sets.
func windowLabel(i int, w Window) string {
	name := w.Name
	if name == "" {
		name = "window " + strconv.Itoa(i+1)
	}
	var what []string
	switch {
	case w.Down:
		what = append(what, "down")
	default:
		if w.ErrorRate > 0 {
			what = append(what, fmtTrim(w.ErrorRate*100, 1)+"% errors")
		}
		if w.LatencyFactor > 0 && w.LatencyFactor != 1 {
			what = append(what, "×"+fmtTrim(w.LatencyFactor, 2)+" latency")
		}
		if w.CapacityFactor > 0 && w.CapacityFactor != 1 {
			what = append(what, "×"+fmtTrim(w.CapacityFactor, 2)+" capacity")
		}
		if len(what) == 0 {
			what = append(what, "no effect")
		}
	}
	return name + " " + fmtDur(time.Duration(w.From)) + "–" + fmtDur(time.Duration(w.To)) +
		" (" + strings.Join(what, ", ") + ")"
}

// noValue is what a cell shows when there is nothing to measure.
const noValue = "—"

// latencyCell formats the latency percentile d of pr, or noValue when no
// request succeeded and the percentiles mean nothing.
func latencyCell(pr *PolicyResult, d time.Duration) string {
	if pr.Succeeded == 0 {
		return noValue
	}
	return fmtDur(d)
}

// recoveryCell formats pr's time to recover: noValue without a trouble
// window, "never" if the success ratio did not come back.
func recoveryCell(r *Result, pr *PolicyResult) string {
	switch {
	case !r.HasHeal:
		return noValue
	case !pr.Recovered:
		return "never"
	}
	return fmtDur(pr.Recovery)
}

// failuresCell lists the failed requests by reason, as "deadline 120 ·
// open 3,400", leaving out the reasons with none; noValue if nothing failed.
func failuresCell(f Failures) string {
	parts := failuresParts(f)
	if len(parts) == 0 {
		return noValue
	}
	return strings.Join(parts, " · ")
}

// peakCell formats pr's peak load as the calls of one bucket of r, whose
// width the column's header states.
func peakCell(r *Result, pr *PolicyResult) string {
	return fmtRound(pr.PeakLoad * r.Bucket.Seconds())
}

// failuresParts lists the failed requests by reason, as "deadline 120",
// leaving out the reasons with none.
func failuresParts(f Failures) []string {
	reasons := []struct {
		label string
		n     int
	}{
		{"errors", f.Exhausted},
		{"deadline", f.Deadline},
		{"open", f.BreakerOpen},
		{"throttled", f.Throttled},
		{"budget", f.Budget},
		{"tokens", f.Tokens},
		{"other", f.NotRetryable},
		{"limited", f.Limited},
	}
	var parts []string
	for _, r := range reasons {
		if r.n != 0 {
			parts = append(parts, r.label+" "+fmtInt(r.n))
		}
	}
	return parts
}

// fmtDur formats d to three significant digits in the largest unit that
// keeps the number at least 1: "850µs", "12.3ms", "1.52s". From a minute up
// it rounds to the second ("2m30s"), from an hour to the minute ("1h05m").
func fmtDur(d time.Duration) string {
	if d < 0 {
		return "-" + fmtDur(-d)
	}
	switch {
	case d == 0:
		return "0s"
	case d >= time.Hour:
		m := int64(d.Round(time.Minute) / time.Minute)
		if m%60 == 0 {
			return strconv.FormatInt(m/60, 10) + "h"
		}
		return strconv.FormatInt(m/60, 10) + "h" + twoDigits(m%60) + "m"
	case d.Round(time.Second) >= time.Minute:
		s := int64(d.Round(time.Second) / time.Second)
		if s >= 3600 {
			return fmtDur(time.Duration(s) * time.Second)
		}
		if s%60 == 0 {
			return strconv.FormatInt(s/60, 10) + "m"
		}
		return strconv.FormatInt(s/60, 10) + "m" + twoDigits(s%60) + "s"
	}
	// Round to three significant digits first, so that 999.7µs becomes
	// 1ms and not 1000µs.
	ns := int64(d)
	p := int64(1)
	for q := ns; q >= 1000; q /= 10 {
		p *= 10
	}
	ns = (ns + p/2) / p * p
	units := []struct {
		size int64
		name string
	}{{int64(time.Second), "s"}, {int64(time.Millisecond), "ms"}, {int64(time.Microsecond), "µs"}, {1, "ns"}}
	for _, u := range units {
		if ns >= u.size {
			return fmtTrim(float64(ns)/float64(u.size), 2) + u.name
		}
	}
	return "0s"
}

// twoDigits formats n, in [0, 60), with a leading zero.
func twoDigits(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// fmtTrim formats f with at most dec decimals, without trailing zeros.
func fmtTrim(f float64, dec int) string {
	s := strconv.FormatFloat(f, 'f', dec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// fmtInt formats n with commas between groups of three digits.
func fmtInt(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fmtRound formats f rounded to an integer, as fmtInt does, or noValue if it
// is not a number.
func fmtRound(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return noValue
	}
	return fmtInt(int(math.Round(f)))
}

// fmtAmplification formats a ratio of calls to requests as "×1.23".
func fmtAmplification(a float64) string {
	if math.IsNaN(a) || math.IsInf(a, 0) {
		return noValue
	}
	return "×" + strconv.FormatFloat(a, 'f', 2, 64)
}

// fmtPercent formats a share as a percentage with one decimal, writing
// ">99.9%" and "<0.1%" rather than rounding a share that is not quite 1,
// or not quite 0, to "100.0%" or "0.0%".
func fmtPercent(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return noValue
	}
	s := strconv.FormatFloat(f*100, 'f', 1, 64)
	switch {
	case s == "100.0" && f < 1:
		return ">99.9%"
	case s == "0.0" && f > 0:
		return "<0.1%"
	case s == "-0.0":
		s = "0.0"
	}
	return s + "%"
}

// limitRange returns the lowest, mean and highest of pr's concurrency
// limit (Point.Limit) over the buckets that end within the load of r, and
// its value in the last of them; ok is false if no bucket does.
func limitRange(r *Result, pr *PolicyResult) (lo int, mean float64, hi, last int, ok bool) {
	n := int(time.Duration(r.Scenario.Duration) / r.Bucket)
	n = min(n, len(pr.Series))
	if n == 0 {
		return 0, 0, 0, 0, false
	}
	lo, hi = pr.Series[0].Limit, pr.Series[0].Limit
	sum := 0
	for _, pt := range pr.Series[:n] {
		lo, hi = min(lo, pt.Limit), max(hi, pt.Limit)
		sum += pt.Limit
	}
	return lo, float64(sum) / float64(n), hi, pr.Series[n-1].Limit, true
}

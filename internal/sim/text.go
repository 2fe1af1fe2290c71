package sim

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// WriteText writes res as a terminal table: one row per policy.
func WriteText(w io.Writer, res *Result) error {
	s := res.Scenario
	var b strings.Builder
	fmt.Fprintf(&b, "== %s: %s\n", s.Name, setup(res))
	if s.Description != "" {
		b.WriteString(wrap(s.Description, 100, "   "))
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	nameWidth := len("policy")
	for i := range res.Policies {
		nameWidth = max(nameWidth, utf8.RuneCountInString(res.Policies[i].Name))
	}
	fmt.Fprintln(tw, "policy"+strings.Repeat(" ", nameWidth-len("policy"))+"\trequests\tupstream calls\tamplification\tsuccess\tp50\tp99\tp99.9\trecovery\tpeak load\tfailures\t")
	for i := range res.Policies {
		p := &res.Policies[i]
		// Pad the name so that the right-aligned column reads left-aligned.
		name := p.Name + strings.Repeat(" ", nameWidth-utf8.RuneCountInString(p.Name))
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s×\t%s%%\t%s\t%s\t%s\t%s\t%s/s\t%s\t\n",
			name, p.Requests, p.Calls,
			strconv.FormatFloat(p.Amplification, 'f', 2, 64),
			strconv.FormatFloat(100*p.SuccessRatio, 'f', 1, 64),
			latency(p, p.P50), latency(p, p.P99), latency(p, p.P999),
			recoveryText(res, p),
			strconv.FormatFloat(p.PeakLoad, 'f', 0, 64),
			failuresText(p.Failures))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// setup says in one line what a scenario simulates.
func setup(res *Result) string {
	s := res.Scenario
	l, u := &s.Load, &s.Upstream
	parts := []string{fmt.Sprintf("%s of %s req/s from %d client(s), deadline %s",
		roundDuration(time.Duration(s.Duration)), strconv.FormatFloat(l.Rate, 'f', -1, 64), max(l.Clients, 1),
		roundDuration(time.Duration(orDefault(l.Deadline, Duration(10*time.Second)))))}
	for _, b := range l.Bursts {
		parts = append(parts, fmt.Sprintf("burst of %d at %s", b.Requests, roundDuration(time.Duration(b.At))))
	}
	if u.Capacity > 0 {
		parts = append(parts, fmt.Sprintf("upstream capacity %d at once", u.Capacity))
	}
	for _, w := range u.Windows {
		parts = append(parts, windowText(w))
	}
	return strings.Join(parts, "; ")
}

func orDefault(d, def Duration) Duration {
	if d == 0 {
		return def
	}
	return d
}

// windowText describes a trouble window, such as "outage 2m0s–5m0s (down)".
func windowText(w Window) string {
	var what []string
	if w.Down {
		what = append(what, "down")
	}
	if w.ErrorRate > 0 {
		what = append(what, strconv.FormatFloat(100*w.ErrorRate, 'f', -1, 64)+"% errors")
	}
	if w.LatencyFactor > 0 && w.LatencyFactor != 1 {
		what = append(what, "×"+strconv.FormatFloat(w.LatencyFactor, 'f', -1, 64)+" latency")
	}
	name := w.Name
	if name == "" {
		name = "trouble"
	}
	return fmt.Sprintf("%s %s–%s (%s)", name, roundDuration(time.Duration(w.From)), roundDuration(time.Duration(w.To)), strings.Join(what, ", "))
}

func latency(p *PolicyResult, d time.Duration) string {
	if p.Succeeded == 0 {
		return "—"
	}
	return roundDuration(d)
}

func recoveryText(res *Result, p *PolicyResult) string {
	switch {
	case !res.HasHeal:
		return "—"
	case !p.Recovered:
		return "never"
	}
	return roundDuration(p.Recovery)
}

// failuresText lists the failed requests by reason, leaving out zeros.
func failuresText(f Failures) string {
	var parts []string
	add := func(name string, n int) {
		if n > 0 {
			parts = append(parts, name+" "+strconv.Itoa(n))
		}
	}
	add("errors", f.Exhausted)
	add("deadline", f.Deadline)
	add("open", f.BreakerOpen)
	add("throttled", f.Throttled)
	add("budget", f.Budget)
	add("other", f.NotRetryable)
	if parts == nil {
		return "—"
	}
	return strings.Join(parts, " · ")
}

// roundDuration prints d with three significant digits at most: "850µs",
// "12.3ms", "1.52s", "2m0s".
func roundDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// wrap breaks text into lines of at most width bytes (longer words stay
// whole), each starting with indent and ending with a newline.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for _, word := range strings.Fields(text) {
		if line > 0 && line+1+len(word) > width {
			b.WriteByte('\n')
			line = 0
		}
		if line == 0 {
			b.WriteString(indent)
			line = len(indent)
		} else {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += len(word)
	}
	if line > 0 {
		b.WriteByte('\n')
	}
	return b.String()
}

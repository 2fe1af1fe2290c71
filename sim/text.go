package sim

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// WriteText writes res as a terminal table, at most 100 columns wide for
// policy names of up to 25 characters: the scenario's setup and
// description, one row per policy, a legend of the abbreviated headers, and
// the failed requests of each policy by reason.
func WriteText(w io.Writer, res *Result) error {
	s := res.Scenario
	var b strings.Builder
	fmt.Fprintf(&b, "== %s\n", scenarioName(s))
	b.WriteString(wrap(setupLine(s), textWidth, "   "))
	if s.Description != "" {
		b.WriteString(wrap(s.Description, textWidth, "   "))
	}
	nameWidth := utf8.RuneCountInString("policy")
	for i := range res.Policies {
		nameWidth = max(nameWidth, utf8.RuneCountInString(res.Policies[i].Name))
	}
	// Pad the names so that, in a table aligned right, they read left-aligned.
	pad := func(name string) string {
		return name + strings.Repeat(" ", nameWidth-utf8.RuneCountInString(name))
	}
	bucket := fmtDur(res.Bucket)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, pad("policy")+"\trequests\tcalls\tampl\tsuccess\tp50\tp99\tp99.9\trecov\tpeak/"+bucket+"\t")
	for i := range res.Policies {
		p := &res.Policies[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			pad(p.Name), fmtInt(p.Requests), fmtInt(p.Calls),
			fmtAmplification(p.Amplification), fmtPercent(p.SuccessRatio),
			latencyCell(p, p.P50), latencyCell(p, p.P99), latencyCell(p, p.P999),
			recoveryCell(res, p), peakCell(res, p))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString(wrap("calls: upstream calls; ampl: calls per request; p50, p99, p99.9: latency of "+
		"successful requests; recov: time to recover after the heal; peak/"+bucket+": the most calls "+
		"started in one "+bucket+" bucket", textWidth, "   "))
	failed := false
	for i := range res.Policies {
		failed = failed || res.Policies[i].Failures != (Failures{})
	}
	if !failed {
		b.WriteString("   failed requests: none\n")
	} else {
		b.WriteString("   failed requests, by reason:\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for i := range res.Policies {
			p := &res.Policies[i]
			fmt.Fprintf(tw, "    %s\t%s\n", p.Name, failuresCell(p.Failures))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if err := writeLimits(&b, res); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeLimits writes, for the policies with a concurrency limit, the
// lowest, mean and highest of its sum over the clients during the load,
// and its sum at the end of the load, beside the upstream's capacity.
func writeLimits(b *strings.Builder, res *Result) error {
	any := false
	for i := range res.Policies {
		any = any || res.Policies[i].HasLimit
	}
	if !any {
		return nil
	}
	head := "   concurrency limit of the clients together, during the load (min · mean · max · at its end)"
	if c := res.Scenario.Upstream.Capacity; c > 0 {
		head += "; upstream capacity " + fmtInt(c)
	}
	b.WriteString(wrap(head+":", textWidth, "   "))
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	for i := range res.Policies {
		p := &res.Policies[i]
		if !p.HasLimit {
			continue
		}
		lo, mean, hi, last, ok := limitRange(res, p)
		if !ok {
			fmt.Fprintf(tw, "    %s\t%s\n", p.Name, noValue)
			continue
		}
		fmt.Fprintf(tw, "    %s\t%s · %s · %s · %s\n", p.Name, fmtInt(lo), fmtRound(mean), fmtInt(hi), fmtInt(last))
	}
	return tw.Flush()
}

// textWidth is the width of the terminal table's wrapped lines.
const textWidth = 100

// wrap breaks text into lines of at most width runes (longer words stay
// whole), each starting with indent and ending with a newline.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for _, word := range strings.Fields(text) {
		n := utf8.RuneCountInString(word)
		if line > 0 && line+1+n > width {
			b.WriteByte('\n')
			line = 0
		}
		if line == 0 {
			b.WriteString(indent)
			line = utf8.RuneCountInString(indent)
		} else {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += n
	}
	if line > 0 {
		b.WriteByte('\n')
	}
	return b.String()
}

package sim

import (
	"bytes"
	"cmp"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Report is the HTML report of one or more results: a self-contained page
// with, for each result, the scenario's setup, a table comparing its
// policies and SVG charts of the upstream load, the success ratio, when
// a policy has a circuit breaker, the share of clients whose breaker was
// open, and, when a policy has a concurrency limit, the limit beside the
// upstream's capacity, over time. The page uses no JavaScript and loads nothing from
// elsewhere, so it opens from disk; the same results give the same bytes.
//
// Add renders a result's section at once, so the caller need not keep the
// result, whose series may be long; a section's charts have a bounded
// number of points, so the report stays small whatever the runs. The zero
// Report is empty and ready to use. A Report is not safe for concurrent use.
type Report struct {
	n        int // results added, nil ones included
	nav      htmlPage
	sections htmlPage
	shown    int
}

// Add renders the section of res; a nil res is skipped, but counts in the
// numbering of the sections.
func (r *Report) Add(res *Result) {
	i := r.n
	r.n++
	if res == nil {
		return
	}
	r.shown++
	r.nav.raw("<li><a href=\"#", sectionID(i), "\">")
	r.nav.text(scenarioName(res.Scenario))
	r.nav.raw("</a></li>\n")
	r.sections.section(sectionID(i), res)
}

// WriteTo writes the page, with a table of contents when it has more than
// one section, to w.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	var p htmlPage
	p.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
		"<title>", htmlTitle, "</title>\n<style>\n", htmlStyle, "</style>\n</head>\n<body>\n",
		"<h1>", htmlTitle, "</h1>\n")
	p.raw("<p class=\"intro\">Each scenario runs in virtual time: every policy configuration faces the same upstream and the same load, so the rows and lines of a section compare like with like.</p>\n")
	if r.shown == 0 {
		p.raw("<p>No results.</p>\n")
	}
	if r.shown > 1 {
		p.raw("<nav><ol>\n")
		p.Write(r.nav.Bytes())
		p.raw("</ol></nav>\n")
	}
	p.Write(r.sections.Bytes())
	p.raw("</body>\n</html>\n")
	n, err := w.Write(p.Bytes())
	return int64(n), err
}

// htmlPage builds the report in memory, so that WriteTo writes it in one go
// and a failing writer is reported once.
type htmlPage struct {
	bytes.Buffer
}

// raw appends strings to the page as they are: markup the report makes.
func (p *htmlPage) raw(parts ...string) {
	for _, s := range parts {
		p.WriteString(s)
	}
}

// text appends s to the page escaped, for every string that comes from a
// scenario or could contain markup.
func (p *htmlPage) text(s string) {
	p.WriteString(html.EscapeString(s))
}

// htmlTitle is the title and main heading of the report.
const htmlTitle = "resilience sim report"

// htmlStyle is the page's stylesheet: a system font stack, light borders,
// right-aligned numbers, and the classes of the charts' parts.
const htmlStyle = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2937;background:#fff;line-height:1.45;max-width:1480px;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem;margin:0 0 .25rem}
h2{font-size:1.25rem;margin:0 0 .25rem}
.intro{color:#4b5563;margin:0 0 1rem}
nav ol{margin:.25rem 0;padding-left:1.5rem}
section{border-top:1px solid #d1d5db;margin-top:2rem;padding-top:1.25rem}
.desc{white-space:pre-line;margin:.25rem 0}
.setup{color:#4b5563;font-size:.9rem;margin:.25rem 0}
.wrap{overflow-x:auto}
table{border-collapse:collapse;font-size:.875rem;margin:1rem 0;width:100%}
th,td{border:1px solid #e5e7eb;padding:.3rem .55rem}
th{background:#f9fafb;font-weight:600;text-align:left;vertical-align:bottom;white-space:normal}
.n{text-align:right;font-variant-numeric:tabular-nums}
td.n{white-space:nowrap}
td.fail{font-size:.85rem;min-width:9rem}
td.fail span{white-space:nowrap}
figure{margin:1.5rem 0 0}
figcaption{font-weight:600;font-size:.95rem;margin-bottom:.25rem}
svg.chart{display:block;width:100%;height:auto}
svg.chart text{font-size:11px;fill:#4b5563}
.grid{stroke:#e5e7eb;stroke-width:1}
.axis{stroke:#9ca3af;stroke-width:1}
.trouble{fill:#f97316;fill-opacity:.14}
.heal{stroke:#374151;stroke-width:1.2;stroke-dasharray:2 3}
.legend{display:flex;flex-wrap:wrap;gap:.2rem 1.1rem;font-size:.85rem;margin:.3rem 0}
.key{display:inline-flex;align-items:center;gap:.4rem}
.sw{display:inline-block;width:1.5rem;height:0;border-top:3px solid #6b7280}
.sw.dot{border-top:2px dotted #374151}
.sw.shade{height:.8rem;border:0;background:rgba(249,115,22,.22)}
svg.sw{border:0;width:2rem;height:.7rem}
.note{color:#6b7280}
`

// sectionID is the id of the section of the i-th result, for the links of
// the table of contents.
func sectionID(i int) string {
	return "scenario-" + strconv.Itoa(i+1)
}

// scenarioName is the name to show for s.
func scenarioName(s *Scenario) string {
	if s == nil || s.Name == "" {
		return "(unnamed scenario)"
	}
	return s.Name
}

// section writes one result: its heading, description and setup, the
// table of policies and the charts.
func (p *htmlPage) section(id string, r *Result) {
	p.raw("<section id=\"", id, "\">\n<h2>")
	p.text(scenarioName(r.Scenario))
	p.raw("</h2>\n")
	if s := r.Scenario; s != nil {
		if s.Description != "" {
			p.raw("<p class=\"desc\">")
			p.text(s.Description)
			p.raw("</p>\n")
		}
		p.raw("<p class=\"setup\">")
		p.text(setupLine(s))
		p.raw("</p>\n")
	}
	p.table(r)
	p.charts(r)
	p.raw("</section>\n")
}

// table writes the table that compares the policies of r, one row each.
func (p *htmlPage) table(r *Result) {
	p.raw("<div class=\"wrap\"><table>\n<thead><tr>",
		"<th>policy</th>",
		"<th class=\"n\">requests</th>",
		"<th class=\"n\">upstream calls</th>",
		"<th class=\"n\" title=\"upstream calls per request\">amplification</th>",
		"<th class=\"n\">success</th>",
		"<th class=\"n\" title=\"latency of successful requests, retries included\">p50</th>",
		"<th class=\"n\">p99</th>",
		"<th class=\"n\">p99.9</th>",
		"<th class=\"n\" title=\"from the end of the last trouble window until the success ratio is back\">time to recover</th>",
		"<th class=\"n\" title=\"the most upstream calls started in one bucket of the charts\">peak load (calls per ", html.EscapeString(fmtDur(r.Bucket)), ")</th>",
		"<th class=\"n\" title=\"the most calls the upstream held at once\">peak in flight</th>",
		"<th title=\"errors: retries ran out on upstream errors · deadline: the client's deadline passed · open: the breaker refused · throttled: the throttle refused · budget: the retry budget refused · tokens: the token bucket refused · other: the retry policy stopped for another reason · limited: the concurrency limit refused\">failures</th>",
		"</tr></thead>\n<tbody>\n")
	for i := range r.Policies {
		pr := &r.Policies[i]
		p.raw("<tr><td><span class=\"key\">", swatch(policyColour(i), policyDash(i), lineWidth))
		p.text(pr.Name)
		p.raw("</span></td>")
		cells := []string{
			fmtInt(pr.Requests),
			fmtInt(pr.Calls),
			fmtAmplification(pr.Amplification),
			fmtPercent(pr.SuccessRatio),
			latencyCell(pr, pr.P50),
			latencyCell(pr, pr.P99),
			latencyCell(pr, pr.P999),
			recoveryCell(r, pr),
			peakCell(r, pr),
			fmtInt(pr.PeakInFlight),
		}
		for _, c := range cells {
			p.raw("<td class=\"n\">")
			p.text(c)
			p.raw("</td>")
		}
		p.raw("<td class=\"fail\">")
		if pr.Failures == (Failures{}) {
			p.text(noValue)
		}
		for j, part := range failuresParts(pr.Failures) {
			if j > 0 {
				p.raw(" · ")
			}
			p.raw("<span>")
			p.text(part)
			p.raw("</span>")
		}
		p.raw("</td></tr>\n")
	}
	p.raw("</tbody>\n</table></div>\n")
}

// chartPalette is the colours of the policies' lines, in the order of the
// policies of a result, cycling when there are more policies than colours.
var chartPalette = [...]string{
	"#2563eb", // blue
	"#ea580c", // orange
	"#16a34a", // green
	"#dc2626", // red
	"#7c3aed", // violet
	"#0d9488", // teal
	"#db2777", // pink
	"#854d0e", // brown
}

// chartDashes is the dash patterns of the policies' lines, in the order of
// the policies of a result, so that lines of equal values, drawn side by
// side, stay apart by their pattern as well as their colour.
var chartDashes = [...]string{
	"",        // solid
	"8 3",     // long dashes
	"2 2.5",   // dots
	"9 3 2 3", // dash-dot
	"4 4",     // short dashes
	"14 4",    // longer dashes
	"1 5",     // sparse dots
	"6 2 2 2", // dash-dot, tight
}

// policyDash is the dash pattern of the i-th policy's line.
func policyDash(i int) string {
	return chartDashes[i%len(chartDashes)]
}

// lineWidth is the stroke width of a policy's line.
const lineWidth = "1.8"

// lineGap is how far apart, in SVG units, the lines of a chart are drawn
// when they have the same value, so that each stays visible: line i of n
// is moved by (i - (n-1)/2) × lineGap.
const lineGap = 2.6

// swatch is a short sample of a line, for legends and the table.
func swatch(colour, dash, width string) string {
	s := `<svg class="sw" viewBox="0 0 32 10" aria-hidden="true"><line x1="1" y1="5" x2="31" y2="5" stroke="` +
		colour + `" stroke-width="` + width + `"`
	if dash != "" {
		s += ` stroke-dasharray="` + dash + `"`
	}
	return s + `/></svg>`
}

// offeredColour is the colour of the offered load's line.
const offeredColour = "#6b7280"

// policyColour is the colour of the i-th policy of a result.
func policyColour(i int) string {
	return chartPalette[i%len(chartPalette)]
}

// The geometry of a chart, in SVG user units: its size and the margins
// around the plot area, which hold the tick labels.
const (
	chartW   = 1040
	chartH   = 260
	marginL  = 48
	marginR  = 20
	marginT  = 14
	marginB  = 26
	plotW    = chartW - marginL - marginR
	plotH    = chartH - marginT - marginB
	maxPoint = 720 // the most points a line of a chart has
)

// chartPoint is one point of a chart's line; ok is false where the line has a
// gap.
type chartPoint struct {
	x, y float64
	ok   bool
}

// chartLine is one line of a chart.
type chartLine struct {
	colour string
	width  string  // stroke width
	dash   string  // stroke-dasharray, or "" for a solid line
	offset float64 // moves the line down by this many SVG units, to keep equal lines apart
	points []chartPoint
}

// legendKey is one entry of a chart's legend.
type legendKey struct {
	label  string
	class  string // the swatch's class when it is not a line: "dot", "shade"
	colour string
	dash   string // the line's stroke-dasharray
	width  string // the line's stroke width; "" for lineWidth
}

// chart is one line chart over the time of a run.
type chart struct {
	title   string
	xmax    float64 // seconds
	ymax    float64 // 0 means: round the largest value up
	percent bool    // y values are shares, labelled 0–100%
	lines   []chartLine
	legend  []legendKey
	note    string // a remark after the legend
}

// timeline is what every chart of a result shares: the buckets and how
// they are grouped into points, the trouble windows and the heal.
type timeline struct {
	n       int     // buckets
	group   int     // buckets per point
	bucket  float64 // seconds per bucket
	end     float64 // seconds: the end of the load, where the charts end
	windows []Window
	healed  float64 // seconds; negative if the upstream did not heal
}

// newTimeline sets up the time axis of r's charts. The number of buckets
// is that of the longest series, which is normally len(r.Offered).
func newTimeline(r *Result) timeline {
	t := timeline{n: len(r.Offered), bucket: r.Bucket.Seconds(), healed: -1}
	for _, pr := range r.Policies {
		t.n = max(t.n, len(pr.Series))
	}
	// The charts end with the load: past it, the series hold only the
	// calls and answers of the requests still running, which would read as
	// a collapse. The last bucket is cut at the end, and its rates are
	// over the part it covers.
	t.end = t.xmax()
	if s := r.Scenario; s != nil && s.Duration > 0 && t.bucket > 0 {
		t.end = min(t.end, time.Duration(s.Duration).Seconds())
		t.n = min(t.n, int(math.Ceil(t.end/t.bucket-1e-9)))
	}
	t.group = 1
	if t.n > maxPoint {
		t.group = (t.n + maxPoint - 1) / maxPoint
	}
	if r.Scenario != nil {
		t.windows = r.Scenario.Upstream.Windows
	}
	if r.HasHeal {
		t.healed = r.Healed.Seconds()
	}
	return t
}

// xmax is the end of the time axis, in seconds.
func (t timeline) xmax() float64 {
	if t.end > 0 {
		return min(float64(t.n)*t.bucket, t.end)
	}
	return float64(t.n) * t.bucket
}

// span is the time the buckets [lo, hi) cover, in seconds, up to the end of
// the load.
func (t timeline) span(lo, hi int) float64 {
	return t.clip(float64(hi)*t.bucket) - float64(lo)*t.bucket
}

// clip limits a time to the end of the charts.
func (t timeline) clip(x float64) float64 {
	if t.end > 0 {
		return min(x, t.end)
	}
	return x
}

// points makes a line out of a series of n buckets: one point per group of
// t.group consecutive buckets, at the middle of the group's time span, with
// the value value(lo, hi) gives for the buckets [lo, hi), which reports
// false for a gap. Grouping buckets is how long runs keep the charts small;
// value averages over the group.
func (t timeline) points(n int, value func(lo, hi int) (float64, bool)) []chartPoint {
	var pts []chartPoint
	n = min(n, t.n)
	for lo := 0; lo < n; lo += t.group {
		hi := min(lo+t.group, n)
		y, ok := value(lo, hi)
		if math.IsNaN(y) || math.IsInf(y, 0) {
			ok = false
		}
		x := (float64(lo)*t.bucket + t.clip(float64(hi)*t.bucket)) / 2
		pts = append(pts, chartPoint{x: x, y: y, ok: ok})
	}
	return pts
}

// perSecond returns a value function for t.points giving the count of
// the buckets as a rate per second.
func (t timeline) perSecond(count func(i int) int) func(lo, hi int) (float64, bool) {
	return func(lo, hi int) (float64, bool) {
		sum := 0
		for i := lo; i < hi; i++ {
			sum += count(i)
		}
		return float64(sum) / t.span(lo, hi), true
	}
}

// charts writes the charts of r: the upstream load, the success ratio,
// if a policy has a breaker, the share of open breakers, and if a policy
// has a concurrency limit, the limits.
func (p *htmlPage) charts(r *Result) {
	t := newTimeline(r)
	if t.n == 0 || !(t.bucket > 0) {
		p.raw("<p class=\"note\">No time series.</p>\n")
		return
	}
	p.raw("<p class=\"note\">")
	p.text("Each point is one " + fmtDur(r.Bucket) + " bucket")
	if t.group > 1 {
		p.text(" (or the mean of " + strconv.Itoa(t.group) + " of them)")
	}
	p.text("; the charts end with the load, at " + fmtDur(time.Duration(t.xmax()*float64(time.Second))) +
		", so the requests still running then count in the table only. ")
	if len(r.Policies) > 1 {
		p.text("Lines of equal value are drawn side by side, a pixel or two apart, so that each stays visible.")
	}
	p.raw("</p>\n")
	p.figure(t, loadChart(r, t))
	p.figure(t, ratioChart(r, t))
	for _, pr := range r.Policies {
		if pr.HasBreaker {
			p.figure(t, breakerChart(r, t))
			break
		}
	}
	for _, pr := range r.Policies {
		if pr.HasLimit {
			p.figure(t, limitChart(r, t))
			break
		}
	}
}

// limitChart is the chart of the concurrency limits of the policies that
// have one, summed over the clients, with the upstream's capacity (its
// workers, as its windows change them) as a dashed grey line.
func limitChart(r *Result, t timeline) chart {
	c := chart{title: "Concurrency limit (summed over the clients)", xmax: t.xmax()}
	var withLimit []int
	for i := range r.Policies {
		if r.Policies[i].HasLimit {
			withLimit = append(withLimit, i)
		}
	}
	n := len(withLimit)
	k := 0
	if s := r.Scenario; s != nil && s.Upstream.Capacity > 0 {
		n++
		k++
		segs := capSegments(&s.Upstream)
		workers := func(i int) float64 { // at the start of bucket i
			at := int64(i) * int64(r.Bucket)
			for _, sg := range segs {
				if at >= sg.from && at < sg.to {
					return float64(sg.workers)
				}
			}
			return float64(s.Upstream.Capacity)
		}
		capacity := t.points(t.n, func(lo, hi int) (float64, bool) {
			sum := 0.0
			for i := lo; i < hi; i++ {
				sum += workers(i)
			}
			return sum / float64(hi-lo), true
		})
		c.lines = append(c.lines, chartLine{colour: offeredColour, width: "1.4", dash: "5 4", offset: gapOffset(0, n), points: capacity})
		c.legend = append(c.legend, legendKey{label: "upstream capacity", colour: offeredColour, dash: "5 4", width: "1.4"})
	}
	for _, i := range withLimit {
		series := r.Policies[i].Series
		pts := t.points(len(series), func(lo, hi int) (float64, bool) {
			sum := 0
			for _, pt := range series[lo:hi] {
				sum += pt.Limit
			}
			return float64(sum) / float64(hi-lo), true
		})
		c.lines = append(c.lines, chartLine{colour: policyColour(i), width: lineWidth, dash: policyDash(i),
			offset: gapOffset(k, n), points: pts})
		c.legend = append(c.legend, legendKey{label: r.Policies[i].Name, colour: policyColour(i), dash: policyDash(i)})
		k++
	}
	return c
}

// loadChart is the chart of the upstream calls per second of every policy,
// with the offered load as a dashed grey line.
func loadChart(r *Result, t timeline) chart {
	c := chart{title: "Upstream load (calls/s, over " + fmtDur(r.Bucket) + " buckets)", xmax: t.xmax()}
	offered := t.points(len(r.Offered), t.perSecond(func(i int) int { return r.Offered[i] }))
	// The offered load takes the first place among the lines drawn side
	// by side: a policy's load is often equal to it.
	n := len(r.Policies) + 1
	c.lines = append(c.lines, chartLine{colour: offeredColour, width: "1.4", dash: "5 4", offset: gapOffset(0, n), points: offered})
	c.legend = append(c.legend, legendKey{label: "offered", colour: offeredColour, dash: "5 4", width: "1.4"})
	for i := range r.Policies {
		series := r.Policies[i].Series
		pts := t.points(len(series), t.perSecond(func(j int) int { return series[j].Calls }))
		c.lines = append(c.lines, chartLine{colour: policyColour(i), width: lineWidth, dash: policyDash(i),
			offset: gapOffset(i+1, n), points: pts})
		c.legend = append(c.legend, legendKey{label: r.Policies[i].Name, colour: policyColour(i), dash: policyDash(i)})
	}
	return c
}

// ratioChart is the chart of the success ratio of the requests that ended
// in each bucket, with gaps where none did. A point that stands for several
// buckets shows the ratio over all their requests.
func ratioChart(r *Result, t timeline) chart {
	c := chart{title: "Success ratio (requests ending in each bucket)", xmax: t.xmax(), ymax: 1, percent: true}
	for i := range r.Policies {
		series := r.Policies[i].Series
		pts := t.points(len(series), func(lo, hi int) (float64, bool) {
			var sum Point
			for _, pt := range series[lo:hi] {
				sum.Succeeded += pt.Succeeded
				sum.Failed += pt.Failed
			}
			return sum.Ratio()
		})
		c.lines = append(c.lines, chartLine{colour: policyColour(i), width: lineWidth, dash: policyDash(i),
			offset: gapOffset(i, len(r.Policies)), points: pts})
		c.legend = append(c.legend, legendKey{label: r.Policies[i].Name, colour: policyColour(i), dash: policyDash(i)})
	}
	return c
}

// gapOffset is how far line i of n is moved, so that lines of equal value
// lie side by side.
func gapOffset(i, n int) float64 {
	return (float64(i) - float64(n-1)/2) * lineGap
}

// breakerChart is the chart of the share of clients whose breaker is open,
// and as a thin dashed line half-open, for the policies with a breaker.
func breakerChart(r *Result, t timeline) chart {
	c := chart{title: "Breaker open (share of clients)", xmax: t.xmax(), ymax: 1, percent: true,
		note: "thick: open · thin: half-open"}
	withBreaker := 0
	for i := range r.Policies {
		if r.Policies[i].HasBreaker {
			withBreaker++
		}
	}
	k := 0
	for i := range r.Policies {
		pr := &r.Policies[i]
		if !pr.HasBreaker {
			continue
		}
		series := pr.Series
		mean := func(share func(Point) float64) func(lo, hi int) (float64, bool) {
			return func(lo, hi int) (float64, bool) {
				sum := 0.0
				for _, pt := range series[lo:hi] {
					sum += share(pt)
				}
				return sum / float64(hi-lo), true
			}
		}
		open := t.points(len(series), mean(func(pt Point) float64 { return pt.Open }))
		half := t.points(len(series), mean(func(pt Point) float64 { return pt.HalfOpen }))
		off := gapOffset(k, withBreaker)
		k++
		c.lines = append(c.lines,
			chartLine{colour: policyColour(i), width: lineWidth, dash: policyDash(i), offset: off, points: open},
			chartLine{colour: policyColour(i), width: "0.9", dash: policyDash(i), offset: off, points: half})
		c.legend = append(c.legend, legendKey{label: pr.Name, colour: policyColour(i), dash: policyDash(i)})
	}
	return c
}

// figure writes the chart c as a figure: its title, the SVG and the legend. The trouble
// windows of t are shaded behind the lines and the heal is a dotted
// vertical line.
func (p *htmlPage) figure(t timeline, c chart) {
	ymax := c.ymax
	ystep := 0.25
	if ymax == 0 {
		top := 0.0
		for _, l := range c.lines {
			for _, s := range l.points {
				if s.ok {
					top = max(top, s.y)
				}
			}
		}
		ymax, ystep = roundUp(top)
	}
	px := func(x float64) float64 { return marginL + plotW*clamp01(x/c.xmax) }
	py := func(y float64) float64 { return marginT + plotH*(1-clamp01(y/ymax)) }

	p.raw("<figure>\n<figcaption>")
	p.text(c.title)
	p.raw("</figcaption>\n<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ",
		strconv.Itoa(chartW), " ", strconv.Itoa(chartH), "\" width=\"", strconv.Itoa(chartW),
		"\" height=\"", strconv.Itoa(chartH), "\" role=\"img\" aria-label=\"")
	p.text(c.title)
	p.raw("\">\n")

	// The trouble windows, behind everything else.
	for i, w := range t.windows {
		from := px(time.Duration(w.From).Seconds())
		to := px(time.Duration(w.To).Seconds())
		if to <= from {
			continue
		}
		p.raw("<rect class=\"trouble\" fill=\"#f97316\" fill-opacity=\"0.14\" x=\"", svgCoord(from), "\" y=\"", svgCoord(marginT),
			"\" width=\"", svgCoord(to-from), "\" height=\"", svgCoord(plotH), "\"><title>")
		p.text(windowLabel(i, w))
		p.raw("</title></rect>\n")
	}

	// The horizontal grid, with the y ticks.
	ydec := decimals(ystep)
	for i := 0; float64(i)*ystep <= ymax*(1+1e-9); i++ {
		v := float64(i) * ystep
		y := svgCoord(py(v))
		p.raw("<line class=\"grid\" x1=\"", svgCoord(marginL), "\" y1=\"", y, "\" x2=\"", svgCoord(marginL+plotW), "\" y2=\"", y, "\"/>")
		p.raw("<text x=\"", svgCoord(marginL-5), "\" y=\"", svgCoord(py(v)+3.5), "\" text-anchor=\"end\">")
		if c.percent {
			p.text(strconv.FormatFloat(v*100, 'f', max(ydec-2, 0), 64) + "%")
		} else {
			p.text(fmtTick(v, ystep, ydec))
		}
		p.raw("</text>\n")
	}

	// The axes, and the x ticks in seconds.
	bottom := svgCoord(marginT + plotH)
	p.raw("<line class=\"axis\" x1=\"", svgCoord(marginL), "\" y1=\"", bottom, "\" x2=\"", svgCoord(marginL+plotW), "\" y2=\"", bottom, "\"/>")
	p.raw("<line class=\"axis\" x1=\"", svgCoord(marginL), "\" y1=\"", svgCoord(marginT), "\" x2=\"", svgCoord(marginL), "\" y2=\"", bottom, "\"/>\n")
	xstep := niceStep(c.xmax / 6)
	xdec := decimals(xstep)
	for i := 0; float64(i)*xstep <= c.xmax*(1+1e-9); i++ {
		v := float64(i) * xstep
		x := svgCoord(px(v))
		p.raw("<line class=\"axis\" x1=\"", x, "\" y1=\"", bottom, "\" x2=\"", x, "\" y2=\"", svgCoord(marginT+plotH+4), "\"/>")
		p.raw("<text x=\"", x, "\" y=\"", svgCoord(marginT+plotH+16), "\" text-anchor=\"middle\">",
			strconv.FormatFloat(v, 'f', xdec, 64), "s</text>\n")
	}

	// The lines, with round caps so that a point alone between two gaps
	// shows as a dot.
	for _, l := range c.lines {
		d := pathData(l.points, px, func(y float64) float64 { return py(y) + l.offset })
		if d == "" {
			continue
		}
		p.raw("<path class=\"series\" d=\"", d, "\" fill=\"none\" stroke=\"", l.colour,
			"\" stroke-width=\"", l.width, "\" stroke-linejoin=\"round\" stroke-linecap=\"round\"")
		if l.dash != "" {
			p.raw(" stroke-dasharray=\"", l.dash, "\"")
		}
		p.raw("/>\n")
	}

	// The heal, on top.
	if t.healed >= 0 && t.healed <= c.xmax {
		x := px(t.healed)
		p.raw("<line class=\"heal\" x1=\"", svgCoord(x), "\" y1=\"", svgCoord(marginT), "\" x2=\"", svgCoord(x), "\" y2=\"", bottom, "\"/>")
		// The label goes in the margin above the plot, clear of the lines.
		anchor, dx := "start", 3.0
		if x > marginL+plotW-50 {
			anchor, dx = "end", -3
		}
		p.raw("<text x=\"", svgCoord(x+dx), "\" y=\"", svgCoord(marginT-2), "\" text-anchor=\"", anchor, "\">healed</text>\n")
	}
	p.raw("</svg>\n")

	// The legend.
	p.raw("<p class=\"legend\">")
	for _, k := range c.legend {
		p.key(k)
	}
	if len(t.windows) > 0 {
		p.key(legendKey{label: "trouble window", class: "shade"})
	}
	if t.healed >= 0 && t.healed <= c.xmax {
		p.key(legendKey{label: "healed", class: "dot"})
	}
	if c.note != "" {
		p.raw("<span class=\"note\">")
		p.text(c.note)
		p.raw("</span>")
	}
	p.raw("</p>\n</figure>\n")
}

// key writes one entry of a legend: a swatch and its label.
func (p *htmlPage) key(k legendKey) {
	class := "sw"
	if k.class != "" {
		class += " " + k.class
	}
	p.raw("<span class=\"key\">")
	if k.class == "" {
		p.raw(swatch(k.colour, k.dash, cmp.Or(k.width, lineWidth)))
	} else {
		p.raw("<span class=\"", class, "\"></span>")
	}
	p.text(k.label)
	p.raw("</span>")
}

// pathData is the SVG path of a line through pts, with a new subpath after
// each gap, and "" if no point is ok. A subpath of a single point is drawn
// as a zero-length segment, which round caps show as a dot.
func pathData(pts []chartPoint, px, py func(float64) float64) string {
	var b strings.Builder
	run := 0 // points in the current subpath
	for _, s := range pts {
		if !s.ok {
			if run == 1 {
				b.WriteString("h0")
			}
			run = 0
			continue
		}
		if run == 0 {
			b.WriteByte('M')
		} else {
			b.WriteByte('L')
		}
		b.WriteString(svgCoord(px(s.x)))
		b.WriteByte(',')
		b.WriteString(svgCoord(py(s.y)))
		run++
	}
	if run == 1 {
		b.WriteString("h0")
	}
	return b.String()
}

// clamp01 limits f to [0, 1], and makes NaN 0.
func clamp01(f float64) float64 {
	if !(f > 0) {
		return 0
	}
	return min(f, 1)
}

// svgCoord formats an SVG coordinate to one decimal.
func svgCoord(v float64) string {
	v = math.Round(v*10) / 10
	if v == 0 {
		v = 0 // no "-0.0"
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// niceStep returns the smallest of 1, 2 or 5 times a power of ten that is
// at least raw: a round spacing for the ticks of an axis.
func niceStep(raw float64) float64 {
	if !(raw > 0) || math.IsInf(raw, 0) {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw*(1-1e-9) {
			return m * mag
		}
	}
	return 10 * mag
}

// roundUp returns the top of a y axis for values up to top, rounded up to
// a multiple of a round step of which it holds about four, and that step.
func roundUp(top float64) (ymax, step float64) {
	if !(top > 0) || math.IsInf(top, 0) {
		return 1, 0.25
	}
	step = niceStep(top / 4)
	return step * math.Ceil(top/step*(1-1e-9)), step
}

// decimals is how many decimals the multiples of step need.
func decimals(step float64) int {
	if step >= 1 || !(step > 0) {
		return 0
	}
	return int(math.Ceil(-math.Log10(step) - 1e-9))
}

// fmtTick formats the y tick v of an axis with ticks every step, in
// thousands ("2.5k") when the step is a thousand or more, and 0 as "0".
func fmtTick(v, step float64, dec int) string {
	if step >= 1000 && v != 0 {
		return fmtTrim(v/1000, 3) + "k"
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}

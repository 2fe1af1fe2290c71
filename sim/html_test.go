package sim

import (
	"bytes"
	"errors"
	"html"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Names with markup and ampersands in them, to check that the report
// escapes what comes from a scenario.
const (
	htmlEvilScenario = `Outage <script>alert("x")</script> & recovery`
	htmlEvilPolicy   = `breaker <script>x</script> & budget`
	htmlDeadPolicy   = `dead & gone`
	htmlSteady       = `steady <b>state</b> & co`
)

// htmlSeries makes a series of n points, point i being f(i).
func htmlSeries(n int, f func(i int) Point) []Point {
	s := make([]Point, n)
	for i := range s {
		s[i] = f(i)
	}
	return s
}

// htmlResults is two hand-made results: an outage and a brown-out with
// three policies, one of them with a breaker and one that never succeeds;
// and a steady run without trouble windows and without breakers.
func htmlResults() []*Result {
	const n = 120
	offered := make([]int, n)
	for i := range offered {
		offered[i] = 200 + i*37%11 - 5
	}
	outage := func(i int) bool { return i >= 30 && i < 50 }
	brownout := func(i int) bool { return i >= 70 && i < 80 }
	naive := htmlSeries(n, func(i int) Point {
		o := offered[i]
		switch {
		case outage(i) && i < 34:
			return Point{Calls: 3 * o} // every request still retrying: nothing ends
		case outage(i):
			return Point{Calls: 3 * o, Failed: o}
		case brownout(i):
			return Point{Calls: o * 16 / 10, Succeeded: o * 7 / 10, Failed: o - o*7/10}
		}
		return Point{Calls: o * 105 / 100, Succeeded: o - 1, Failed: 1}
	})
	withBreaker := htmlSeries(n, func(i int) Point {
		o := offered[i]
		switch {
		case outage(i):
			p := Point{Calls: 5, Failed: o, Open: min(1, float64(i-29)/3)}
			if i%5 == 0 {
				p.Open, p.HalfOpen = 0.6, 0.4
			}
			return p
		case brownout(i):
			return Point{Calls: o, Succeeded: o * 8 / 10, Failed: o - o*8/10, Open: 0.1, HalfOpen: 0.05}
		}
		return Point{Calls: o, Succeeded: o, Open: 0}
	})
	dead := htmlSeries(n, func(i int) Point {
		return Point{Calls: offered[i], Failed: offered[i]}
	})
	a := &Result{
		Scenario: &Scenario{
			Name:        htmlEvilScenario,
			Description: "The upstream goes down, comes back, then browns out.\nRetries <i>storm</i> & breakers hold.",
			Duration:    Duration(n * time.Second),
			Upstream: Upstream{
				Capacity: 300,
				Windows: []Window{
					{Name: "outage", From: Duration(30 * time.Second), To: Duration(50 * time.Second), Down: true},
					{Name: "brown<out>", From: Duration(70 * time.Second), To: Duration(80 * time.Second), ErrorRate: 0.3, LatencyFactor: 3},
				},
			},
			Load: Load{Rate: 200, Clients: 10, Deadline: Duration(2 * time.Second)},
		},
		Bucket:  time.Second,
		Healed:  80 * time.Second,
		HasHeal: true,
		Offered: offered,
		Policies: []PolicyResult{
			{
				Name: "naive retries", Requests: 24000, Succeeded: 20000, Calls: 34944,
				Failures:      Failures{Exhausted: 3990, Deadline: 10},
				Amplification: 1.456, SuccessRatio: 0.83333,
				P50: 21500 * time.Microsecond, P99: 1523 * time.Millisecond, P999: 1999 * time.Millisecond,
				PeakLoad: 612.4, PeakInFlight: 300,
				Series: naive,
			},
			{
				Name: htmlEvilPolicy, Requests: 24000, Succeeded: 20470, Calls: 20100,
				Failures:      Failures{Deadline: 120, BreakerOpen: 3400, Budget: 10},
				Amplification: 0.8375, SuccessRatio: 0.8529,
				P50: 850 * time.Microsecond, P99: 12345 * time.Microsecond, P999: 40 * time.Millisecond,
				Recovery: 1500 * time.Millisecond, Recovered: true,
				PeakLoad: 205, PeakInFlight: 41, HasBreaker: true,
				Series: withBreaker,
			},
			{
				Name: htmlDeadPolicy, Requests: 24000, Calls: 24000,
				Failures:      Failures{Deadline: 24000},
				Amplification: 1, SuccessRatio: 0,
				PeakLoad: 205, PeakInFlight: 300,
				Series: dead,
			},
		},
	}

	const m = 40
	steadyOffered := make([]int, m)
	for i := range steadyOffered {
		steadyOffered[i] = 50 + i%3
	}
	b := &Result{
		Scenario: &Scenario{
			Name:        htmlSteady,
			Description: "Baseline: no trouble <i>at all</i> & nothing to recover from.",
			Duration:    Duration(20 * time.Second),
			Load:        Load{Rate: 100.5},
		},
		Bucket:  500 * time.Millisecond,
		Offered: steadyOffered,
		Policies: []PolicyResult{
			{
				Name: "plain", Requests: 2000, Succeeded: 1990, Calls: 2000,
				Failures:      Failures{Exhausted: 10},
				Amplification: 1, SuccessRatio: 0.995,
				P50: 20 * time.Millisecond, P99: 61 * time.Millisecond, P999: 90 * time.Millisecond,
				PeakLoad: 104, PeakInFlight: 4,
				Series: htmlSeries(m, func(i int) Point { return Point{Calls: steadyOffered[i], Succeeded: steadyOffered[i]} }),
			},
			{
				Name: "hedged", Requests: 2000, Succeeded: 2000, Calls: 2100,
				Amplification: 1.05, SuccessRatio: 1,
				P50: 19 * time.Millisecond, P99: 30 * time.Millisecond, P999: 45 * time.Millisecond,
				PeakLoad: 110, PeakInFlight: 5,
				Series: htmlSeries(m, func(i int) Point {
					return Point{Calls: steadyOffered[i] * 105 / 100, Succeeded: steadyOffered[i]}
				}),
			},
		},
	}
	return []*Result{a, b}
}

// reportOf writes the Report of results to w.
func reportOf(w io.Writer, results []*Result) error {
	var r Report
	for _, res := range results {
		r.Add(res)
	}
	_, err := r.WriteTo(w)
	return err
}

// writeHTML returns the report of results, failing the test on an error.
func writeHTML(t *testing.T, results []*Result) string {
	t.Helper()
	var buf bytes.Buffer
	if err := reportOf(&buf, results); err != nil {
		t.Fatalf("Report: %v", err)
	}
	return buf.String()
}

// htmlSections splits a report into its sections' markup.
func htmlSections(page string) []string {
	parts := strings.Split(page, "<section")
	return parts[1:]
}

// htmlTag matches a start or end tag; group 1 is "/" for an end tag, group
// 2 the name and group 3 "/" for a self-closed tag.
var htmlTag = regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9]*)[^<>]*?(/?)>`)

// checkBalanced fails the test if the elements of page do not nest: every
// element other than a void one closes, in order.
func checkBalanced(t *testing.T, page string) {
	t.Helper()
	void := map[string]bool{"meta": true, "br": true, "link": true, "img": true}
	var stack []string
	for _, m := range htmlTag.FindAllStringSubmatch(page, -1) {
		name := strings.ToLower(m[2])
		switch {
		case m[3] == "/" || void[name]:
		case m[1] == "":
			stack = append(stack, name)
		case len(stack) == 0 || stack[len(stack)-1] != name:
			t.Fatalf("</%s> does not close the open element; open: %v", name, stack)
		default:
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		t.Fatalf("elements left open: %v", stack)
	}
}

func TestHTMLPage(t *testing.T) {
	page := writeHTML(t, htmlResults())
	if !strings.HasPrefix(page, "<!DOCTYPE html>\n") {
		t.Errorf("the page starts with %.40q, not a doctype", page)
	}
	if !strings.HasSuffix(page, "</html>\n") {
		t.Errorf("the page ends with %q", page[max(0, len(page)-40):])
	}
	if !strings.Contains(page, "<title>resilience sim report</title>") {
		t.Error("no title")
	}
	checkBalanced(t, page)

	// Self-contained: no scripts, nothing loaded from elsewhere. The only
	// address is the SVG namespace.
	lower := strings.ToLower(page)
	for _, bad := range []string{"<script", "javascript:", "<link", "src=", "@import", "url("} {
		if strings.Contains(lower, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	if n := strings.Count(lower, "http"); n != strings.Count(page, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Errorf("the page has %d addresses other than the SVG namespace", n-strings.Count(page, "xmlns="))
	}

	// A table of contents links to both sections.
	for _, id := range []string{"scenario-1", "scenario-2"} {
		if !strings.Contains(page, `<a href="#`+id+`">`) || !strings.Contains(page, `<section id="`+id+`">`) {
			t.Errorf("no link to, or no section, %s", id)
		}
	}
}

func TestHTMLEscapes(t *testing.T) {
	page := writeHTML(t, htmlResults())
	for _, s := range []string{
		htmlEvilScenario, htmlEvilPolicy, htmlDeadPolicy, htmlSteady, "brown<out>",
		"Retries <i>storm</i> & breakers hold.", "no trouble <i>at all</i> & nothing",
	} {
		esc := html.EscapeString(s)
		if esc == s {
			t.Fatalf("%q needs no escaping: a useless case", s)
		}
		if !strings.Contains(page, esc) {
			t.Errorf("the page lacks %q escaped as %q", s, esc)
		}
		if strings.Contains(page, s) {
			t.Errorf("the page contains %q unescaped", s)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;") {
		t.Error("no escaped &lt;script&gt;")
	}
	// The scenario's name is the section's heading.
	if !strings.Contains(page, "<h2>"+html.EscapeString(htmlEvilScenario)+"</h2>") {
		t.Error("no heading with the escaped scenario name")
	}
	// Every policy name appears in its section, in the table and in each
	// legend of a chart it is in.
	secs := htmlSections(page)
	for i, want := range []map[string]int{
		{"naive retries": 3, htmlEvilPolicy: 4, htmlDeadPolicy: 3}, // table, load, ratio (and breaker)
		{"plain": 3, "hedged": 3},
	} {
		for name, n := range want {
			if got := strings.Count(secs[i], html.EscapeString(name)); got != n {
				t.Errorf("section %d: %q appears %d times, want %d", i+1, name, got, n)
			}
		}
	}
}

func TestHTMLSetupLine(t *testing.T) {
	secs := htmlSections(writeHTML(t, htmlResults()))
	for i, want := range []string{
		"2m of load · 200 req/s · 10 clients · deadline 2s · upstream capacity 300 · " +
			"trouble: outage 30s–50s (down); brown&lt;out&gt; 1m10s–1m20s (30% errors, ×3 latency)",
		// Defaults: one client, a 10s deadline; no capacity shown when unlimited.
		"20s of load · 100.5 req/s · 1 client · deadline 10s · no trouble windows",
	} {
		if !strings.Contains(secs[i], `<p class="setup">`+want+"</p>") {
			t.Errorf("section %d: no setup line %q in\n%s", i+1, want, secs[i][:min(len(secs[i]), 1200)])
		}
	}
	for _, c := range []struct {
		w    Window
		want string
	}{
		{Window{From: 0, To: Duration(time.Second), ErrorRate: 0.125}, "window 3 0s–1s (12.5% errors)"},
		{Window{Name: "slow", From: Duration(1500 * time.Millisecond), To: Duration(2 * time.Second), LatencyFactor: 2.5}, "slow 1.5s–2s (×2.5 latency)"},
		{Window{Name: "down", To: Duration(time.Second), Down: true, ErrorRate: 0.5}, "down 0s–1s (down)"},
		{Window{Name: "calm", To: Duration(time.Second), LatencyFactor: 1}, "calm 0s–1s (no effect)"},
	} {
		if got := windowLabel(2, c.w); got != c.want {
			t.Errorf("windowLabel(%+v) = %q, want %q", c.w, got, c.want)
		}
	}
}

// htmlCell matches a cell of a table row; group 1 is its content.
var htmlCell = regexp.MustCompile(`<td[^>]*>(.*?)</td>`)

// htmlRow returns the cells of the table row of the policy name in sec,
// the first one being the name with its swatch.
// htmlAnyTag matches a tag, to read a cell's text.
var htmlAnyTag = regexp.MustCompile(`<[^>]*>`)

func htmlRow(t *testing.T, sec, name string) []string {
	t.Helper()
	for _, line := range strings.Split(sec, "\n") {
		if strings.HasPrefix(line, "<tr><td>") && strings.Contains(line, ">"+html.EscapeString(name)+"<") {
			var cells []string
			for _, m := range htmlCell.FindAllStringSubmatch(line, -1) {
				// The failures cell holds one span per reason.
				cells = append(cells, htmlAnyTag.ReplaceAllString(m[1], ""))
			}
			return cells
		}
	}
	t.Fatalf("no row for %q", name)
	return nil
}

func TestHTMLTable(t *testing.T) {
	secs := htmlSections(writeHTML(t, htmlResults()))
	// The columns after the name: requests, upstream calls, amplification,
	// success, p50, p99, p99.9, time to recover, peak load (the calls of
	// one bucket: 1s in the first section, 500ms in the second), peak in
	// flight, failures.
	for _, c := range []struct {
		sec  int
		name string
		want []string
	}{
		{0, "naive retries", []string{"24,000", "34,944", "×1.46", "83.3%", "21.5ms", "1.52s", "2s", "never", "612", "300", "errors 3,990 · deadline 10"}},
		{0, htmlEvilPolicy, []string{"24,000", "20,100", "×0.84", "85.3%", "850µs", "12.3ms", "40ms", "1.5s", "205", "41", "deadline 120 · open 3,400 · budget 10"}},
		{0, htmlDeadPolicy, []string{"24,000", "24,000", "×1.00", "0.0%", "—", "—", "—", "never", "205", "300", "deadline 24,000"}},
		{1, "plain", []string{"2,000", "2,000", "×1.00", "99.5%", "20ms", "61ms", "90ms", "—", "52", "4", "errors 10"}},
		{1, "hedged", []string{"2,000", "2,100", "×1.05", "100.0%", "19ms", "30ms", "45ms", "—", "55", "5", "—"}},
	} {
		cells := htmlRow(t, secs[c.sec], c.name)
		if len(cells) != len(c.want)+1 {
			t.Errorf("%s: %d cells, want %d: %q", c.name, len(cells), len(c.want)+1, cells)
			continue
		}
		if got := cells[1:]; strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: cells\n%q\nwant\n%q", c.name, got, c.want)
		}
	}
	// Rows: one per policy.
	for i, want := range []int{3, 2} {
		if got := strings.Count(secs[i], "<tr><td>"); got != want {
			t.Errorf("section %d: %d rows, want %d", i+1, got, want)
		}
	}
}

func TestHTMLCharts(t *testing.T) {
	secs := htmlSections(writeHTML(t, htmlResults()))
	if len(secs) != 2 {
		t.Fatalf("%d sections, want 2", len(secs))
	}
	for i, c := range []struct {
		svgs, trouble, heal, series int
	}{
		// Load: offered and 3 policies; ratio: 3; breaker: open and half-open of one.
		{svgs: 3, trouble: 2 * 3, heal: 3, series: 4 + 3 + 2},
		{svgs: 2, trouble: 0, heal: 0, series: 3 + 2},
	} {
		sec := secs[i]
		for what, want := range map[string]int{
			`<svg class="chart"`: c.svgs, `class="trouble"`: c.trouble,
			`class="heal"`: c.heal, `class="series"`: c.series,
		} {
			if got := strings.Count(sec, what); got != want {
				t.Errorf("section %d: %d of %s, want %d", i+1, got, what, want)
			}
		}
	}
	for _, title := range []string{"Upstream load (calls/s, over 1s buckets)", "Success ratio (requests ending in each bucket)", "Breaker open (share of clients)"} {
		if !strings.Contains(secs[0], "<figcaption>"+html.EscapeString(title)+"</figcaption>") {
			t.Errorf("no chart %q", title)
		}
	}
	if strings.Contains(secs[1], "Breaker open") {
		t.Error("a breaker chart without a breaker")
	}
	// The outage [30s, 50s) of a 120s axis 972 units wide from x=48, and the
	// heal at 80s; the offered load is a dashed grey line.
	for _, want := range []string{
		`<rect class="trouble" fill="#f97316" fill-opacity="0.14" x="291.0" y="14.0" width="162.0" height="220.0"><title>outage 30s–50s (down)</title></rect>`,
		`<line class="heal" x1="696.0" y1="14.0" x2="696.0" y2="234.0"/>`,
		`stroke="#6b7280" stroke-width="1.4" stroke-linejoin="round" stroke-linecap="round" stroke-dasharray="5 4"/>`,
	} {
		if !strings.Contains(secs[0], want) {
			t.Errorf("section 1 lacks %s", want)
		}
	}
	// The time axis of the second run is 40 buckets of 500ms.
	if !strings.Contains(secs[1], `text-anchor="middle">20s</text>`) || strings.Contains(secs[1], `>25s</text>`) {
		t.Error("the second run's time axis does not end at 20s")
	}
}

// htmlPaths returns the d attributes of the lines of the charts in page.
func htmlPaths(page string) []string {
	var ds []string
	for _, m := range regexp.MustCompile(`<path class="series" d="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		ds = append(ds, m[1])
	}
	return ds
}

// htmlPoints returns the points of an SVG path of M and L commands, as
// pairs of coordinates.
func htmlPoints(t *testing.T, d string) [][2]float64 {
	t.Helper()
	var pts [][2]float64
	for _, f := range strings.FieldsFunc(d, func(r rune) bool { return r == 'M' || r == 'L' }) {
		f = strings.TrimSuffix(f, "h0")
		x, y, ok := strings.Cut(f, ",")
		fx, err1 := strconv.ParseFloat(x, 64)
		fy, err2 := strconv.ParseFloat(y, 64)
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("bad point %q in path %q", f, d)
		}
		pts = append(pts, [2]float64{fx, fy})
	}
	return pts
}

func TestHTMLLineCoordinates(t *testing.T) {
	// Ten one-second buckets: calls 1000/s put the y axis at 1000 and the
	// policy's line at the top; the offered 500/s halfway down.
	r := &Result{
		Scenario: &Scenario{Name: "flat"},
		Bucket:   time.Second,
		Offered:  []int{500, 500, 500, 500, 500, 500, 500, 500, 500, 500},
		Policies: []PolicyResult{{Name: "p", Series: htmlSeries(10, func(int) Point { return Point{Calls: 1000, Succeeded: 500} })}},
	}
	paths := htmlPaths(writeHTML(t, []*Result{r}))
	if len(paths) != 3 {
		t.Fatalf("%d lines, want 3 (offered, load, ratio)", len(paths))
	}
	// The plot is 972 units wide from x=48 and 220 high from y=14; points
	// are at the middle of their buckets.
	x := []string{"96.6", "193.8", "291.0", "388.2", "485.4", "582.6", "679.8", "777.0", "874.2", "971.4"}
	// The offered line and the load's are drawn 2.6 units apart (1.3 above
	// and below their values), as lines of equal value would be.
	for i, y := range []string{"122.7", "15.3", "14.0"} {
		var want strings.Builder
		for j, x := range x {
			cmd := "L"
			if j == 0 {
				cmd = "M"
			}
			want.WriteString(cmd + x + "," + y)
		}
		if paths[i] != want.String() {
			t.Errorf("line %d: d=%q, want %q", i, paths[i], want.String())
		}
	}
}

func TestHTMLRatioGaps(t *testing.T) {
	// Requests end in buckets 0–4, 12 and 15–19 only: the success ratio's
	// line has three pieces, the middle one a single point.
	ends := func(i int) bool { return i < 5 || i == 12 || i >= 15 }
	r := &Result{
		Scenario: &Scenario{Name: "gaps"},
		Bucket:   time.Second,
		Offered:  make([]int, 20),
		Policies: []PolicyResult{{Name: "p", Series: htmlSeries(20, func(i int) Point {
			if ends(i) {
				return Point{Calls: 10, Succeeded: 3, Failed: 1}
			}
			return Point{Calls: 10}
		})}},
	}
	paths := htmlPaths(writeHTML(t, []*Result{r}))
	if len(paths) != 3 {
		t.Fatalf("%d lines, want 3", len(paths))
	}
	ratio := paths[2]
	if got := strings.Count(ratio, "M"); got != 3 {
		t.Errorf("the ratio line has %d pieces, want 3: %q", got, ratio)
	}
	if got := strings.Count(ratio, "h0"); got != 1 {
		t.Errorf("the ratio line has %d lone points, want 1: %q", got, ratio)
	}
	pts := htmlPoints(t, ratio)
	if len(pts) != 11 {
		t.Errorf("the ratio line has %d points, want 11", len(pts))
	}
	for _, p := range pts {
		if p[1] != 69 { // 75% of 220 below 14
			t.Errorf("a ratio point at y=%v, want 69 for 75%%", p[1])
		}
	}
	// The offered load is all zero: a flat line at the bottom, not a
	// division by zero.
	for _, p := range htmlPoints(t, paths[0]) {
		if p[1] != 232.7 { // 1.3 above the bottom: its place beside the policy's line
			t.Errorf("an offered point at y=%v, want 232.7", p[1])
		}
	}
}

func TestHTMLDownsamples(t *testing.T) {
	// 5000 buckets whose calls alternate 0 and 200: averaging groups of
	// buckets keeps every point well inside the range; picking one bucket
	// in each group would put points at 0.
	const n = 5000
	offered := make([]int, n)
	for i := range offered {
		offered[i] = 100
	}
	r := &Result{
		Scenario: &Scenario{Name: "long", Upstream: Upstream{Windows: []Window{{From: Duration(time.Second), To: Duration(2 * time.Second)}}}},
		Bucket:   time.Second,
		Offered:  offered,
		Policies: []PolicyResult{{Name: "p", HasBreaker: true, Series: htmlSeries(n, func(i int) Point {
			return Point{Calls: 200 * (i % 2), Succeeded: i % 2, Failed: 1 - i%2, Open: float64(i % 2)}
		})}},
	}
	page := writeHTML(t, []*Result{r})
	paths := htmlPaths(page)
	if len(paths) != 5 { // offered, load, ratio, open, half-open
		t.Fatalf("%d lines, want 5", len(paths))
	}
	for i, d := range paths {
		pts := htmlPoints(t, d)
		if len(pts) > 800 || len(pts) < 700 {
			t.Errorf("line %d has %d points, want at most 800 (and about 715)", i, len(pts))
		}
	}
	// Load, ratio and open share are each between 3/7 and 4/7 of their
	// largest value in a group of 7, and 1/2 in the last group of 2.
	for i, d := range paths[1:4] {
		for _, p := range htmlPoints(t, d) {
			if p[1] <= 14 || p[1] >= 234 {
				t.Fatalf("line %d: a point at y=%v, on the edge: not averaged", i+1, p[1])
			}
		}
	}
	if len(page) > 200_000 {
		t.Errorf("the page is %d bytes", len(page))
	}
}

func TestHTMLDeterministic(t *testing.T) {
	a := writeHTML(t, htmlResults())
	b := writeHTML(t, htmlResults())
	if a != b {
		t.Fatal("two reports of the same results differ")
	}
	results := htmlResults()
	if c := writeHTML(t, results); c != writeHTML(t, results) || c != a {
		t.Fatal("two reports of the same results differ")
	}
}

func TestHTMLEmpty(t *testing.T) {
	for _, results := range [][]*Result{nil, {}, {nil}} {
		page := writeHTML(t, results)
		if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.HasSuffix(page, "</html>\n") {
			t.Errorf("%v: not a page: %q", results, page)
		}
		checkBalanced(t, page)
		if strings.Contains(page, "<section") || !strings.Contains(page, "No results.") {
			t.Errorf("%v: the page of no results has sections, or does not say it has none", results)
		}
	}
	// A result with no scenario and no buckets still makes a section,
	// without charts.
	page := writeHTML(t, []*Result{{Policies: []PolicyResult{{Name: "x"}}}})
	checkBalanced(t, page)
	if !strings.Contains(page, "(unnamed scenario)") || strings.Contains(page, `<svg class="chart"`) || !strings.Contains(page, "No time series.") {
		t.Error("a result without a scenario or series is not reported as such")
	}
}

// htmlFailingWriter fails every write.
type htmlFailingWriter struct{}

func (htmlFailingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestHTMLWriteError(t *testing.T) {
	if err := reportOf(htmlFailingWriter{}, htmlResults()); err == nil || err.Error() != "disk full" {
		t.Errorf("Report to a failing writer: %v", err)
	}
}

func TestHTMLFormatDuration(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{7, "7ns"},
		{850 * time.Microsecond, "850µs"},
		{999_700 * time.Nanosecond, "1ms"},
		{12_345 * time.Microsecond, "12.3ms"},
		{20 * time.Millisecond, "20ms"},
		{1_523 * time.Millisecond, "1.52s"},
		{1_500 * time.Millisecond, "1.5s"},
		{59_400 * time.Millisecond, "59.4s"},
		{59_700 * time.Millisecond, "1m"},
		{90 * time.Second, "1m30s"},
		{125 * time.Second, "2m05s"},
		{3599_600 * time.Millisecond, "1h"},
		{3900 * time.Second, "1h05m"},
		{-1500 * time.Millisecond, "-1.5s"},
	} {
		if got := fmtDur(c.d); got != c.want {
			t.Errorf("fmtDur(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestHTMLFormatNumbers(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{fmtInt(0), "0"},
		{fmtInt(999), "999"},
		{fmtInt(1000), "1,000"},
		{fmtInt(-1234567), "-1,234,567"},
		{fmtPercent(0.99999), ">99.9%"},
		{fmtPercent(0.0004), "<0.1%"},
		{fmtPercent(1), "100.0%"},
		{fmtPercent(0.12345), "12.3%"},
		{fmtAmplification(2), "×2.00"},
		{fmtRound(612.5), "613"},
		{fmtTrim(33.333, 2), "33.33"},
		{fmtTrim(3, 2), "3"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	for _, c := range []struct {
		top, ymax, step float64
	}{
		{0, 1, 0.25}, {1000, 1000, 500}, {1001, 1500, 500}, {114.3, 150, 50}, {3.2, 4, 1}, {0.3, 0.3, 0.1},
	} {
		if ymax, step := roundUp(c.top); math.Abs(ymax-c.ymax) > 1e-9 || math.Abs(step-c.step) > 1e-9 {
			t.Errorf("roundUp(%v) = %v, %v; want %v, %v", c.top, ymax, step, c.ymax, c.step)
		}
	}
}

// TestHTMLSample writes the report of the test's results to the file named
// by $SIM_HTML_SAMPLE, to look at in a browser. Without it, it does nothing.
func TestHTMLSample(t *testing.T) {
	path := os.Getenv("SIM_HTML_SAMPLE")
	if path == "" {
		t.Skip("set SIM_HTML_SAMPLE to a file name to write a sample report")
	}
	if err := os.WriteFile(path, []byte(writeHTML(t, htmlResults())), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHTMLChartsEndWithTheLoad(t *testing.T) {
	// The load runs 9.5s in 1s buckets; the series go on to 12 buckets with
	// the stragglers' few calls. The charts stop at 9.5s, and the half
	// bucket [9s, 9.5s) reads at the rate of its half second, not as a drop.
	r := &Result{
		Scenario: &Scenario{Name: "tail", Duration: Duration(9500 * time.Millisecond)},
		Bucket:   time.Second,
		Offered:  []int{100, 100, 100, 100, 100, 100, 100, 100, 100, 50, 0, 0},
		Policies: []PolicyResult{{Name: "p", Series: htmlSeries(12, func(i int) Point {
			switch {
			case i == 9:
				return Point{Calls: 50, Succeeded: 50}
			case i > 9:
				return Point{Calls: 1, Failed: 1}
			}
			return Point{Calls: 100, Succeeded: 100}
		})}},
	}
	page := writeHTML(t, []*Result{r})
	paths := htmlPaths(page)
	for i, d := range paths[:2] {
		pts := htmlPoints(t, d)
		if len(pts) != 10 {
			t.Fatalf("line %d has %d points, want 10: the buckets up to the end of the load", i, len(pts))
		}
		if last := pts[len(pts)-1]; last[1] != pts[0][1] || last[0] > 48+972+0.05 {
			t.Errorf("line %d: its last point, of the half bucket, is at %v, want at the height of the others (%v) and within the plot", i, last, pts[0][1])
		}
	}
	if !strings.Contains(page, "the charts end with the load, at 9.5s") {
		t.Error("the page does not say where the charts end")
	}
}

func TestHTMLEqualLinesStayApart(t *testing.T) {
	same := htmlSeries(10, func(int) Point { return Point{Calls: 10, Succeeded: 1} })
	r := &Result{
		Scenario: &Scenario{Name: "twins"},
		Bucket:   time.Second,
		Offered:  make([]int, 10),
		Policies: []PolicyResult{{Name: "a", Series: same}, {Name: "b", Series: same}, {Name: "c", Series: same}},
	}
	page := writeHTML(t, []*Result{r})
	paths := htmlPaths(page)
	// offered, 3 loads, 3 ratios
	for _, lines := range [][]string{paths[1:4], paths[4:7]} {
		ys := map[float64]bool{}
		for _, d := range lines {
			ys[htmlPoints(t, d)[0][1]] = true
		}
		if len(ys) != 3 {
			t.Errorf("three equal lines are drawn at %d heights, want 3 apart: %q", len(ys), lines)
		}
	}
	dashes := regexp.MustCompile(`<path class="series"[^>]*stroke-dasharray="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(dashes) < 4 || dashes[1][1] == dashes[2][1] {
		t.Errorf("the policies' lines do not have distinct dash patterns: %q", dashes)
	}
}

func TestHTMLTicks(t *testing.T) {
	for _, c := range []struct {
		v, step float64
		want    string
	}{{0, 1000, "0"}, {1000, 1000, "1k"}, {2500, 500, "2500"}, {5000, 2500, "5k"}, {7500, 2500, "7.5k"}} {
		if got := fmtTick(c.v, c.step, decimals(c.step)); got != c.want {
			t.Errorf("fmtTick(%v, %v) = %q, want %q", c.v, c.step, got, c.want)
		}
	}
}

func TestTextFitsHundredColumns(t *testing.T) {
	for _, r := range htmlResults() {
		for i := range r.Policies {
			r.Policies[i].Name = "policy " + strconv.Itoa(i)
		}
		r.Policies[0].Name = "retry+breaker(5 in a row)" // 25 runes, the longest built-in name
		r.Policies[0].Failures = Failures{Exhausted: 10_745, Throttled: 12_944, Deadline: 1_234, Budget: 99_999}
		var b strings.Builder
		if err := WriteText(&b, r); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(b.String(), "\n") {
			if n := utf8.RuneCountInString(line); n > 100 {
				t.Errorf("a line of %d columns:\n%s", n, line)
			}
		}
		if !strings.Contains(b.String(), "errors 10,745 · deadline 1,234 · throttled 12,944 · budget 99,999") {
			t.Errorf("the failures are not listed:\n%s", b.String())
		}
	}
}

// TestHTMLLimitChart checks the chart of concurrency limits: there when a
// policy has a limit, with a line for each such policy and one for the
// upstream's capacity, which follows its windows; absent otherwise.
func TestHTMLLimitChart(t *testing.T) {
	s := simple()
	s.Duration = Duration(10 * time.Second)
	s.Upstream.Capacity = 10
	s.Upstream.Windows = []Window{{Name: "half", From: Duration(4 * time.Second), To: Duration(6 * time.Second), CapacityFactor: 0.5}}
	s.Load.Rate = 200
	s.Policies = []Policy{{Name: "none"}, {Name: "bulkhead", Bulkhead: &BulkheadConfig{MaxConcurrent: 8}},
		{Name: "aimd", Adaptive: &AdaptiveConfig{}}}
	res, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	noLimit := *res
	noLimit.Policies = res.Policies[:1]
	page := writeHTML(t, []*Result{res, &noLimit})
	checkBalanced(t, page)
	secs := htmlSections(page)
	title := "<figcaption>Concurrency limit (summed over the clients)</figcaption>"
	if !strings.Contains(secs[0], title) || strings.Contains(secs[1], title) {
		t.Fatalf("the limit chart is in the sections %v, %v; want in the first only", strings.Contains(secs[0], title), strings.Contains(secs[1], title))
	}
	chart := secs[0][strings.Index(secs[0], title):]
	chart = chart[:strings.Index(chart, "</figure>")]
	paths := htmlPaths(chart)
	if len(paths) != 3 || !strings.Contains(chart, "upstream capacity") || !strings.Contains(chart, ">bulkhead<") {
		t.Fatalf("the limit chart has %d lines (want 3: the capacity, the bulkhead, aimd):\n%s", len(paths), chart)
	}
	// The capacity: 10 workers, 5 from 4s to 6s. The y axis rounds 10 up;
	// the line is lower (a larger y) in the window than out of it.
	pts := htmlPoints(t, paths[0])
	if len(pts) != 10 || !(pts[4][1] > pts[3][1]) || pts[5][1] != pts[4][1] || pts[6][1] != pts[3][1] {
		t.Errorf("the capacity line %v does not halve from 4s to 6s", pts)
	}
}

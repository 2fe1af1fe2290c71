package debugpage_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/debugpage"
)

// section returns the HTML of the panel named name on the page body.
func section(t *testing.T, body, name string) string {
	t.Helper()
	for _, s := range strings.Split(body, "<section")[1:] {
		if strings.Contains(s, `<span class="name">`+name+`</span>`) {
			return s
		}
	}
	t.Fatalf("no panel named %q on the page:\n%s", name, body)
	return ""
}

// gradient returns a Gradient limiter that has closed two windows: one
// at 20ms, its baseline, and one at 50ms.
func gradient(t *testing.T) *adaptive.Limiter {
	t.Helper()
	l := must(adaptive.New(adaptive.Config{Name: "server", Algorithm: adaptive.Gradient, Initial: 30,
		Gradient: adaptive.GradientConfig{WindowSamples: 10, MinSamples: 10}}))
	base := time.Now()
	for i := range 20 {
		latency := 20 * time.Millisecond
		if i >= 10 {
			latency = 50 * time.Millisecond
		}
		l.RecordAt(base.Add(time.Duration(i)*time.Millisecond), latency, 1, false)
	}
	if s := l.Snapshot(); s.Baseline <= 0 || s.Latency <= s.Baseline {
		t.Fatalf("the limiter reads %+v: want a baseline and a slower window", s)
	}
	return l
}

func TestAdaptiveLimiterPanel(t *testing.T) {
	reg := manual(t, debugpage.Config{})
	g := gradient(t)
	a := must(adaptive.New(adaptive.Config{Name: "client", Initial: 2, Max: 50, MaxWait: 250 * time.Millisecond}))
	shadow := must(adaptive.New(adaptive.Config{Name: "shadow", Initial: 1, Shadow: true}))
	for name, l := range map[string]*adaptive.Limiter{"server limit": g, "client limit": a, "shadow limit": shadow} {
		if _, err := debugpage.Register(reg, name, l); err != nil {
			t.Fatal(err)
		}
	}
	held, err := a.TryAcquire()
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release(resilience.Outcome{})
	s1, _ := shadow.TryAcquire()
	s2, _ := shadow.TryAcquire() // would have been rejected
	defer s1.Release(resilience.Outcome{})
	defer s2.Release(resilience.Outcome{})
	reg.Sample()

	// The JSON: kind, settings, snapshot and every series, as the
	// limiters' snapshots read.
	var p struct {
		Policies []struct {
			Name     string
			Kind     string
			Settings map[string]string
			Snapshot adaptive.Snapshot
			History  map[string][]*float64
		}
	}
	if err := json.Unmarshal([]byte(get(t, reg, "?format=json")), &p); err != nil {
		t.Fatal(err)
	}
	snaps := map[string]adaptive.Snapshot{"server limit": g.Snapshot(), "client limit": a.Snapshot(), "shadow limit": shadow.Snapshot()}
	for _, e := range p.Policies {
		s := snaps[e.Name]
		if e.Kind != "adaptive" || e.Snapshot != s {
			t.Errorf("%s: kind %q snapshot %+v; want adaptive and %+v", e.Name, e.Kind, e.Snapshot, s)
		}
		want := map[string]string{
			"limit":     strconv.Itoa(s.Limit),
			"in flight": strconv.Itoa(s.InFlight),
			"waiting":   strconv.Itoa(s.Waiting),
			// JSON has null for an AIMD limiter's latencies.
			"baseline latency (s)": "null",
			"window latency (s)":   "null",
		}
		if s.Algorithm == adaptive.Gradient {
			want["baseline latency (s)"] = strconv.FormatFloat(s.Baseline.Seconds(), 'g', -1, 64)
			want["window latency (s)"] = strconv.FormatFloat(s.Latency.Seconds(), 'g', -1, 64)
		}
		for series, v := range want {
			if got := fmtSeries(e.History[series]); got != v {
				t.Errorf("%s: history of %q is %s, want %s", e.Name, series, got, v)
			}
		}
		c := map[string]*adaptive.Limiter{"server limit": g, "client limit": a, "shadow limit": shadow}[e.Name].Config().WithDefaults()
		if e.Settings["algorithm"] != c.Algorithm.String() || e.Settings["min"] != strconv.Itoa(c.Min) ||
			e.Settings["max"] != strconv.Itoa(c.Max) || e.Settings["max wait"] != c.MaxWait.String() {
			t.Errorf("%s: settings %v, want those of %+v", e.Name, e.Settings, c)
		}
		if shadowMode := strings.HasPrefix(e.Settings["mode"], "shadow"); shadowMode != c.Shadow {
			t.Errorf("%s: settings %v, shadow %v", e.Name, e.Settings, c.Shadow)
		}
	}
	if len(p.Policies) != 3 {
		t.Fatalf("%d policies on the page, want 3", len(p.Policies))
	}

	// The HTML: the Gradient limiter draws five sparklines, the AIMD ones
	// three, without latencies.
	body := get(t, reg, "")
	server, client, sh := section(t, body, "server limit"), section(t, body, "client limit"), section(t, body, "shadow limit")
	gs := g.Snapshot()
	for _, want := range []string{
		"<dt>algorithm</dt><dd>gradient</dd>",
		"<dt>baseline latency</dt><dd>" + gs.Baseline.String() + "</dd>",
		"<dt>window latency</dt><dd>" + gs.Latency.String() + "</dd>",
		"<dt>probing</dt><dd>no</dd>",
		"limit · now " + strconv.Itoa(gs.Limit),
		"baseline latency (s) · now " + strconv.FormatFloat(gs.Baseline.Seconds(), 'g', 3, 64),
		"window latency (s) · now " + strconv.FormatFloat(gs.Latency.Seconds(), 'g', 3, 64),
	} {
		if !strings.Contains(server, want) {
			t.Errorf("the Gradient limiter's panel lacks %q:\n%s", want, server)
		}
	}
	if n := strings.Count(server, "<figure>"); n != 5 {
		t.Errorf("the Gradient limiter's panel draws %d sparklines, want 5", n)
	}
	for _, want := range []string{
		"<dt>algorithm</dt><dd>aimd</dd>", "<dt>max</dt><dd>50</dd>", "<dt>max wait</dt><dd>250ms</dd>",
		"<dt>baseline latency</dt><dd>—</dd>", "<dt>in flight</dt><dd>1</dd>", "<dt>admitted</dt><dd>1</dd>",
		"limit · now 2", "in flight · now 1", "waiting · now 0",
	} {
		if !strings.Contains(client, want) {
			t.Errorf("the AIMD limiter's panel lacks %q:\n%s", want, client)
		}
	}
	if n := strings.Count(client, "<figure>"); n != 3 || strings.Contains(client, "latency (s)") {
		t.Errorf("the AIMD limiter's panel draws %d sparklines, want 3 and none of latency:\n%s", n, client)
	}
	for _, want := range []string{"<dt>shadow rejected</dt><dd>1</dd>", "<dt>rejected</dt><dd>0</dd>", "shadow: decides and reports"} {
		if !strings.Contains(sh, want) {
			t.Errorf("the shadow limiter's panel lacks %q:\n%s", want, sh)
		}
	}
}

// TestAdaptiveLimiterGroup: a group of limiters keeps the latency columns
// for every member, an AIMD one's empty.
func TestAdaptiveLimiterGroup(t *testing.T) {
	reg := manual(t, debugpage.Config{})
	family := map[string]*adaptive.Limiter{"a": must(adaptive.New(adaptive.Config{})), "g": gradient(t)}
	members := func(yield func(string, *adaptive.Limiter) bool) {
		for _, k := range []string{"a", "g"} {
			if !yield(k, family[k]) {
				return
			}
		}
	}
	if _, err := debugpage.RegisterGroup(reg, "per model", members); err != nil {
		t.Fatal(err)
	}
	reg.Sample()
	body := get(t, reg, "")
	if !strings.Contains(body, "<th>baseline latency (s)</th><th>window latency (s)</th>") {
		t.Fatalf("the group's table lacks the latency columns:\n%s", body)
	}
	rows := strings.Split(body, `<td class="key">`)[1:]
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2:\n%s", len(rows), body)
	}
	for i, row := range rows {
		if n := strings.Count(row, `<svg class="spark"`); n != 5 {
			t.Errorf("row %d draws %d sparklines, want one per column, 5", i, n)
		}
	}
	// The AIMD member's latency sparklines are empty, the Gradient one's drawn.
	if n := strings.Count(rows[0], "<path "); n != 3 {
		t.Errorf("the AIMD member draws %d lines, want 3", n)
	}
	if n := strings.Count(rows[1], "<path "); n != 5 {
		t.Errorf("the Gradient member draws %d lines, want 5", n)
	}
}

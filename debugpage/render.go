package debugpage

import (
	"bytes"
	"encoding/json"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ServeHTTP serves the page: HTML, or JSON with ?format=json. It reads
// every policy when it is called, and draws the sparklines from the
// samples taken so far.
//
// The JSON object has the time it was read, the sampling interval, the
// ring size (samples) and the samples taken, and "policies", in the order
// of registration: each with its name, kind ("breaker", "budget", ...), a
// breaker's state, its snapshot (the policy's Snapshot struct, durations
// in nanoseconds), the settings in effect of a policy that can be
// reconfigured ("settings", such as "threshold", and "mode" when it runs in
// shadow) and its history (each series' samples, oldest first,
// null where none was taken; running totals such as "rejected" as totals).
// A group has "group": true, its members (each with its key, state,
// snapshot and history) and "more", the members it leaves out.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r == nil {
		http.Error(w, "debugpage: nil *Registry", http.StatusInternalServerError)
		return
	}
	v := r.view(time.Now())
	var buf bytes.Buffer
	var err error
	if req.URL.Query().Get("format") == "json" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		err = enc.Encode(v.json())
	} else {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		err = pageTemplate.Execute(&buf, v)
	}
	if err != nil {
		http.Error(w, "debugpage: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// pageView is what the page shows: a copy of the registry's data, made
// under its lock, then read without it.
type pageView struct {
	Title    string
	Now      time.Time
	Interval time.Duration
	Samples  int // the ring size
	Taken    int // samples taken so far, at most Samples
	Last     time.Time
	Entries  []entryView
}

// entryView is one registration on the page.
type entryView struct {
	Name    string
	ID      string
	Kind    string
	Group   bool
	Policy  policyView   // a single policy
	Members []policyView // a group's, sorted by key
	More    int          // a group's members not shown
	Columns []string     // a group's field labels
	Series  []string     // a group's series labels
}

// policyView is one policy: a single one, or a member of a group.
type policyView struct {
	Key      string
	Kind     string
	State    string
	Fields   []field
	Sparks   []sparkView
	snapshot any
	settings []field
	history  [][]float64
}

// sparkView is one sparkline.
type sparkView struct {
	Label string
	Path  string // SVG path data; "" before the first sample
	Last  string // the latest sample, formatted
}

// The geometry of a sparkline, in pixels.
const (
	sparkW   = 160
	sparkH   = 28
	sparkPad = 2
)

// view reads every registered policy at now and copies its history.
func (r *Registry) view(now time.Time) pageView {
	entries := r.list()
	v := pageView{Title: r.title, Now: now, Interval: r.interval, Samples: r.samples}

	// Read the policies, and list the groups' members, without the lock.
	type readEntry struct {
		e     *entry
		keys  []string
		reads []reading
		more  int
	}
	var reads []readEntry
	for _, e := range entries {
		re := readEntry{e: e}
		if e.group {
			ms, more := r.membersOf(e)
			re.more = more
			for _, m := range ms {
				re.keys = append(re.keys, m.key)
				re.reads = append(re.reads, readPolicy(m.policy, now))
			}
		} else {
			re.keys = []string{""}
			re.reads = []reading{readPolicy(e.policy, now)}
		}
		reads = append(reads, re)
	}

	// Copy the history under the lock.
	hist := make([][][][]float64, len(reads))
	r.mu.Lock()
	v.Taken, v.Last = r.taken, r.last
	for i, re := range reads {
		hist[i] = make([][][]float64, len(re.keys))
		for j, key := range re.keys {
			h := re.e.rings[key]
			if h == nil || h.kind != re.reads[j].kind {
				continue
			}
			for _, s := range h.series {
				if s != nil {
					hist[i][j] = append(hist[i][j], r.ordered(s))
				}
			}
		}
	}
	r.mu.Unlock()

	for i, re := range reads {
		ev := entryView{Name: re.e.name, ID: "p" + strconv.Itoa(i+1), Group: re.e.group, More: re.more}
		for j, rd := range re.reads {
			pv := policyView{Key: re.keys[j], Kind: rd.kind.String(), State: rd.state, Fields: rd.fields,
				snapshot: rd.snapshot, settings: rd.settings, history: hist[i][j]}
			for k, spec := range seriesOf(rd.kind) {
				var h []float64
				if k < len(hist[i][j]) {
					h = hist[i][j][k]
				}
				if spec.sparse && !re.e.group && !slices.ContainsFunc(h, isNumber) {
					continue // a group's table keeps the column
				}
				pv.Sparks = append(pv.Sparks, spark(spec, h, r.samples))
			}
			if re.e.group {
				ev.Members = append(ev.Members, pv)
			} else {
				ev.Policy = pv
			}
		}
		if re.e.group {
			ev.Kind = "group"
			if len(ev.Members) > 0 {
				m := ev.Members[0]
				ev.Kind = m.Kind + " group"
				for _, f := range m.Fields {
					ev.Columns = append(ev.Columns, f.Label)
				}
				for _, s := range m.Sparks {
					ev.Series = append(ev.Series, s.Label)
				}
			}
		} else {
			ev.Kind = ev.Policy.Kind
		}
		v.Entries = append(v.Entries, ev)
	}
	return v
}

// spark draws the series h (its increase between samples, for a running
// total), oldest first, as a step line in a box of
// sparkW × sparkH, with the newest sample at the right edge and room for
// size samples: the time scale is the same for every sparkline.
func spark(spec seriesSpec, h []float64, size int) sparkView {
	sv := sparkView{Label: spec.label, Last: "—"}
	if spec.delta && len(h) > 0 {
		d := make([]float64, len(h))
		d[0] = math.NaN()
		for i := 1; i < len(h); i++ {
			d[i] = h[i] - h[i-1] // NaN where either sample is missing
		}
		h = d
	}
	lo, hi := spec.lo, spec.hi
	if lo == hi {
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, x := range h {
			if !math.IsNaN(x) {
				lo, hi = min(lo, x), max(hi, x)
			}
		}
		if lo > hi {
			return sv
		}
		lo = min(lo, 0)
		if hi == lo {
			hi = lo + 1
		}
	}
	if n := len(h); n > 0 && !math.IsNaN(h[n-1]) {
		sv.Last = fmtValue(h[n-1])
	}
	step := float64(sparkW-2*sparkPad) / float64(max(size-1, 1))
	x0 := float64(sparkW-sparkPad) - float64(len(h)-1)*step
	y := func(v float64) float64 {
		f := (v - lo) / (hi - lo)
		f = min(max(f, 0), 1)
		return sparkPad + (1-f)*float64(sparkH-2*sparkPad)
	}
	var b strings.Builder
	run := 0
	for i, v := range h {
		if math.IsNaN(v) {
			if run == 1 {
				b.WriteString("h0")
			}
			run = 0
			continue
		}
		x := x0 + float64(i)*step
		if run == 0 {
			b.WriteString("M" + coord(x) + "," + coord(y(v)))
		} else {
			b.WriteString("H" + coord(x) + "V" + coord(y(v)))
		}
		run++
	}
	if run == 1 {
		b.WriteString("h0")
	}
	sv.Path = b.String()
	return sv
}

// isNumber reports whether a sample was taken and has a value.
func isNumber(v float64) bool { return !math.IsNaN(v) }

// coord formats an SVG coordinate to one decimal.
func coord(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', 1, 64)
}

// fmtValue formats a sampled value: an integer as such, anything else to
// three significant digits.
func fmtValue(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// The JSON form of the page.
type (
	jsonPage struct {
		Time     time.Time   `json:"time"`
		Interval string      `json:"interval"`
		Samples  int         `json:"samples"`
		Taken    int         `json:"taken"`
		Policies []jsonEntry `json:"policies"`
	}
	jsonEntry struct {
		Name    string       `json:"name"`
		Kind    string       `json:"kind"`
		Group   bool         `json:"group,omitempty"`
		More    int          `json:"more,omitempty"`
		Members []jsonPolicy `json:"members,omitempty"`
		jsonPolicy
	}
	jsonPolicy struct {
		Key      string              `json:"key,omitempty"`
		State    string              `json:"state,omitempty"`
		Snapshot any                 `json:"snapshot,omitempty"`
		Settings map[string]string   `json:"settings,omitempty"`
		History  map[string]jsonRing `json:"history,omitempty"`
	}
	// jsonRing is a series of samples, oldest first; null where none was
	// taken.
	jsonRing []float64
)

// MarshalJSON writes the samples, with null for NaN.
func (s jsonRing) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		}
	}
	return append(b, ']'), nil
}

func (p policyView) json() jsonPolicy {
	jp := jsonPolicy{Key: p.Key, State: p.State, Snapshot: p.snapshot}
	for _, f := range p.settings {
		if jp.Settings == nil {
			jp.Settings = make(map[string]string, len(p.settings))
		}
		jp.Settings[f.Label] = f.Value
	}
	for k, spec := range seriesOf(kindOf(p.Kind)) {
		if k < len(p.history) {
			if jp.History == nil {
				jp.History = make(map[string]jsonRing)
			}
			jp.History[spec.jsonName()] = p.history[k]
		}
	}
	return jp
}

// kindOf is the kind named name.
func kindOf(name string) kind {
	for k := kind(1); k < 32; k++ {
		if k.String() == name {
			return k
		}
	}
	return 0
}

func (v pageView) json() jsonPage {
	p := jsonPage{Time: v.Now, Interval: v.Interval.String(), Samples: v.Samples, Taken: v.Taken,
		Policies: []jsonEntry{}}
	for _, e := range v.Entries {
		je := jsonEntry{Name: e.Name, Kind: e.Kind, Group: e.Group, More: e.More}
		if e.Group {
			je.Kind = "group"
			je.Members = []jsonPolicy{}
			for _, m := range e.Members {
				je.Members = append(je.Members, m.json())
			}
			if len(e.Members) > 0 {
				je.Kind = e.Members[0].Kind
			}
		} else {
			je.jsonPolicy = e.Policy.json()
		}
		p.Policies = append(p.Policies, je)
	}
	return p
}

// window describes the time the sparklines cover.
func (v pageView) Window() string {
	if v.Interval <= 0 {
		return "the last " + strconv.Itoa(v.Samples) + " samples (taken on demand)"
	}
	return "the last " + dur(v.Interval*time.Duration(v.Samples)) + ", a sample every " + dur(v.Interval)
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"stamp": func(t time.Time) string {
		if t.IsZero() {
			return "none yet"
		}
		return t.UTC().Format("2006-01-02 15:04:05 MST")
	},
}).Parse(pageHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1f2937;margin:1.5rem;line-height:1.4}
h1{font-size:1.4rem;margin:0 0 .25rem}
h2{font-size:1.1rem;margin:0;display:flex;gap:.6rem;align-items:baseline;flex-wrap:wrap}
.meta{color:#6b7280;font-size:.85rem;margin:0 0 1rem}
section{border-top:1px solid #e5e7eb;padding:.9rem 0}
.kind{color:#6b7280;font-weight:400;font-size:.85rem}
.state{font-size:.8rem;font-weight:600;padding:.05rem .5rem;border-radius:.7rem;background:#e5e7eb}
.state.closed{background:#dcfce7;color:#166534}
.state.open{background:#fee2e2;color:#991b1b}
.state.half-open{background:#fef3c7;color:#92400e}
dl{display:flex;flex-wrap:wrap;gap:.2rem 1.4rem;margin:.5rem 0}
dl div{display:flex;flex-direction:column}
dt{color:#6b7280;font-size:.75rem}
dd{margin:0;font-variant-numeric:tabular-nums}
.sparks{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0}
figcaption{color:#6b7280;font-size:.75rem}
svg.spark{display:block;background:#f9fafb;border:1px solid #e5e7eb}
svg.spark path{fill:none;stroke:#2563eb;stroke-width:1.5;stroke-linecap:round;stroke-linejoin:round}
.wrap{overflow-x:auto}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #e5e7eb;padding:.2rem .45rem;text-align:right;font-variant-numeric:tabular-nums}
th{background:#f9fafb;font-weight:600;font-size:.75rem;color:#4b5563}
th:first-child,td:first-child{text-align:left}
.empty{color:#6b7280}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="meta">Read at {{stamp .Now}}. Sparklines: {{.Window}}; {{.Taken}} taken, the last at {{stamp .Last}}. <a href="?format=json">JSON</a></p>
{{- if not .Entries}}
<p class="empty">No policies registered.</p>
{{- end}}
{{- range .Entries}}
<section id="{{.ID}}" class="entry">
<h2><span class="name">{{.Name}}</span> <span class="kind">{{.Kind}}</span>{{if .Policy.State}} <span class="state {{.Policy.State}}">{{.Policy.State}}</span>{{end}}</h2>
{{- if .Group}}
{{- if .Members}}
<div class="wrap">
<table>
<thead><tr><th>key</th>{{range .Columns}}<th>{{.}}</th>{{end}}{{range .Series}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Members}}
<tr><td class="key">{{.Key}}</td>{{range .Fields}}<td>{{if eq .Label "state"}}<span class="state {{.Value}}">{{.Value}}</span>{{else}}{{.Value}}{{end}}</td>{{end}}{{range .Sparks}}<td>{{template "spark" .}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
</div>
{{- else}}
<p class="empty">No members.</p>
{{- end}}
{{- if .More}}
<p class="empty">and {{.More}} more not shown.</p>
{{- end}}
{{- else}}
<dl>{{range .Policy.Fields}}<div><dt>{{.Label}}</dt><dd>{{.Value}}</dd></div>{{end}}</dl>
<div class="sparks">{{range .Policy.Sparks}}<figure>{{template "spark" .}}<figcaption>{{.Label}} · now {{.Last}}</figcaption></figure>{{end}}</div>
{{- end}}
</section>
{{- end}}
</body>
</html>
{{define "spark"}}<svg class="spark" xmlns="http://www.w3.org/2000/svg" width="160" height="28" viewBox="0 0 160 28" role="img" aria-label="{{.Label}}, now {{.Last}}">{{if .Path}}<path d="{{.Path}}"/>{{end}}</svg>{{end}}
`

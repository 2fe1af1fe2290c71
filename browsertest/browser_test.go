package browsertest

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/debugpage"
	"github.com/netresilience/resilience/internal/leakcheck"
	"github.com/netresilience/resilience/sim"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// browser returns a chromedp context on a new headless Chromium, sized
// width × 1000, that the test's cleanup closes. It skips the test when no
// browser is installed, and fails it when CI=true.
func browser(t *testing.T, width int) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Chromium on the PATH; scripts/test.sh installs Debian's chromium package")
		}
		t.Skip("no Chromium on the PATH (install Debian's chromium package)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // the tests may run as root, as in CI
		chromedp.WindowSize(width, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), 1000)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// run runs a in the browser of ctx and returns its value, failing the test
// on an error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDebugPageShowsABreakerOpening(t *testing.T) {
	ctx := browser(t, 1400)
	reg, err := debugpage.New(context.Background(), debugpage.Config{Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	br := breaker.MustNew(breaker.Config{FailureThreshold: 3, RecoveryTimeout: time.Hour})
	if _, err := debugpage.Register(reg, "payments <api>", br); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/debug/resilience", reg)
	srv := httptest.NewServer(mux) // on 127.0.0.1
	defer srv.Close()
	reg.Sample()

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/debug/resilience")); err != nil {
		t.Fatal(err)
	}
	name := run(t, ctx, chromedp.Text(chromedp.CSS(`section.entry .name`)))
	state := run(t, ctx, chromedp.Text(chromedp.CSS(`section.entry .state`)))
	if name != "payments <api>" || state != "closed" {
		t.Fatalf("before the failures the page reads %q %q, want the name as given and closed", name, state)
	}

	for range 3 {
		if p, err := br.Allow(); err == nil {
			p.Done(errors.New("connection refused"))
		}
	}
	reg.Sample()
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	state = run(t, ctx, chromedp.Text(chromedp.CSS(`section.entry .state`)))
	sparkWidth := run(t, ctx, chromedp.Evaluate[float64](
		`Math.max(...[...document.querySelectorAll("svg.spark path")].map(p => p.getBBox().width))`))
	opened := run(t, ctx, chromedp.Evaluate[string](
		`[...document.querySelectorAll("dt")].find(d => d.textContent == "opened").nextElementSibling.textContent`))
	if state != "open" {
		t.Fatalf("after three failures the page shows the breaker %q, want open", state)
	}
	if !(sparkWidth > 0) {
		t.Fatalf("no sparkline drawn: widest path %v", sparkWidth)
	}
	if opened != "1" {
		t.Fatalf("the page says the breaker opened %q times, want 1", opened)
	}
}

// limiterCheck is what the browser measures of a debug page with an
// adaptive limiter's panel and a group of limiters.
type limiterCheck struct {
	PageOverflow int      // document scrollWidth - clientWidth
	Limit        string   // the panel's "limit" value
	Sparks       []string // the panel's sparkline captions
	Widths       []float64
	GroupSeries  int  // the sparklines of the group table's first row
	GroupScrolls bool // the group's table is wider than its box, which scrolls
	LastReached  bool // scrolled to its end, the table's last column is in view
}

const limiterScript = `(() => {
  const panel = [...document.querySelectorAll("section.entry")].find(s => s.querySelector(".name").textContent == "server limit");
  const group = [...document.querySelectorAll("section.entry")].find(s => s.querySelector(".name").textContent == "per model");
  const wrap = group.querySelector("div.wrap") || group;
  const scrolls = wrap.scrollWidth > wrap.clientWidth && getComputedStyle(wrap).overflowX == "auto";
  wrap.scrollLeft = wrap.scrollWidth;
  const last = group.querySelector("th:last-child").getBoundingClientRect(), box = wrap.getBoundingClientRect();
  return {
    PageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    Limit: [...panel.querySelectorAll("dt")].find(d => d.textContent == "limit").nextElementSibling.textContent,
    Sparks: [...panel.querySelectorAll("figcaption")].map(c => c.textContent),
    Widths: [...panel.querySelectorAll("svg.spark")].map(s => { const p = s.querySelector("path"); return p ? p.getBBox().width : -1; }),
    GroupSeries: group.querySelectorAll("tbody tr:first-child svg.spark").length,
    GroupScrolls: scrolls,
    LastReached: last.right <= box.right + 0.5 && last.left >= box.left - 0.5,
  };
})()`

// TestDebugPageShowsAnAdaptiveLimiter: a Gradient limiter's panel draws
// its five series, and a group of limiters, the widest table of the page,
// scrolls in its own box instead of pushing the page sideways.
func TestDebugPageShowsAnAdaptiveLimiter(t *testing.T) {
	ctx := browser(t, 1280)
	reg, err := debugpage.New(context.Background(), debugpage.Config{Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	g := adaptive.MustNew(adaptive.Config{Name: "server", Algorithm: adaptive.Gradient,
		Gradient: adaptive.GradientConfig{WindowSamples: 10, MinSamples: 10}})
	a := adaptive.MustNew(adaptive.Config{Name: "client"})
	if _, err := debugpage.Register(reg, "server limit", g); err != nil {
		t.Fatal(err)
	}
	members := func(yield func(string, *adaptive.Limiter) bool) {
		if yield("aimd", a) {
			yield("gradient", g)
		}
	}
	if _, err := debugpage.RegisterGroup(reg, "per model", members); err != nil {
		t.Fatal(err)
	}
	// Three windows, each slower than the last, with a sample after each:
	// every series moves, or at least spans two samples.
	now := time.Now()
	for w, latency := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond} {
		for range 10 {
			now = now.Add(time.Millisecond)
			g.RecordAt(now, latency, 1, false)
		}
		if held, err := g.TryAcquire(); err == nil && w == 2 {
			defer held.Release(resilience.Outcome{Canceled: true}) // one call in flight at the last sample
		} else if err == nil {
			held.Release(resilience.Outcome{Canceled: true})
		}
		reg.Sample()
	}
	mux := http.NewServeMux()
	mux.Handle("/debug/resilience", reg)
	srv := httptest.NewServer(mux) // on 127.0.0.1
	defer srv.Close()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/debug/resilience")); err != nil {
		t.Fatal(err)
	}
	got := run(t, ctx, chromedp.Evaluate[limiterCheck](limiterScript))
	if got.PageOverflow > 0 {
		t.Errorf("the page scrolls sideways by %dpx", got.PageOverflow)
	}
	if want := strconv.Itoa(g.Limit()); got.Limit != want {
		t.Errorf("the panel shows the limit %q, want %s", got.Limit, want)
	}
	if len(got.Sparks) != 5 || len(got.Widths) != 5 {
		t.Fatalf("the panel has sparklines %q, want 5: limit, in flight, waiting and two latencies", got.Sparks)
	}
	for i, w := range got.Widths {
		if !(w > 0) {
			t.Errorf("sparkline %q: path width %v, want a line over the samples", got.Sparks[i], w)
		}
	}
	if got.GroupSeries != 5 {
		t.Errorf("the group's first member (AIMD) has %d sparklines, want 5: a column for each series", got.GroupSeries)
	}
	if got.GroupScrolls && !got.LastReached {
		t.Error("the group's table is cut off: scrolled to its end, its last column is not in view")
	}
}

// reportCheck is what the browser measures of the report.
type reportCheck struct {
	PageOverflow int // document scrollWidth - clientWidth
	Tables       []struct {
		Scroll, Client int
		LastColumn     bool // the failures column lies within the visible area
	}
	Figures []struct {
		Title  string
		Series int
		Legend []string // the legend's line entries, as "stroke dash"
		Drawn  []string // the same, for each path drawn
		Hidden []string // the lines that the browser finds nowhere on top
	}
}

// checkScript measures the report in the page: the tables' widths, and
// for each chart which lines can be hit on screen, by sampling points along
// each path and asking the browser which element is on top there.
const checkScript = `(() => {
  const out = {PageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth, Tables: [], Figures: []};
  for (const w of document.querySelectorAll("div.wrap")) {
    const t = w.querySelector("table"), last = t.querySelector("th:last-child").getBoundingClientRect();
    const box = w.getBoundingClientRect();
    out.Tables.push({Scroll: w.scrollWidth, Client: w.clientWidth, LastColumn: last.right <= box.right + 0.5});
  }
  const key = el => (el.getAttribute("stroke") || "") + " " + (el.getAttribute("stroke-dasharray") || "");
  for (const f of document.querySelectorAll("figure")) {
    f.scrollIntoView({block: "center"});
    const paths = [...f.querySelectorAll("path.series")];
    const legend = [...f.querySelectorAll(".legend svg.sw line")].map(key);
    const hidden = [];
    for (const p of paths) {
      const len = p.getTotalLength(), ctm = p.getScreenCTM();
      let hits = 0;
      for (let i = 0; i <= 400; i++) {
        const pt = p.getPointAtLength(len * i / 400).matrixTransform(ctm);
        if (document.elementFromPoint(pt.x, pt.y) === p) hits++;
      }
      if (hits < 3) hidden.push(key(p));
    }
    out.Figures.push({Title: f.querySelector("figcaption").textContent, Series: paths.length,
      Legend: legend, Drawn: paths.map(key), Hidden: hidden});
  }
  return out;
})()`

func TestSimReportAsAPersonSeesIt(t *testing.T) {
	var report sim.Report
	var want []int // series per chart, in order
	for _, name := range []string{"outage", "herd"} {
		s, ok := sim.Builtin(name)
		if !ok {
			t.Fatalf("no built-in scenario %q", name)
		}
		res, err := sim.Run(s)
		if err != nil {
			t.Fatal(err)
		}
		report.Add(res)
		breakers := 0
		for _, p := range res.Policies {
			if p.HasBreaker {
				breakers++
			}
		}
		want = append(want, 1+len(res.Policies), len(res.Policies))
		if breakers > 0 {
			want = append(want, 2*breakers)
		}
	}
	var page bytes.Buffer
	if _, err := report.WriteTo(&page); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page.Bytes())
	}))
	defer srv.Close()

	for _, width := range []int{1400, 1920} {
		t.Run(strconv.Itoa(width), func(t *testing.T) {
			ctx := browser(t, width)
			if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
				t.Fatal(err)
			}
			got := run(t, ctx, chromedp.Evaluate[reportCheck](checkScript))
			if got.PageOverflow > 0 {
				t.Errorf("the page scrolls sideways by %dpx", got.PageOverflow)
			}
			if len(got.Tables) != 2 {
				t.Fatalf("%d tables, want 2", len(got.Tables))
			}
			for i, tb := range got.Tables {
				if tb.Scroll > tb.Client || !tb.LastColumn {
					t.Errorf("table %d is %dpx wide in %dpx: cut off (failures column visible: %v)",
						i+1, tb.Scroll, tb.Client, tb.LastColumn)
				}
			}
			if len(got.Figures) != len(want) {
				t.Fatalf("%d charts, want %d", len(got.Figures), len(want))
			}
			for i, f := range got.Figures {
				if f.Series != want[i] {
					t.Errorf("chart %q has %d lines, want %d", f.Title, f.Series, want[i])
				}
				drawn := map[string]bool{}
				for _, k := range f.Drawn {
					drawn[k] = true
				}
				for _, k := range f.Legend {
					if !drawn[k] {
						t.Errorf("chart %q: the legend's %q has no line", f.Title, k)
					}
				}
				if len(f.Legend) < 2 {
					t.Errorf("chart %q: a legend of %d lines", f.Title, len(f.Legend))
				}
				if len(f.Hidden) > 0 {
					t.Errorf("chart %q: lines hidden behind others: %q", f.Title, f.Hidden)
				}
			}
		})
	}
}

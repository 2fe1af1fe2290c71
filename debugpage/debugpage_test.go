package debugpage_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/debugpage"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/ratelimit"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/throttle"
	"github.com/netresilience/resilience/timeout"
)

var errDown = errors.New("down")

// fail records n failures in b.
func fail(t *testing.T, b *breaker.Breaker, n int) {
	t.Helper()
	for range n {
		p, err := b.Allow()
		if err != nil {
			return // open already
		}
		p.Done(errDown)
	}
}

// get serves the page of reg for the query q and returns the body.
func get(t *testing.T, reg *debugpage.Registry, q string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	reg.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/resilience"+q, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// page is the JSON form of the page, as far as the tests read it.
type page struct {
	Samples  int
	Taken    int
	Policies []struct {
		Name     string
		Kind     string
		Group    bool
		More     int
		State    string
		Snapshot map[string]any
		History  map[string][]*float64
		Members  []struct {
			Key     string
			State   string
			History map[string][]*float64
		}
	}
}

func getJSON(t *testing.T, reg *debugpage.Registry) page {
	t.Helper()
	var p page
	if err := json.Unmarshal([]byte(get(t, reg, "?format=json")), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func manual(t *testing.T, cfg debugpage.Config) *debugpage.Registry {
	t.Helper()
	cfg.Interval = -1
	reg, err := debugpage.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestEveryKindIsShown(t *testing.T) {
	reg := manual(t, debugpage.Config{})
	br := breaker.MustNew(breaker.Config{Name: "b", FailureThreshold: 3})
	regs := []error{
		second(debugpage.Register(reg, "payments breaker", br)),
		second(debugpage.Register(reg, "retry budget", must(budget.New(budget.Config{})))),
		second(debugpage.Register(reg, "db bulkhead", must(bulkhead.New(bulkhead.Config{MaxConcurrent: 7})))),
		second(debugpage.Register(reg, "adaptive limit", must(adaptive.New(adaptive.Config{Initial: 13})))),
		second(debugpage.Register(reg, "client throttle", must(throttle.New(throttle.Config{})))),
		second(debugpage.Register(reg, "api limiter", must(ratelimit.New(ratelimit.Config{Limit: 9, Per: time.Second})))),
		second(debugpage.Register(reg, "search hedge", must(hedge.New(hedge.Config{Delay: 30 * time.Millisecond})))),
		second(debugpage.Register(reg, "attempt timeout", must(timeout.New(timeout.Config{Timeout: 2 * time.Second})))),
	}
	for _, err := range regs {
		if err != nil {
			t.Fatal(err)
		}
	}
	fail(t, br, 3)
	reg.Sample()
	body := get(t, reg, "")
	for _, want := range []string{
		"payments breaker", `<span class="state open">open</span>`,
		"retry budget", "balance",
		"db bulkhead", "0 of 7",
		"adaptive limit", "limit · now 13",
		"client throttle", "rejection probability",
		"api limiter", "9.0 of 9",
		"search hedge", "30ms",
		"attempt timeout", "2s",
		"<svg class=\"spark\"", "<path d=\"M",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("the page has a script")
	}
	p := getJSON(t, reg)
	kinds := map[string]string{}
	for _, e := range p.Policies {
		kinds[e.Name] = e.Kind
	}
	want := map[string]string{"payments breaker": "breaker", "retry budget": "budget", "db bulkhead": "bulkhead",
		"adaptive limit": "adaptive", "client throttle": "throttle", "api limiter": "ratelimit", "search hedge": "hedge", "attempt timeout": "timeout"}
	for name, k := range want {
		if kinds[name] != k {
			t.Errorf("JSON: %q has kind %q, want %q", name, kinds[name], k)
		}
	}
	if p.Policies[0].State != "open" || p.Policies[0].Snapshot["Failures"] == nil {
		t.Errorf("JSON: the breaker reads %+v, want open with its snapshot", p.Policies[0])
	}
}

func second[A, B any](_ A, b B) B { return b }

func TestNamesAreEscaped(t *testing.T) {
	reg := manual(t, debugpage.Config{})
	evil := `<script>alert("x")</script>`
	if _, err := debugpage.Register(reg, evil, breaker.MustNew(breaker.Config{})); err != nil {
		t.Fatal(err)
	}
	group := func(yield func(string, *breaker.Breaker) bool) {
		yield(`<img src=x onerror=alert(1)>`, breaker.MustNew(breaker.Config{}))
	}
	if _, err := debugpage.RegisterGroup(reg, "hosts", group); err != nil {
		t.Fatal(err)
	}
	body := get(t, reg, "")
	if strings.Contains(body, "<script") || strings.Contains(body, "<img") {
		t.Fatalf("a user's name reached the page as markup:\n%s", body)
	}
	if !strings.Contains(body, "&lt;script&gt;") || !strings.Contains(body, "&lt;img") {
		t.Fatalf("the names are not on the page, escaped:\n%s", body)
	}
	if !strings.Contains(get(t, reg, "?format=json"), `\u003cscript\u003e`) {
		t.Fatal("the name is not in the JSON, escaped")
	}
}

func TestSamplerFillsABoundedRing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, err := debugpage.New(context.Background(), debugpage.Config{Interval: time.Second, Samples: 5})
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Close()
		br := breaker.MustNew(breaker.Config{FailureThreshold: 2, RecoveryTimeout: time.Hour})
		if _, err := debugpage.Register(reg, "b", br); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3*time.Second + time.Millisecond)
		synctest.Wait()
		p := getJSON(t, reg)
		if p.Taken != 3 || len(p.Policies[0].History["state"]) != 3 {
			t.Fatalf("after 3 intervals: %d samples, %d in the state series; want 3",
				p.Taken, len(p.Policies[0].History["state"]))
		}
		fail(t, br, 2)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		p = getJSON(t, reg)
		h := p.Policies[0].History["state"]
		if p.Taken != 5 || len(h) != 5 {
			t.Fatalf("after 13 intervals: %d samples, %d in the series; want the ring's 5", p.Taken, len(h))
		}
		for i, v := range h {
			if v == nil || *v != 1 {
				t.Fatalf("state sample %d of %v: want 1 (open) in every sample since the failures", i, h)
			}
		}
	})
}

func TestSparklineShowsTheLastMinutesOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, err := debugpage.New(context.Background(), debugpage.Config{Interval: time.Second, Samples: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Close()
		br := breaker.MustNew(breaker.Config{FailureThreshold: 1, RecoveryTimeout: 3 * time.Second})
		debugpage.Register(reg, "b", br)
		time.Sleep(time.Second + time.Millisecond) // one sample closed
		fail(t, br, 1)
		time.Sleep(2 * time.Second) // two samples open
		synctest.Wait()
		p := getJSON(t, reg)
		if got := fmtSeries(p.Policies[0].History["state"]); got != "0 1 1" {
			t.Fatalf("state history %s, want 0 1 1", got)
		}
		time.Sleep(5 * time.Second) // the breaker is half-open from 4s on
		synctest.Wait()
		p = getJSON(t, reg)
		if got := fmtSeries(p.Policies[0].History["state"]); got != "0.5 0.5 0.5 0.5" {
			t.Fatalf("state history %s, want the last four samples, half-open", got)
		}
	})
}

func fmtSeries(h []*float64) string {
	var parts []string
	for _, v := range h {
		if v == nil {
			parts = append(parts, "null")
		} else {
			parts = append(parts, strconv.FormatFloat(*v, 'g', -1, 64))
		}
	}
	return strings.Join(parts, " ")
}

func TestSamplerStopsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		reg, err := debugpage.New(ctx, debugpage.Config{Interval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2*time.Second + time.Millisecond)
		cancel()
		synctest.Wait() // the sampler has ended: synctest would see it durably blocked otherwise
		time.Sleep(5 * time.Second)
		if p := getJSON(t, reg); p.Taken != 2 {
			t.Fatalf("%d samples; the sampler went on after its context ended", p.Taken)
		}
		reg.Close() // returns at once: the sampler has ended
	})
}

func TestCloseStopsTheSampler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, err := debugpage.New(context.Background(), debugpage.Config{Interval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		reg.Close()
		reg.Close()
		time.Sleep(5 * time.Second)
		if p := getJSON(t, reg); p.Taken != 1 {
			t.Fatalf("%d samples, want 1: Close must stop the sampler", p.Taken)
		}
	})
}

func TestGroupIsBoundedAndFollowsItsFamily(t *testing.T) {
	reg := manual(t, debugpage.Config{MaxMembers: 3})
	family := map[string]*breaker.Breaker{}
	for _, k := range []string{"e", "d", "c", "b", "a"} {
		family[k] = breaker.MustNew(breaker.Config{FailureThreshold: 1})
	}
	members := func(yield func(string, *breaker.Breaker) bool) {
		for _, k := range []string{"e", "d", "c", "b", "a"} {
			if b, ok := family[k]; ok && !yield(k, b) {
				return
			}
		}
	}
	if _, err := debugpage.RegisterGroup(reg, "models", members); err != nil {
		t.Fatal(err)
	}
	fail(t, family["d"], 1)
	reg.Sample()
	p := getJSON(t, reg)
	g := p.Policies[0]
	var keys []string
	for _, m := range g.Members {
		keys = append(keys, m.Key+"="+m.State)
	}
	if !g.Group || g.Kind != "breaker" || strings.Join(keys, " ") != "c=closed d=open e=closed" || g.More != 2 {
		t.Fatalf("group %q kind %q members %v more %d; want the first 3 listed, sorted, and 2 more",
			g.Name, g.Kind, keys, g.More)
	}
	delete(family, "e")
	reg.Sample()
	p = getJSON(t, reg)
	if got := p.Policies[0].Members; len(got) != 3 || got[0].Key != "b" || len(got[0].History["state"]) != 2 ||
		got[0].History["state"][0] != nil {
		t.Fatalf("after e left: %+v; want b, c, d, with b's history starting at the second sample", got)
	}
	body := get(t, reg, "")
	if !strings.Contains(body, "and 1 more not shown") {
		t.Error("the page does not say how many members it leaves out")
	}
}

func TestGroupOfTransportBreakers(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	rt, err := resiliencehttp.NewTransport(nil, resiliencehttp.Config{
		Retry:   retry.Config{MaxAttempts: 1},
		Breaker: &breaker.Config{FailureThreshold: 2, RecoveryTimeout: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.CloseIdleConnections()
	reg := manual(t, debugpage.Config{})
	if _, err := debugpage.RegisterGroup(reg, "upstream hosts", rt.Breakers); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: rt}
	for range 3 {
		if resp, err := c.Get(down.URL); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	reg.Sample()
	p := getJSON(t, reg)
	host := strings.TrimPrefix(down.URL, "http://")
	if m := p.Policies[0].Members; len(m) != 1 || m[0].Key != host || m[0].State != "open" {
		t.Fatalf("members %+v, want %s open", m, host)
	}
}

func TestNoLockIsHeldWhileUserCodeRuns(t *testing.T) {
	reg := manual(t, debugpage.Config{})
	calls := 0
	members := func(yield func(string, *breaker.Breaker) bool) {
		calls++
		// A group that registers and unregisters while it is listed would
		// deadlock if the registry held its lock.
		unregister, err := debugpage.Register(reg, "inner "+strconv.Itoa(calls), breaker.MustNew(breaker.Config{}))
		if err != nil {
			t.Error(err)
			return
		}
		unregister()
		yield("k", breaker.MustNew(breaker.Config{}))
	}
	if _, err := debugpage.RegisterGroup(reg, "g", members); err != nil {
		t.Fatal(err)
	}
	reg.Sample()
	get(t, reg, "")
	if calls != 2 {
		t.Fatalf("the group was listed %d times, want 2", calls)
	}
}

func TestUnregister(t *testing.T) {
	reg := manual(t, debugpage.Config{})
	unregister, err := debugpage.Register(reg, "gone soon", breaker.MustNew(breaker.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(get(t, reg, ""), "gone soon") {
		t.Fatal("a registered policy is not on the page")
	}
	unregister()
	unregister()
	if strings.Contains(get(t, reg, ""), "gone soon") {
		t.Fatal("an unregistered policy is still on the page")
	}
	if _, err := debugpage.Register(reg, "gone soon", breaker.MustNew(breaker.Config{})); err != nil {
		t.Fatalf("the name of an unregistered policy cannot be used again: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	for _, cfg := range []debugpage.Config{
		{Samples: -1}, {Samples: debugpage.MaxSamples + 1}, {MaxMembers: -1}, {MaxMembers: debugpage.MaxMaxMembers + 1},
	} {
		if _, err := debugpage.New(context.Background(), cfg); err == nil || !strings.HasPrefix(err.Error(), "debugpage: ") {
			t.Errorf("New(%+v): %v, want a debugpage error", cfg, err)
		}
	}
	//lint:ignore SA1012 a nil context is the bad input under test
	if _, err := debugpage.New(nil, debugpage.Config{}); err == nil { //nolint:staticcheck
		t.Error("New(nil ctx) gave no error")
	}
	reg := manual(t, debugpage.Config{})
	var nilBreaker *breaker.Breaker
	var nilReg *debugpage.Registry
	checks := []struct {
		what string
		err  error
	}{
		{"nil policy", second(debugpage.Register(reg, "x", nilBreaker))},
		{"empty name", second(debugpage.Register(reg, "", breaker.MustNew(breaker.Config{})))},
		{"nil registry", second(debugpage.Register(nilReg, "x", breaker.MustNew(breaker.Config{})))},
		{"nil members", second(debugpage.RegisterGroup[*breaker.Breaker](reg, "g", nil))},
	}
	if _, err := debugpage.Register(reg, "dup", breaker.MustNew(breaker.Config{})); err != nil {
		t.Fatal(err)
	}
	checks = append(checks, struct {
		what string
		err  error
	}{"duplicate name", second(debugpage.Register(reg, "dup", breaker.MustNew(breaker.Config{})))})
	for _, c := range checks {
		if c.err == nil || !strings.HasPrefix(c.err.Error(), "debugpage: ") {
			t.Errorf("%s: %v, want a debugpage error", c.what, c.err)
		}
	}
	nilReg.Sample()
	if err := nilReg.Close(); err != nil {
		t.Error(err)
	}
	rec := httptest.NewRecorder()
	nilReg.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("a nil registry served %d", rec.Code)
	}
}

func TestRunningTotalsDrawTheirIncrease(t *testing.T) {
	reg := manual(t, debugpage.Config{})
	br := breaker.MustNew(breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Hour})
	debugpage.Register(reg, "b", br)
	fail(t, br, 1)
	br.Allow() // rejected: 1 in all
	reg.Sample()
	for range 3 {
		br.Allow()
	}
	reg.Sample() // 4 in all: 3 in this interval
	body := get(t, reg, "")
	if !strings.Contains(body, "rejected per interval · now 3") {
		t.Fatalf("the sparkline of rejections does not show the 3 of the last interval:\n%s", body)
	}
	if got := fmtSeries(getJSON(t, reg).Policies[0].History["rejected"]); got != "1 4" {
		t.Fatalf("JSON history of rejected %s, want the totals 1 4", got)
	}
}

func TestALiveChangeShows(t *testing.T) {
	reg := manual(t, debugpage.Config{})
	b := breaker.MustNew(breaker.Config{Name: "api", FailureThreshold: 5})
	must(debugpage.Register(reg, "api", b))
	if html := get(t, reg, ""); !strings.Contains(html, "threshold") || strings.Contains(html, "shadow:") {
		t.Fatalf("page before the change shows no threshold, or a shadow mode")
	}
	if err := b.Reconfigure(breaker.Config{Name: "api", FailureThreshold: 7, Shadow: true}); err != nil {
		t.Fatal(err)
	}
	js := get(t, reg, "?format=json")
	if !strings.Contains(js, `"7"`) || !strings.Contains(js, "shadow: decides and reports") {
		t.Errorf("after Reconfigure(threshold 7, shadow) the JSON reads:\n%s", js)
	}
}

package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
)

// setLimits puts l in force for the rest of the test.
func setLimits(t testing.TB, l limits) {
	old := lim
	lim = l
	t.Cleanup(func() { lim = old })
}

// runSafely runs s, reporting a panic as an error.
func runSafely(s *Scenario) (res *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return Run(s)
}

// parse1 parses one scenario, failing the test on an error.
func parse1(t *testing.T, js string) *Scenario {
	t.Helper()
	list, err := Parse(strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return list[0]
}

// TestTimeNearInt64 runs the file that overflowed virtual time: a
// Duration and Resolution of 2562047h, just under the largest
// time.Duration, with a rate of 1e-9 per second. It is refused, naming the
// field and the limit, rather than panicking with an index of -1.
func TestTimeNearInt64(t *testing.T) {
	const file = `{"Name": "x", "Duration": "2562047h", "Resolution": "2562047h", "Load": {"Rate": 1e-9}, "Policies": [{"Name": "p"}]}`
	list, err := Parse(strings.NewReader(file))
	if err == nil {
		_, err = runSafely(list[0])
		t.Fatalf("accepted; Run: %v", err)
	}
	if !strings.Contains(err.Error(), "Duration 2562047h0m0s is above the limit of 8760h") {
		t.Fatalf("error %q does not name Duration and its limit", err)
	}
}

// TestLowRateSaturates checks that a wait between arrivals beyond any int64
// (a year of load at one request in 30,000 years) means no arrival, not an
// arrival 1ns later: the Poisson load makes its expected 0.00003 requests.
func TestLowRateSaturates(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		s := parse1(t, `{"Name": "x", "Duration": "8760h", "Resolution": "24h", "Load": {"Rate": 1e-12}, "Policies": [{"Name": "p"}]}`)
		s.Seed = seed
		res, err := runSafely(s)
		if err != nil {
			t.Fatal(err)
		}
		if n := res.Policies[0].Requests; n > 1 {
			t.Errorf("seed %d: %d requests; want about 0.00003", seed, n)
		}
	}
}

// TestHugeLatencyIsSlow checks that a call whose latency is beyond any
// int64, or not a number, is slow rather than 1ns long: with the upstream
// a trillion times slower for the whole run, or by a factor that overflows
// float64, no request succeeds before its deadline.
func TestHugeLatencyIsSlow(t *testing.T) {
	for _, c := range []struct {
		name    string
		windows []Window
	}{
		{"factor 1e12", []Window{{From: 0, To: Duration(time.Hour), LatencyFactor: 1e12}}},
		{"factor +Inf", []Window{
			{From: 0, To: Duration(time.Hour), LatencyFactor: 1e300},
			{From: 0, To: Duration(time.Hour), LatencyFactor: 1e300},
		}},
	} {
		s := simple()
		s.Load.Rate = 100
		s.Upstream.Windows = c.windows
		s.Policies = []Policy{{Name: "retry", Retry: &RetryConfig{}}}
		res, err := runSafely(s)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		p := &res.Policies[0]
		if p.Succeeded != 0 || p.Failures.Deadline != p.Requests || p.P50 != 0 {
			t.Errorf("%s: %d of %d requests succeeded (p50 %v), %d failed at the deadline; want none to succeed",
				c.name, p.Succeeded, p.Requests, p.P50, p.Failures.Deadline)
		}
	}
}

// TestSeriesEndsAtHorizon checks that calls which end long after every
// client gave up on them (10,000 or a billion times slower than usual, or
// with a median or a tail of 200s, with a breaker sampled at every bucket)
// do not grow the time series past the last bucket a request can reach:
// the load's 10s and the 1s deadline.
func TestSeriesEndsAtHorizon(t *testing.T) {
	long := Duration(200 * time.Second)
	for _, c := range []struct {
		name    string
		latency Latency
		factor  float64
	}{
		{"factor 1e4", Latency{}, 1e4},
		{"factor 1e9", Latency{}, 1e9},
		{"median 200s", Latency{Median: long}, 1},
		{"tail 200s", Latency{TailProbability: 0.5, Tail: long}, 1},
	} {
		s := simple()
		s.Duration = Duration(10 * time.Second)
		s.Load = Load{Rate: 10, Deadline: Duration(time.Second)}
		s.Upstream.Latency = c.latency
		s.Upstream.Windows = []Window{{From: 0, To: s.Duration, LatencyFactor: c.factor}}
		s.Policies = []Policy{{Name: "breaker", Breaker: &BreakerConfig{}}}
		res, err := runSafely(s)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(res.Policies[0].Series); n > 11 {
			t.Errorf("%s: %d buckets; want at most 11 (11s)", c.name, n)
		}
	}
}

// TestLimits checks that every limit on what a scenario may ask is checked
// when it is read, with an error that names the field and the limit: the
// files of the issue that exhausted memory or ran for an hour, and the
// other limits beside them.
func TestLimits(t *testing.T) {
	// scenario is a valid scenario with the JSON of its fields replaced by
	// those of change.
	scenario := func(change string) string {
		base := map[string]any{"Name": "x", "Duration": "1m", "Load": map[string]any{"Rate": 10}, "Policies": []any{map[string]any{"Name": "p"}}}
		if err := json.Unmarshal([]byte(change), &base); err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(base)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	repeat := func(n int, item string) string {
		return strings.TrimSuffix(strings.Repeat(item+",", n), ",")
	}
	policies := func(n int) string {
		var ps []string
		for i := range n {
			ps = append(ps, fmt.Sprintf(`{"Name": "p%d"}`, i))
		}
		return strings.Join(ps, ",")
	}
	for _, c := range []struct {
		name, in string
		want     []string
	}{
		{"a long deadline", scenario(`{"Load": {"Rate": 10, "Deadline": "2000000h"}}`),
			[]string{"Load.Deadline 2000000h0m0s", "limit of 8760h"}},
		{"a long backoff", scenario(`{"Policies": [{"Name": "p", "Retry": {"Backoff": {"Constant": "2000000h"}}}]}`),
			[]string{"Policies[0].Retry.Backoff.Constant", "limit of 8760h"}},
		{"a long median", scenario(`{"Upstream": {"Latency": {"Median": "1000000h"}}}`),
			[]string{"Upstream.Latency.Median", "limit of 8760h"}},
		{"a long tail", scenario(`{"Upstream": {"Latency": {"TailProbability": 0.1, "Tail": "1000000h"}}}`),
			[]string{"Upstream.Latency.Tail", "limit of 8760h"}},
		{"a long window", scenario(`{"Upstream": {"Windows": [{"From": "1s", "To": "9000h"}]}}`),
			[]string{"Upstream.Windows[0].To", "limit of 8760h"}},
		{"50 bursts of 1e7", scenario(`{"Load": {"Bursts": [` + repeat(50, `{"At": "1s", "Requests": 10000000}`) + `]}}`),
			[]string{"Load.Bursts ask for 5e+08 requests in all", "limit of 200000"}},
		{"one burst of 1e7", scenario(`{"Load": {"Bursts": [{"Requests": 10000000}]}}`),
			[]string{"Load.Bursts ask for 1e+07 requests in all", "limit of 200000"}},
		{"many bursts", scenario(`{"Load": {"Bursts": [` + repeat(1001, `{"Requests": 1}`) + `]}}`),
			[]string{"Load.Bursts has 1001 bursts", "limit of 1000"}},
		{"40 policies", scenario(`{"Policies": [` + policies(40) + `]}`),
			[]string{"Policies has 40 policies", "limit of 16"}},
		{"many windows", scenario(`{"Upstream": {"Windows": [` + repeat(101, `{"From": "1s", "To": "2s"}`) + `]}}`),
			[]string{"Upstream.Windows has 101 windows", "limit of 100"}},
		{"2e9 attempts", scenario(`{"Load": {"Bursts": [{"Requests": 1}]}, "Policies": [{"Name": "p", "Retry": {"MaxAttempts": 2000000000, "Backoff": {"Constant": "1ns"}}}]}`),
			[]string{"Policies[0] (p): Retry.MaxAttempts 2000000000", "limit of 1000"}},
		{"many probes", scenario(`{"Policies": [{"Name": "p", "Breaker": {"HalfOpenProbes": 60000}}]}`),
			[]string{"Policies[0] (p): Breaker.HalfOpenProbes 60000", "limit of 100"}},
		{"many calls", scenario(`{"Duration": "1000s", "Load": {"Rate": 100000}, "Policies": [{"Name": "p", "Retry": {"MaxAttempts": 20}}]}`),
			[]string{"up to 2e+09 upstream calls", "limit of 5e+08"}},
		{"many calls with hedges", scenario(`{"Duration": "1000s", "Load": {"Rate": 100000}, "Policies": [{"Name": "p", "Hedge": {"MaxHedges": 10}}]}`),
			[]string{"up to 1.1e+09 upstream calls", "limit of 5e+08"}},
		{"clients × buckets with a breaker", scenario(`{"Duration": "99990s", "Load": {"Clients": 10000, "Bursts": [{"Requests": 11}]}, "Policies": [{"Name": "p", "Breaker": {}}]}`),
			[]string{"Load.Clients × buckets", "1e+09 breaker states", "limit of 1e+08"}},
		{"too many buckets", scenario(`{"Duration": "100000s"}`),
			[]string{"(Duration + Load.Deadline) / Resolution is 100010 buckets", "limit of 100000"}},
		{"too many requests", scenario(`{"Duration": "10000s", "Load": {"Rate": 10000, "Bursts": [{"Requests": 1}]}}`),
			[]string{"Load.Rate × Duration, with the bursts, is 1.00000001e+08 requests", "limit of 1e+08"}},
		{"too many scenarios", "[" + repeat(33, scenario(`{}`)) + "]",
			[]string{"33 scenarios", "limit of 32"}},
		{"too many calls together", "[" + repeat(2, scenario(`{"Duration": "1000s", "Load": {"Rate": 100000}, "Policies": [{"Name": "p", "Retry": {"MaxAttempts": 3}}]}`)) + "]",
			[]string{"could make up to 6e+08 upstream calls together", "limit of 5e+08"}},
		{"too many samples together", "[" + repeat(2, scenario(`{"Duration": "50000s", "Load": {"Clients": 1500}, "Policies": [{"Name": "p", "Breaker": {}}]}`)) + "]",
			[]string{"sample 1.5003e+08 breaker states (or limits) together", "limit of 1e+08"}},
		{"clients × buckets with an adaptive limit", scenario(`{"Duration": "99990s", "Load": {"Clients": 10000, "Bursts": [{"Requests": 11}]}, "Policies": [{"Name": "p", "Adaptive": {}}]}`),
			[]string{"Load.Clients × buckets", "or an Adaptive limit", "1e+09 breaker states (or limits)", "limit of 1e+08"}},
	} {
		_, err := Parse(strings.NewReader(c.in))
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		for _, want := range c.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q; want it to say %q", c.name, err, want)
			}
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: the error is not one line: %q", c.name, err)
		}
	}

	// A latency factor that is not a finite number can only come from Go.
	s := simple()
	s.Upstream.Windows = []Window{{To: Duration(time.Second), LatencyFactor: math.Inf(1)}}
	if err := s.Check(); err == nil || !strings.Contains(err.Error(), "Upstream.Windows[0].LatencyFactor") {
		t.Errorf("an infinite latency factor: %v", err)
	}
}

// TestLimitsAdmitTheirEdge checks that each limit is an inclusive bound: a
// scenario exactly at it is accepted.
func TestLimitsAdmitTheirEdge(t *testing.T) {
	ps := make([]Policy, lim.policies)
	for i := range ps {
		ps[i] = Policy{Name: fmt.Sprint(i)}
	}
	s := &Scenario{
		Name:       "edge",
		Duration:   Duration(lim.duration),
		Resolution: Duration(lim.duration * 2 / time.Duration(lim.buckets)),
		Upstream:   Upstream{Latency: Latency{Median: Duration(lim.duration)}, Windows: make([]Window, lim.windows)},
		Load:       Load{Rate: 1e-9, Deadline: Duration(lim.duration), Bursts: make([]Burst, lim.bursts)},
		Policies:   ps,
	}
	for i := range s.Upstream.Windows {
		s.Upstream.Windows[i] = Window{From: Duration(i), To: Duration(i + 1)}
	}
	s.Load.Bursts[0].Requests = lim.burstReqs
	s.Policies[0].Retry = &RetryConfig{MaxAttempts: lim.attempts}
	s.Policies[1].Breaker = &BreakerConfig{HalfOpenProbes: lim.probes}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// countingReader gives n spaces, counting what was read.
type countingReader struct{ n, read int64 }

var spaces = bytes.Repeat([]byte{' '}, 32<<10)

func (r *countingReader) Read(p []byte) (int, error) {
	if r.read >= r.n {
		return 0, io.EOF
	}
	k := copy(p[:min(int64(len(p)), r.n-r.read)], spaces)
	r.read += int64(k)
	return k, nil
}

// TestInputLimit checks that Parse reads no more than its limit of an
// input, such as /dev/zero, and says so; and that an input at the limit
// is read.
func TestInputLimit(t *testing.T) {
	r := &countingReader{n: 64 << 20}
	_, err := Parse(r)
	if err == nil || !strings.Contains(err.Error(), "the input is above the limit of 4 MiB") {
		t.Errorf("64 MiB: %v; want an error about the 4 MiB limit", err)
	}
	if r.read > lim.input+1 {
		t.Errorf("read %d bytes of the input; want at most %d", r.read, lim.input+1)
	}
	// At the limit, smaller here so that the JSON decoder has less to skip.
	small := defaultLimits
	small.input = 64 << 10
	setLimits(t, small)
	one := `{"Name": "x", "Duration": "1m", "Policies": [{"Name": "p"}]}`
	padded := one + strings.Repeat(" ", int(lim.input)-len(one))
	if _, err := Parse(strings.NewReader(padded)); err != nil {
		t.Errorf("an input of exactly the limit: %v", err)
	}
	if _, err := Parse(strings.NewReader(padded + " ")); err == nil || !strings.Contains(err.Error(), "limit of 65536 bytes") {
		t.Errorf("an input a byte above the limit: %v", err)
	}
}

// TestRunGuards checks the two limits that only a run can know, the
// requests in flight and the events pending at once: past them the run
// stops with an error naming the policy and the limit.
func TestRunGuards(t *testing.T) {
	tight := defaultLimits
	tight.inFlight, tight.events = 100, 1000
	setLimits(t, tight)
	s := simple()
	s.Load.Rate = 0
	s.Load.Bursts = []Burst{{At: Duration(time.Second), Requests: 80}, {At: Duration(time.Second), Requests: 80}}
	s.Upstream.Latency = Latency{Median: Duration(time.Second), P99: Duration(time.Second)}
	if _, err := Run(s); err == nil || !strings.Contains(err.Error(), "policy none: more than 100 requests in flight at once") || !stoppedAtLimits(err) {
		t.Errorf("160 requests at once: %v", err)
	}
	// 40 requests, each of whose 100ms attempts leaves a 10s call behind.
	s.Load.Bursts = []Burst{{At: Duration(time.Second), Requests: 40}}
	s.Upstream.Latency = Latency{Median: Duration(10 * time.Second), P99: Duration(10 * time.Second)}
	s.Policies = []Policy{{Name: "timeouts", Timeout: Duration(100 * time.Millisecond),
		Retry: &RetryConfig{MaxAttempts: 50, Backoff: &BackoffConfig{Constant: Duration(time.Millisecond)}}}}
	if _, err := Run(s); err == nil || !strings.Contains(err.Error(), "policy timeouts: more than 1000 events pending at once") || !stoppedAtLimits(err) {
		t.Errorf("2,000 abandoned calls: %v", err)
	}
	s.Load.Bursts[0].Requests = 10
	if _, err := Run(s); err != nil {
		t.Errorf("500 abandoned calls: %v", err)
	}
	// What the fuzz tests accept of Run: these errors, and only these.
	two := errors.Join(&limitError{"a"}, &limitError{"b"})
	if !stoppedAtLimits(two) {
		t.Errorf("stoppedAtLimits(%q) is false", two)
	}
	for _, err := range []error{errors.New("sim: panic"), errors.Join(&limitError{"a"}, errors.New("b")), (&Scenario{}).Check()} {
		if stoppedAtLimits(err) {
			t.Errorf("stoppedAtLimits(%v) is true", err)
		}
	}
}

// TestManyAttempts checks that a request may make up to the limit of
// attempts, each of which calls the upstream.
func TestManyAttempts(t *testing.T) {
	s := simple()
	s.Load = Load{Bursts: []Burst{{Requests: 1}}, Deadline: Duration(time.Hour)}
	s.Upstream.Windows = []Window{{To: s.Duration, Down: true}}
	s.Policies = []Policy{{Name: "retry", Retry: &RetryConfig{MaxAttempts: lim.attempts, Backoff: &BackoffConfig{Constant: 1}}}}
	p := run1(t, s)
	if p.Calls != lim.attempts || p.Failures.Exhausted != 1 {
		t.Errorf("%d calls, failures %+v; want %d calls and the request failing", p.Calls, p.Failures, lim.attempts)
	}
}

// worst is the scenario that holds the most memory the limits allow: the
// most clients, each with every policy part at its largest (the adaptive
// limiter is larger than a bulkhead), the most buckets, policies, windows
// and upstream workers.
func worst() *Scenario {
	ps := make([]Policy, lim.policies)
	h := Duration(time.Hour)
	for i := range ps {
		ps[i] = Policy{Name: fmt.Sprint(i),
			Retry:    &RetryConfig{MaxAttempts: 2},
			Budget:   &BudgetConfig{Window: h},
			Breaker:  &BreakerConfig{Window: h, FailureRate: 0.5, HalfOpenProbes: lim.probes},
			Throttle: &ThrottleConfig{Window: h},
			Hedge:    &HedgeConfig{UseBudget: true, MaxHedges: 16},
			Adaptive: &AdaptiveConfig{Algorithm: "gradient"},
		}
	}
	s := &Scenario{
		Name:     "worst",
		Duration: Duration(time.Duration(lim.buckets)*time.Second - defaultDeadline),
		Upstream: Upstream{Capacity: lim.capacity, Windows: make([]Window, lim.windows)},
		Load:     Load{Clients: lim.clients},
		Policies: ps,
	}
	for i := range s.Upstream.Windows {
		s.Upstream.Windows[i] = Window{From: Duration(i), To: Duration(i + 1)}
	}
	return s
}

// TestMemoryBound checks the memory figure of the package doc: the
// scenario that holds the most, accepted, runs one policy at a time, and
// that run and the results stay under 1 GiB; a small scenario runs several
// policies at once.
func TestMemoryBound(t *testing.T) {
	s := worst()
	if err := s.checkLimits(func(format string, args ...any) error { return fmt.Errorf(format, args...) }); err != nil {
		t.Fatal(err)
	}
	if n := s.buckets(); n != lim.buckets {
		t.Fatalf("the worst scenario has %d buckets; want %d", n, lim.buckets)
	}
	run, results := s.runBytes(), s.resultBytes()
	t.Logf("a run: %d MB; the results: %d MB; at once: %d", run>>20, results>>20, s.parallel())
	if run+results > 1<<30 || lim.memory != 1<<30 {
		t.Errorf("a run (%d bytes) and the results (%d) are above the 1 GiB of the docs", run, results)
	}
	if s.parallel() != 1 {
		t.Errorf("%d runs of the worst scenario at once; want 1", s.parallel())
	}
	small, _ := Builtin("outage")
	t.Logf("the outage scenario: %d at once", small.parallel())
	if got := small.parallel(); got < 2 {
		t.Errorf("the outage scenario runs %d policies at once; want several", got)
	}
}

// TestClientBytes checks clientBytes, on which the memory bound rests: one
// client's instances of the largest policy the limits allow take no more.
func TestClientBytes(t *testing.T) {
	p := worst().Policies[0]
	const n = 200
	keep := make([]*stack, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range keep {
		st, err := p.build(uint64(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		keep[i] = st
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := int64(after.HeapAlloc-before.HeapAlloc) / n
	runtime.KeepAlive(keep)
	t.Logf("a client's instances of the largest policy: %d bytes", per)
	if per > clientBytes {
		t.Errorf("a client's instances take %d bytes; clientBytes says at most %d", per, clientBytes)
	}
}

// TestSegments checks that the windows, cut into spans of time, give each
// call what the windows open at its time give: down if any is, the highest
// error rate, and the latency factors multiplied.
func TestSegments(t *testing.T) {
	ws := []Window{
		{From: 10, To: 30, ErrorRate: 0.2, LatencyFactor: 2},
		{From: 20, To: 40, LatencyFactor: 3},
		{From: 50, To: 60, Down: true, ErrorRate: 0.9},
		{From: 55, To: 70, ErrorRate: 0.5},
	}
	segs := segments(ws, 0.1)
	want := []segment{
		{10, 20, false, 0.2, 2},
		{20, 30, false, 0.2, 6},
		{30, 40, false, 0.1, 3},
		{50, 55, true, 0.9, 1},
		{55, 60, true, 0.9, 1},
		{60, 70, false, 0.5, 1},
	}
	if fmt.Sprint(segs) != fmt.Sprint(want) {
		t.Errorf("segments:\n%v\nwant\n%v", segs, want)
	}
	if segments(nil, 0.1) != nil {
		t.Error("segments without windows")
	}
}

// TestFmtCount checks the counts in the limits' errors.
func TestFmtCount(t *testing.T) {
	for f, want := range map[float64]string{0: "0", 999.2: "1000", 1e6: "1000000", 1e7: "1e+07", 1.234e9: "1.234e+09", 100_100_000.5: "1.00100001e+08"} {
		if got := fmtCount(f); got != want {
			t.Errorf("fmtCount(%g) = %q; want %q", f, got, want)
		}
	}
	if got := fmtBytes(4 << 20); got != "4 MiB" {
		t.Errorf("fmtBytes: %q", got)
	}
	if got := fmtBytes(1500); got != "1500 bytes" {
		t.Errorf("fmtBytes: %q", got)
	}
	var b bytes.Buffer
	b.WriteString(fmtDur(lim.duration))
	if b.String() != "8760h" {
		t.Errorf("the duration limit reads %q", b.String())
	}
}

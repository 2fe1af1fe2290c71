package sim

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/internal/leakcheck"
	"github.com/netresilience/resilience/retry"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// builtinResult runs a built-in scenario once per test binary.
var builtinResult = struct {
	sync.Mutex
	m map[string]*Result
}{m: map[string]*Result{}}

func runBuiltin(t testing.TB, name string) *Result {
	t.Helper()
	builtinResult.Lock()
	defer builtinResult.Unlock()
	if res, ok := builtinResult.m[name]; ok {
		return res
	}
	s, ok := Builtin(name)
	if !ok {
		t.Fatalf("no built-in scenario %q", name)
	}
	res, err := Run(trimUnderRace(s))
	if err != nil {
		t.Fatal(err)
	}
	for i := range res.Policies {
		countedOnce(t, name, &res.Policies[i])
	}
	builtinResult.m[name] = res
	return res
}

// trimUnderRace returns s ending 45s after its last trouble window (but
// not later than it did) when the race detector is on, and s itself
// otherwise: the race detector slows the simulator about tenfold, and the
// tests of the built-in scenarios look at the trouble and at the recovery
// after it, which they bound at 30s, not at the healthy load after that.
func trimUnderRace(s *Scenario) *Scenario {
	if !raceEnabled || len(s.Upstream.Windows) == 0 {
		return s
	}
	var healed Duration
	for _, w := range s.Upstream.Windows {
		healed = max(healed, w.To)
	}
	c := *s
	c.Duration = min(s.Duration, healed+Duration(45*time.Second))
	return &c
}

func policy(t testing.TB, res *Result, name string) *PolicyResult {
	t.Helper()
	i := slices.IndexFunc(res.Policies, func(p PolicyResult) bool { return p.Name == name })
	if i < 0 {
		t.Fatalf("scenario %s has no policy %q", res.Scenario.Name, name)
	}
	return &res.Policies[i]
}

// during returns the upstream calls and the client requests that arrived in
// the buckets wholly inside [from, to).
func during(res *Result, p *PolicyResult, from, to time.Duration) (calls, offered int) {
	first := int((from + res.Bucket - 1) / res.Bucket)
	last := int(to / res.Bucket) // exclusive
	for i := first; i < last; i++ {
		calls += p.Series[i].Calls
		offered += res.Offered[i]
	}
	return calls, offered
}

// TestHerdWithoutJitter checks the known result on the thundering-herd
// scenario: exponential backoff without jitter makes far more upstream
// calls than full jitter (over 40% more; the AWS architecture blog's
// simulation found about twice as many), and its clients wait longer.
func TestHerdWithoutJitter(t *testing.T) {
	res := runBuiltin(t, "herd")
	none, full := policy(t, res, "no jitter"), policy(t, res, "full jitter")
	ratio := float64(none.Calls) / float64(full.Calls)
	t.Logf("upstream calls: no jitter %d, full jitter %d (×%.2f); p50 %v vs %v", none.Calls, full.Calls, ratio, none.P50, full.P50)
	if ratio <= 1.4 {
		t.Errorf("no jitter made %.2f× the calls of full jitter; want over 1.4×", ratio)
	}
	if none.Requests != full.Requests {
		t.Errorf("the policies saw different loads: %d and %d requests", none.Requests, full.Requests)
	}
	if none.P50 <= full.P50 {
		t.Errorf("no jitter's median latency %v is not above full jitter's %v", none.P50, full.P50)
	}
}

// TestOutageBudget checks that under a full outage retries without a
// budget multiply the load by nearly MaxAttempts, and a budget holds it to
// 1.1 times the requests over the whole outage — and every second once the
// outage has spent the reserve that the healthy traffic left (one budget
// window's allowance, at once), since the budget lets retries out evenly
// rather than in a burst each time a window's retries leave it. The
// tolerance of 0.001 on the whole outage is the noise of the Poisson load
// (about 0.0003); a second of 1,000 requests is allowed 0.1.
func TestOutageBudget(t *testing.T) {
	res := runBuiltin(t, "outage")
	w := res.Scenario.Upstream.Windows[0]
	from, to := time.Duration(w.From), time.Duration(w.To)
	maxAttempts := float64(res.Scenario.Policies[1].Retry.MaxAttempts)
	for _, c := range []struct {
		name     string
		min, max float64
	}{
		{"no retry", 1, 1},
		{"retry", 0.99 * maxAttempts, maxAttempts},
		{"retry+budget", 1, 1.101},
	} {
		p := policy(t, res, c.name)
		calls, offered := during(res, p, from, to)
		amp := p.TroubleAmplification
		t.Logf("%s: %d calls for %d requests from %v to %v: ×%.4f", c.name, calls, offered, from, to, amp)
		if want := float64(calls) / float64(offered); amp != want {
			t.Errorf("%s: TroubleAmplification %v; want %v, the ratio over the outage", c.name, amp, want)
		}
		if amp < c.min || amp > c.max {
			t.Errorf("%s: amplification during the outage ×%.4f; want in [%.3f, %.3f]", c.name, amp, c.min, c.max)
		}
	}
	budgeted := policy(t, res, "retry+budget")
	worst := 0.0
	for start := from + 10*time.Second; start+time.Second <= to; start += time.Second {
		calls, offered := during(res, budgeted, start, start+time.Second)
		worst = max(worst, float64(calls)/float64(offered))
	}
	t.Logf("retry+budget: worst second of the outage after the first 10s ×%.4f", worst)
	if worst > 1.2 {
		t.Errorf("retry+budget: a second of the outage had ×%.4f; want at most 1.1 (and noise)", worst)
	}
}

// TestOutageBreaker checks that a breaker cuts the upstream calls of a full
// outage by more than 90% compared with retries alone, that the breakers
// are open during it and closed at the end, and that the clients recover
// only once a probe finds the upstream back.
func TestOutageBreaker(t *testing.T) {
	res := runBuiltin(t, "outage")
	w := res.Scenario.Upstream.Windows[0]
	from, to := time.Duration(w.From), time.Duration(w.To)
	retried, _ := during(res, policy(t, res, "retry"), from, to)
	br := policy(t, res, "retry+breaker")
	broken, _ := during(res, br, from, to)
	cut := 1 - float64(broken)/float64(retried)
	t.Logf("calls during the outage: retry %d, retry+breaker %d: %.2f%% fewer", retried, broken, 100*cut)
	if cut <= 0.9 {
		t.Errorf("the breaker cut the calls during the outage by %.1f%%; want over 90%%", 100*cut)
	}
	mid := int((from + to) / 2 / res.Bucket)
	if got := br.Series[mid].Open + br.Series[mid].HalfOpen; got != 1 {
		t.Errorf("in the middle of the outage %.2f of the breakers are open or half-open; want all", got)
	}
	if got := br.Series[len(br.Series)-1].Open; got != 0 {
		t.Errorf("at the end %.2f of the breakers are open; want none", got)
	}
	recovery := Duration(cmp.Or(time.Duration(res.Scenario.Policies[3].Breaker.RecoveryTimeout), breaker.DefaultRecoveryTimeout))
	if !br.Recovered || br.Recovery <= 0 || br.Recovery > time.Duration(recovery) {
		t.Errorf("retry+breaker recovered %v after the outage (recovered %v); want within (0, %v]", br.Recovery, br.Recovered, time.Duration(recovery))
	}
	if p := policy(t, res, "retry"); !p.Recovered || p.Recovery != 0 {
		t.Errorf("retries alone recovered %v after the outage (recovered %v); want at once", p.Recovery, p.Recovered)
	}
}

// TestLatencyTailHedging checks that hedging after the 95th percentile cuts
// the 99th percentile of the heavy-tail scenario by far, for few calls.
func TestLatencyTailHedging(t *testing.T) {
	res := runBuiltin(t, "latency-tail")
	plain, hedged := policy(t, res, "plain"), policy(t, res, "hedge p95")
	t.Logf("p99: plain %v, hedged %v; amplification %.3f", plain.P99, hedged.P99, hedged.Amplification)
	if hedged.P99*5 > plain.P99 {
		t.Errorf("hedging took p99 from %v to %v; want at least 5× lower", plain.P99, hedged.P99)
	}
	if hedged.Amplification > 1.1 {
		t.Errorf("hedging after p95 made %.3f calls per request; want at most 1.1", hedged.Amplification)
	}
	budgeted := policy(t, res, "hedge p80+budget")
	free := policy(t, res, "hedge p80")
	if budgeted.Calls >= free.Calls {
		t.Errorf("the budget did not limit hedges: %d calls with it, %d without", budgeted.Calls, free.Calls)
	}
}

// TestBrownoutBreakers checks the brown-out's story: a breaker that opens
// on five failures in a row fails requests that retries would have saved,
// and one on a 50% failure rate does not open at 30% errors.
func TestBrownoutBreakers(t *testing.T) {
	res := runBuiltin(t, "brownout")
	plain, retried := policy(t, res, "no retry"), policy(t, res, "retry")
	consecutive, rate := policy(t, res, "retry+breaker(5 in a row)"), policy(t, res, "retry+breaker(50% of 10s)")
	if retried.SuccessRatio <= plain.SuccessRatio {
		t.Errorf("retries did not raise the success ratio: %.3f vs %.3f", retried.SuccessRatio, plain.SuccessRatio)
	}
	if consecutive.SuccessRatio >= plain.SuccessRatio || consecutive.Failures.BreakerOpen == 0 {
		t.Errorf("the consecutive breaker's success ratio %.3f (%d rejected) is not below no retry's %.3f",
			consecutive.SuccessRatio, consecutive.Failures.BreakerOpen, plain.SuccessRatio)
	}
	if rate.Failures.BreakerOpen != 0 {
		t.Errorf("the rate breaker rejected %d requests at a 30%% error rate", rate.Failures.BreakerOpen)
	}
}

// TestDeterministic checks that a run gives the same bytes every time, and
// that the seed matters.
func TestDeterministic(t *testing.T) {
	render := func(seed uint64) (string, string) {
		s, _ := Builtin("brownout")
		s.Duration = Duration(90 * time.Second)
		s.Seed = seed
		res, err := Run(lighterUnderRace(s))
		if err != nil {
			t.Fatal(err)
		}
		var text, page bytes.Buffer
		if err := WriteText(&text, res); err != nil {
			t.Fatal(err)
		}
		if err := reportOf(&page, []*Result{res}); err != nil {
			t.Fatal(err)
		}
		return text.String(), page.String()
	}
	t1, h1 := render(7)
	t2, h2 := render(7)
	if t1 != t2 || h1 != h2 {
		t.Fatalf("two runs with seed 7 differ:\n%s\n%s", t1, t2)
	}
	t3, _ := render(8)
	if t3 == t1 {
		t.Fatal("seeds 7 and 8 gave the same table")
	}
}

// simple returns a one-policy scenario that tests change.
func simple() *Scenario {
	return &Scenario{
		Name:     "t",
		Duration: Duration(20 * time.Second),
		Upstream: Upstream{Latency: Latency{Median: Duration(10 * time.Millisecond), P99: Duration(10 * time.Millisecond)}},
		Load:     Load{Rate: 1000, Clients: 1},
		Policies: []Policy{{Name: "none"}},
	}
}

func run1(t *testing.T, s *Scenario) *PolicyResult {
	t.Helper()
	res, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	return &res.Policies[0]
}

// TestUpstreamModel checks the upstream's error rate, its fixed latency,
// and the Poisson load's rate, each against what the scenario asks.
func TestUpstreamModel(t *testing.T) {
	s := simple()
	s.Upstream.ErrorRate = 0.2
	p := run1(t, s)
	if p.Calls != p.Requests {
		t.Errorf("no policy: %d calls for %d requests", p.Calls, p.Requests)
	}
	// 20,000 expected; the Poisson count's standard deviation is about 141.
	if p.Requests < 19_500 || p.Requests > 20_500 {
		t.Errorf("%d requests in 20s at 1000/s", p.Requests)
	}
	fail := 1 - p.SuccessRatio
	if math.Abs(fail-0.2) > 0.015 {
		t.Errorf("failure ratio %.4f; want 0.2", fail)
	}
	if p.Failures.Exhausted != p.Requests-p.Succeeded {
		t.Errorf("failures by reason %+v do not add up to %d", p.Failures, p.Requests-p.Succeeded)
	}
	if d := p.P50 - 10*time.Millisecond; d < -50*time.Microsecond || d > 50*time.Microsecond {
		t.Errorf("median latency %v; want 10ms (the distribution has no spread)", p.P50)
	}
}

// TestCapacityQueue checks the upstream's line: with one worker, 10ms calls
// and at most 45ms in line, a burst of ten gets five through (waiting 0, 10,
// 20, 30 and 40ms) and five refused.
func TestCapacityQueue(t *testing.T) {
	s := simple()
	s.Load.Rate = 0
	s.Load.Bursts = []Burst{{At: Duration(time.Second), Requests: 10}}
	s.Upstream.Capacity = 1
	s.Upstream.MaxQueueDelay = Duration(45 * time.Millisecond)
	p := run1(t, s)
	if p.Requests != 10 || p.Succeeded != 5 || p.Failures.Exhausted != 5 {
		t.Fatalf("%d requests, %d succeeded, failures %+v; want 10, 5, 5 refused", p.Requests, p.Succeeded, p.Failures)
	}
	if p.PeakInFlight != 5 {
		t.Errorf("peak in flight %d; want 5", p.PeakInFlight)
	}
	// The fifth waited 40ms and took 10ms.
	if got := p.P999; got < 49*time.Millisecond || got > 51*time.Millisecond {
		t.Errorf("slowest success %v; want 50ms", got)
	}
}

// TestDeadline checks that requests slower than the deadline fail at it,
// and that the breaker counts them as failures.
func TestDeadline(t *testing.T) {
	s := simple()
	s.Load.Rate = 10
	s.Load.Deadline = Duration(time.Second)
	s.Upstream.Latency = Latency{Median: Duration(2 * time.Second), P99: Duration(2 * time.Second)}
	s.Policies = []Policy{{Name: "retry+breaker", Retry: &RetryConfig{}, Breaker: &BreakerConfig{}}}
	p := run1(t, s)
	if p.Succeeded != 0 || p.Failures.Deadline+p.Failures.BreakerOpen != p.Requests || p.Failures.Deadline < 5 {
		t.Fatalf("%d requests, %d succeeded, failures %+v; want all failing at the deadline, then on the open breaker", p.Requests, p.Succeeded, p.Failures)
	}
	if p.Failures.BreakerOpen == 0 {
		t.Error("the breaker never opened on requests that all time out")
	}
}

// TestAttemptTimeoutRetries checks that an attempt timeout ends slow
// attempts and that the retry policy tries again.
func TestAttemptTimeoutRetries(t *testing.T) {
	s := simple()
	s.Load.Rate = 100
	s.Upstream.Latency = Latency{Median: Duration(10 * time.Millisecond), P99: Duration(10 * time.Millisecond), TailProbability: 0.2, Tail: Duration(time.Second)}
	s.Policies = []Policy{{Name: "timeout", Timeout: Duration(100 * time.Millisecond), Retry: &RetryConfig{MaxAttempts: 10, Backoff: &BackoffConfig{Constant: Duration(time.Millisecond)}}}}
	p := run1(t, s)
	// Each attempt is slow with probability 1/5: 1/(1−0.2) = 1.25 attempts
	// per request, and fewer than 1% need three or more.
	if p.Amplification < 1.2 || p.Amplification > 1.3 || p.SuccessRatio < 0.99 {
		t.Errorf("amplification %.3f, success %.4f; want about 1.25 and nearly all", p.Amplification, p.SuccessRatio)
	}
	if p.P99 > 500*time.Millisecond {
		t.Errorf("p99 %v: the timeout did not cut the 1s calls", p.P99)
	}
}

// TestHistogram compares the histogram's quantiles with exact ones.
func TestHistogram(t *testing.T) {
	var h histogram
	var all []int64
	v := int64(1)
	for i := range 100_000 {
		v = (v*6364136223846793005 + 1442695040888963407) & (1<<62 - 1)
		x := v % int64(10*time.Second) >> (i % 20)
		h.add(x)
		all = append(all, x)
	}
	slices.Sort(all)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999} {
		exact := all[int(math.Ceil(q*float64(len(all))))-1]
		got := int64(h.quantile(q))
		if math.Abs(float64(got-exact)) > 0.01*float64(exact)+1 {
			t.Errorf("q %.3f: %d; exact %d", q, got, exact)
		}
	}
	for _, x := range []int64{0, 1, 255, 256, 257, 1000, 1 << 40, math.MaxInt64} {
		if got := histValue(histIndex(x)); math.Abs(float64(got-x)) > 0.005*float64(x)+0.5 {
			t.Errorf("value %d lands in a bucket worth %d", x, got)
		}
	}
	var empty histogram
	if empty.quantile(0.5) != 0 {
		t.Error("an empty histogram has a median")
	}
}

// TestRecovery checks the time-to-recover measure on hand-made series.
func TestRecovery(t *testing.T) {
	sec := int64(time.Second)
	good, bad, none := Point{Succeeded: 99, Failed: 1}, Point{Succeeded: 50, Failed: 50}, Point{}
	series := func(ps ...Point) []Point { return ps }
	for _, c := range []struct {
		name   string
		s      []Point
		healed int64
		want   time.Duration
		ok     bool
	}{
		{"at once", series(good, bad, bad, good, good, good, good, good), 3 * sec, 0, true},
		{"two buckets late", series(good, bad, bad, bad, bad, good, good, good, good, good), 3 * sec, 2 * time.Second, true},
		{"heal mid-bucket", series(good, bad, bad, bad, good, good, good, good, good), 2*sec + sec/2, 1500 * time.Millisecond, true},
		{"a relapse", series(good, bad, good, bad, good, good, good, good, good), 2 * sec, 2 * time.Second, true},
		{"never", series(good, bad, bad, bad), sec, 0, false},
		{"empty buckets do not count", series(good, bad, none, none, good), 2 * sec, 2 * time.Second, true},
	} {
		got, ok := recovery(c.s, sec, sec, c.healed)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// TestBadScenarios checks that nonsense is an error naming the field, from
// the simulator's own checks and from the library's New functions.
func TestBadScenarios(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*Scenario)
		want   string
	}{
		{"no duration", func(s *Scenario) { s.Duration = 0 }, "Duration"},
		{"negative rate", func(s *Scenario) { s.Load.Rate = -1 }, "Load.Rate"},
		{"NaN rate", func(s *Scenario) { s.Load.Rate = math.NaN() }, "Load.Rate"},
		{"error rate", func(s *Scenario) { s.Upstream.ErrorRate = 1.5 }, "Upstream.ErrorRate"},
		{"p99 below median", func(s *Scenario) { s.Upstream.Latency.P99 = Duration(time.Millisecond) }, "P99"},
		{"tail without latency", func(s *Scenario) { s.Upstream.Latency.TailProbability = 0.1 }, "Tail"},
		{"window backwards", func(s *Scenario) {
			s.Upstream.Windows = []Window{{From: Duration(time.Second), To: Duration(time.Second)}}
		}, "Windows[0]"},
		{"burst after the end", func(s *Scenario) { s.Load.Bursts = []Burst{{At: s.Duration, Requests: 1}} }, "Bursts[0]"},
		{"no policies", func(s *Scenario) { s.Policies = nil }, "no Policies"},
		{"unnamed policy", func(s *Scenario) { s.Policies[0].Name = "" }, "no Name"},
		{"two names alike", func(s *Scenario) { s.Policies = append(s.Policies, s.Policies[0]) }, "two Policies"},
		{"retry", func(s *Scenario) { s.Policies[0].Retry = &RetryConfig{MaxAttempts: -1} }, "retry:"},
		{"jitter", func(s *Scenario) { s.Policies[0].Retry = &RetryConfig{Backoff: &BackoffConfig{Jitter: "lots"}} }, "Jitter"},
		{"backoff", func(s *Scenario) {
			s.Policies[0].Retry = &RetryConfig{Backoff: &BackoffConfig{Multiplier: 0.5}}
		}, "backoff"},
		{"breaker", func(s *Scenario) { s.Policies[0].Breaker = &BreakerConfig{FailureRate: 2} }, "breaker:"},
		{"throttle", func(s *Scenario) { s.Policies[0].Throttle = &ThrottleConfig{K: 0.5} }, "throttle:"},
		{"hedge", func(s *Scenario) { s.Policies[0].Hedge = &HedgeConfig{Percentile: 1} }, "hedge:"},
		{"attempt timeout", func(s *Scenario) { s.Policies[0].Timeout = Duration(-time.Second) }, "timeout:"},
		{"budget alone", func(s *Scenario) { s.Policies[0].Budget = &BudgetConfig{} }, "Budget needs"},
		{"hedge budget", func(s *Scenario) { s.Policies[0].Hedge = &HedgeConfig{UseBudget: true} }, "UseBudget"},
		{"budget ratio", func(s *Scenario) {
			s.Policies[0].Retry, s.Policies[0].Budget = &RetryConfig{}, &BudgetConfig{Ratio: 2}
		}, "budget:"},
		{"bulkhead", func(s *Scenario) { s.Policies[0].Bulkhead = &BulkheadConfig{MaxConcurrent: -1} }, "bulkhead: MaxConcurrent is negative"},
		{"adaptive algorithm", func(s *Scenario) { s.Policies[0].Adaptive = &AdaptiveConfig{Algorithm: "vegas"} }, `Adaptive.Algorithm "vegas"`},
		{"adaptive bounds", func(s *Scenario) { s.Policies[0].Adaptive = &AdaptiveConfig{Min: 50, Max: 10} }, "adaptive: Min 50 is above Max 10"},
		{"adaptive max", func(s *Scenario) { s.Policies[0].Adaptive = &AdaptiveConfig{Max: 1 << 40} }, "adaptive: Initial, Min and Max must be at most"},
		{"gradient tolerance", func(s *Scenario) {
			s.Policies[0].Adaptive = &AdaptiveConfig{Algorithm: "gradient", Gradient: GradientConfig{Tolerance: 3}}
		}, "adaptive: Gradient.Tolerance"},
		{"aimd backoff", func(s *Scenario) { s.Policies[0].Adaptive = &AdaptiveConfig{AIMD: AIMDConfig{Backoff: 1}} }, "adaptive: AIMD.Backoff"},
		{"two limits", func(s *Scenario) {
			s.Policies[0].Bulkhead, s.Policies[0].Adaptive = &BulkheadConfig{}, &AdaptiveConfig{}
		}, "a Bulkhead or an Adaptive limit, not both"},
		{"negative capacity factor", func(s *Scenario) {
			s.Upstream.Windows = []Window{{To: Duration(time.Second), CapacityFactor: -0.5}}
		}, "Windows[0].CapacityFactor must be a finite number"},
		{"NaN capacity factor", func(s *Scenario) {
			s.Upstream.Windows = []Window{{To: Duration(time.Second), CapacityFactor: math.NaN()}}
		}, "Windows[0].CapacityFactor must be a finite number"},
		{"capacity factor without capacity", func(s *Scenario) {
			s.Upstream.Capacity = 0
			s.Upstream.Windows = []Window{{To: Duration(time.Second), CapacityFactor: 0.5}}
		}, "CapacityFactor needs an Upstream.Capacity"},
		{"capacity factor of some clients", func(s *Scenario) {
			s.Load.Clients, s.Upstream.Capacity = 2, 10
			s.Upstream.Windows = []Window{{To: Duration(time.Second), CapacityFactor: 0.5, Clients: 1}}
		}, "a window with Clients cannot set it"},
		{"capacity factor too large", func(s *Scenario) {
			s.Upstream.Capacity = 10
			s.Upstream.Windows = []Window{
				{To: Duration(2 * time.Second), CapacityFactor: 1000},
				{From: Duration(time.Second), To: Duration(3 * time.Second), CapacityFactor: 1000},
			}
		}, "CapacityFactor of the windows comes to"},
		{"too many buckets", func(s *Scenario) { s.Resolution = Duration(time.Microsecond) }, "Resolution"},
		{"too many clients", func(s *Scenario) { s.Load.Clients = 1 << 20 }, "Load.Clients"},
		{"too many requests", func(s *Scenario) { s.Load.Rate, s.Duration = 1e6, Duration(time.Hour) }, "Rate × Duration"},
	} {
		s := simple()
		c.change(s)
		err := s.Check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error about %q", c.name, err, c.want)
			continue
		}
		if _, err := Run(s); err == nil {
			t.Errorf("%s: Run accepted what Check refuses", c.name)
		}
	}
}

// TestParse checks reading scenarios from JSON: one, several, and the
// mistakes a person makes in a file.
func TestParse(t *testing.T) {
	one := `{"Name": "x", "Duration": "1m", "Load": {"Rate": 10},
		"Upstream": {"Latency": {"Median": "5ms"}, "Windows": [{"From": "10s", "To": "20s", "Down": true}]},
		"Policies": [{"Name": "r", "Retry": {"MaxAttempts": 4, "Backoff": {"Base": "50ms", "Jitter": "equal"}}, "Breaker": {"RecoveryTimeout": "5s"}}]}`
	list, err := Parse(strings.NewReader(one))
	if err != nil {
		t.Fatal(err)
	}
	s := list[0]
	if s.Duration != Duration(time.Minute) || s.Upstream.Windows[0].To != Duration(20*time.Second) ||
		s.Policies[0].Retry.MaxAttempts != 4 || s.Policies[0].Retry.Backoff.Base != Duration(50*time.Millisecond) ||
		s.Policies[0].Breaker.RecoveryTimeout != Duration(5*time.Second) {
		t.Fatalf("parsed %+v", s)
	}
	if list, err := Parse(strings.NewReader("[" + one + "," + strings.Replace(one, `"x"`, `"y"`, 1) + "]")); err != nil || len(list) != 2 || list[1].Name != "y" {
		t.Fatalf("a list: %v, %v", list, err)
	}
	for _, c := range []struct{ in, want string }{
		{`{"Name": "x", "Duraton": "1m"}`, "Duraton"},
		{`{"Name": "x", "Duration": 60}`, "duration is a string"},
		{`{"Name": "x", "Duration": "1 minute"}`, "bad duration"},
		{`{"Name": "x", "Duration": "1m"}`, "no Policies"},
		{one + "{}", "after the end"},
		{`[]`, "no scenario"},
		{`[null]`, "null"},
		{`{"Name": "x", "Duration": "1m", "Policies": [{"Name": "p", "Tokens": {}}]}`, "Policies[0] (p): Tokens needs a Retry or a Hedge"},
		{`{"Name": "x", "Duration": "1m", "Policies": [{"Name": "p", "Retry": {}, "Tokens": {"MaxTokens": 2000}}]}`, "Policies[0] (p): budget: MaxTokens must be in (0, 1000]"},
		{`{"Name": "x", "Duration": "1m", "Policies": [{"Name": "p", "Retry": {}, "Tokens": {"TokenRatio": -0.1}}]}`, "Policies[0] (p): budget: TokenRatio must be at least 0.001"},
		{``, "reading scenario"},
	} {
		_, err := Parse(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%.40q): %v; want an error about %q", c.in, err, c.want)
		}
	}
}

// TestBuiltinsRoundTrip checks that every built-in scenario is valid and
// survives JSON, so that "sim -dump" gives a file that runs the same.
func TestBuiltinsRoundTrip(t *testing.T) {
	for _, s := range Builtins() {
		if err := s.Check(); err != nil {
			t.Fatal(err)
		}
		data, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v\n%s", s.Name, err, data)
		}
		again, err := json.MarshalIndent(back[0], "", "  ")
		if err != nil || !bytes.Equal(data, again) {
			t.Errorf("%s changes in a round trip through JSON (%v):\n%s\n%s", s.Name, err, data, again)
		}
	}
}

// TestNoMissingEvents checks that every request of every built-in scenario
// ends, and is counted once (countedOnce). A scenario that another test has
// run already is checked in its result (runBuiltin checks every result it
// makes too); the others run here, with a twentieth of their load under the
// race detector (lighterUnderRace): the counts add up whatever the load.
func TestNoMissingEvents(t *testing.T) {
	for _, s := range Builtins() {
		builtinResult.Lock()
		res := builtinResult.m[s.Name]
		builtinResult.Unlock()
		if res == nil {
			var err error
			if res, err = Run(lighterUnderRace(s)); err != nil {
				t.Fatal(err)
			}
		}
		for i := range res.Policies {
			countedOnce(t, s.Name, &res.Policies[i])
		}
	}
}

// countedOnce checks that every request of p ended, and is counted once:
// successes and failures by reason add up to the requests, and the series
// to the totals.
func countedOnce(t testing.TB, scenario string, p *PolicyResult) {
	t.Helper()
	f := p.Failures
	failed := f.Exhausted + f.Deadline + f.BreakerOpen + f.Throttled + f.Budget + f.Tokens + f.NotRetryable + f.Limited
	var ended, calls int
	for _, pt := range p.Series {
		ended += pt.Succeeded + pt.Failed
		calls += pt.Calls
	}
	if p.Succeeded+failed != p.Requests || ended != p.Requests || calls != p.Calls {
		t.Errorf("%s/%s: %d requests, %d succeeded, %d failed (%+v), %d ended in the series, %d of %d calls",
			scenario, p.Name, p.Requests, p.Succeeded, failed, f, ended, calls, p.Calls)
	}
}

// BenchmarkTenMinutesAt1000 runs the outage scenario: ten simulated minutes
// at 1,000 requests per second (600,000 requests) through each of its five
// policy configurations.
func BenchmarkTenMinutesAt1000(b *testing.B) {
	s, _ := Builtin("outage")
	if s.Duration != Duration(10*time.Minute) || s.Load.Rate != 1000 {
		b.Fatal("the outage scenario is no longer ten minutes at 1,000/s")
	}
	s = lighterUnderRace(s)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(s.Policies))*s.Load.Rate*600*float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}

// lighterUnderRace returns s with a twentieth of its load when the race
// detector is on (see raceEnabled), and s itself otherwise: for the
// benchmarks, and for the tests whose checks hold at any load.
func lighterUnderRace(s *Scenario) *Scenario {
	if !raceEnabled {
		return s
	}
	c := *s
	c.Load.Rate /= 20
	return &c
}

// BenchmarkSuite runs the whole built-in suite, as "resilience sim" does.
func BenchmarkSuite(b *testing.B) {
	for b.Loop() {
		for _, s := range Builtins() {
			if _, err := Run(lighterUnderRace(s)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestSameAsRetryDo checks the simulator against the retry executor that
// users run: one request to an upstream that refuses calls for its first
// 500ms, with no-jitter backoff, must take the same time in the simulator
// as retry.Do takes under synctest against the same upstream.
func TestSameAsRetryDo(t *testing.T) {
	backoffCfg := &BackoffConfig{Base: Duration(100 * time.Millisecond), Jitter: "none"}
	s := simple()
	s.Load = Load{Bursts: []Burst{{At: 0, Requests: 1}}}
	s.Upstream.Windows = []Window{{From: 0, To: Duration(500 * time.Millisecond), Down: true}}
	s.Policies = []Policy{{Name: "retry", Retry: &RetryConfig{MaxAttempts: 6, Backoff: backoffCfg}}}
	p := run1(t, s)
	if p.Succeeded != 1 || p.Calls != 4 {
		t.Fatalf("simulated: %d succeeded after %d calls; want 1 after 4 (at 0, 101ms, 302ms, 703ms)", p.Succeeded, p.Calls)
	}

	strategy, err := backoffCfg.strategy()
	if err != nil {
		t.Fatal(err)
	}
	pol := retry.MustNew(retry.Config{MaxAttempts: 6, Backoff: strategy})
	var elapsed time.Duration
	calls := 0
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		err := retry.Run(t.Context(), pol, func(ctx context.Context) error {
			calls++
			if time.Since(start) < 500*time.Millisecond {
				time.Sleep(time.Millisecond) // RejectLatency
				return errRefused
			}
			time.Sleep(10 * time.Millisecond) // the upstream's fixed latency
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		elapsed = time.Since(start)
	})
	// The histogram keeps latencies to within 0.4%.
	if calls != 4 || math.Abs(float64(p.P50-elapsed)) > 0.004*float64(elapsed) {
		t.Fatalf("retry.Do: %d calls in %v; the simulator: %d calls in %v", calls, elapsed, p.Calls, p.P50)
	}
	t.Logf("both: 4 calls, %v", elapsed)
}

// TestSameAsComposedRetryBreaker runs the original design's pair, a retry
// around a breaker, through the simulator and through resilience.Compose:
// when the third failure opens the breaker, both stop at once with its
// rejection, after 3 calls and no wait, rather than sleep before a fourth
// attempt the breaker would refuse.
func TestSameAsComposedRetryBreaker(t *testing.T) {
	backoffCfg := &BackoffConfig{Base: Duration(100 * time.Millisecond), Jitter: "none"}
	s := simple()
	s.Duration = Duration(2 * time.Second)
	s.Resolution = Duration(10 * time.Millisecond)
	s.Load = Load{Bursts: []Burst{{At: 0, Requests: 1}}}
	s.Upstream.Windows = []Window{{From: 0, To: s.Duration, Down: true}}
	s.Policies = []Policy{{Name: "retry+breaker",
		Retry:   &RetryConfig{MaxAttempts: 4, Backoff: backoffCfg},
		Breaker: &BreakerConfig{FailureThreshold: 3, RecoveryTimeout: Duration(10 * time.Second)}}}
	p := run1(t, s)
	// Failures at 1ms, 102ms and 303ms (a refused call takes 1ms; waits of
	// 100ms and 200ms): the request ends in the bucket of 300–310ms.
	ended := slices.IndexFunc(p.Series, func(pt Point) bool { return pt.Failed > 0 })
	if p.Calls != 3 || p.Failures.BreakerOpen != 1 || ended != 30 {
		t.Fatalf("simulated: %d calls, %d ended by the breaker, in bucket %d; want 3, 1, bucket 30", p.Calls, p.Failures.BreakerOpen, ended)
	}

	strategy, err := backoffCfg.strategy()
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		policy := resilience.Compose(
			retry.MustNew(retry.Config{MaxAttempts: 4, Backoff: strategy}),
			breaker.MustNew(breaker.Config{FailureThreshold: 3, RecoveryTimeout: 10 * time.Second}))
		start, calls := time.Now(), 0
		err := resilience.Run(t.Context(), policy, func(context.Context) error {
			calls++
			time.Sleep(time.Millisecond) // RejectLatency
			return errRefused
		})
		elapsed := time.Since(start)
		var re *retry.Error
		if calls != 3 || elapsed != 303*time.Millisecond || !errors.Is(err, breaker.ErrOpen) ||
			!errors.As(err, &re) || re.Reason != retry.Rejected || re.Attempts != 3 {
			t.Fatalf("Compose(retry, breaker): %d calls in %v, %v; want 3 calls in 303ms, a Rejected retry.Error after 3 attempts", calls, elapsed, err)
		}
	})
}

// TestSameAsHedgeDo checks the simulator against the hedge executor that
// users run: five requests to an upstream whose calls take 10ms, or 200ms
// when they start in a slow spell, through a hedger with an adaptive delay
// (the median of the first attempts, 30ms until one is known), at most two
// hedges, and a budget that earns one hedge per request. The requests take
// each path of the hedge decisions: a hedge that beats the first call,
// whose latency so far then counts (at 0s); a delay learnt from it, 40ms,
// that sends the hedge after the slow spell, where 30ms would not (at 1s);
// a first call that needs no hedge (at 1.5s); two hedges, and no third past
// MaxHedges (at 2s); a second hedge that the budget refuses (at 3s). The
// simulator and hedge.Do under synctest must make the same calls and take
// the same time for each.
func TestSameAsHedgeDo(t *testing.T) {
	ms := time.Millisecond
	sec := Duration(time.Second)
	arrivals := []time.Duration{0, time.Second, 1500 * ms, 2 * time.Second, 3 * time.Second}
	slowSpells := []Window{
		{From: 0, To: Duration(20 * ms), LatencyFactor: 20},
		{From: sec, To: sec + Duration(35*ms), LatencyFactor: 20},
		{From: 2 * sec, To: 2*sec + Duration(150*ms), LatencyFactor: 20},
		{From: 3 * sec, To: 3*sec + Duration(150*ms), LatencyFactor: 20},
	}
	hedgeCfg := hedge.Config{Percentile: 0.5, MinSamples: 1, InitialDelay: 30 * ms, MaxHedges: 2}
	budgetCfg := budget.Config{Ratio: 1, MinPerSecond: 1e-9}
	const wantCalls, wantRefused = 2 + 2 + 1 + 3 + 2, 1

	s := simple()
	s.Duration = 4 * sec
	s.Load = Load{}
	for _, a := range arrivals {
		s.Load.Bursts = append(s.Load.Bursts, Burst{At: Duration(a), Requests: 1})
	}
	s.Upstream.Windows = slowSpells
	s.Policies = []Policy{{Name: "hedge",
		Budget: &BudgetConfig{Ratio: budgetCfg.Ratio, MinPerSecond: budgetCfg.MinPerSecond},
		Hedge: &HedgeConfig{Percentile: hedgeCfg.Percentile, MinSamples: hedgeCfg.MinSamples,
			InitialDelay: Duration(hedgeCfg.InitialDelay), MaxHedges: hedgeCfg.MaxHedges, UseBudget: true}}}
	var simulated []time.Duration // the latencies, from the histogram's buckets
	var simRefused uint64
	runHook = func(r *run) {
		for i, n := range r.hist.counts {
			for range n {
				simulated = append(simulated, time.Duration(histValue(i)))
			}
		}
		simRefused = r.clients[0].budget.Snapshot().Exhausted
	}
	t.Cleanup(func() { runHook = nil })
	p := run1(t, s)
	runHook = nil
	if p.Succeeded != len(arrivals) || p.Calls != wantCalls || simRefused != wantRefused {
		t.Fatalf("simulated: %d succeeded after %d calls, %d hedges refused; want %d, %d, %d",
			p.Succeeded, p.Calls, simRefused, len(arrivals), wantCalls, wantRefused)
	}

	var latencies []time.Duration
	var calls atomic.Int64
	var refused uint64
	synctest.Test(t, func(t *testing.T) {
		b := budget.MustNew(budgetCfg)
		cfg := hedgeCfg
		cfg.Budget, cfg.Deposit = b, true // as the simulator does without a Retry
		h := hedge.MustNew(cfg)
		start := time.Now()
		slow := func(at time.Duration) bool {
			for _, w := range slowSpells {
				if at >= time.Duration(w.From) && at < time.Duration(w.To) {
					return true
				}
			}
			return false
		}
		for _, a := range arrivals {
			time.Sleep(a - time.Since(start))
			began := time.Now()
			_, err := hedge.Do(t.Context(), h, func(ctx context.Context) (struct{}, error) {
				calls.Add(1)
				d := 10 * ms
				if slow(time.Since(start)) {
					d = 200 * ms
				}
				timer := time.NewTimer(d)
				defer timer.Stop()
				select {
				case <-timer.C:
					return struct{}{}, nil
				case <-ctx.Done():
					return struct{}{}, context.Cause(ctx)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			latencies = append(latencies, time.Since(began))
		}
		refused = b.Snapshot().Exhausted
	})
	slices.Sort(latencies)
	same := len(latencies) == len(simulated)
	for i := 0; same && i < len(latencies); i++ {
		// The histogram keeps latencies to within 0.4%.
		same = math.Abs(float64(simulated[i]-latencies[i])) <= 0.004*float64(latencies[i])
	}
	if calls.Load() != int64(p.Calls) || refused != simRefused || !same {
		t.Fatalf("hedge.Do: %d calls, %d hedges refused, latencies %v; the simulator: %d calls, %d refused, latencies %v",
			calls.Load(), refused, latencies, p.Calls, simRefused, simulated)
	}
	t.Logf("both: %d calls, %d hedges refused, latencies %v", p.Calls, refused, latencies)
}

// TestSameAsHedgeDoA6 checks the simulator against hedge.Do under gRFC A6's
// rules on failures (Hedge.Failures, hedge.Config.Failures), and under the
// default rule, on four requests to an upstream whose calls take 10ms, or
// 200ms when they start in a slow spell, and fail when they start in a
// failing spell, through a hedger with a fixed delay of 30ms and at most two
// hedges. Under A6: the first call fails, and its hedge goes at once and
// wins (at 0s); every call fails, each hedge sent as the one before failed
// (at 1s); a slow first call, beaten by a hedge after the delay (at 2s); a
// hedge that fails brings the next forward, which wins (at 3s). By default,
// the first two requests fail with their first call, and at 3s the second
// hedge waits for its delay. With a token bucket of 4 (Tokens,
// hedge.Config.Tokens) under A6, hedges go while more than 2 tokens are
// left: at 1s the second hedge is refused, and the attempt ends with the
// failures; the later hedges are refused too. The simulator and hedge.Do
// under synctest must make the same calls, succeed and fail alike, take the
// same time for each success, and leave the same tokens.
func TestSameAsHedgeDoA6(t *testing.T) {
	ms := time.Millisecond
	sec := Duration(time.Second)
	arrivals := []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}
	slowSpells := []Window{
		{From: 2 * sec, To: 2*sec + Duration(ms), LatencyFactor: 20},
		{From: 3 * sec, To: 3*sec + Duration(ms), LatencyFactor: 20},
	}
	failingSpells := []Window{
		{From: 0, To: Duration(5 * ms), ErrorRate: 1},
		{From: sec, To: sec + Duration(25*ms), ErrorRate: 1},
		{From: 3*sec + Duration(29*ms), To: 3*sec + Duration(31*ms), ErrorRate: 1},
	}
	in := func(ws []Window, at time.Duration) bool {
		for _, w := range ws {
			if at >= time.Duration(w.From) && at < time.Duration(w.To) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		failures         bool
		maxTokens        float64 // 0: no bucket
		calls, succeeded int
		tokensLeft       float64
	}{
		{true, 0, 2 + 3 + 2 + 3, 3, 0},
		{false, 0, 1 + 1 + 2 + 3, 2, 0},
		{true, 4, 2 + 2 + 1 + 1, 3, 4 - 1 + 0.1 - 1 - 1 + 0.1 + 0.1},
	} {
		name := fmt.Sprintf("Failures %v, MaxTokens %v", c.failures, c.maxTokens)
		s := simple()
		s.Duration = 4 * sec
		s.Load = Load{}
		for _, a := range arrivals {
			s.Load.Bursts = append(s.Load.Bursts, Burst{At: Duration(a), Requests: 1})
		}
		s.Upstream.Windows = append(slices.Clone(slowSpells), failingSpells...)
		s.Policies = []Policy{{Name: "hedge", Hedge: &HedgeConfig{Delay: Duration(30 * ms), MaxHedges: 2, Failures: c.failures}}}
		if c.maxTokens > 0 {
			s.Policies[0].Tokens = &TokensConfig{MaxTokens: c.maxTokens}
		}
		var simulated []time.Duration // the latencies, from the histogram's buckets
		var simTokens float64
		runHook = func(r *run) {
			for i, n := range r.hist.counts {
				for range n {
					simulated = append(simulated, time.Duration(histValue(i)))
				}
			}
			simTokens = r.clients[0].tokens.Snapshot().Tokens
		}
		t.Cleanup(func() { runHook = nil })
		p := run1(t, s)
		runHook = nil
		if p.Succeeded != c.succeeded || p.Calls != c.calls || p.Failures.Exhausted != len(arrivals)-c.succeeded ||
			math.Abs(simTokens-c.tokensLeft) > 1e-9 {
			t.Fatalf("%s: simulated: %d succeeded, %d failed after %d calls, %v tokens left; want %d, %d, %d, %v",
				name, p.Succeeded, p.Failures.Exhausted, p.Calls, simTokens, c.succeeded, len(arrivals)-c.succeeded, c.calls, c.tokensLeft)
		}

		var latencies []time.Duration
		var calls atomic.Int64
		failed := 0
		var tokens float64
		synctest.Test(t, func(t *testing.T) {
			cfg := hedge.Config{Delay: 30 * ms, MaxHedges: 2}
			if c.failures {
				cfg.Failures = resilience.Classify
			}
			if c.maxTokens > 0 {
				cfg.Tokens = budget.MustNewTokens(budget.TokensConfig{MaxTokens: c.maxTokens})
				defer func() { tokens = cfg.Tokens.Snapshot().Tokens }()
			}
			h := hedge.MustNew(cfg)
			start := time.Now()
			for _, a := range arrivals {
				time.Sleep(a - time.Since(start))
				began := time.Now()
				_, err := hedge.Do(t.Context(), h, func(ctx context.Context) (struct{}, error) {
					calls.Add(1)
					at := time.Since(start)
					d := 10 * ms
					if in(slowSpells, at) {
						d = 200 * ms
					}
					var err error
					if in(failingSpells, at) {
						err = errUpstream
					}
					timer := time.NewTimer(d)
					defer timer.Stop()
					select {
					case <-timer.C:
						return struct{}{}, err
					case <-ctx.Done():
						return struct{}{}, context.Cause(ctx)
					}
				})
				if err != nil {
					failed++
					continue
				}
				latencies = append(latencies, time.Since(began))
			}
		})
		slices.Sort(latencies)
		same := len(latencies) == len(simulated)
		for i := 0; same && i < len(latencies); i++ {
			// The histogram keeps latencies to within 0.4%.
			same = math.Abs(float64(simulated[i]-latencies[i])) <= 0.004*float64(latencies[i])
		}
		if calls.Load() != int64(p.Calls) || failed != p.Failures.Exhausted || !same || tokens != simTokens {
			t.Fatalf("%s: hedge.Do: %d calls, %d failed, latencies %v, %v tokens left; the simulator: %d calls, %d failed, latencies %v, %v tokens left",
				name, calls.Load(), failed, latencies, tokens, p.Calls, p.Failures.Exhausted, simulated, simTokens)
		}
		t.Logf("%s: both: %d calls, %d failed, latencies %v", name, p.Calls, failed, latencies)
	}
}

// TestRetryAfter checks that refusals for overload carry the upstream's
// hint, that retries wait for it, and that a policy whose MaxRetryAfter is
// below it stops at once.
func TestRetryAfter(t *testing.T) {
	s := simple()
	s.Load = Load{Bursts: []Burst{{At: 0, Requests: 3}}}
	s.Upstream.Capacity = 1
	s.Upstream.MaxQueueDelay = Duration(15 * time.Millisecond)
	s.Upstream.RetryAfter = Duration(2 * time.Second)
	s.Policies = []Policy{
		{Name: "honours", Retry: &RetryConfig{MaxAttempts: 5, Backoff: &BackoffConfig{Constant: Duration(time.Millisecond)}}},
		{Name: "capped", Retry: &RetryConfig{MaxAttempts: 5, MaxRetryAfter: Duration(time.Second)}},
	}
	res, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	honours, capped := &res.Policies[0], &res.Policies[1]
	// Two calls are served (the second after 10ms in line); the third would
	// wait 20ms and is refused; it waits 2s (not the 1ms backoff), then passes.
	if honours.Succeeded != 3 || honours.Calls != 4 || honours.P999 < 2*time.Second || honours.P999 > 2020*time.Millisecond {
		t.Errorf("honours: %d succeeded, %d calls, slowest %v; want 3, 4, about 2.011s", honours.Succeeded, honours.Calls, honours.P999)
	}
	if capped.Succeeded != 2 || capped.Calls != 3 || capped.Failures.NotRetryable != 1 {
		t.Errorf("capped: %d succeeded, %d calls, failures %+v; want 2, 3, 1 stopped by the hint", capped.Succeeded, capped.Calls, capped.Failures)
	}
}

// TestHedgingOff checks that a negative MaxHedges reaches the simulation as
// it reaches the hedger: no call is hedged.
func TestHedgingOff(t *testing.T) {
	s, _ := Builtin("latency-tail")
	s.Duration = dur(10 * time.Second)
	s.Policies = []Policy{
		{Name: "hedge", Hedge: &HedgeConfig{}},
		{Name: "hedging off", Hedge: &HedgeConfig{MaxHedges: -1}},
	}
	res, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	on, off := policy(t, res, "hedge"), policy(t, res, "hedging off")
	if on.Calls <= on.Requests {
		t.Fatalf("the hedged policy made %d calls for %d requests: no hedge to turn off", on.Calls, on.Requests)
	}
	if off.Calls != off.Requests {
		t.Errorf("with MaxHedges negative, %d calls for %d requests; want one each", off.Calls, off.Requests)
	}
}

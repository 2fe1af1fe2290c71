package sim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/throttle"
	"github.com/netresilience/resilience/timeout"
)

// Duration is a time.Duration written in JSON as a string such as "250ms" or
// "1m30s". Every Duration of a Scenario is at most a year (8760h).
type Duration time.Duration

// MarshalJSON writes d as a string such as "250ms".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a string such as "250ms", or 0.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "0" {
		*d = 0
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"250ms\", not %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("bad duration %q: %v", s, err)
	}
	*d = Duration(v)
	return nil
}

// Scenario is one simulated situation: an upstream, the load the clients
// put on it, and the policy configurations to compare. Zero fields take the
// defaults documented on them. Field names in JSON are the Go names.
type Scenario struct {
	Name        string `json:",omitzero"`
	Description string `json:",omitzero"`
	// Seed seeds every random draw of the run. Default 1. The same scenario
	// and seed give the same results, byte for byte.
	Seed uint64 `json:",omitzero"`
	// Duration is how much virtual time the load runs for. Requests still
	// running at its end run to completion. (Duration + Load.Deadline) /
	// Resolution, the buckets, may be at most 100,000.
	Duration Duration `json:",omitzero"`
	// Resolution is the width of the time buckets of the charts and of the
	// time-to-recover measure. Default 1s.
	Resolution Duration `json:",omitzero"`
	Upstream   Upstream `json:",omitzero"`
	Load       Load     `json:",omitzero"`
	// Policies are the configurations to compare, at most 16. The upstream
	// calls they could make together, requests × attempts × (1 + hedges)
	// summed over them, may be at most 5e8; the breaker states and adaptive
	// limits they sample, Load.Clients × buckets for each with a breaker or
	// an adaptive limit, at most 1e8.
	Policies []Policy `json:",omitzero"`
}

// Upstream models the service the clients call.
type Upstream struct {
	// Latency is the time a call takes when the upstream is healthy and idle.
	Latency Latency `json:",omitzero"`
	// ErrorRate is the share of calls that fail (transiently, like a 503)
	// when the upstream is healthy, in [0, 1].
	ErrorRate float64 `json:",omitzero"`
	// Capacity is how many calls the upstream works on at once (its
	// workers); calls beyond it wait in line, first come first served, so
	// that its latency climbs as the load nears and passes what it can
	// serve. Zero means no limit; at most 1,000,000.
	Capacity int `json:",omitzero"`
	// MaxQueueDelay is the longest a call waits in line for a worker: one
	// that would wait longer is refused at once with a transient error, as
	// an overloaded server sheds load. Default 500ms. Only with Capacity.
	MaxQueueDelay Duration `json:",omitzero"`
	// RetryAfter, if set, is the hint that refusals for overload carry, as
	// a 503 with a Retry-After header does: retry policies wait at least
	// that long, or stop when it is above their MaxRetryAfter.
	RetryAfter Duration `json:",omitzero"`
	// RejectLatency is how long a refusal takes: a call to an overloaded
	// upstream, or to one that is down. Default 1ms.
	RejectLatency Duration `json:",omitzero"`
	// Windows are periods of trouble: outages, brown-outs, slow spells; at
	// most 100.
	Windows []Window `json:",omitzero"`
}

// Latency is a log-normal latency distribution given by its median and
// 99th percentile, with an optional heavy tail.
type Latency struct {
	Median Duration `json:",omitzero"` // default 20ms
	P99    Duration `json:",omitzero"` // default 3 × Median; at least Median
	// TailProbability is the share of calls that take Tail instead, give or
	// take 10%, in [0, 1).
	TailProbability float64  `json:",omitzero"`
	Tail            Duration `json:",omitzero"`
}

// Window is a period [From, To) during which the upstream misbehaves.
type Window struct {
	Name string   `json:",omitzero"`
	From Duration `json:",omitzero"`
	To   Duration `json:",omitzero"`
	// Down refuses every call after RejectLatency, as a service whose
	// connections are refused.
	Down bool `json:",omitzero"`
	// ErrorRate replaces the upstream's error rate in the window when it is
	// above it, in [0, 1].
	ErrorRate float64 `json:",omitzero"`
	// LatencyFactor multiplies latencies in the window. Default 1. A call
	// made longer than the run (its Duration and Load.Deadline) takes that
	// long: it ends after every request has.
	LatencyFactor float64 `json:",omitzero"`
	// CapacityFactor multiplies the upstream's Capacity in the window, as
	// when half its instances fail or a neighbour takes its processors:
	// the upstream works on Capacity × CapacityFactor calls at once,
	// rounded, and at least one. Default 1; the factors of overlapping
	// windows multiply. It needs an Upstream.Capacity, applies to every
	// client (a window with Clients cannot set it), and the capacity it
	// makes is at most 1,000,000. The calls the upstream has taken when
	// its capacity falls end as they would have, on the workers that
	// then stop taking calls; calls that come later wait for the workers
	// left. When the window ends, the workers come back.
	CapacityFactor float64 `json:",omitzero"`
	// Clients, if positive, limits the window to the calls of the first
	// Clients clients (of Load.Clients): the trouble of some replicas only,
	// such as one whose own network fails. Default: every client.
	Clients int `json:",omitzero"`
}

// Load is what the clients ask of the upstream.
type Load struct {
	// Rate is the requests per second the clients make together, as a
	// Poisson process, at most 1e7. Rate × Duration, with the bursts'
	// requests, may be at most 100,000,000.
	Rate float64 `json:",omitzero"`
	// Clients is how many clients share the load, each with its own
	// instances of the policies (its own breaker, budget, throttle and
	// hedger), as the processes of a fleet have. Requests go to clients in
	// turn. Default 1, at most 10,000.
	Clients int `json:",omitzero"`
	// Deadline is how long a client waits for a request, retries included.
	// Default 10s.
	Deadline Duration `json:",omitzero"`
	// Bursts are requests that all arrive at one instant, on top of Rate:
	// at most 1,000 bursts, and 200,000 requests in all.
	Bursts []Burst `json:",omitzero"`
}

// Burst is Requests requests arriving together at At, spread over the
// clients in turn: every client reconnecting after a blip, a cron tick.
type Burst struct {
	At       Duration `json:",omitzero"`
	Requests int      `json:",omitzero"`
}

// Policy is one configuration of the library's policies that a client runs
// every request through: retry (with its budget) outermost, then per
// attempt the concurrency limit (a bulkhead or an adaptive limit), the
// throttle, the breaker, the attempt timeout and the hedger. A Policy with
// none of them calls the upstream once per request. Each section maps onto
// the Config of its package, field for field.
//
// The concurrency limit stands inside the retry, unlike in the stack that
// the project recommends, where a bulkhead outside the retry holds its slot
// through the waits between attempts: here each attempt takes room of its
// own and gives it back when it ends, so that an adaptive limit learns from
// each attempt's latency, not from the backoff between them. For a Policy
// without a Retry the two are the same. A call the limit refuses fails at
// once (a local rejection, which no retry policy retries), and counts in
// Failures.Limited.
type Policy struct {
	Name     string          `json:",omitzero"`
	Retry    *RetryConfig    `json:",omitzero"`
	Budget   *BudgetConfig   `json:",omitzero"`
	Tokens   *TokensConfig   `json:",omitzero"`
	Breaker  *BreakerConfig  `json:",omitzero"`
	Throttle *ThrottleConfig `json:",omitzero"`
	Hedge    *HedgeConfig    `json:",omitzero"`
	// Bulkhead is a static concurrency limit, per client; Adaptive one that
	// moves with what the calls show. A Policy has at most one of them.
	Bulkhead *BulkheadConfig `json:",omitzero"`
	Adaptive *AdaptiveConfig `json:",omitzero"`
	// Timeout limits each attempt, as timeout.Config's Timeout does: an
	// attempt still running after it fails with a transient timeout. Zero
	// means none.
	Timeout Duration `json:",omitzero"`
	// Fleet, if set, makes the clients' breakers one fleet breaker, as
	// resilienceredis.Breaker shares a breaker through Redis: see
	// FleetConfig. It needs a Breaker with a FailureRate.
	Fleet *FleetConfig `json:",omitzero"`
}

// FleetConfig makes the clients of a Policy the replicas of a fleet
// breaker, modelled on resilienceredis.Breaker (which this package cannot
// import: that module depends on a Redis client), with the fields of its
// BreakerConfig that matter here. Every replica's own breaker, made from
// the Policy's Breaker, takes every decision; every Interval, each at its
// own phase, a replica publishes its window's calls and failures and reads
// the fleet's sum. The fleet opens when the sum meets the Breaker's
// FailureRate with at least its MinCalls calls and Quorum replicas
// reporting failures, or, with Quorum 1, when a replica's own breaker
// opens; the other replicas hear of it RoundTrip later and hold their
// breakers open. When the Breaker's RecoveryTimeout has passed, the first
// replica to sync takes the fleet's single probe; the others stay open
// until its result closes the fleet everywhere or opens it again. The
// model leaves out Redis's failures, and the clocks' skew: Redis answers
// every sync, in no time but the delivery of transitions.
type FleetConfig struct {
	// Interval is how often each replica syncs with the fleet. Default 1s,
	// at least 1ms.
	Interval Duration `json:",omitzero"`
	// RoundTrip is how long a published transition takes to reach the
	// other replicas. Default 1ms; at most Interval/2, the fleet breaker's
	// default timeout of a round trip to Redis.
	RoundTrip Duration `json:",omitzero"`
	// Quorum is how many replicas must report failures for the sum to open
	// the fleet; default 1, at most Load.Clients. Above 1, a replica's own
	// opening stays its own.
	Quorum int `json:",omitzero"`
	// ProbeTTL is how long a replica holds the fleet's probe before
	// another may take it. Default: the Breaker's ProbeTimeout plus two
	// Intervals (a minute plus two Intervals with no ProbeTimeout).
	ProbeTTL Duration `json:",omitzero"`
}

// RetryConfig is retry.Config. MaxAttempts is at most 1,000 here.
type RetryConfig struct {
	MaxAttempts   int            `json:",omitzero"`
	Backoff       *BackoffConfig `json:",omitzero"`
	MaxElapsed    Duration       `json:",omitzero"`
	MaxRetryAfter Duration       `json:",omitzero"`
}

// BackoffConfig is backoff.Exponential, or backoff.Constant when Constant
// is set. Jitter is "full" (the default), "equal", "decorrelated" or "none".
type BackoffConfig struct {
	Base       Duration `json:",omitzero"`
	Multiplier float64  `json:",omitzero"`
	Max        Duration `json:",omitzero"`
	Jitter     string   `json:",omitzero"`
	Constant   Duration `json:",omitzero"`
}

// BudgetConfig is budget.Config.
type BudgetConfig struct {
	Ratio        float64  `json:",omitzero"`
	MinPerSecond float64  `json:",omitzero"`
	Window       Duration `json:",omitzero"`
}

// TokensConfig is budget.TokensConfig: gRFC A6 retry throttling, a token
// bucket for each client, which its retry policy spends as
// retry.Config.Tokens says, and its hedger as hedge.Config.Tokens says (each
// hedge must be allowed, and each upstream call's outcome counts). Zero
// fields are A6's example: 10 tokens, 0.1 given back per success. A Policy's
// Tokens needs a Retry or a Hedge. With both, the bucket counts each
// attempt's outcome for the retry policy and each call's for the hedger, as
// one bucket shared by the library's retry policy and hedger does.
type TokensConfig struct {
	MaxTokens  float64 `json:",omitzero"`
	TokenRatio float64 `json:",omitzero"`
}

// BreakerConfig is breaker.Config. HalfOpenProbes is at most 100 here.
type BreakerConfig struct {
	FailureThreshold   int      `json:",omitzero"`
	RecoveryTimeout    Duration `json:",omitzero"`
	MaxRecoveryTimeout Duration `json:",omitzero"`
	HalfOpenProbes     int      `json:",omitzero"`
	ProbeTimeout       Duration `json:",omitzero"`
	Window             Duration `json:",omitzero"`
	FailureRate        float64  `json:",omitzero"`
	SlowCall           Duration `json:",omitzero"`
	SlowCallRate       float64  `json:",omitzero"`
	MinCalls           int      `json:",omitzero"`
}

// ThrottleConfig is throttle.Config.
type ThrottleConfig struct {
	K                    float64  `json:",omitzero"`
	Window               Duration `json:",omitzero"`
	MinRequests          int      `json:",omitzero"`
	MaxRejectProbability float64  `json:",omitzero"`
}

// BulkheadConfig is bulkhead.Config: each client's own bulkhead, whose
// MaxConcurrent attempts may run at once (default 10). An attempt that
// finds every slot taken is refused at once: the simulator runs the
// bulkhead's TryAcquire, which reads no clock, and does not model its wait
// for a slot (MaxWait, MaxQueue), which needs a goroutine and a timer.
type BulkheadConfig struct {
	MaxConcurrent int `json:",omitzero"`
}

// AdaptiveConfig is adaptive.Config: each client's own adaptive limiter,
// driven on virtual time (TryAcquireAt when an attempt starts,
// Permit.ReleaseAt with its outcome when it ends). Algorithm is "aimd"
// (the default) or "gradient". As with BulkheadConfig, an attempt beyond
// the limit is refused at once: waiting (MaxWait, MaxQueue) is not
// simulated, nor are priorities, since the simulated load has one. Each
// client's limiter sees only the calls of its client: with n clients, each
// finds about 1/n of the upstream's capacity, and the limits of the
// clients (Point.Limit sums them) add up to more than one limiter in front
// of the whole capacity would find, since each keeps a small queue of its
// own.
type AdaptiveConfig struct {
	Algorithm string         `json:",omitzero"`
	Initial   int            `json:",omitzero"`
	Min       int            `json:",omitzero"`
	Max       int            `json:",omitzero"`
	AIMD      AIMDConfig     `json:",omitzero"`
	Gradient  GradientConfig `json:",omitzero"`
}

// AIMDConfig is adaptive.AIMDConfig.
type AIMDConfig struct {
	Increase float64  `json:",omitzero"`
	Backoff  float64  `json:",omitzero"`
	Timeout  Duration `json:",omitzero"`
}

// GradientConfig is adaptive.GradientConfig.
type GradientConfig struct {
	Window         Duration `json:",omitzero"`
	WindowSamples  int      `json:",omitzero"`
	MinSamples     int      `json:",omitzero"`
	Tolerance      float64  `json:",omitzero"`
	Smoothing      float64  `json:",omitzero"`
	BaselinePeriod Duration `json:",omitzero"`
}

// HedgeConfig is hedge.Config. UseBudget makes the hedges spend the retry
// budget of the policy, as hedge.Config.Budget shared with
// retry.Config.Budget does; in a policy without a Retry, the hedger counts
// each call in the budget too, as hedge.Config.Deposit does. Failures makes
// the hedger follow gRFC A6's rules on failures, with
// hedge.Config.Failures set to resilience.Classify, which calls every
// failure of the simulated upstream transient: a failed call sends the next
// hedge at once, and the hedges after it resume a delay apart.
type HedgeConfig struct {
	Delay        Duration `json:",omitzero"`
	Percentile   float64  `json:",omitzero"`
	InitialDelay Duration `json:",omitzero"`
	MinSamples   int      `json:",omitzero"`
	Window       Duration `json:",omitzero"`
	MaxHedges    int      `json:",omitzero"`
	UseBudget    bool     `json:",omitzero"`
	Failures     bool     `json:",omitzero"`
}

// Parse reads a scenario, or a JSON array of scenarios, from r. Unknown
// fields are errors, so that a misspelt name does not silently leave a
// default in place; every scenario is checked as Check does. Parse reads at
// most 4 MiB, and refuses more than 32 scenarios, or scenarios that could
// make more than 5e8 upstream calls together (or sample 1e8 breaker states):
// see the limits in the package doc.
func Parse(r io.Reader) ([]*Scenario, error) {
	data, err := readAtMost(r, lim.input+1)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > lim.input {
		return nil, fmt.Errorf("sim: reading scenario: the input is above the limit of %s", fmtBytes(lim.input))
	}
	data = bytes.TrimSpace(data)
	var list []*Scenario
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if len(data) > 0 && data[0] == '[' {
		err = dec.Decode(&list)
	} else {
		s := new(Scenario)
		err = dec.Decode(s)
		list = []*Scenario{s}
	}
	if err != nil {
		return nil, fmt.Errorf("sim: reading scenario: %w", err)
	}
	if dec.More() {
		return nil, errors.New("sim: reading scenario: data after the end of the JSON value")
	}
	if len(list) == 0 {
		return nil, errors.New("sim: no scenario in the input")
	}
	if len(list) > lim.scenarios {
		return nil, fmt.Errorf("sim: the input has %d scenarios, above the limit of %d", len(list), lim.scenarios)
	}
	var calls, samples float64
	for i, s := range list {
		if s == nil {
			return nil, fmt.Errorf("sim: scenario %d is null", i+1)
		}
		if err := s.Check(); err != nil {
			return nil, err
		}
		c, n := s.cost()
		calls, samples = calls+c, samples+n
	}
	switch {
	case calls > lim.calls:
		return nil, fmt.Errorf("sim: the scenarios of the input could make up to %s upstream calls together, above the limit of %s; split the input",
			fmtCount(calls), fmtCount(lim.calls))
	case samples > lim.samples:
		return nil, fmt.Errorf("sim: the scenarios of the input sample %s breaker states (or limits) together, above the limit of %s; split the input",
			fmtCount(samples), fmtCount(lim.samples))
	}
	return list, nil
}

// readAtMost reads r to its end, or to n bytes if it has more. It reads
// into chunks that double in size up to 1 MiB and copies them together
// once, where io.ReadAll would copy a large input several times as it
// grows its buffer.
func readAtMost(r io.Reader, n int64) ([]byte, error) {
	var chunks [][]byte
	var total int64
	for size := int64(4 << 10); total < n; size = min(2*size, 1<<20) {
		buf := make([]byte, min(size, n-total))
		k, err := io.ReadFull(r, buf)
		chunks = append(chunks, buf[:k])
		total += int64(k)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(chunks) == 1 {
		return chunks[0], nil
	}
	return bytes.Join(chunks, nil), nil
}

// Check reports the first thing in s that makes no sense, or that goes past
// the simulator's limits (listed in the package doc), with the path of the
// field: negative rates, windows that end before they start, policy
// sections the library's own New functions refuse, a duration above a year,
// more upstream calls than a run may make.
func (s *Scenario) Check() error {
	fail := func(format string, args ...any) error {
		name := s.Name
		if name == "" {
			name = "(unnamed)"
		}
		return fmt.Errorf("sim: scenario %s: %s", name, fmt.Sprintf(format, args...))
	}
	if err := s.checkLimits(fail); err != nil {
		return err
	}
	u, l := &s.Upstream, &s.Load
	switch {
	case s.Duration <= 0:
		return fail("Duration must be positive")
	case s.Resolution < 0:
		return fail("Resolution must not be negative")
	case u.Latency.Median < 0 || u.Latency.P99 < 0 || u.Latency.Tail < 0:
		return fail("Upstream.Latency durations must not be negative")
	case u.Latency.P99 != 0 && time.Duration(u.Latency.P99) < u.latencyMedian():
		return fail("Upstream.Latency.P99 %v is below the median %v", time.Duration(u.Latency.P99), u.latencyMedian())
	case !isShare(u.Latency.TailProbability) || u.Latency.TailProbability == 1:
		return fail("Upstream.Latency.TailProbability must be in [0, 1)")
	case u.Latency.TailProbability > 0 && u.Latency.Tail == 0:
		return fail("Upstream.Latency.TailProbability needs a Tail")
	case !isShare(u.ErrorRate):
		return fail("Upstream.ErrorRate must be in [0, 1]")
	case u.Capacity < 0 || u.Capacity > lim.capacity:
		return fail("Upstream.Capacity must be in [0, %d]", lim.capacity)
	case u.RetryAfter < 0:
		return fail("Upstream.RetryAfter must not be negative")
	case u.MaxQueueDelay < 0:
		return fail("Upstream.MaxQueueDelay must not be negative")
	case u.RejectLatency < 0:
		return fail("Upstream.RejectLatency must not be negative")
	case l.Rate < 0 || l.Rate != l.Rate || l.Rate > lim.rate:
		return fail("Load.Rate must be in [0, %s] requests per second", fmtCount(lim.rate))
	case l.Clients < 0 || l.Clients > lim.clients:
		return fail("Load.Clients must be in [0, %d]", lim.clients)
	case l.Deadline < 0:
		return fail("Load.Deadline must not be negative")
	case len(s.Policies) == 0:
		return fail("no Policies to compare")
	}
	for i, w := range u.Windows {
		switch {
		case w.From < 0 || w.To <= w.From:
			return fail("Upstream.Windows[%d]: From must be at least 0 and To after it", i)
		case !isShare(w.ErrorRate):
			return fail("Upstream.Windows[%d].ErrorRate must be in [0, 1]", i)
		case !(w.LatencyFactor >= 0) || math.IsInf(w.LatencyFactor, 1):
			return fail("Upstream.Windows[%d].LatencyFactor must be a finite number, not negative", i)
		case w.Clients < 0 || w.Clients > l.clients():
			return fail("Upstream.Windows[%d].Clients must be in [0, Load.Clients]", i)
		case !(w.CapacityFactor >= 0) || math.IsInf(w.CapacityFactor, 1):
			return fail("Upstream.Windows[%d].CapacityFactor must be a finite number, not negative", i)
		case w.CapacityFactor != 0 && u.Capacity == 0:
			return fail("Upstream.Windows[%d].CapacityFactor needs an Upstream.Capacity to multiply", i)
		case w.CapacityFactor != 0 && w.Clients != 0:
			return fail("Upstream.Windows[%d]: CapacityFactor changes the upstream for every client; a window with Clients cannot set it", i)
		}
	}
	if n := maxWorkers(u); n > lim.capacity {
		return fail("Upstream.Capacity × the CapacityFactor of the windows comes to %d workers, above the limit of %d", n, lim.capacity)
	}
	for i, b := range l.Bursts {
		if b.At < 0 || b.At >= s.Duration || b.Requests < 0 {
			return fail("Load.Bursts[%d]: At must be in [0, Duration) and Requests not negative", i)
		}
	}
	names := make(map[string]bool)
	for i, p := range s.Policies {
		if p.Name == "" {
			return fail("Policies[%d] has no Name", i)
		}
		if names[p.Name] {
			return fail("two Policies are named %q", p.Name)
		}
		names[p.Name] = true
		if _, err := p.build(0, nil); err != nil {
			return fail("Policies[%d] (%s): %v", i, p.Name, err)
		}
		if err := p.checkFleet(l.clients()); err != nil {
			return fail("Policies[%d] (%s): %v", i, p.Name, err)
		}
	}
	return s.checkWork(fail)
}

func isShare(f float64) bool { return f >= 0 && f <= 1 }

// Defaults of a Scenario's zero fields, in one place for the run and the
// reports.
const (
	defaultSeed          = 1
	defaultResolution    = time.Second
	defaultMedian        = 20 * time.Millisecond
	defaultMaxQueueDelay = 500 * time.Millisecond
	defaultRejectLatency = time.Millisecond
	defaultDeadline      = 10 * time.Second
)

func (s *Scenario) seed() uint64 { return cmp.Or(s.Seed, defaultSeed) }

func (s *Scenario) resolution() time.Duration {
	return cmp.Or(time.Duration(s.Resolution), defaultResolution)
}

func (u *Upstream) latencyMedian() time.Duration {
	return cmp.Or(time.Duration(u.Latency.Median), defaultMedian)
}

func (l *Load) deadline() time.Duration {
	return cmp.Or(time.Duration(l.Deadline), defaultDeadline)
}

func (l *Load) clients() int { return max(l.Clients, 1) }

// stack is one client's instances of a Policy's parts.
type stack struct {
	retry    *retry.Policy
	budget   *budget.Budget
	tokens   *budget.Tokens
	breaker  *breaker.Breaker
	throttle *throttle.Throttle
	hedger   *hedge.Hedger
	timeout  time.Duration // the attempt timeout, 0 for none
	bulkhead *bulkhead.Bulkhead
	limiter  *adaptive.Limiter
}

// configs is a Policy mapped onto the Configs of the library's packages: a
// nil Config for a section the Policy does not have.
type configs struct {
	budget   *budget.Config
	tokens   *budget.TokensConfig
	retry    *retry.Config
	breaker  *breaker.Config
	throttle *throttle.Config
	hedge    *hedge.Config
	timeout  *timeout.Config
	bulkhead *bulkhead.Config
	adaptive *adaptive.Config
}

// budgetConfig maps p.Budget onto budget.Config; nil without one.
func (p *Policy) budgetConfig() *budget.Config {
	c := p.Budget
	if c == nil {
		return nil
	}
	return &budget.Config{Name: p.Name, Ratio: c.Ratio, MinPerSecond: c.MinPerSecond, Window: time.Duration(c.Window)}
}

// tokensConfig maps p.Tokens onto budget.TokensConfig; nil without one.
func (p *Policy) tokensConfig() *budget.TokensConfig {
	c := p.Tokens
	if c == nil {
		return nil
	}
	return &budget.TokensConfig{Name: p.Name, MaxTokens: c.MaxTokens, TokenRatio: c.TokenRatio}
}

// configs maps p's sections onto the Configs of their packages, field for
// field (the test of the mapping checks that every field of every Config is
// mapped, or is listed as not simulated), with b and tk, the budget and the
// token bucket made from p.Budget and p.Tokens, where a Config takes them,
// and seed for what draws random numbers of its own. It checks nothing that
// New checks.
func (p *Policy) configs(seed uint64, b *budget.Budget, tk *budget.Tokens) (configs, error) {
	cs := configs{budget: p.budgetConfig(), tokens: p.tokensConfig()}
	if c := p.Retry; c != nil {
		cs.retry = &retry.Config{
			Name:          p.Name,
			MaxAttempts:   c.MaxAttempts,
			MaxElapsed:    time.Duration(c.MaxElapsed),
			MaxRetryAfter: time.Duration(c.MaxRetryAfter),
			Budget:        b,
			Tokens:        tk,
		}
		if c.Backoff != nil {
			strategy, err := c.Backoff.strategy()
			if err != nil {
				return configs{}, err
			}
			cs.retry.Backoff = strategy
		}
	}
	if c := p.Breaker; c != nil {
		cs.breaker = &breaker.Config{
			Name:               p.Name,
			FailureThreshold:   c.FailureThreshold,
			RecoveryTimeout:    time.Duration(c.RecoveryTimeout),
			MaxRecoveryTimeout: time.Duration(c.MaxRecoveryTimeout),
			HalfOpenProbes:     c.HalfOpenProbes,
			ProbeTimeout:       time.Duration(c.ProbeTimeout),
			Window:             time.Duration(c.Window),
			FailureRate:        c.FailureRate,
			SlowCall:           time.Duration(c.SlowCall),
			SlowCallRate:       c.SlowCallRate,
			MinCalls:           c.MinCalls,
			Seed:               seed | 1,
		}
	}
	if c := p.Throttle; c != nil {
		cs.throttle = &throttle.Config{
			Name:                 p.Name,
			K:                    c.K,
			Window:               time.Duration(c.Window),
			MinRequests:          c.MinRequests,
			MaxRejectProbability: c.MaxRejectProbability,
			Seed:                 seed | 1,
		}
	}
	if c := p.Hedge; c != nil {
		cs.hedge = &hedge.Config{
			Name:         p.Name,
			Delay:        time.Duration(c.Delay),
			Percentile:   c.Percentile,
			InitialDelay: time.Duration(c.InitialDelay),
			MinSamples:   c.MinSamples,
			Window:       time.Duration(c.Window),
			MaxHedges:    c.MaxHedges,
		}
		if c.Failures {
			cs.hedge.Failures = resilience.Classify
		}
		cs.hedge.Tokens = tk
		if c.UseBudget {
			// The retry policy counts each request in the budget; without
			// one, the hedger counts each call it hedges.
			cs.hedge.Budget, cs.hedge.Deposit = b, p.Retry == nil
		}
	}
	if p.Timeout != 0 {
		cs.timeout = &timeout.Config{Name: p.Name, Timeout: time.Duration(p.Timeout)}
	}
	if c := p.Bulkhead; c != nil {
		cs.bulkhead = &bulkhead.Config{Name: p.Name, MaxConcurrent: c.MaxConcurrent}
	}
	if c := p.Adaptive; c != nil {
		var alg adaptive.Algorithm
		switch strings.ToLower(c.Algorithm) {
		case "", "aimd":
			alg = adaptive.AIMD
		case "gradient":
			alg = adaptive.Gradient
		default:
			return configs{}, fmt.Errorf("Adaptive.Algorithm %q is not one of aimd, gradient", c.Algorithm)
		}
		cs.adaptive = &adaptive.Config{
			Name:      p.Name,
			Algorithm: alg,
			Initial:   c.Initial,
			Min:       c.Min,
			Max:       c.Max,
			AIMD: adaptive.AIMDConfig{
				Increase: c.AIMD.Increase,
				Backoff:  c.AIMD.Backoff,
				Timeout:  time.Duration(c.AIMD.Timeout),
			},
			Gradient: adaptive.GradientConfig{
				Window:         time.Duration(c.Gradient.Window),
				WindowSamples:  c.Gradient.WindowSamples,
				MinSamples:     c.Gradient.MinSamples,
				Tolerance:      c.Gradient.Tolerance,
				Smoothing:      c.Gradient.Smoothing,
				BaselinePeriod: time.Duration(c.Gradient.BaselinePeriod),
			},
		}
	}
	return cs, nil
}

// checkFleet reports what makes no sense in p.Fleet for n replicas.
func (p *Policy) checkFleet(n int) error {
	c := p.Fleet
	if c == nil {
		return nil
	}
	switch {
	case p.Breaker == nil || p.Breaker.FailureRate == 0:
		return errors.New("Fleet needs a Breaker with a FailureRate (and its Window): the fleet opens on the sum of the replicas' windows")
	case c.Interval < 0 || c.Interval != 0 && time.Duration(c.Interval) < minFleetInterval:
		return fmt.Errorf("Fleet.Interval must be at least %v (or 0 for the default %v)", minFleetInterval, defaultFleetInterval)
	case c.RoundTrip < 0 || time.Duration(c.RoundTrip) > c.interval()/2:
		return fmt.Errorf("Fleet.RoundTrip must be in [0, Interval/2] (%v): a longer round trip fails the sync", c.interval()/2)
	case c.Quorum < 0 || c.Quorum > n:
		return fmt.Errorf("Fleet.Quorum must be in [0, Load.Clients] (%d)", n)
	case c.ProbeTTL < 0:
		return errors.New("Fleet.ProbeTTL must not be negative")
	}
	return nil
}

// build makes one client's instances of p, seeding what draws random
// numbers of its own with seed; obs, if not nil, observes its breaker.
func (p *Policy) build(seed uint64, obs *resilience.Observer) (*stack, error) {
	switch {
	case p.Budget != nil && p.Retry == nil && (p.Hedge == nil || !p.Hedge.UseBudget):
		return nil, errors.New("a Budget needs a Retry, or a Hedge with UseBudget, to spend it")
	case p.Hedge != nil && p.Hedge.UseBudget && p.Budget == nil:
		return nil, errors.New("Hedge.UseBudget needs a Budget")
	case p.Tokens != nil && p.Retry == nil && p.Hedge == nil:
		return nil, errors.New("Tokens needs a Retry or a Hedge to spend them")
	case p.Bulkhead != nil && p.Adaptive != nil:
		return nil, errors.New("a Policy has one concurrency limit: a Bulkhead or an Adaptive limit, not both")
	}
	st := &stack{}
	if c := p.budgetConfig(); c != nil {
		b, err := budget.New(*c)
		if err != nil {
			return nil, err
		}
		st.budget = b
	}
	if c := p.tokensConfig(); c != nil {
		tk, err := budget.NewTokens(*c)
		if err != nil {
			return nil, err
		}
		st.tokens = tk
	}
	cs, err := p.configs(seed, st.budget, st.tokens)
	if err != nil {
		return nil, err
	}
	if cs.breaker != nil {
		cs.breaker.Observer = obs
	}
	if cs.timeout != nil {
		t, err := timeout.New(*cs.timeout)
		if err != nil {
			return nil, err
		}
		st.timeout = t.Snapshot().Timeout
	}
	// The first error, in the order of the sections.
	if err := cmp.Or(
		newFrom(cs.retry, retry.New, &st.retry),
		newFrom(cs.breaker, breaker.New, &st.breaker),
		newFrom(cs.throttle, throttle.New, &st.throttle),
		newFrom(cs.hedge, hedge.New, &st.hedger),
		newFrom(cs.bulkhead, bulkhead.New, &st.bulkhead),
		newFrom(cs.adaptive, adaptive.New, &st.limiter),
	); err != nil {
		return nil, err
	}
	return st, nil
}

// newFrom sets *dst to what newPolicy makes of *cfg, unless cfg is nil.
func newFrom[C, P any](cfg *C, newPolicy func(C) (P, error), dst *P) error {
	if cfg == nil {
		return nil
	}
	p, err := newPolicy(*cfg)
	if err == nil {
		*dst = p
	}
	return err
}

func (b *BackoffConfig) strategy() (backoff.Strategy, error) {
	if b.Constant != 0 {
		if b.Base != 0 || b.Multiplier != 0 || b.Max != 0 || b.Jitter != "" {
			return nil, errors.New("Backoff: Constant excludes Base, Multiplier, Max and Jitter")
		}
		if b.Constant < 0 {
			return nil, errors.New("Backoff.Constant must not be negative")
		}
		return backoff.Constant(time.Duration(b.Constant)), nil
	}
	e := backoff.Exponential{Base: time.Duration(b.Base), Multiplier: b.Multiplier, Max: time.Duration(b.Max)}
	switch strings.ToLower(b.Jitter) {
	case "", "full":
		e.Jitter = backoff.FullJitter
	case "equal":
		e.Jitter = backoff.EqualJitter
	case "decorrelated":
		e.Jitter = backoff.DecorrelatedJitter
	case "none":
		e.Jitter = backoff.NoJitter
	default:
		return nil, fmt.Errorf("Backoff.Jitter %q is not one of full, equal, decorrelated, none", b.Jitter)
	}
	return e, nil
}

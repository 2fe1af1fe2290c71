package sim

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
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

// notSimulated marks a field of a package's Config that the simulator
// leaves at its zero value; what follows says why.
const notSimulated = "not simulated: "

// noWait says why no concurrency limit's wait is simulated.
const noWait = "a wait for room needs a goroutine and a timer; the simulator admits with TryAcquire, which answers at once, so a call beyond the limit is refused"

// shadowMode says why no Config's Shadow field is simulated.
const shadowMode = "a simulation shows what a policy does when it is on, and how the others fare with it; shadow mode, which lets every call through, is for watching a real policy before turning it on"

// Where the fields that the simulator sets itself come from.
const (
	fromSeed   = "the client's seed"
	fromBudget = "the policy's budget"
	fromTokens = "the policy's token bucket"
	fromRetry  = "whether the policy has a Retry"
	// fromFailures: resilience.Classify when Hedge.Failures is set, nil
	// otherwise.
	fromFailures = "Hedge.Failures"
)

// configFields says, for the Config of every package the simulator runs,
// where each exported field comes from: the path of a field of a Policy
// ("Retry.MaxAttempts"), one of the from constants, or notSimulated and
// why. TestConfigMapping checks that it lists every field, and that each
// mapped one gets its value from where it says; ratelimit and fallback are
// not simulated at all.
var configFields = []struct {
	typ    reflect.Type
	built  func(*configs) any // the Config configs made, or nil
	fields map[string]string
}{
	{reflect.TypeFor[retry.Config](), func(c *configs) any { return c.retry }, map[string]string{
		"MaxAttempts":   "Retry.MaxAttempts",
		"Backoff":       "Retry.Backoff",
		"MaxElapsed":    "Retry.MaxElapsed",
		"MaxRetryAfter": "Retry.MaxRetryAfter",
		"Budget":        fromBudget,
		"Tokens":        fromTokens,
		"Classifier":    notSimulated + "the simulated upstream's errors are transient, as the default classifier says",
		"Name":          "Name",
		"Observer":      notSimulated + "an observer; the simulator counts what the policies do itself",
	}},
	{reflect.TypeFor[backoff.Exponential](), func(c *configs) any {
		if c.retry == nil {
			return nil
		}
		e, _ := c.retry.Backoff.(backoff.Exponential)
		return &e
	}, map[string]string{
		"Base":       "Retry.Backoff.Base",
		"Multiplier": "Retry.Backoff.Multiplier",
		"Max":        "Retry.Backoff.Max",
		"Jitter":     "Retry.Backoff.Jitter",
	}},
	{reflect.TypeFor[budget.Config](), func(c *configs) any { return c.budget }, map[string]string{
		"Name":         "Name",
		"Ratio":        "Budget.Ratio",
		"MinPerSecond": "Budget.MinPerSecond",
		"Window":       "Budget.Window",
		"Observer":     notSimulated + "an observer; the simulator counts what the policies do itself",
		"Shadow":       notSimulated + shadowMode,
	}},
	{reflect.TypeFor[budget.TokensConfig](), func(c *configs) any { return c.tokens }, map[string]string{
		"Name":       "Name",
		"MaxTokens":  "Tokens.MaxTokens",
		"TokenRatio": "Tokens.TokenRatio",
		"Observer":   notSimulated + "an observer; the simulator counts what the policies do itself",
	}},
	{reflect.TypeFor[breaker.Config](), func(c *configs) any { return c.breaker }, map[string]string{
		"Name":               "Name",
		"FailureThreshold":   "Breaker.FailureThreshold",
		"RecoveryTimeout":    "Breaker.RecoveryTimeout",
		"MaxRecoveryTimeout": "Breaker.MaxRecoveryTimeout",
		"HalfOpenProbes":     "Breaker.HalfOpenProbes",
		"ProbeTimeout":       "Breaker.ProbeTimeout",
		"Window":             "Breaker.Window",
		"FailureRate":        "Breaker.FailureRate",
		"SlowCall":           "Breaker.SlowCall",
		"SlowCallRate":       "Breaker.SlowCallRate",
		"MinCalls":           "Breaker.MinCalls",
		"Seed":               fromSeed,
		"Classifier":         notSimulated + "the simulated upstream's errors are transient, as the default classifier says",
		"Observer":           notSimulated + "an observer; the simulator counts what the policies do itself (a Fleet's model observes its breakers, after the mapping)",
		"Shadow":             notSimulated + shadowMode,
	}},
	{reflect.TypeFor[throttle.Config](), func(c *configs) any { return c.throttle }, map[string]string{
		"Name":                 "Name",
		"K":                    "Throttle.K",
		"Window":               "Throttle.Window",
		"MinRequests":          "Throttle.MinRequests",
		"MaxRejectProbability": "Throttle.MaxRejectProbability",
		"Seed":                 fromSeed,
		"Classifier":           notSimulated + "the simulated upstream's errors are transient, as the default classifier says",
		"Observer":             notSimulated + "an observer; the simulator counts what the policies do itself",
		"Shadow":               notSimulated + shadowMode,
	}},
	{reflect.TypeFor[hedge.Config](), func(c *configs) any { return c.hedge }, map[string]string{
		"Name":         "Name",
		"Delay":        "Hedge.Delay",
		"Percentile":   "Hedge.Percentile",
		"InitialDelay": "Hedge.InitialDelay",
		"MinSamples":   "Hedge.MinSamples",
		"Window":       "Hedge.Window",
		"MaxHedges":    "Hedge.MaxHedges",
		"Budget":       fromBudget,
		"Deposit":      fromRetry,
		"Failures":     fromFailures,
		"Tokens":       fromTokens,
		"Observer":     notSimulated + "an observer; the simulator counts what the policies do itself",
	}},
	{reflect.TypeFor[bulkhead.Config](), func(c *configs) any { return c.bulkhead }, map[string]string{
		"Name":          "Name",
		"MaxConcurrent": "Bulkhead.MaxConcurrent",
		"MaxWait":       notSimulated + noWait,
		"MaxQueue":      notSimulated + noWait,
		"Observer":      notSimulated + "an observer; the simulator counts what the policies do itself",
		"Shadow":        notSimulated + shadowMode,
	}},
	{reflect.TypeFor[adaptive.Config](), func(c *configs) any { return c.adaptive }, map[string]string{
		"Name":       "Name",
		"Algorithm":  "Adaptive.Algorithm",
		"Initial":    "Adaptive.Initial",
		"Min":        "Adaptive.Min",
		"Max":        "Adaptive.Max",
		"AIMD":       "Adaptive.AIMD",
		"Gradient":   "Adaptive.Gradient",
		"Classify":   notSimulated + "the simulated upstream's errors are transient, as the default classifier says",
		"MaxWait":    notSimulated + noWait,
		"MaxQueue":   notSimulated + noWait,
		"Priorities": notSimulated + "the simulated load has one priority",
		"Shares":     notSimulated + "as Priorities",
		"Observer":   notSimulated + "an observer; the simulator counts what the policies do itself",
		"Shadow":     notSimulated + shadowMode,
	}},
	{reflect.TypeFor[adaptive.AIMDConfig](), func(c *configs) any {
		if c.adaptive == nil {
			return (*adaptive.AIMDConfig)(nil)
		}
		return &c.adaptive.AIMD
	}, map[string]string{
		"Increase": "Adaptive.AIMD.Increase",
		"Backoff":  "Adaptive.AIMD.Backoff",
		"Timeout":  "Adaptive.AIMD.Timeout",
	}},
	{reflect.TypeFor[adaptive.GradientConfig](), func(c *configs) any {
		if c.adaptive == nil {
			return (*adaptive.GradientConfig)(nil)
		}
		return &c.adaptive.Gradient
	}, map[string]string{
		"Window":         "Adaptive.Gradient.Window",
		"WindowSamples":  "Adaptive.Gradient.WindowSamples",
		"MinSamples":     "Adaptive.Gradient.MinSamples",
		"Tolerance":      "Adaptive.Gradient.Tolerance",
		"Smoothing":      "Adaptive.Gradient.Smoothing",
		"BaselinePeriod": "Adaptive.Gradient.BaselinePeriod",
	}},
	{reflect.TypeFor[timeout.Config](), func(c *configs) any { return c.timeout }, map[string]string{
		"Name":         "Name",
		"Timeout":      "Timeout",
		"Abandon":      notSimulated + "the simulator runs no function to abandon: an attempt ends at its timeout, and its upstream call runs on either way",
		"MaxAbandoned": notSimulated + "as Abandon",
		"Observer":     notSimulated + "an observer; the simulator counts what the policies do itself",
	}},
}

// policyOnly lists the fields of a Policy that map onto no one field of a
// Config, and why.
var policyOnly = map[string]string{
	"Hedge.UseBudget":        "chooses whether hedge.Config.Budget is the policy's budget",
	"Retry.Backoff.Constant": "makes retry.Config.Backoff a backoff.Constant: TestConfigMapping checks it on its own",
	"Fleet.Interval":         "resilienceredis.BreakerConfig.Interval, which the fleet model (fleet.go) runs itself",
	"Fleet.RoundTrip":        "the time Redis takes to deliver a transition, in the fleet model",
	"Fleet.Quorum":           "resilienceredis.BreakerConfig.Quorum, in the fleet model",
	"Fleet.ProbeTTL":         "resilienceredis.BreakerConfig.ProbeTTL, in the fleet model",
}

// fillPolicy sets every field of p that a scenario file can hold, the
// sections' too, to a value of its own: numbers and durations that differ
// from each other, names the JSON accepts. It leaves Retry.Backoff.Constant
// zero, since it excludes the other fields of the backoff.
func fillPolicy(p *Policy) {
	n := 0
	var fill func(v reflect.Value, path string)
	fill = func(v reflect.Value, path string) {
		n++
		switch {
		case path == "Retry.Backoff.Constant":
		case path == "Retry.Backoff.Jitter":
			v.SetString("equal")
		case path == "Adaptive.Algorithm":
			v.SetString("gradient")
		case v.Type() == durationType:
			v.SetInt(int64(n)*int64(time.Millisecond) + int64(n))
		case v.Kind() == reflect.Pointer:
			v.Set(reflect.New(v.Type().Elem()))
			fill(v.Elem(), path)
		case v.Kind() == reflect.Struct:
			for i := range v.NumField() {
				name := v.Type().Field(i).Name
				if path != "" {
					name = path + "." + name
				}
				fill(v.Field(i), name)
			}
		case v.Kind() == reflect.Int:
			v.SetInt(int64(n))
		case v.Kind() == reflect.Float64:
			v.SetFloat(float64(n) + 0.25)
		case v.Kind() == reflect.String:
			v.SetString(fmt.Sprintf("name %d", n))
		case v.Kind() == reflect.Bool:
			v.SetBool(true)
		default:
			panic("fillPolicy: a field of kind " + v.Kind().String() + " at " + path)
		}
	}
	fill(reflect.ValueOf(p).Elem(), "")
}

// leafPaths returns the paths of the fields of t that hold values, not
// sections.
func leafPaths(t reflect.Type, path string) []string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == durationType {
		return []string{path}
	}
	var paths []string
	for i := range t.NumField() {
		name := t.Field(i).Name
		if path != "" {
			name = path + "." + name
		}
		paths = append(paths, leafPaths(t.Field(i).Type, name)...)
	}
	return paths
}

// fieldAt returns the field of p at path.
func fieldAt(p *Policy, path string) reflect.Value {
	v := reflect.ValueOf(p).Elem()
	for _, name := range strings.Split(path, ".") {
		v = reflect.Indirect(v).FieldByName(name)
	}
	return v
}

// sameValue reports whether got, a field of a Config, holds what want, a
// field of a Policy, says.
func sameValue(got, want reflect.Value) bool {
	switch {
	case got.Type() == reflect.TypeFor[backoff.Jitter]():
		return want.String() == "equal" && got.Interface() == backoff.EqualJitter
	case got.Type() == reflect.TypeFor[adaptive.Algorithm]():
		return want.String() == "gradient" && got.Interface() == adaptive.Gradient
	case want.CanInt() && got.CanInt():
		return got.Int() == want.Int()
	case want.CanFloat() && got.CanFloat():
		return got.Float() == want.Float()
	case want.Kind() == reflect.String && got.Kind() == reflect.String:
		return got.String() == want.String()
	}
	return false
}

// TestConfigMapping checks that the simulator maps every field of every
// Config it builds, or says why not (configFields): a field added to a
// Config makes it fail until it is mapped or listed. It fills every field of
// a Policy with a value of its own and checks that each mapped field of
// each Config holds the value of its field of the Policy; and that every
// field of a Policy reaches a Config.
func TestConfigMapping(t *testing.T) {
	var p Policy
	fillPolicy(&p)
	const seed = 0x5eed0
	b := budget.MustNew(budget.Config{})
	tk := budget.MustNewTokens(budget.TokensConfig{})
	cs, err := p.configs(seed, b, tk)
	if err != nil {
		t.Fatal(err)
	}
	reached := map[string]bool{}
	for _, c := range configFields {
		name := c.typ.String()
		for i := range c.typ.NumField() {
			if f := c.typ.Field(i); f.IsExported() && c.fields[f.Name] == "" {
				t.Errorf("%s.%s is neither mapped from a field of a scenario's Policy nor listed as not simulated: map it in Policy.configs and list it in configFields", name, f.Name)
			}
		}
		built := reflect.ValueOf(c.built(&cs))
		if built.IsNil() {
			t.Errorf("%s: a Policy with every section set made none", name)
			continue
		}
		cfg := built.Elem()
		for field, from := range c.fields {
			got := cfg.FieldByName(field)
			if !got.IsValid() {
				t.Errorf("%s has no field %s, which configFields lists", name, field)
				continue
			}
			switch {
			case strings.HasPrefix(from, notSimulated):
				if !got.IsZero() {
					t.Errorf("%s.%s is listed as not simulated, but the simulator sets it", name, field)
				}
			case from == fromSeed:
				if got.Uint() != seed|1 {
					t.Errorf("%s.%s is %d; want the client's seed %d", name, field, got.Uint(), seed|1)
				}
			case from == fromBudget:
				if got.Interface() != b {
					t.Errorf("%s.%s is not the policy's budget", name, field)
				}
			case from == fromTokens:
				if got.Interface() != tk {
					t.Errorf("%s.%s is not the policy's token bucket", name, field)
				}
			case from == fromRetry:
				// The policy has a Retry, which counts each request in the
				// budget; without one, the hedger counts them.
				q := p
				q.Retry = nil
				alone, _ := q.configs(seed, b, tk)
				if got.Bool() || !alone.hedge.Deposit {
					t.Errorf("%s.%s is %v with a Retry and %v without; want false, true", name, field, got.Bool(), alone.hedge.Deposit)
				}
			case from == fromFailures:
				reached[from] = true
				q := p
				q.Hedge = &HedgeConfig{}
				without, _ := q.configs(seed, b, tk)
				if got.IsNil() || got.Pointer() != reflect.ValueOf(resilience.Classify).Pointer() || without.hedge.Failures != nil {
					t.Errorf("%s.%s: want resilience.Classify with Hedge.Failures set, nil without", name, field)
				}
			case from == "Retry.Backoff":
				reached[from] = true // its fields are checked as backoff.Exponential's
				if got.IsNil() {
					t.Errorf("%s.%s is nil", name, field)
				}
			case from == "Adaptive.AIMD" || from == "Adaptive.Gradient":
				// Their fields are checked as adaptive.AIMDConfig's and
				// adaptive.GradientConfig's.
				if got.IsZero() {
					t.Errorf("%s.%s is zero", name, field)
				}
			default:
				want := fieldAt(&p, from)
				reached[from] = true
				if !sameValue(got, want) {
					t.Errorf("%s.%s is %v; want %v, from the Policy's %s", name, field, got, want, from)
				}
			}
		}
	}
	for _, path := range leafPaths(reflect.TypeFor[Policy](), "") {
		if !reached[path] && policyOnly[path] == "" {
			t.Errorf("the Policy's %s reaches no field of a Config: map it in Policy.configs and list it in configFields", path)
		}
	}

	// A constant backoff.
	p.Retry.Backoff = &BackoffConfig{Constant: Duration(1234 * time.Millisecond)}
	if cs, err = p.configs(seed, b, tk); err != nil || cs.retry.Backoff != backoff.Constant(1234*time.Millisecond) {
		t.Errorf("Backoff.Constant 1.234s gave %v, %v; want backoff.Constant(1.234s)", cs.retry.Backoff, err)
	}
}

package resilienceotel

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/ratelimit"
	"github.com/netresilience/resilience/throttle"
	"github.com/netresilience/resilience/timeout"
)

// registration is one policy whose gauges are read at each collection.
type registration struct {
	kind    resilience.Kind
	name    string
	observe func(metric.Observer, *instruments)
}

// Register adds policies whose gauges the meter reads from their Snapshot
// at each collection, and returns the func that removes them again (it may
// be called more than once). It takes a *breaker.Breaker,
// *bulkhead.Bulkhead, *budget.Budget, *throttle.Throttle,
// *ratelimit.Limiter, *hedge.Hedger or *timeout.Timeout; the package doc
// lists what each gives. A breaker's state is read, not inferred from its
// events, so that one that never changed reports closed.
//
// Register adds all of them or none: it returns an error for a nil policy or
// one of another type, for two policies of the same kind and name (their
// series would be one), and past Config.MaxPolicies registered at once.
// Without a MeterProvider, it registers nothing and returns a func that does
// nothing. Policies without observable state (a retry policy, a fallback)
// need no registration: their events feed the metrics.
func (t *Telemetry) Register(policies ...any) (unregister func(), err error) {
	if t == nil {
		return func() {}, errNil
	}
	if t.metrics == nil {
		return func() {}, nil
	}
	added := make([]*registration, 0, len(policies))
	for i, p := range policies {
		r, err := newRegistration(p)
		if err != nil {
			return func() {}, fmt.Errorf("resilienceotel: Register: policy %d: %w", i, err)
		}
		added = append(added, r)
	}
	t.regsMu.Lock()
	defer t.regsMu.Unlock()
	old := *t.regs.Load()
	if len(old)+len(added) > t.maxPolicies {
		return func() {}, fmt.Errorf("resilienceotel: Register: more than %d policies (Config.MaxPolicies)", t.maxPolicies)
	}
	for i, r := range added {
		for _, o := range append(old[:len(old):len(old)], added[:i]...) {
			if o.kind == r.kind && o.name == r.name {
				return func() {}, fmt.Errorf("resilienceotel: Register: two policies of kind %s named %s", r.kind, strconv.Quote(r.name))
			}
		}
	}
	regs := append(slices.Clip(old), added...)
	t.regs.Store(&regs)
	var once sync.Once
	return func() { once.Do(func() { t.unregister(added) }) }, nil
}

// unregister removes the registrations added.
func (t *Telemetry) unregister(added []*registration) {
	t.regsMu.Lock()
	defer t.regsMu.Unlock()
	regs := slices.DeleteFunc(slices.Clone(*t.regs.Load()), func(r *registration) bool {
		return slices.Contains(added, r)
	})
	t.regs.Store(&regs)
}

// collect is the callback of the observable instruments: it reads the
// registered policies' snapshots, with no lock of this package held.
func (t *Telemetry) collect(_ context.Context, o metric.Observer) error {
	for _, r := range *t.regs.Load() {
		r.observe(o, t.metrics)
	}
	return nil
}

// nameOption returns the option giving a measurement the policy's name.
func nameOption(name string) metric.ObserveOption {
	return metric.WithAttributeSet(attribute.NewSet(AttrPolicyName.String(name)))
}

// breakerStates are the states resilience.breaker.state reports.
var breakerStates = [...]breaker.State{breaker.Closed, breaker.Open, breaker.HalfOpen}

// newRegistration returns the registration of p.
func newRegistration(p any) (*registration, error) {
	switch p := p.(type) {
	case *breaker.Breaker:
		if p == nil {
			break
		}
		name := p.Name()
		var states [len(breakerStates)]metric.ObserveOption
		for i, s := range breakerStates {
			states[i] = metric.WithAttributeSet(attribute.NewSet(AttrPolicyName.String(name), AttrBreakerState.String(s.String())))
		}
		return &registration{kind: resilience.KindBreaker, name: name, observe: func(o metric.Observer, in *instruments) {
			now := p.Snapshot().State
			for i, s := range breakerStates {
				v := int64(0)
				if s == now {
					v = 1
				}
				o.ObserveInt64(in.breakerState, v, states[i])
			}
		}}, nil
	case *bulkhead.Bulkhead:
		if p == nil {
			break
		}
		s := p.Snapshot()
		opt := nameOption(s.Name)
		return &registration{kind: resilience.KindBulkhead, name: s.Name, observe: func(o metric.Observer, in *instruments) {
			s := p.Snapshot()
			o.ObserveInt64(in.bulkheadActive, int64(s.InFlight), opt)
			o.ObserveInt64(in.bulkheadQueued, int64(s.Waiting), opt)
			o.ObserveInt64(in.bulkheadLimit, int64(s.MaxConcurrent), opt)
		}}, nil
	case *budget.Budget:
		if p == nil {
			break
		}
		s := p.Snapshot()
		opt := nameOption(s.Name)
		return &registration{kind: resilience.KindBudget, name: s.Name, observe: func(o metric.Observer, in *instruments) {
			o.ObserveFloat64(in.budgetBalance, p.Snapshot().Balance, opt)
		}}, nil
	case *throttle.Throttle:
		if p == nil {
			break
		}
		s := p.Snapshot()
		opt := nameOption(s.Name)
		return &registration{kind: resilience.KindThrottle, name: s.Name, observe: func(o metric.Observer, in *instruments) {
			o.ObserveFloat64(in.throttleProb, p.Snapshot().Probability, opt)
		}}, nil
	case *ratelimit.Limiter:
		if p == nil {
			break
		}
		s := p.Snapshot()
		opt := nameOption(s.Name)
		return &registration{kind: resilience.KindRateLimit, name: s.Name, observe: func(o metric.Observer, in *instruments) {
			s := p.Snapshot()
			o.ObserveFloat64(in.rateLimitTokens, s.Tokens, opt)
			o.ObserveInt64(in.rateLimitQueued, int64(s.Waiting), opt)
		}}, nil
	case *hedge.Hedger:
		if p == nil {
			break
		}
		s := p.Snapshot()
		opt := nameOption(s.Name)
		return &registration{kind: resilience.KindHedge, name: s.Name, observe: func(o metric.Observer, in *instruments) {
			o.ObserveInt64(in.hedgeWon, int64(p.Snapshot().Won), opt)
		}}, nil
	case *timeout.Timeout:
		if p == nil {
			break
		}
		s := p.Snapshot()
		opt := nameOption(s.Name)
		return &registration{kind: resilience.KindTimeout, name: s.Name, observe: func(o metric.Observer, in *instruments) {
			o.ObserveInt64(in.timeoutAbandoned, int64(p.Snapshot().AbandonedRunning), opt)
		}}, nil
	default:
		return nil, fmt.Errorf("%T has no gauges to read", p)
	}
	return nil, fmt.Errorf("nil %T", p)
}

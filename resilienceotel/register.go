package resilienceotel

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/ratelimit"
	"github.com/netresilience/resilience/reconnect"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/throttle"
	"github.com/netresilience/resilience/timeout"
)

// registration is one policy whose gauges are read at each collection.
type registration struct {
	policy  any
	kind    resilience.Kind
	name    string // "" for a transport, whose breakers have their own
	observe func(metric.Observer, *instruments)
}

// Register adds policies whose gauges the meter reads from their Snapshot
// at each collection, and returns the func that removes them again (it may
// be called more than once). It takes a *breaker.Breaker,
// *bulkhead.Bulkhead, *adaptive.Limiter, *budget.Budget,
// *throttle.Throttle, *ratelimit.Limiter, *hedge.Hedger, *timeout.Timeout
// or a *reconnect.Supervisor (of any connection type); the package doc
// lists what each gives. A breaker's state is read, not inferred from its
// events, so that one that never changed reports closed. It also takes a
// *resiliencehttp.Transport, whose breakers and adaptive limiters, one per
// host, are read as they come and go (resiliencehttp.Transport.Breakers and
// Limiters), each named after
// its host.
//
// Register adds all of them or none: it returns an error for a nil policy or
// one of another type, for a policy registered twice or two policies of the
// same kind and name (their series would be one), and past
// Config.MaxPolicies registered at once.
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
			if o.policy == r.policy {
				return func() {}, fmt.Errorf("resilienceotel: Register: %T registered twice", r.policy)
			}
			if o.kind == r.kind && o.kind != resilience.KindTransport && o.name == r.name {
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

// stateOptions returns the options of the series of resilience.breaker.state
// for the breaker named name.
func stateOptions(name string) (opts [len(breakerStates)]metric.ObserveOption) {
	for i, s := range breakerStates {
		opts[i] = metric.WithAttributeSet(attribute.NewSet(AttrPolicyName.String(name), AttrBreakerState.String(s.String())))
	}
	return opts
}

// observeState reports state as the current one of a breaker whose series
// have the options opts.
func observeState(o metric.Observer, in *instruments, state breaker.State, opts *[len(breakerStates)]metric.ObserveOption) {
	for i, s := range breakerStates {
		v := int64(0)
		if s == state {
			v = 1
		}
		o.ObserveInt64(in.breakerState, v, opts[i])
	}
}

// reconnectSnapshotter is a *reconnect.Supervisor of any connection type.
type reconnectSnapshotter interface{ Snapshot() reconnect.Snapshot }

// reconnectStates are the states resilience.reconnect.state reports.
var reconnectStates = [...]reconnect.State{reconnect.Idle, reconnect.Dialing, reconnect.Connected, reconnect.Waiting}

// isNilPointer reports whether p holds a nil pointer.
func isNilPointer(p any) bool {
	v := reflect.ValueOf(p)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// hostStates reports the states of a transport's breakers, keeping the
// options of the hosts it saw at the last collection.
type hostStates struct {
	mu      sync.Mutex
	opts    map[string]*[len(breakerStates)]metric.ObserveOption
	limOpts map[string]metric.ObserveOption
}

func (h *hostStates) observe(o metric.Observer, in *instruments, breakers map[string]*breaker.Breaker, limiters map[string]*adaptive.Limiter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	opts := make(map[string]*[len(breakerStates)]metric.ObserveOption, len(breakers))
	for host, b := range breakers {
		opt := h.opts[host]
		if opt == nil {
			s := stateOptions(host)
			opt = &s
		}
		opts[host] = opt
		observeState(o, in, b.Snapshot().State, opt)
	}
	h.opts = opts // hosts the transport dropped are dropped here too
	limOpts := make(map[string]metric.ObserveOption, len(limiters))
	for host, l := range limiters {
		opt, ok := h.limOpts[host]
		if !ok {
			opt = nameOption(host)
		}
		limOpts[host] = opt
		observeAdaptive(o, in, l.Snapshot(), opt)
	}
	h.limOpts = limOpts
}

// observeAdaptive reports an adaptive limiter's gauges from its snapshot.
func observeAdaptive(o metric.Observer, in *instruments, s adaptive.Snapshot, opt metric.ObserveOption) {
	o.ObserveInt64(in.adaptiveLimit, int64(s.Limit), opt)
	o.ObserveInt64(in.adaptiveActive, int64(s.InFlight), opt)
	o.ObserveInt64(in.adaptiveQueued, int64(s.Waiting), opt)
	// The Gradient's latencies, once its first window has closed; AIMD has
	// none, and a zero would read as a latency.
	if s.Algorithm == adaptive.Gradient && s.Baseline > 0 {
		o.ObserveFloat64(in.adaptiveBaseline, s.Baseline.Seconds(), opt)
	}
	if s.Algorithm == adaptive.Gradient && s.Latency > 0 {
		o.ObserveFloat64(in.adaptiveLatency, s.Latency.Seconds(), opt)
	}
}

// newRegistration returns the registration of p.
func newRegistration(p any) (*registration, error) {
	switch p := p.(type) {
	case *breaker.Breaker:
		if p == nil {
			break
		}
		name := p.Name()
		opts := stateOptions(name)
		return &registration{policy: p, kind: resilience.KindBreaker, name: name, observe: func(o metric.Observer, in *instruments) {
			observeState(o, in, p.Snapshot().State, &opts)
		}}, nil
	case *bulkhead.Bulkhead:
		if p == nil {
			break
		}
		s := p.Snapshot()
		opt := nameOption(s.Name)
		return &registration{policy: p, kind: resilience.KindBulkhead, name: s.Name, observe: func(o metric.Observer, in *instruments) {
			s := p.Snapshot()
			o.ObserveInt64(in.bulkheadActive, int64(s.InFlight), opt)
			o.ObserveInt64(in.bulkheadQueued, int64(s.Waiting), opt)
			o.ObserveInt64(in.bulkheadLimit, int64(s.MaxConcurrent), opt)
		}}, nil
	case *adaptive.Limiter:
		if p == nil {
			break
		}
		name := p.Name()
		opt := nameOption(name)
		return &registration{policy: p, kind: resilience.KindAdaptive, name: name, observe: func(o metric.Observer, in *instruments) {
			observeAdaptive(o, in, p.Snapshot(), opt)
		}}, nil
	case *budget.Budget:
		if p == nil {
			break
		}
		s := p.Snapshot()
		opt := nameOption(s.Name)
		return &registration{policy: p, kind: resilience.KindBudget, name: s.Name, observe: func(o metric.Observer, in *instruments) {
			o.ObserveFloat64(in.budgetBalance, p.Snapshot().Balance, opt)
		}}, nil
	case *throttle.Throttle:
		if p == nil {
			break
		}
		s := p.Snapshot()
		opt := nameOption(s.Name)
		return &registration{policy: p, kind: resilience.KindThrottle, name: s.Name, observe: func(o metric.Observer, in *instruments) {
			o.ObserveFloat64(in.throttleProb, p.Snapshot().Probability, opt)
		}}, nil
	case *ratelimit.Limiter:
		if p == nil {
			break
		}
		s := p.Snapshot()
		opt := nameOption(s.Name)
		return &registration{policy: p, kind: resilience.KindRateLimit, name: s.Name, observe: func(o metric.Observer, in *instruments) {
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
		return &registration{policy: p, kind: resilience.KindHedge, name: s.Name, observe: func(o metric.Observer, in *instruments) {
			o.ObserveInt64(in.hedgeWon, int64(p.Snapshot().Won), opt)
		}}, nil
	case *timeout.Timeout:
		if p == nil {
			break
		}
		s := p.Snapshot()
		opt := nameOption(s.Name)
		return &registration{policy: p, kind: resilience.KindTimeout, name: s.Name, observe: func(o metric.Observer, in *instruments) {
			o.ObserveInt64(in.timeoutAbandoned, int64(p.Snapshot().AbandonedRunning), opt)
		}}, nil
	case reconnectSnapshotter:
		if isNilPointer(p) {
			break
		}
		name := p.Snapshot().Name
		var opts [len(reconnectStates)]metric.ObserveOption
		for i, s := range reconnectStates {
			opts[i] = metric.WithAttributeSet(attribute.NewSet(AttrPolicyName.String(name), AttrReconnectState.String(s.String())))
		}
		return &registration{policy: p, kind: resilience.KindReconnect, name: name, observe: func(o metric.Observer, in *instruments) {
			now := p.Snapshot().State
			for i, s := range reconnectStates {
				v := int64(0)
				if s == now {
					v = 1
				}
				o.ObserveInt64(in.reconnectState, v, opts[i])
			}
		}}, nil
	case *resiliencehttp.Transport:
		if p == nil {
			break
		}
		hosts := &hostStates{}
		return &registration{policy: p, kind: resilience.KindTransport, observe: func(o metric.Observer, in *instruments) {
			hosts.observe(o, in, maps.Collect(iter.Seq2[string, *breaker.Breaker](p.Breakers)),
				maps.Collect(iter.Seq2[string, *adaptive.Limiter](p.Limiters)))
		}}, nil
	default:
		return nil, fmt.Errorf("%T has no gauges to read", p)
	}
	return nil, fmt.Errorf("nil %T", p)
}

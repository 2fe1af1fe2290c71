package resilienceotel

import (
	"context"
	"errors"
	"maps"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/retry"
)

// The attribute keys of the metrics. Their values come from a small, fixed
// set (names given in the policies' configs, kinds, outcomes, reasons,
// states): no per-call value is ever an attribute of a metric.
const (
	// AttrPolicyName is the policy's Config.Name ("" if it has none); for
	// the breakers of resiliencehttp.Transport, the host.
	AttrPolicyName = attribute.Key("resilience.policy.name")
	// AttrPolicyKind is the kind of policy, as resilience.Kind's String
	// gives it: "retry", "breaker", "bulkhead", ...
	AttrPolicyKind = attribute.Key("resilience.policy.kind")
	// AttrOutcome is how a call through a retry policy ended: "success",
	// "transient", "permanent", "ignored", "rejected" or "canceled".
	AttrOutcome = attribute.Key("resilience.outcome")
	// AttrRetried says whether the call made more than one attempt.
	AttrRetried = attribute.Key("resilience.retried")
	// AttrReason is why: a retry policy's reason to give up (retry.Reason's
	// String, such as "attempts exhausted"), a rejection's reason (such as
	// "open", "queue full"), the class of a failure that fell back (such as
	// "transient").
	AttrReason = attribute.Key("resilience.reason")
	// AttrShadow is true on the rejections and breaker transitions of a
	// policy in shadow mode: what it would have done, while it let every
	// call through. It is absent on real ones.
	AttrShadow = attribute.Key("resilience.shadow")
	// AttrBreakerState is a breaker state: "closed", "open", "half-open".
	AttrBreakerState = attribute.Key("resilience.breaker.state")
	// AttrBreakerFrom and AttrBreakerTo are the states a breaker left and
	// entered.
	AttrBreakerFrom = attribute.Key("resilience.breaker.from_state")
	AttrBreakerTo   = attribute.Key("resilience.breaker.to_state")
	// AttrReconnectState is a connection supervisor's state: "idle",
	// "dialing", "connected", "waiting".
	AttrReconnectState = attribute.Key("resilience.reconnect.state")
	// AttrAdaptiveDirection is which way an adaptive limiter's limit
	// moved: "increase" or "decrease".
	AttrAdaptiveDirection = attribute.Key("resilience.adaptive.direction")
	// AttrFleetMode is the mode a fleet policy (module resilienceredis)
	// entered: "fleet" (sharing state through Redis) or "local" (deciding
	// alone, Redis being unreachable or its data bad).
	AttrFleetMode = attribute.Key("resilience.fleet.mode")
)

// The directions of resilience.adaptive.limit_changes.
const (
	DirectionIncrease = "increase"
	DirectionDecrease = "decrease"
)

// The outcomes of resilience.retry.calls.
const (
	OutcomeSuccess   = "success"
	OutcomeTransient = "transient"
	OutcomePermanent = "permanent"
	OutcomeIgnored   = "ignored"
	OutcomeRejected  = "rejected"
	OutcomeCanceled  = "canceled"
)

// instrument numbers the event-fed instruments, for setKey.
type instrument uint8

const (
	instRetryCalls instrument = iota + 1 // retry.calls and retry.attempts share their sets
	instRetryDelay
	instRejections
	instTransitions
	instBulkheadWait
	instRateLimitWait
	instHedgeSent
	instFallbacks
	instTimeouts
	instAbandoned
	instPaceWait
	instConnections
	instLosses
	instDialFailures
	instAdaptiveWait
	instLimitChanges
	instFleetModes
)

// instruments holds the instruments of one meter.
type instruments struct {
	retryCalls    metric.Int64Counter
	retryAttempts metric.Int64Histogram
	retryDelay    metric.Float64Histogram
	rejections    metric.Int64Counter
	transitions   metric.Int64Counter
	bulkheadWait  metric.Float64Histogram
	rateLimitWait metric.Float64Histogram
	hedgeSent     metric.Int64Counter
	fallbacks     metric.Int64Counter
	timeouts      metric.Int64Counter
	abandoned     metric.Int64Counter
	paceWait      metric.Float64Histogram
	connections   metric.Int64Counter
	downtime      metric.Float64Histogram
	losses        metric.Int64Counter
	uptime        metric.Float64Histogram
	dialFailures  metric.Int64Counter
	adaptiveWait  metric.Float64Histogram
	limitChanges  metric.Int64Counter
	fleetModes    metric.Int64Counter

	breakerState     metric.Int64ObservableGauge
	bulkheadActive   metric.Int64ObservableUpDownCounter
	bulkheadQueued   metric.Int64ObservableUpDownCounter
	bulkheadLimit    metric.Int64ObservableUpDownCounter
	budgetBalance    metric.Float64ObservableGauge
	throttleProb     metric.Float64ObservableGauge
	rateLimitTokens  metric.Float64ObservableGauge
	rateLimitQueued  metric.Int64ObservableUpDownCounter
	hedgeWon         metric.Int64ObservableCounter
	timeoutAbandoned metric.Int64ObservableUpDownCounter
	reconnectState   metric.Int64ObservableGauge
	adaptiveLimit    metric.Int64ObservableUpDownCounter
	adaptiveActive   metric.Int64ObservableUpDownCounter
	adaptiveQueued   metric.Int64ObservableUpDownCounter
	adaptiveBaseline metric.Float64ObservableGauge
	adaptiveLatency  metric.Float64ObservableGauge
}

// Bucket boundaries: seconds for waits and delays, from 1ms to 1 minute;
// seconds for connections' lives, from 1s to a day; attempts one by one up
// to 6, then sparser.
var (
	secondsBuckets  = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	lifeBuckets     = []float64{1, 10, 60, 300, 900, 3600, 4 * 3600, 24 * 3600}
	attemptsBuckets = []float64{1, 2, 3, 4, 5, 6, 8, 10, 15, 20}
)

// newInstruments makes the instruments on meter, and registers collect as
// the callback of the observable ones.
func newInstruments(meter metric.Meter, collect metric.Callback) (*instruments, error) {
	var in instruments
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	in.retryCalls, err = meter.Int64Counter("resilience.retry.calls", metric.WithUnit("{call}"),
		metric.WithDescription("Calls through a retry policy that ended, by outcome."))
	check(err)
	in.retryAttempts, err = meter.Int64Histogram("resilience.retry.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("Attempts made by each call through a retry policy."),
		metric.WithExplicitBucketBoundaries(attemptsBuckets...))
	check(err)
	in.retryDelay, err = meter.Float64Histogram("resilience.retry.delay", metric.WithUnit("s"),
		metric.WithDescription("Waits of a retry policy before its retries."),
		metric.WithExplicitBucketBoundaries(secondsBuckets...))
	check(err)
	in.rejections, err = meter.Int64Counter("resilience.rejections", metric.WithUnit("{call}"),
		metric.WithDescription("Calls a policy rejected without running them, by policy kind and reason."))
	check(err)
	in.transitions, err = meter.Int64Counter("resilience.breaker.transitions", metric.WithUnit("{transition}"),
		metric.WithDescription("Changes of a circuit breaker's state."))
	check(err)
	in.bulkheadWait, err = meter.Float64Histogram("resilience.bulkhead.wait_time", metric.WithUnit("s"),
		metric.WithDescription("Time calls admitted by a bulkhead waited for their slot."),
		metric.WithExplicitBucketBoundaries(secondsBuckets...))
	check(err)
	in.rateLimitWait, err = meter.Float64Histogram("resilience.ratelimit.wait_time", metric.WithUnit("s"),
		metric.WithDescription("Time calls admitted by a rate limiter waited for their tokens."),
		metric.WithExplicitBucketBoundaries(secondsBuckets...))
	check(err)
	in.hedgeSent, err = meter.Int64Counter("resilience.hedge.sent", metric.WithUnit("{hedge}"),
		metric.WithDescription("Hedges a hedger sent."))
	check(err)
	in.fallbacks, err = meter.Int64Counter("resilience.fallback.calls", metric.WithUnit("{call}"),
		metric.WithDescription("Failed calls that fell back to their alternative, by the failure's class."))
	check(err)
	in.timeouts, err = meter.Int64Counter("resilience.timeout.timeouts", metric.WithUnit("{attempt}"),
		metric.WithDescription("Attempts whose timeout fired."))
	check(err)
	in.abandoned, err = meter.Int64Counter("resilience.timeout.abandoned_returns", metric.WithUnit("{call}"),
		metric.WithDescription("Calls abandoned by a timeout that returned, or panicked, later."))
	check(err)

	in.paceWait, err = meter.Float64Histogram("resilience.pace.wait_time", metric.WithUnit("s"),
		metric.WithDescription("Time calls paced to a provider's quota waited for their turn."),
		metric.WithExplicitBucketBoundaries(secondsBuckets...))
	check(err)
	in.connections, err = meter.Int64Counter("resilience.reconnect.connections", metric.WithUnit("{connection}"),
		metric.WithDescription("Connections a supervisor made."))
	check(err)
	in.downtime, err = meter.Float64Histogram("resilience.reconnect.downtime", metric.WithUnit("s"),
		metric.WithDescription("Time a supervisor was without a connection before it made one."),
		metric.WithExplicitBucketBoundaries(secondsBuckets...))
	check(err)
	in.losses, err = meter.Int64Counter("resilience.reconnect.losses", metric.WithUnit("{connection}"),
		metric.WithDescription("Connections of a supervisor that ended."))
	check(err)
	in.uptime, err = meter.Float64Histogram("resilience.reconnect.uptime", metric.WithUnit("s"),
		metric.WithDescription("How long a supervisor's connections were up when they ended."),
		metric.WithExplicitBucketBoundaries(lifeBuckets...))
	check(err)
	in.dialFailures, err = meter.Int64Counter("resilience.reconnect.dial_failures", metric.WithUnit("{dial}"),
		metric.WithDescription("Dials of a supervisor that failed."))
	check(err)

	in.adaptiveWait, err = meter.Float64Histogram("resilience.adaptive.wait_time", metric.WithUnit("s"),
		metric.WithDescription("Time calls admitted by an adaptive limiter waited for room."),
		metric.WithExplicitBucketBoundaries(secondsBuckets...))
	check(err)
	in.limitChanges, err = meter.Int64Counter("resilience.adaptive.limit_changes", metric.WithUnit("{change}"),
		metric.WithDescription("Changes of an adaptive limiter's limit, as it reports them (at most once a second), by direction."))
	check(err)
	in.fleetModes, err = meter.Int64Counter("resilience.fleet.mode_changes", metric.WithUnit("{change}"),
		metric.WithDescription("Changes of a fleet policy's mode, by the mode entered: fleet (state shared through Redis) or local."))
	check(err)

	in.breakerState, err = meter.Int64ObservableGauge("resilience.breaker.state", metric.WithUnit("{state}"),
		metric.WithDescription("1 for a circuit breaker's current state, 0 for the others."))
	check(err)
	in.bulkheadActive, err = meter.Int64ObservableUpDownCounter("resilience.bulkhead.active_calls", metric.WithUnit("{call}"),
		metric.WithDescription("Calls holding a bulkhead's slot."))
	check(err)
	in.bulkheadQueued, err = meter.Int64ObservableUpDownCounter("resilience.bulkhead.queued_calls", metric.WithUnit("{call}"),
		metric.WithDescription("Calls waiting for a bulkhead's slot."))
	check(err)
	in.bulkheadLimit, err = meter.Int64ObservableUpDownCounter("resilience.bulkhead.limit", metric.WithUnit("{call}"),
		metric.WithDescription("A bulkhead's number of slots."))
	check(err)
	in.budgetBalance, err = meter.Float64ObservableGauge("resilience.budget.balance", metric.WithUnit("{retry}"),
		metric.WithDescription("Retries a retry budget allows now."))
	check(err)
	in.throttleProb, err = meter.Float64ObservableGauge("resilience.throttle.rejection_probability", metric.WithUnit("1"),
		metric.WithDescription("Probability that an adaptive throttle rejects a call now."))
	check(err)
	in.rateLimitTokens, err = meter.Float64ObservableGauge("resilience.ratelimit.tokens", metric.WithUnit("{token}"),
		metric.WithDescription("Tokens in a rate limiter's bucket; negative while reserved calls wait for tokens."))
	check(err)
	in.rateLimitQueued, err = meter.Int64ObservableUpDownCounter("resilience.ratelimit.queued_calls", metric.WithUnit("{call}"),
		metric.WithDescription("Calls waiting for a rate limiter's tokens."))
	check(err)
	in.hedgeWon, err = meter.Int64ObservableCounter("resilience.hedge.won", metric.WithUnit("{hedge}"),
		metric.WithDescription("Hedges that succeeded first and won their call."))
	check(err)
	in.timeoutAbandoned, err = meter.Int64ObservableUpDownCounter("resilience.timeout.abandoned_calls", metric.WithUnit("{call}"),
		metric.WithDescription("Calls a timeout abandoned that are still running."))
	check(err)
	in.reconnectState, err = meter.Int64ObservableGauge("resilience.reconnect.state", metric.WithUnit("{state}"),
		metric.WithDescription("1 for a connection supervisor's current state, 0 for the others."))
	check(err)
	in.adaptiveLimit, err = meter.Int64ObservableUpDownCounter("resilience.adaptive.limit", metric.WithUnit("{call}"),
		metric.WithDescription("An adaptive limiter's limit now: the calls it admits at once."))
	check(err)
	in.adaptiveActive, err = meter.Int64ObservableUpDownCounter("resilience.adaptive.active_calls", metric.WithUnit("{call}"),
		metric.WithDescription("Calls admitted by an adaptive limiter that have not ended."))
	check(err)
	in.adaptiveQueued, err = meter.Int64ObservableUpDownCounter("resilience.adaptive.queued_calls", metric.WithUnit("{call}"),
		metric.WithDescription("Calls waiting for room in an adaptive limiter."))
	check(err)
	in.adaptiveBaseline, err = meter.Float64ObservableGauge("resilience.adaptive.baseline_latency", metric.WithUnit("s"),
		metric.WithDescription("A gradient adaptive limiter's latency of the service without load."))
	check(err)
	in.adaptiveLatency, err = meter.Float64ObservableGauge("resilience.adaptive.window_latency", metric.WithUnit("s"),
		metric.WithDescription("A gradient adaptive limiter's mean latency over its last window of calls."))
	check(err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	_, err = meter.RegisterCallback(collect, in.breakerState, in.bulkheadActive, in.bulkheadQueued,
		in.bulkheadLimit, in.budgetBalance, in.throttleProb, in.rateLimitTokens, in.rateLimitQueued,
		in.hedgeWon, in.timeoutAbandoned, in.reconnectState, in.adaptiveLimit, in.adaptiveActive,
		in.adaptiveQueued, in.adaptiveBaseline, in.adaptiveLatency)
	if err != nil {
		return nil, err
	}
	return &in, nil
}

// setKey names an attribute set of an event-fed instrument.
type setKey struct {
	inst    instrument
	kind    resilience.Kind
	retried bool
	shadow  bool // a shadow policy's would-be rejection or state change
	name    string
	a, b    string // by instrument: outcome and reason, reason, from and to states
}

// measure holds the options that give a measurement its attribute set, made
// once, so that recording allocates nothing.
type measure struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

// attributes returns the attributes of the set k names.
func (k setKey) attributes() []attribute.KeyValue {
	kv := []attribute.KeyValue{AttrPolicyName.String(k.name)}
	switch k.inst {
	case instRetryCalls:
		kv = append(kv, AttrOutcome.String(k.a), AttrRetried.Bool(k.retried))
		if k.b != "" {
			kv = append(kv, AttrReason.String(k.b))
		}
	case instRejections:
		kv = append(kv, AttrPolicyKind.String(k.kind.String()), AttrReason.String(k.a))
	case instTransitions:
		kv = append(kv, AttrBreakerFrom.String(k.a), AttrBreakerTo.String(k.b))
	case instLimitChanges:
		if k.a != "" {
			kv = append(kv, AttrAdaptiveDirection.String(k.a))
		}
	case instFleetModes:
		kv = append(kv, AttrFleetMode.String(k.a))
	}
	if k.shadow {
		kv = append(kv, AttrShadow.Bool(true))
	}
	switch k.inst {
	case instFallbacks, instAbandoned, instLosses:
		if k.a != "" {
			kv = append(kv, AttrReason.String(k.a))
		}
	}
	return kv
}

// measureOf returns the measure of the set k names, made and kept the first
// time while fewer than MaxAttributeSets are kept.
func (t *Telemetry) measureOf(k setKey) *measure {
	if m, ok := (*t.sets.Load())[k]; ok {
		return m
	}
	opt := metric.WithAttributeSet(attribute.NewSet(k.attributes()...))
	m := &measure{add: []metric.AddOption{opt}, rec: []metric.RecordOption{opt}}
	t.setsMu.Lock()
	defer t.setsMu.Unlock()
	old := *t.sets.Load()
	if kept, ok := old[k]; ok {
		return kept
	}
	if len(old) >= t.maxSets {
		return m // counted, not kept
	}
	sets := maps.Clone(old)
	sets[k] = m
	t.sets.Store(&sets)
	return m
}

// The retry.Reason strings, as GiveUp events carry them, sorted into
// outcomes; a reason not here (the transport's own, such as "GetBody failed")
// has its outcome from the error's class.
var reasonOutcomes = map[string]string{
	retry.Exhausted.String():       OutcomeTransient,
	retry.TimeLimit.String():       OutcomeTransient,
	retry.Deadline.String():        OutcomeTransient,
	retry.HintTooLong.String():     OutcomeTransient,
	retry.BudgetExhausted.String(): OutcomeTransient,
	retry.Rejected.String():        OutcomeRejected,
	retry.Canceled.String():        OutcomeCanceled,
}

// giveUpOutcome is the outcome of a call a retry policy gave up on.
func (t *Telemetry) giveUpOutcome(e resilience.Event) string {
	if o, ok := reasonOutcomes[e.Reason]; ok {
		return o
	}
	switch t.classify(e.Err) {
	case resilience.ClassTransient:
		if e.Reason != retry.NotRetryable.String() {
			return OutcomeTransient
		}
	case resilience.ClassIgnored:
		var r interface{ LocalRejection() bool }
		if errors.As(e.Err, &r) && r.LocalRejection() {
			return OutcomeRejected // refused by a policy inside, such as an open breaker, before it ran
		}
		return OutcomeIgnored
	}
	return OutcomePermanent
}

// record records e in the metrics.
func (t *Telemetry) record(e resilience.Event) {
	in := t.metrics
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	switch e.Type {
	case resilience.EventSuccess:
		m := t.measureOf(setKey{inst: instRetryCalls, name: e.Policy, a: OutcomeSuccess, retried: e.Attempt > 1})
		in.retryCalls.Add(ctx, 1, m.add...)
		in.retryAttempts.Record(ctx, int64(e.Attempt), m.rec...)
	case resilience.EventGiveUp:
		m := t.measureOf(setKey{inst: instRetryCalls, name: e.Policy, a: t.giveUpOutcome(e), b: e.Reason, retried: e.Attempt > 1})
		in.retryCalls.Add(ctx, 1, m.add...)
		in.retryAttempts.Record(ctx, int64(e.Attempt), m.rec...)
	case resilience.EventRetry:
		in.retryDelay.Record(ctx, e.Delay.Seconds(), t.measureOf(setKey{inst: instRetryDelay, name: e.Policy}).rec...)
	case resilience.EventReject:
		in.rejections.Add(ctx, 1, t.measureOf(setKey{inst: instRejections, kind: e.Kind, name: e.Policy, a: e.Reason, shadow: e.Shadow}).add...)
	case resilience.EventStateChange:
		if e.Kind == resilience.KindAdaptive {
			// From and To are limits, not states: as attributes they would
			// make a series per pair of limits.
			dir := "" // From is no limit: a change of unknown direction
			if from, err := strconv.Atoi(e.From); err == nil {
				dir = DirectionIncrease
				if e.Attempt < from {
					dir = DirectionDecrease
				}
			}
			in.limitChanges.Add(ctx, 1, t.measureOf(setKey{inst: instLimitChanges, name: e.Policy, a: dir}).add...)
			break
		}
		if e.Kind == resilience.KindFleet {
			// A fleet policy's mode, not a breaker's state: its breaker's
			// own changes come with Kind breaker.
			in.fleetModes.Add(ctx, 1, t.measureOf(setKey{inst: instFleetModes, name: e.Policy, a: e.To}).add...)
			break
		}
		in.transitions.Add(ctx, 1, t.measureOf(setKey{inst: instTransitions, name: e.Policy, a: e.From, b: e.To, shadow: e.Shadow}).add...)
	case resilience.EventAdmit:
		switch e.Kind {
		case resilience.KindBulkhead:
			in.bulkheadWait.Record(ctx, e.Delay.Seconds(), t.measureOf(setKey{inst: instBulkheadWait, name: e.Policy}).rec...)
		case resilience.KindRateLimit:
			in.rateLimitWait.Record(ctx, e.Delay.Seconds(), t.measureOf(setKey{inst: instRateLimitWait, name: e.Policy}).rec...)
		case resilience.KindPace:
			in.paceWait.Record(ctx, e.Delay.Seconds(), t.measureOf(setKey{inst: instPaceWait, name: e.Policy}).rec...)
		case resilience.KindAdaptive:
			in.adaptiveWait.Record(ctx, e.Delay.Seconds(), t.measureOf(setKey{inst: instAdaptiveWait, name: e.Policy}).rec...)
		}
	case resilience.EventHedge:
		in.hedgeSent.Add(ctx, 1, t.measureOf(setKey{inst: instHedgeSent, name: e.Policy}).add...)
	case resilience.EventFallback:
		in.fallbacks.Add(ctx, 1, t.measureOf(setKey{inst: instFallbacks, name: e.Policy, a: e.Reason}).add...)
	case resilience.EventTimeout:
		in.timeouts.Add(ctx, 1, t.measureOf(setKey{inst: instTimeouts, name: e.Policy}).add...)
	case resilience.EventAbandonedReturn:
		in.abandoned.Add(ctx, 1, t.measureOf(setKey{inst: instAbandoned, name: e.Policy, a: e.Reason}).add...)
	case resilience.EventConnected:
		m := t.measureOf(setKey{inst: instConnections, name: e.Policy})
		in.connections.Add(ctx, 1, m.add...)
		in.downtime.Record(ctx, e.Delay.Seconds(), m.rec...)
	case resilience.EventLost:
		m := t.measureOf(setKey{inst: instLosses, name: e.Policy, a: e.Reason})
		in.losses.Add(ctx, 1, m.add...)
		in.uptime.Record(ctx, e.Delay.Seconds(), m.rec...)
	case resilience.EventDialFailed:
		in.dialFailures.Add(ctx, 1, t.measureOf(setKey{inst: instDialFailures, name: e.Policy}).add...)
	}
	// An event of a type this package does not know is not recorded.
}

package resilienceotel

import (
	"errors"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/resiliencehttp"
)

// ScopeName is the instrumentation scope of the meter and the tracer that
// [New] takes from the providers: the module's import path.
const ScopeName = "github.com/netresilience/resilience/resilienceotel"

// Defaults of [Config]'s zero fields.
const (
	DefaultMaxPolicies      = 1000
	DefaultMaxAttributeSets = 2000
)

// Config configures a [Telemetry]. Each zero field means its documented
// default; at least one provider must be set.
type Config struct {
	// MeterProvider gives the meter of the metrics. Nil, or the no-op
	// provider of go.opentelemetry.io/otel/metric/noop, means no metrics.
	// The global provider is used only if passed here:
	// otel.GetMeterProvider().
	MeterProvider metric.MeterProvider

	// TracerProvider gives the tracer of the spans of HTTP attempts and of
	// the span events. Nil means no traces; the global provider is used
	// only if passed here: otel.GetTracerProvider().
	TracerProvider trace.TracerProvider

	// Propagator, if set, injects each attempt's span context into the
	// attempt's request headers (such as traceparent), so that the
	// server's spans are children of the attempt's span. Nil means none;
	// the global one is used only if passed here:
	// otel.GetTextMapPropagator().
	Propagator propagation.TextMapPropagator

	// Classifier sorts the error of a call that a retry policy gave up on
	// as not retryable into the outcome "permanent" or "ignored"
	// ([resilience.ClassIgnored]) of resilience.retry.calls. Give the one
	// the policies use. Default: a *resiliencehttp.StatusError of a 4xx
	// status is ignored, as resiliencehttp.Transport deems it, and any other
	// error is classified by resilience.Classify.
	Classifier resilience.Classifier

	// MaxPolicies bounds how many policies [Telemetry.Register] keeps at
	// once. Zero means [DefaultMaxPolicies], 1000; it must not be negative.
	MaxPolicies int

	// MaxAttributeSets bounds how many distinct attribute sets of the
	// event-fed instruments are built once and kept, so that recording a
	// measurement allocates nothing. Past it, a new set is built for every
	// measurement: counted all the same, at a cost. Zero means
	// [DefaultMaxAttributeSets], 2000; it must not be negative.
	MaxAttributeSets int
}

// Telemetry turns the events of resilience policies into OpenTelemetry
// metrics and span events, reads the gauges of the policies registered with
// it, and traces the attempts of resiliencehttp.Transport. Make one with
// [New], give [Telemetry.Observer] to the policies (their Config's Observer
// field) and register the stateful ones with [Telemetry.Register]. It is
// safe for concurrent use. The package doc lists the instruments, the spans
// and their attributes.
type Telemetry struct {
	metrics    *instruments // nil without a MeterProvider
	tracer     trace.Tracer // nil without a TracerProvider
	propagator propagation.TextMapPropagator
	classify   resilience.Classifier
	observer   *resilience.Observer

	maxSets int
	sets    atomic.Pointer[map[setKey]*measure] // copy on write
	setsMu  sync.Mutex                          // serializes writers of sets

	maxPolicies int
	regs        atomic.Pointer[[]*registration] // copy on write
	regsMu      sync.Mutex                      // serializes writers of regs
}

// New returns a Telemetry that records into cfg's providers, or an error if
// cfg makes no sense.
func New(cfg Config) (*Telemetry, error) {
	switch {
	case cfg.MeterProvider == nil && cfg.TracerProvider == nil:
		return nil, errors.New("resilienceotel: no MeterProvider and no TracerProvider (pass otel.GetMeterProvider() and otel.GetTracerProvider() for the global ones)")
	case cfg.MaxPolicies < 0:
		return nil, errors.New("resilienceotel: MaxPolicies is negative")
	case cfg.MaxAttributeSets < 0:
		return nil, errors.New("resilienceotel: MaxAttributeSets is negative")
	}
	t := &Telemetry{
		propagator:  cfg.Propagator,
		classify:    cfg.Classifier,
		maxSets:     cfg.MaxAttributeSets,
		maxPolicies: cfg.MaxPolicies,
	}
	if t.classify == nil {
		t.classify = defaultClassify
	}
	if t.maxSets == 0 {
		t.maxSets = DefaultMaxAttributeSets
	}
	if t.maxPolicies == 0 {
		t.maxPolicies = DefaultMaxPolicies
	}
	sets := make(map[setKey]*measure)
	t.sets.Store(&sets)
	regs := []*registration{}
	t.regs.Store(&regs)
	if _, off := cfg.MeterProvider.(noop.MeterProvider); off {
		cfg.MeterProvider = nil // records nothing: a disabled feature costs a nil check
	}
	if cfg.MeterProvider != nil {
		m, err := newInstruments(cfg.MeterProvider.Meter(ScopeName), t.collect)
		if err != nil {
			return nil, errors.New("resilienceotel: " + err.Error())
		}
		t.metrics = m
	}
	if cfg.TracerProvider != nil {
		t.tracer = cfg.TracerProvider.Tracer(ScopeName)
	}
	if t.metrics != nil || t.tracer != nil {
		t.observer = resilience.ObserveAll(t.event)
	}
	return t, nil
}

// Observer returns the Observer to give to the policies (their Config's
// Observer field), and to resiliencehttp.Config's: it records their events
// as metrics and, when the event's context holds a recording span, as
// events of that span. It is the same Observer at every call; join it with
// others through resilience.Observers. It is nil when there is nothing to
// record: with only the no-op MeterProvider of
// go.opentelemetry.io/otel/metric/noop, whose instruments would drop every
// measurement, so that the policies pay a nil check.
//
// It has every func of resilience.Observer set, Success and Admit
// included, since resilience.retry.calls counts every call and the wait
// histograms every admission.
func (t *Telemetry) Observer() *resilience.Observer {
	if t == nil {
		return nil
	}
	return t.observer
}

// event handles every event of the policies.
func (t *Telemetry) event(e resilience.Event) {
	if t.metrics != nil {
		t.record(e)
	}
	if t.tracer != nil {
		spanEvent(e)
	}
}

// defaultClassify is Config.Classifier's default.
func defaultClassify(err error) resilience.Class {
	var se *resiliencehttp.StatusError
	if errors.As(err, &se) && se.StatusCode >= 400 && se.StatusCode < 500 {
		return resilience.ClassIgnored
	}
	return resilience.Classify(err)
}

// errNil is the error of a method called on a nil *Telemetry.
var errNil = errors.New("resilienceotel: nil *Telemetry")

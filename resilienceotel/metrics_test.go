package resilienceotel_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/reconnect"
	"github.com/netresilience/resilience/resilienceotel"
	"github.com/netresilience/resilience/retry"
)

// collected reads every metric of reader: by name, the value of each data
// point (a sum's or a gauge's value, a histogram's count and sum) keyed by
// its attributes, written "k=v,k=v" in key order.
func collected(t *testing.T, reader *sdkmetric.ManualReader) map[string]map[string]string {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != resilienceotel.ScopeName {
			t.Errorf("scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			points := map[string]string{}
			key := func(s attribute.Set) string {
				var parts []string
				for _, kv := range s.ToSlice() {
					parts = append(parts, string(kv.Key)+"="+kv.Value.Emit())
				}
				return strings.Join(parts, ",")
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					points[key(p.Attributes)] = fmt.Sprint(p.Value)
				}
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					points[key(p.Attributes)] = fmt.Sprint(p.Value)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					points[key(p.Attributes)] = fmt.Sprint(p.Value)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					points[key(p.Attributes)] = fmt.Sprint(p.Value)
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					points[key(p.Attributes)] = fmt.Sprintf("count %d sum %d", p.Count, p.Sum)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					points[key(p.Attributes)] = fmt.Sprintf("count %d sum %.3f", p.Count, p.Sum)
				}
			default:
				t.Errorf("%s: unexpected data %T", m.Name, m.Data)
			}
			out[m.Name] = points
		}
	}
	return out
}

func newTelemetry(t *testing.T) (*resilienceotel.Telemetry, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	tel, err := resilienceotel.New(resilienceotel.Config{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	return tel, reader
}

// TestMetricsScripted runs failures, retries, an opened breaker and a full
// bulkhead, and checks every data point they produce.
func TestMetricsScripted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tel, reader := newTelemetry(t)
		ctx := context.Background()

		p := retry.MustNew(retry.Config{
			Name: "api", MaxAttempts: 3, Backoff: backoff.Constant(100 * time.Millisecond),
			Observer: tel.Observer(),
		})
		transient := resilience.Transient(errors.New("connection reset"))
		// At once; after one retry; never (two retries); not retryable.
		retry.Run(ctx, p, func(context.Context) error { return nil })
		n := 0
		retry.Run(ctx, p, func(context.Context) error {
			if n++; n == 1 {
				return transient
			}
			return nil
		})
		retry.Run(ctx, p, func(context.Context) error { return transient })
		retry.Run(ctx, p, func(context.Context) error { return resilience.Permanent(errors.New("bad request")) })

		b := breaker.MustNew(breaker.Config{Name: "db", FailureThreshold: 2, Observer: tel.Observer()})
		idle := breaker.MustNew(breaker.Config{Name: "idle"})
		for range 4 { // two failures open it; two calls are rejected
			breaker.Run(ctx, b, func(context.Context) error { return transient })
		}

		bh := bulkhead.MustNew(bulkhead.Config{Name: "pool", MaxConcurrent: 1, Observer: tel.Observer()})
		held, err := bh.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Release()
		if _, err := bh.Acquire(ctx); !errors.Is(err, bulkhead.ErrFull) {
			t.Fatalf("second Acquire: %v", err)
		}

		unregister, err := tel.Register(b, idle, bh)
		if err != nil {
			t.Fatal(err)
		}
		got := collected(t, reader)
		want := map[string]map[string]string{
			"resilience.retry.calls": {
				"resilience.outcome=success,resilience.policy.name=api,resilience.retried=false":                                       "1",
				"resilience.outcome=success,resilience.policy.name=api,resilience.retried=true":                                        "1",
				"resilience.outcome=transient,resilience.policy.name=api,resilience.reason=attempts exhausted,resilience.retried=true": "1",
				"resilience.outcome=permanent,resilience.policy.name=api,resilience.reason=not retryable,resilience.retried=false":     "1",
			},
			"resilience.retry.attempts": {
				"resilience.outcome=success,resilience.policy.name=api,resilience.retried=false":                                       "count 1 sum 1",
				"resilience.outcome=success,resilience.policy.name=api,resilience.retried=true":                                        "count 1 sum 2",
				"resilience.outcome=transient,resilience.policy.name=api,resilience.reason=attempts exhausted,resilience.retried=true": "count 1 sum 3",
				"resilience.outcome=permanent,resilience.policy.name=api,resilience.reason=not retryable,resilience.retried=false":     "count 1 sum 1",
			},
			"resilience.retry.delay": {
				"resilience.policy.name=api": "count 3 sum 0.300",
			},
			"resilience.breaker.transitions": {
				"resilience.breaker.from_state=closed,resilience.breaker.to_state=open,resilience.policy.name=db": "1",
			},
			"resilience.rejections": {
				"resilience.policy.kind=breaker,resilience.policy.name=db,resilience.reason=open":               "2",
				"resilience.policy.kind=bulkhead,resilience.policy.name=pool,resilience.reason=no wait allowed": "1",
			},
			"resilience.bulkhead.wait_time": {
				"resilience.policy.name=pool": "count 1 sum 0.000",
			},
			"resilience.breaker.state": {
				"resilience.breaker.state=closed,resilience.policy.name=db":      "0",
				"resilience.breaker.state=open,resilience.policy.name=db":        "1",
				"resilience.breaker.state=half-open,resilience.policy.name=db":   "0",
				"resilience.breaker.state=closed,resilience.policy.name=idle":    "1",
				"resilience.breaker.state=open,resilience.policy.name=idle":      "0",
				"resilience.breaker.state=half-open,resilience.policy.name=idle": "0",
			},
			"resilience.bulkhead.active_calls": {"resilience.policy.name=pool": "1"},
			"resilience.bulkhead.queued_calls": {"resilience.policy.name=pool": "0"},
			"resilience.bulkhead.limit":        {"resilience.policy.name=pool": "1"},
		}
		compare(t, got, want)

		// Unregistered, the gauges are gone; the counters stay.
		unregister()
		unregister()
		got = collected(t, reader)
		for _, name := range []string{"resilience.breaker.state", "resilience.bulkhead.active_calls"} {
			if len(got[name]) != 0 {
				t.Errorf("%s after unregister: %v", name, got[name])
			}
		}
		if len(got["resilience.rejections"]) != 2 {
			t.Errorf("rejections after unregister: %v", got["resilience.rejections"])
		}
	})
}

func compare(t *testing.T, got, want map[string]map[string]string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if !maps.Equal(got[name], want[name]) {
			t.Errorf("%s:\n got  %v\n want %v", name, got[name], want[name])
		}
	}
	for _, name := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[name]; !ok && len(got[name]) > 0 {
			t.Errorf("unexpected %s: %v", name, got[name])
		}
	}
}

func TestRegisterErrors(t *testing.T) {
	tel, _ := newTelemetry(t)
	b := breaker.MustNew(breaker.Config{Name: "db"})
	l := adaptive.MustNew(adaptive.Config{Name: "api"})
	for _, c := range []struct {
		name     string
		policies []any
		want     string
	}{
		{"nil breaker", []any{(*breaker.Breaker)(nil)}, "nil *breaker.Breaker"},
		{"nil supervisor", []any{(*reconnect.Supervisor[string])(nil)}, "nil *reconnect.Supervisor[string]"},
		{"retry policy", []any{retry.MustNew(retry.Config{})}, "*retry.Policy has no gauges"},
		{"nil", []any{nil}, "<nil> has no gauges"},
		{"twice in one call", []any{b, b}, `*breaker.Breaker registered twice`},
		{"two of a name", []any{b, breaker.MustNew(breaker.Config{Name: "db"})}, `two policies of kind breaker named "db"`},
		{"nil adaptive limiter", []any{(*adaptive.Limiter)(nil)}, "nil *adaptive.Limiter"},
		{"adaptive limiter twice", []any{l, l}, `*adaptive.Limiter registered twice`},
		{"two adaptive limiters of a name", []any{l, adaptive.MustNew(adaptive.Config{Name: "api"})}, `two policies of kind adaptive named "api"`},
	} {
		_, err := tel.Register(c.policies...)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "resilienceotel: ") {
			t.Errorf("%s: Register error %v, want one saying %q", c.name, err, c.want)
		}
	}
	if _, err := tel.Register(b); err != nil {
		t.Fatal(err)
	}
	if _, err := tel.Register(breaker.MustNew(breaker.Config{Name: "db"})); err == nil {
		t.Error("a second breaker named db was registered")
	}
	if _, err := tel.Register(l); err != nil {
		t.Fatal(err)
	}
	if _, err := tel.Register(l); err == nil || !strings.Contains(err.Error(), "registered twice") {
		t.Errorf("an adaptive limiter registered a second time: %v", err)
	}
	if _, err := tel.Register(adaptive.MustNew(adaptive.Config{Name: "other"}), breaker.MustNew(breaker.Config{Name: "api"})); err != nil {
		t.Errorf("an adaptive limiter and a breaker of the name of another's: %v", err)
	}

	small, err := resilienceotel.New(resilienceotel.Config{MeterProvider: sdkmetric.NewMeterProvider(), MaxPolicies: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.Register(b, breaker.MustNew(breaker.Config{Name: "other"})); err == nil || !strings.Contains(err.Error(), "MaxPolicies") {
		t.Errorf("past MaxPolicies: %v", err)
	}
	var nilTel *resilienceotel.Telemetry
	if _, err := nilTel.Register(b); err == nil {
		t.Error("a nil *Telemetry registered")
	}
	if nilTel.Observer() != nil {
		t.Error("a nil *Telemetry has an Observer")
	}
}

func TestNewErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  resilienceotel.Config
		want string
	}{
		{resilienceotel.Config{}, "no MeterProvider and no TracerProvider"},
		{resilienceotel.Config{MeterProvider: noop.NewMeterProvider(), MaxPolicies: -1}, "MaxPolicies is negative"},
		{resilienceotel.Config{MeterProvider: noop.NewMeterProvider(), MaxAttributeSets: -1}, "MaxAttributeSets is negative"},
	} {
		if _, err := resilienceotel.New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) error %v, want %q", c.cfg, err, c.want)
		}
	}
}

// TestUnknownEvent checks that an event of a type or kind the package does
// not know is dropped, or counted under the kind's String, without a panic.
func TestUnknownEvent(t *testing.T) {
	tel, reader := newTelemetry(t)
	obs := tel.Observer()
	obs.Retry(resilience.Event{Type: resilience.EventType(200), Policy: "x"})
	obs.Reject(resilience.Event{Type: resilience.EventReject, Kind: resilience.Kind(77), Policy: "x", Reason: "why"})
	obs.Admit(resilience.Event{Type: resilience.EventAdmit, Kind: resilience.Kind(77), Policy: "x"})
	compare(t, collected(t, reader), map[string]map[string]string{
		"resilience.rejections": {"resilience.policy.kind=Kind(77),resilience.policy.name=x,resilience.reason=why": "1"},
	})
}

// TestMaxAttributeSets checks that sets past the bound are counted all the
// same.
func TestMaxAttributeSets(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	tel, err := resilienceotel.New(resilienceotel.Config{MeterProvider: mp, MaxAttributeSets: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "b"} {
		tel.Observer().Hedge(resilience.Event{Type: resilience.EventHedge, Kind: resilience.KindHedge, Policy: name, Context: context.Background()})
	}
	compare(t, collected(t, reader), map[string]map[string]string{
		"resilience.hedge.sent": {"resilience.policy.name=a": "1", "resilience.policy.name=b": "2"},
	})
}

// TestNoop checks that with the no-op MeterProvider there is nothing to
// observe, and that with a tracer as well the Observer allocates nothing
// for calls outside any span.
func TestNoop(t *testing.T) {
	tel, err := resilienceotel.New(resilienceotel.Config{MeterProvider: noop.NewMeterProvider()})
	if err != nil {
		t.Fatal(err)
	}
	if tel.Observer() != nil {
		t.Error("an Observer for the no-op MeterProvider")
	}
	if _, err := tel.Register(breaker.MustNew(breaker.Config{})); err != nil {
		t.Error(err)
	}
	tel, err = resilienceotel.New(resilienceotel.Config{MeterProvider: noop.NewMeterProvider(), TracerProvider: tracenoop.NewTracerProvider()})
	if err != nil {
		t.Fatal(err)
	}
	assertNoAllocs(t, tel)
}

// TestSDKAllocs checks the same with the SDK's MeterProvider, once each
// attribute set has been seen.
func TestSDKAllocs(t *testing.T) {
	tel, _ := newTelemetry(t)
	assertNoAllocs(t, tel)
}

func assertNoAllocs(t *testing.T, tel *resilienceotel.Telemetry) {
	t.Helper()
	obs := tel.Observer()
	ctx := context.Background()
	success := resilience.Event{Type: resilience.EventSuccess, Kind: resilience.KindRetry, Policy: "api", Context: ctx, Attempt: 1}
	admit := resilience.Event{Type: resilience.EventAdmit, Kind: resilience.KindBulkhead, Policy: "pool", Context: ctx}
	retried := resilience.Event{Type: resilience.EventRetry, Kind: resilience.KindRetry, Policy: "api", Context: ctx, Attempt: 1, Delay: time.Second}
	admitAdaptive := resilience.Event{Type: resilience.EventAdmit, Kind: resilience.KindAdaptive, Policy: "limit", Context: ctx, Delay: time.Millisecond}
	limitChange := resilience.Event{Type: resilience.EventStateChange, Kind: resilience.KindAdaptive, Policy: "limit", Context: ctx, From: "20", To: "18", Attempt: 18}
	if n := testing.AllocsPerRun(1000, func() {
		obs.Success(success)
		obs.Admit(admit)
		obs.Retry(retried)
		obs.Admit(admitAdaptive)
		obs.StateChange(limitChange)
	}); n != 0 {
		t.Errorf("events allocate %v times", n)
	}
	p := retry.MustNew(retry.Config{Name: "api", Observer: obs})
	fn := func(context.Context) error { return nil }
	if n := testing.AllocsPerRun(1000, func() { retry.Run(ctx, p, fn) }); n != 0 {
		t.Errorf("a successful call through an observed retry policy allocates %v times", n)
	}
}

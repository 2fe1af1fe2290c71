package resilienceotel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/resilienceotel"
	"github.com/netresilience/resilience/retry"
)

func ExampleNew() {
	// A MeterProvider of the SDK, read by hand here; in a service, a
	// periodic reader with an OTLP exporter, or a Prometheus exporter.
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	tel, err := resilienceotel.New(resilienceotel.Config{MeterProvider: mp})
	if err != nil {
		panic(err)
	}
	b := breaker.MustNew(breaker.Config{Name: "payments", FailureThreshold: 2, Observer: tel.Observer()})
	p := retry.MustNew(retry.Config{
		Name:        "payments",
		MaxAttempts: 2,
		Backoff:     backoff.Constant(0), // no waiting in an example
		Observer:    tel.Observer(),
	})
	if _, err := tel.Register(b); err != nil {
		panic(err)
	}

	resilience.Run(context.Background(), resilience.Compose(p, b), func(context.Context) error {
		return resilience.Transient(errors.New("connection refused"))
	})

	var rm metricdata.ResourceMetrics
	reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			for _, p := range d.DataPoints {
				fmt.Println(m.Name, p.Attributes.Encoded(attributeEncoder), p.Value)
			}
		case metricdata.Gauge[int64]:
			for _, p := range d.DataPoints {
				fmt.Println(m.Name, p.Attributes.Encoded(attributeEncoder), p.Value)
			}
		}
	}
	// Unordered output:
	// resilience.retry.calls resilience.outcome=transient,resilience.policy.name=payments,resilience.reason=attempts exhausted,resilience.retried=true 1
	// resilience.breaker.transitions resilience.breaker.from_state=closed,resilience.breaker.to_state=open,resilience.policy.name=payments 1
	// resilience.breaker.state resilience.breaker.state=closed,resilience.policy.name=payments 0
	// resilience.breaker.state resilience.breaker.state=open,resilience.policy.name=payments 1
	// resilience.breaker.state resilience.breaker.state=half-open,resilience.policy.name=payments 0
}

func ExampleTelemetry_TraceAttempts() {
	// A server that fails the first request.
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())
	tel, err := resilienceotel.New(resilienceotel.Config{TracerProvider: tp})
	if err != nil {
		panic(err)
	}

	// Attempts go through TraceAttempts; TraceCalls numbers them.
	rt, err := resiliencehttp.NewTransport(tel.TraceAttempts(srv.Client().Transport), resiliencehttp.Config{
		Retry:    retry.Config{Backoff: backoff.Constant(0)},
		Observer: tel.Observer(),
	})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: tel.TraceCalls(rt)}
	defer client.CloseIdleConnections()

	ctx, span := tp.Tracer("example").Start(context.Background(), "checkout")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	span.End()

	for _, s := range spans.Ended() {
		fmt.Print(s.Name())
		for _, kv := range s.Attributes() {
			switch kv.Key {
			case "http.response.status_code", "http.request.resend_count":
				fmt.Print(" ", kv.Key, "=", kv.Value.Emit())
			}
		}
		for _, e := range s.Events() {
			fmt.Print(" event ", e.Name)
		}
		fmt.Println()
	}
	// Output:
	// GET http.response.status_code=503
	// GET http.request.resend_count=1 http.response.status_code=200
	// checkout event resilience.retry
}

// attributeEncoder writes attributes as "k=v,k=v".
var attributeEncoder = attribute.DefaultEncoder()

package resilienceotel_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/resilienceotel"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/throttle"
)

// TestPrometheusScrape scrapes a real Prometheus endpoint, on a loopback
// server, and finds the documented names of the metrics.
func TestPrometheusScrape(t *testing.T) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(context.Background())
	tel, err := resilienceotel.New(resilienceotel.Config{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	p := retry.MustNew(retry.Config{Name: "api", MaxAttempts: 2, Backoff: backoff.Constant(0), Observer: tel.Observer()})
	retry.Run(ctx, p, func(context.Context) error { return resilience.Transient(errors.New("reset")) })
	b := breaker.MustNew(breaker.Config{Name: "db", Observer: tel.Observer()})
	bh := bulkhead.MustNew(bulkhead.Config{Name: "pool", Observer: tel.Observer()})
	bulkhead.Run(ctx, bh, func(context.Context) error { return nil })
	bu := budget.MustNew(budget.Config{Name: "retries"})
	th := throttle.MustNew(throttle.Config{Name: "backend"})
	al := adaptive.MustNew(adaptive.Config{Name: "server", Algorithm: adaptive.Gradient,
		Gradient: adaptive.GradientConfig{WindowSamples: 10, MinSamples: 10}, Observer: tel.Observer()})
	adaptive.Run(ctx, al, func(context.Context) error { return nil })
	for i := range 10 { // one window: a baseline and a window latency
		al.RecordAt(time.Now().Add(time.Duration(i)*time.Millisecond), 20*time.Millisecond, 1, false)
	}
	if _, err := tel.Register(b, bh, bu, th, al); err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %v, %s", err, resp.Status)
	}
	text := string(body)
	for _, want := range []string{
		`resilience_retry_calls_total{`,
		`resilience_outcome="transient"`,
		`resilience_reason="attempts exhausted"`,
		`resilience_retry_attempts_bucket{`,
		`resilience_retry_delay_seconds_bucket{`,
		`resilience_breaker_state{otel_scope_name="` + resilienceotel.ScopeName,
		`resilience_breaker_state="closed",resilience_policy_name="db"} 1`,
		`resilience_bulkhead_active_calls{`,
		`resilience_bulkhead_queued_calls{`,
		`resilience_bulkhead_limit{`,
		`resilience_bulkhead_wait_time_seconds_bucket{`,
		`resilience_budget_balance{`,
		`resilience_throttle_rejection_probability_ratio{`,
		`resilience_adaptive_limit{`,
		`resilience_adaptive_active_calls{`,
		`resilience_adaptive_queued_calls{`,
		`resilience_adaptive_baseline_latency_seconds{`,
		`resilience_adaptive_window_latency_seconds{`,
		`resilience_adaptive_wait_time_seconds_bucket{`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape has no %s", want)
		}
	}
	if t.Failed() {
		t.Logf("scraped:\n%s", text)
	}
}

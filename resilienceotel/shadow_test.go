package resilienceotel_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resilienceotel"
)

// TestShadowIsMarked: a breaker in shadow mode opens as it would, and its
// transition is counted with resilience.shadow=true, apart from real ones.
func TestShadowIsMarked(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	tel, err := resilienceotel.New(resilienceotel.Config{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	shadow := breaker.MustNew(breaker.Config{Name: "shadow", FailureThreshold: 1, Shadow: true, Observer: tel.Observer()})
	real := breaker.MustNew(breaker.Config{Name: "real", FailureThreshold: 1, Observer: tel.Observer()})
	fail := func(context.Context) error { return resilience.Transient(errors.New("down")) }
	for _, b := range []*breaker.Breaker{shadow, real} {
		breaker.Run(context.Background(), b, fail)
		breaker.Run(context.Background(), b, fail) // a real rejection, or a shadow one that ran
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if d, ok := m.Data.(metricdata.Sum[int64]); ok && (m.Name == "resilience.breaker.transitions" || m.Name == "resilience.rejections") {
			for _, p := range d.DataPoints {
				got[m.Name+" "+p.Attributes.Encoded(attributeEncoder)] = true
			}
		}
	}
	var shadowed, plain int
	for k := range got {
		switch {
		case strings.Contains(k, "name=shadow") && strings.Contains(k, "resilience.shadow=true"):
			shadowed++
		case strings.Contains(k, "name=real") && !strings.Contains(k, "resilience.shadow"):
			plain++
		default:
			t.Errorf("series %s: a shadow one without the mark, or a real one with it", k)
		}
	}
	if shadowed == 0 || plain == 0 {
		t.Errorf("series %v: want the shadow breaker's marked and the real one's unmarked", got)
	}
}

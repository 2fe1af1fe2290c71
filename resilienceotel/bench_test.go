package resilienceotel_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/resilienceotel"
	"github.com/netresilience/resilience/retry"
)

// BenchmarkSuccessfulCall measures what the Observer adds to a successful
// call through a retry policy and a bulkhead (one Success and one Admit
// event): without an Observer, with the no-op MeterProvider, and with the
// SDK's MeterProvider and a ManualReader.
func BenchmarkSuccessfulCall(b *testing.B) {
	sdk := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer sdk.Shutdown(context.Background())
	for _, c := range []struct {
		name string
		obs  func(*testing.B) *resilience.Observer
	}{
		{"none", func(*testing.B) *resilience.Observer { return nil }},
		{"noop", func(b *testing.B) *resilience.Observer {
			return mustTelemetry(b, resilienceotel.Config{MeterProvider: noop.NewMeterProvider()}).Observer()
		}},
		{"sdk", func(b *testing.B) *resilience.Observer {
			return mustTelemetry(b, resilienceotel.Config{MeterProvider: sdk}).Observer()
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			obs := c.obs(b)
			p := retry.MustNew(retry.Config{Name: "api", Observer: obs})
			bh := bulkhead.MustNew(bulkhead.Config{Name: "pool", MaxConcurrent: 1 << 20, Observer: obs})
			policy := resilience.Compose(p, bh)
			ctx := context.Background()
			fn := func(context.Context) error { return nil }
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resilience.Run(ctx, policy, fn)
				}
			})
		})
	}
}

func mustTelemetry(b *testing.B, cfg resilienceotel.Config) *resilienceotel.Telemetry {
	tel, err := resilienceotel.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return tel
}

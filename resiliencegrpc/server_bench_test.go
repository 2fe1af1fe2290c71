package resiliencegrpc_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"

	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/resiliencegrpc"
	"github.com/netresilience/resilience/throttle"
)

// BenchmarkServerUnary measures the unary interceptor alone, around a
// handler that answers at once: an admitted call through a bulkhead and a
// throttle, one through an adaptive limiter, and a call the full bulkhead
// sheds (without the pushback
// trailer, which needs a real stream in the context).
func BenchmarkServerUnary(b *testing.B) {
	info := &grpc.UnaryServerInfo{FullMethod: "/grpc.testing.TestService/EmptyCall"}
	handler := func(context.Context, any) (any, error) { return nil, nil }
	ctx := context.Background()
	b.Run("admitted", func(b *testing.B) {
		s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{
			Bulkhead: bulkhead.MustNew(bulkhead.Config{}),
			Throttle: throttle.MustNew(throttle.Config{}),
		})
		intercept := s.UnaryServerInterceptor()
		b.ReportAllocs()
		for b.Loop() {
			intercept(ctx, nil, info, handler)
		}
	})
	b.Run("admitted/adaptive", func(b *testing.B) {
		s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{
			Adaptive: adaptive.MustNew(adaptive.Config{Algorithm: adaptive.Gradient}),
		})
		intercept := s.UnaryServerInterceptor()
		b.ReportAllocs()
		for b.Loop() {
			intercept(ctx, nil, info, handler)
		}
	})
	b.Run("shed", func(b *testing.B) {
		bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
		p, err := bh.TryAcquire()
		if err != nil {
			b.Fatal(err)
		}
		defer p.Release()
		intercept := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{Bulkhead: bh, Pushback: -1}).UnaryServerInterceptor()
		b.ReportAllocs()
		for b.Loop() {
			intercept(ctx, nil, info, handler)
		}
	})
}

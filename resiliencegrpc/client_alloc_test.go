package resiliencegrpc_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/resiliencegrpc"
)

// A unary call that succeeds at once costs the interceptor no allocation,
// with a breaker and a token bucket: what grpc-go allocates for the call
// is its own. The invoker stands in for grpc-go, so that only the
// interceptor is measured.
func TestUnarySuccessAllocatesNothing(t *testing.T) {
	c := newClient(t, resiliencegrpc.Config{Breaker: &breaker.Config{}, Throttling: &budget.TokensConfig{}})
	cc, err := grpc.NewClient("passthrough:///allocs", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	interceptor := c.UnaryClientInterceptor()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	ctx := context.Background()
	req, reply := &testgrpc.SimpleRequest{}, &testgrpc.SimpleResponse{}
	call := func() {
		if err := interceptor(ctx, "/grpc.testing.TestService/UnaryCall", req, reply, cc, invoker); err != nil {
			t.Fatal(err)
		}
	}
	call() // makes the target's state
	if n := testing.AllocsPerRun(1000, call); n != 0 {
		t.Errorf("a successful call allocates %v times in the interceptor, want 0", n)
	}
}

func BenchmarkUnary(b *testing.B) {
	for _, bc := range []struct {
		name string
		c    *resiliencegrpc.Client
	}{
		{"plain", nil},
		{"interceptors", resiliencegrpc.MustNewClient(resiliencegrpc.Config{Breaker: &breaker.Config{}})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ts := startServer(b, "bufconn", &fakeService{}, nil)
			client := testgrpc.NewTestServiceClient(ts.dial(b, bc.c))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.EmptyCall(ctx, &testgrpc.Empty{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInterceptor measures what the unary interceptor adds to a call
// that succeeds at once, with an invoker standing in for grpc-go: the
// interceptor's own cost, to set against a real call's (tens of µs over
// loopback; see benchmarks/README.md).
func BenchmarkInterceptor(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  resiliencegrpc.Config
	}{
		{"retry", resiliencegrpc.Config{}},
		{"retry+breaker+tokens", resiliencegrpc.Config{Breaker: &breaker.Config{}, Throttling: &budget.TokensConfig{}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := resiliencegrpc.MustNewClient(bc.cfg)
			cc, err := grpc.NewClient("passthrough:///bench", grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			defer cc.Close()
			interceptor := c.UnaryClientInterceptor()
			invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
			ctx := context.Background()
			req, reply := &testgrpc.SimpleRequest{}, &testgrpc.SimpleResponse{}
			b.ReportAllocs()
			for b.Loop() {
				if err := interceptor(ctx, "/grpc.testing.TestService/UnaryCall", req, reply, cc, invoker); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

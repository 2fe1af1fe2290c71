package benchmarks

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/failsafegrpc"
	grpcretry "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/resiliencegrpc"
	"github.com/netresilience/resilience/retry"
)

// Library names of the gRPC scenarios.
const (
	bareGrpcN = "bare-grpc"
	ggmN      = "go-grpc-middleware"
)

// grpcService is grpc-go's interop TestService, whose EmptyCall counts its
// calls and answers at once.
type grpcService struct {
	testgrpc.UnimplementedTestServiceServer
	hits atomic.Int64
}

func (s *grpcService) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	s.hits.Add(1)
	return &testgrpc.Empty{}, nil
}

// grpcServe starts a grpc-go server with opts on a loopback TCP port and
// returns its address, its service and a func that stops it.
func grpcServe(opts ...grpc.ServerOption) (addr string, svc *grpcService, stop func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	svc = &grpcService{}
	srv := grpc.NewServer(opts...)
	testgrpc.RegisterTestServiceServer(srv, svc)
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(lis)
	}()
	return lis.Addr().String(), svc, func() {
		srv.Stop()
		<-served
	}
}

// grpcConns dials connections to one server, and closes them all at once.
type grpcConns struct {
	target string
	conns  []*grpc.ClientConn
}

// call dials a connection of its own with opts (plain TCP, no TLS) and
// returns a scenario's op: one EmptyCall through it, which gives 1 when it
// succeeds.
func (g *grpcConns) call(opts ...grpc.DialOption) func() (int, error) {
	cc, err := grpc.NewClient(g.target, append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		panic(err)
	}
	g.conns = append(g.conns, cc)
	client := testgrpc.NewTestServiceClient(cc)
	ctx := context.Background()
	req := &testgrpc.Empty{}
	return func() (int, error) {
		if _, err := client.EmptyCall(ctx, req); err != nil {
			return 0, err
		}
		return 1, nil
	}
}

func (g *grpcConns) close() {
	for _, cc := range g.conns {
		cc.Close()
	}
}

// Scenario: a unary call over loopback TCP to a real grpc-go server, each
// client library on a connection of its own, so that each keeps its own
// warm connection. The retrying libraries are set to three attempts with
// no delay, and retry UNAVAILABLE (and the codes they add by default); the
// call succeeds, so what they cost is the cost of their interceptor.
func grpcUnaryImpls(conns *grpcConns) []impl {
	fsRetry := failsafegrpc.NewRetryPolicyBuilder[any]().WithMaxAttempts(3).WithDelay(0).Build()
	ourClient := resiliencegrpc.MustNewClient(resiliencegrpc.Config{Retry: retry.Config{MaxAttempts: 3}})
	return []impl{
		{bareGrpcN, conns.call()},
		{ours, conns.call(ourClient.DialOptions()...)},
		{ggmN, conns.call(grpc.WithUnaryInterceptor(grpcretry.UnaryClientInterceptor(
			grpcretry.WithMax(3), grpcretry.WithBackoff(grpcretry.BackoffLinear(0))))),
		},
		{failsafeN, conns.call(grpc.WithUnaryInterceptor(failsafegrpc.NewUnaryClientInterceptor[any](fsRetry)))},
	}
}

// Scenario: the same unary call, from a bare client, to servers that shed
// load through a bulkhead of 10 slots (which the calls, one at a time,
// never fill): ours is resiliencegrpc's Server with
// ServerConfig{Bulkhead}, failsafe-go's is its unary server interceptor
// with its bulkhead.
func grpcServerImpls() (impls []impl, hits []*atomic.Int64, stop func()) {
	shed := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{Bulkhead: bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 10})})
	servers := []struct {
		lib  string
		opts []grpc.ServerOption
	}{
		{bareGrpcN, nil},
		{ours, shed.ServerOptions()},
		{failsafeN, []grpc.ServerOption{grpc.UnaryInterceptor(failsafegrpc.NewUnaryServerInterceptor[any](fsbulkhead.New[any](10)))}},
	}
	var stops []func()
	var conns []*grpcConns
	for _, s := range servers {
		addr, svc, stopServer := grpcServe(s.opts...)
		c := &grpcConns{target: addr}
		impls = append(impls, impl{s.lib, c.call()})
		hits = append(hits, &svc.hits)
		stops = append(stops, stopServer)
		conns = append(conns, c)
	}
	return impls, hits, func() {
		for i := range stops {
			conns[i].close()
			stops[i]()
		}
	}
}

func BenchmarkGrpcUnary(b *testing.B) {
	addr, _, stop := grpcServe()
	defer stop()
	conns := &grpcConns{target: addr}
	defer conns.close()
	bench(b, grpcUnaryImpls(conns))
}

func BenchmarkGrpcServer(b *testing.B) {
	impls, _, stop := grpcServerImpls()
	defer stop()
	bench(b, impls)
}

// TestGrpcScenariosAgree checks that every gRPC impl makes one call that
// reaches the handler once and succeeds.
func TestGrpcScenariosAgree(t *testing.T) {
	addr, svc, stop := grpcServe()
	defer stop()
	conns := &grpcConns{target: addr}
	defer conns.close()
	for _, im := range grpcUnaryImpls(conns) {
		svc.hits.Store(0)
		if v, err := im.op(); err != nil || v != 1 || svc.hits.Load() != 1 {
			t.Errorf("GrpcUnary/%s: got (%v, %v) after %d calls of the handler, want (1, nil) after 1", im.lib, v, err, svc.hits.Load())
		}
	}
	impls, hits, stopAll := grpcServerImpls()
	defer stopAll()
	for i, im := range impls {
		if v, err := im.op(); err != nil || v != 1 || hits[i].Load() != 1 {
			t.Errorf("GrpcServer/%s: got (%v, %v) after %d calls of the handler, want (1, nil) after 1", im.lib, v, err, hits[i].Load())
		}
	}
}

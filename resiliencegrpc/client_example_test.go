package resiliencegrpc_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencegrpc"
	"github.com/netresilience/resilience/retry"
)

// flakyServer fails its first call with UNAVAILABLE, asking to be retried
// at once (a pushback of 0ms), and answers the others.
type flakyServer struct {
	testgrpc.UnimplementedTestServiceServer
	calls atomic.Int64
}

func (s *flakyServer) UnaryCall(ctx context.Context, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	fmt.Printf("server: call %d, previous attempts %q\n", s.calls.Add(1), md.Get(resiliencegrpc.PreviousAttemptsHeader))
	if s.calls.Load() == 1 {
		grpc.SetTrailer(ctx, metadata.Pairs(resiliencegrpc.PushbackTrailer, "0"))
		return nil, status.Error(codes.Unavailable, "warming up")
	}
	return &testgrpc.SimpleResponse{Username: "hello"}, nil
}

// A client whose calls are retried and guarded by a breaker per target:
// its DialOptions install the interceptors and turn grpc-go's own retries
// off.
func ExampleNewClient() {
	// A server on an in-memory connection.
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(srv, &flakyServer{})
	go srv.Serve(lis)
	defer srv.Stop()

	c, err := resiliencegrpc.NewClient(resiliencegrpc.Config{
		Retry:   retry.Config{MaxAttempts: 3},
		Breaker: &breaker.Config{},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	opts := append(c.DialOptions(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	conn, err := grpc.NewClient("passthrough:///example", opts...)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()

	reply, err := testgrpc.NewTestServiceClient(conn).UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
	fmt.Println("client:", reply.GetUsername(), err)
	fmt.Println("breaker:", c.Breaker(conn.Target()).State())
	// Output:
	// server: call 1, previous attempts []
	// server: call 2, previous attempts ["1"]
	// client: hello <nil>
	// breaker: closed
}

package resiliencegrpc_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/resiliencegrpc"
)

// slowService answers EmptyCall once release is closed, after telling
// started.
type slowService struct {
	testgrpc.UnimplementedTestServiceServer
	started, release chan struct{}
}

func (s *slowService) EmptyCall(ctx context.Context, _ *testgrpc.Empty) (*testgrpc.Empty, error) {
	s.started <- struct{}{}
	<-s.release
	return &testgrpc.Empty{}, nil
}

// A server that runs at most one call at a time: a second call that comes
// meanwhile is shed before its handler runs, with UNAVAILABLE and a pushback
// that tells a client following gRFC A6 (grpc-go's own retries) when to
// retry.
func ExampleNewServer() {
	shed, err := resiliencegrpc.NewServer(resiliencegrpc.ServerConfig{
		Bulkhead: bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1}),
		Pushback: 250 * time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer(shed.ServerOptions()...)
	svc := &slowService{started: make(chan struct{}), release: make(chan struct{})}
	testgrpc.RegisterTestServiceServer(srv, svc)
	lis := bufconn.Listen(1 << 20) // an in-memory listener; a net.Listener in real life
	go srv.Serve(lis)
	defer srv.Stop()

	cc, err := grpc.NewClient("passthrough:///example",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer cc.Close()
	client := testgrpc.NewTestServiceClient(cc)

	// The first call takes the only slot and keeps it until release.
	first := make(chan error)
	go func() {
		_, err := client.EmptyCall(context.Background(), &testgrpc.Empty{})
		first <- err
	}()
	<-svc.started

	// The second is shed.
	var trailer metadata.MD
	_, err = client.EmptyCall(context.Background(), &testgrpc.Empty{}, grpc.Trailer(&trailer))
	fmt.Println(status.Code(err), trailer.Get("grpc-retry-pushback-ms"))

	close(svc.release)
	fmt.Println("first call:", status.Code(<-first))
	// Output:
	// Unavailable [250]
	// first call: OK
}

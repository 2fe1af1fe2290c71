package resiliencegrpc_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/resiliencegrpc"
	"github.com/netresilience/resilience/retry"
)

// fakeService is grpc-go's interop TestService whose handlers each test
// steers by the call's number (1 for the first call the server sees). It
// records the grpc-previous-rpc-attempts value and the arrival time of
// every call.
type fakeService struct {
	testgrpc.UnimplementedTestServiceServer
	calls atomic.Int64

	mu    sync.Mutex
	prev  []string    // PreviousAttemptsHeader of each call, "" if absent
	times []time.Time // when each call arrived

	unary        func(ctx context.Context, n int64, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error)
	serverStream func(n int64, req *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error
	clientStream func(n int64, stream testgrpc.TestService_StreamingInputCallServer) error
	bidi         func(n int64, stream testgrpc.TestService_FullDuplexCallServer) error
}

func (s *fakeService) begin(ctx context.Context) int64 {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prev = append(s.prev, strings.Join(md.Get(resiliencegrpc.PreviousAttemptsHeader), ","))
	s.times = append(s.times, time.Now())
	return s.calls.Add(1)
}

// seen returns the PreviousAttemptsHeader values and arrival times so far.
func (s *fakeService) seen() ([]string, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.prev...), append([]time.Time(nil), s.times...)
}

func (s *fakeService) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	n := s.begin(ctx)
	if s.unary == nil {
		return &testgrpc.SimpleResponse{Username: "ok"}, nil
	}
	return s.unary(ctx, n, req)
}

func (s *fakeService) EmptyCall(ctx context.Context, _ *testgrpc.Empty) (*testgrpc.Empty, error) {
	n := s.begin(ctx)
	if s.unary != nil {
		if _, err := s.unary(ctx, n, nil); err != nil {
			return nil, err
		}
	}
	return &testgrpc.Empty{}, nil
}

func (s *fakeService) StreamingOutputCall(req *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
	return s.serverStream(s.begin(stream.Context()), req, stream)
}

func (s *fakeService) StreamingInputCall(stream testgrpc.TestService_StreamingInputCallServer) error {
	return s.clientStream(s.begin(stream.Context()), stream)
}

func (s *fakeService) FullDuplexCall(stream testgrpc.TestService_FullDuplexCallServer) error {
	return s.bidi(s.begin(stream.Context()), stream)
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// testServer is a grpc.Server on a real transport: TCP on 127.0.0.1, or
// grpc-go's in-memory bufconn, which runs inside a synctest bubble.
type testServer struct {
	lis    *countingListener
	target string
	dopts  []grpc.DialOption // what a client needs to reach it
	stop   func()            // stops the server, closing its connections
}

// startServer serves, on the transport, svc if it is not nil and whatever
// register adds. The server stops when the test ends.
func startServer(t testing.TB, transport string, svc *fakeService, register func(*grpc.Server)) *testServer {
	t.Helper()
	srv := grpc.NewServer()
	if svc != nil {
		testgrpc.RegisterTestServiceServer(srv, svc)
	}
	if register != nil {
		register(srv)
	}
	ts := &testServer{dopts: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}}
	switch transport {
	case "tcp":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ts.lis, ts.target = &countingListener{Listener: l}, l.Addr().String()
	case "bufconn":
		l := bufconn.Listen(1 << 20)
		ts.lis, ts.target = &countingListener{Listener: l}, "passthrough:///bufconn"
		ts.dopts = append(ts.dopts, grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return l.DialContext(ctx) }))
	default:
		t.Fatalf("unknown transport %q", transport)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ts.lis)
	}()
	ts.stop = func() {
		srv.Stop()
		<-served
	}
	t.Cleanup(ts.stop)
	return ts
}

// dial returns a new ClientConn to the server through c, closed when the
// test ends.
func (ts *testServer) dial(t testing.TB, c *resiliencegrpc.Client) *grpc.ClientConn {
	t.Helper()
	opts := append([]grpc.DialOption(nil), ts.dopts...)
	if c != nil {
		opts = append(opts, c.DialOptions()...)
	}
	cc, err := grpc.NewClient(ts.target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// overTransports runs f over TCP, on the wall clock, and over bufconn, inside a
// synctest bubble where waits take no time and are exact.
func overTransports(t *testing.T, f func(t *testing.T, transport string)) {
	t.Run("tcp", func(t *testing.T) { f(t, "tcp") })
	t.Run("bufconn", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) { f(t, "bufconn") })
	})
}

// checkWait checks a wait that the client made between two calls' arrivals:
// exactly want inside a bubble, at least want on the wall clock.
func checkWait(t *testing.T, transport, what string, got, want time.Duration) {
	t.Helper()
	if got < want || transport == "bufconn" && got != want {
		t.Errorf("%s: waited %v, want %v", what, got, want)
	}
}

// fastRetry is a retry config with a deterministic 10ms backoff that
// doubles.
func fastRetry(attempts int) retry.Config {
	return retry.Config{
		MaxAttempts: attempts,
		Backoff:     backoff.Exponential{Base: 10 * time.Millisecond, Max: time.Second, Jitter: backoff.NoJitter},
	}
}

// newClient is resiliencegrpc.NewClient for a config known to be valid.
func newClient(t *testing.T, cfg resiliencegrpc.Config) *resiliencegrpc.Client {
	t.Helper()
	c, err := resiliencegrpc.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// atomicCounter numbers calls from 1.
type atomicCounter struct{ n atomic.Int64 }

func (c *atomicCounter) next() int64 { return c.n.Add(1) }

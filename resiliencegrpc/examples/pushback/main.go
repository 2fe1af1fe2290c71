// Command pushback runs a gRPC server and a client on loopback and shows the
// two answers that let a gRPC client retry well, with resiliencegrpc on both
// sides:
//
//  1. A retry with pushback: the handler, busy, answers UNAVAILABLE with a
//     grpc-retry-pushback-ms trailer of 80 ms; the client waits exactly
//     that long (not its backoff), retries, and succeeds.
//  2. A shed request: the server runs one call at a time (a bulkhead); a
//     second call that comes meanwhile is shed before its handler runs,
//     Trailers-Only, with a pushback of 150 ms; the client retries it then,
//     when the slot is free again, and succeeds.
//
// Run it with
//
//	go run ./resiliencegrpc/examples/pushback
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/resiliencegrpc"
	"github.com/netresilience/resilience/retry"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pushback:", err)
		os.Exit(1)
	}
}

// service is the server's application: UnaryCall is busy once (it answers
// UNAVAILABLE with a pushback), then answers; EmptyCall holds the server's
// only slot until release is closed.
type service struct {
	testgrpc.UnimplementedTestServiceServer
	out      *log
	busyOnce atomic.Bool
	started  chan struct{}
	release  chan struct{}
}

func (s *service) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	prev := "none"
	if v := md.Get("grpc-previous-rpc-attempts"); len(v) > 0 {
		prev = v[0]
	}
	if s.busyOnce.CompareAndSwap(false, true) {
		s.out.printf("server: UnaryCall (previous attempts: %s): busy, UNAVAILABLE with pushback 80ms", prev)
		grpc.SetTrailer(ctx, metadata.Pairs("grpc-retry-pushback-ms", "80"))
		return nil, status.Error(codes.Unavailable, "busy")
	}
	s.out.printf("server: UnaryCall (previous attempts: %s): OK", prev)
	return &testgrpc.SimpleResponse{Username: "ok"}, nil
}

func (s *service) EmptyCall(ctx context.Context, _ *testgrpc.Empty) (*testgrpc.Empty, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("grpc-previous-rpc-attempts"); len(v) > 0 {
		s.out.printf("server: EmptyCall (previous attempts: %s): OK", v[0])
		return &testgrpc.Empty{}, nil
	}
	s.out.printf("server: EmptyCall: takes the only slot")
	close(s.started)
	<-s.release
	return &testgrpc.Empty{}, nil
}

// log prints lines in order from any goroutine.
type log struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *log) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}

func run(w io.Writer) error {
	out := &log{w: w}

	// The server: one call at a time; a call that finds the slot taken is
	// shed at once with UNAVAILABLE and a pushback of 150ms.
	shed, err := resiliencegrpc.NewServer(resiliencegrpc.ServerConfig{
		Bulkhead: bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1}),
		Pushback: 150 * time.Millisecond,
		Observer: &resilience.Observer{Reject: func(e resilience.Event) {
			out.printf("server: shed %s before its handler: %s, pushback %v", e.Policy, e.Reason, e.Delay)
		}},
	})
	if err != nil {
		return err
	}
	srv := grpc.NewServer(shed.ServerOptions()...)
	svc := &service{out: out, started: make(chan struct{}), release: make(chan struct{})}
	testgrpc.RegisterTestServiceServer(srv, svc)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() { srv.Stop(); <-served }()

	// The client: up to 3 attempts; a pushback is the wait itself.
	client, err := resiliencegrpc.NewClient(resiliencegrpc.Config{
		Retry: retry.Config{MaxAttempts: 3, Observer: &resilience.Observer{Retry: func(e resilience.Event) {
			out.printf("client: attempt %d failed (%s); retry in %v", e.Attempt, status.Code(e.Err), e.Delay)
		}}},
	})
	if err != nil {
		return err
	}
	opts := append(client.DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	cc, err := grpc.NewClient(lis.Addr().String(), opts...)
	if err != nil {
		return err
	}
	defer cc.Close()
	api := testgrpc.NewTestServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	fmt.Fprintln(w, "1. A retry with pushback")
	start := time.Now()
	if _, err := api.UnaryCall(ctx, &testgrpc.SimpleRequest{}); err != nil {
		return fmt.Errorf("UnaryCall: %w", err)
	}
	out.printf("client: UnaryCall OK after %s", atLeast(time.Since(start), 80*time.Millisecond))

	fmt.Fprintln(w, "\n2. A shed request")
	first := make(chan error, 1)
	go func() {
		_, err := api.EmptyCall(ctx, &testgrpc.Empty{})
		first <- err
	}()
	<-svc.started
	// The slot frees 50ms after the second call was shed: before its
	// pushback ends, so that its retry finds the slot free.
	time.AfterFunc(50*time.Millisecond, func() { close(svc.release) })
	start = time.Now()
	if _, err := api.EmptyCall(ctx, &testgrpc.Empty{}); err != nil {
		return fmt.Errorf("second EmptyCall: %w", err)
	}
	out.printf("client: second EmptyCall OK after %s", atLeast(time.Since(start), 150*time.Millisecond))
	if err := <-first; err != nil {
		return fmt.Errorf("first EmptyCall: %w", err)
	}
	out.printf("client: first EmptyCall OK")
	return nil
}

// atLeast says whether d reached min, the pushback it waited for; the
// exact time depends on the machine, so the output says only that.
func atLeast(d, min time.Duration) string {
	if d >= min {
		return "at least the pushback (" + strconv.Itoa(int(min/time.Millisecond)) + "ms)"
	}
	return "only " + d.String() + ", less than the pushback " + min.String()
}

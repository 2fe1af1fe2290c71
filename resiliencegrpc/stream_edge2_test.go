package resiliencegrpc_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencegrpc"
)

// A caller that reads the headers of a stream whose attempt fails
// Trailers-Only does not commit it: the failure is retried.
func TestHeaderOfTrailersOnlyAttempt(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{serverStream: func(n int64, _ *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
			if n == 1 {
				return status.Error(codes.Unavailable, "down")
			}
			return stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: body("a")})
		}}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3)})
		client := testgrpc.NewTestServiceClient(ts.dial(t, c))
		stream, err := client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		md, err := stream.Header()
		if err != nil {
			t.Logf("Header: %v, %v", md, err)
		}
		got, err := recvAll(stream)
		if err != nil || !slices.Equal(got, []string{"a"}) {
			t.Errorf("received %q, %v; want a (Header gave %v)", got, err, md)
		}
		if n := svc.calls.Load(); n != 2 {
			t.Errorf("server saw %d calls, want 2", n)
		}
	})
}

// A server that stops mid-stream: before the first message the stream is
// retried (and fails again, the server being gone), after it the caller
// gets the message once and then UNAVAILABLE.
func TestServerStopsMidStream(t *testing.T) {
	for _, transport := range []string{"tcp", "bufconn"} {
		for _, afterMessage := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/afterMessage=%v", transport, afterMessage), func(t *testing.T) {
				run := func(t *testing.T) {
					entered := make(chan struct{}, 4)
					svc := &fakeService{serverStream: func(n int64, _ *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
						if afterMessage {
							if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: body("a")}); err != nil {
								return err
							}
						}
						entered <- struct{}{}
						<-stream.Context().Done()
						return stream.Context().Err()
					}}
					ts2 := startServer(t, transport, svc, nil)
					c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), Breaker: &breaker.Config{FailureThreshold: 100}})
					cc := ts2.dial(t, c)
					client := testgrpc.NewTestServiceClient(cc)
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					stream, err := client.StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{})
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					if afterMessage {
						m, err := stream.Recv()
						if err != nil {
							t.Fatal(err)
						}
						got = append(got, string(m.GetPayload().GetBody()))
					}
					<-entered
					ts2.stop()
					rest, err := recvAll(stream)
					got = append(got, rest...)
					if status.Code(err) != codes.Unavailable {
						t.Errorf("stream: %v, want UNAVAILABLE", err)
					}
					if want := map[bool][]string{false: nil, true: {"a"}}[afterMessage]; !slices.Equal(got, want) {
						t.Errorf("received %q, want %q", got, want)
					}
					if n := svc.calls.Load(); n != 1 {
						t.Errorf("server saw %d calls, want 1", n)
					}
				}
				if transport == "bufconn" {
					synctest.Test(t, run)
				} else {
					run(t)
				}
			})
		}
	}
}

// A bidi stream retried while one goroutine sends and another receives,
// and another closes the sending side: the new attempt's server sees each
// message the caller sent exactly once, in order.
func TestBidiReplayCountedServerSide(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		const msgs = 20
		var mu sync.Mutex
		seen := map[int64][]string{}
		svc := &fakeService{bidi: func(n int64, stream testgrpc.TestService_FullDuplexCallServer) error {
			for {
				m, err := stream.Recv()
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
				mu.Lock()
				seen[n] = append(seen[n], string(m.GetPayload().GetBody()))
				k := len(seen[n])
				mu.Unlock()
				if n == 1 && k == msgs/2 {
					return status.Error(codes.Unavailable, "down midway")
				}
			}
			mu.Lock()
			k := len(seen[n])
			mu.Unlock()
			return stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: body(fmt.Sprint(k))})
		}}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), Breaker: &breaker.Config{}})
		client := testgrpc.NewTestServiceClient(ts.dial(t, c))
		stream, err := client.FullDuplexCall(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := range msgs {
				if err := stream.Send(&testgrpc.StreamingOutputCallRequest{Payload: body(fmt.Sprint(i))}); err != nil {
					t.Errorf("Send %d: %v", i, err)
					return
				}
			}
			if err := stream.CloseSend(); err != nil {
				t.Errorf("CloseSend: %v", err)
			}
		})
		got, err := recvAll(stream)
		wg.Wait()
		if err != nil || !slices.Equal(got, []string{fmt.Sprint(msgs)}) {
			t.Errorf("received %q, %v; want %d", got, err, msgs)
		}
		var want []string
		for i := range msgs {
			want = append(want, fmt.Sprint(i))
		}
		mu.Lock()
		defer mu.Unlock()
		if n := svc.calls.Load(); n != 2 {
			t.Fatalf("server saw %d calls, want 2", n)
		}
		if !slices.Equal(seen[2], want) {
			t.Errorf("the second attempt's server saw %q, want each message once in order", seen[2])
		}
	})
}

// A half-open breaker's probe is a stream that hangs: the breaker counts
// it failed at ProbeTimeout, and the caller's cancellation then settles
// nothing twice; a second probe later succeeds and closes the breaker.
func TestProbeStreamHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &fakeService{serverStream: func(n int64, _ *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
			switch n {
			case 1:
				return status.Error(codes.Unavailable, "down")
			case 2:
				<-stream.Context().Done()
				return stream.Context().Err()
			}
			return stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: body("a")})
		}}
		ts := startServer(t, "bufconn", svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(1),
			Breaker: &breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Minute, ProbeTimeout: time.Second}})
		cc := ts.dial(t, c)
		client := testgrpc.NewTestServiceClient(cc)
		stream, err := client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		recvAll(stream)
		br := c.Breaker(cc.Target())
		if br.State() != breaker.Open {
			t.Fatalf("breaker %v, want open", br.State())
		}
		time.Sleep(time.Minute)
		ctx, cancel := context.WithCancel(context.Background())
		probe, err := client.StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() {
			_, err := probe.Recv()
			done <- err
		}()
		time.Sleep(2 * time.Second) // past ProbeTimeout
		if s := br.Snapshot(); s.State != breaker.Open || s.Opened != 2 {
			t.Errorf("breaker past ProbeTimeout: %+v, want open again", s)
		}
		cancel()
		if err := <-done; status.Code(err) != codes.Canceled {
			t.Errorf("probe: %v, want CANCELED", err)
		}
		time.Sleep(time.Minute)
		stream, err = client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := recvAll(stream); err != nil || !slices.Equal(got, []string{"a"}) {
			t.Errorf("second probe: %q, %v", got, err)
		}
		if s := br.Snapshot(); s.State != breaker.Closed || s.ProbesInFlight != 0 {
			t.Errorf("breaker after the second probe: %+v, want closed", s)
		}
	})
}

// A stream that the caller abandons, canceling its context without reading
// to the end, holds no breaker permit and leaves no goroutine (which
// TestMain checks).
func TestAbandonedStream(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{
			serverStream: func(_ int64, _ *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
				for i := 0; ; i++ {
					if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: body("x")}); err != nil {
						return err
					}
					if i > 1000 {
						<-stream.Context().Done()
						return stream.Context().Err()
					}
				}
			},
		}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), AttemptTimeout: time.Hour,
			Breaker: &breaker.Config{FailureThreshold: 1, HalfOpenProbes: 1}})
		cc := ts.dial(t, c)
		client := testgrpc.NewTestServiceClient(cc)
		for range 3 {
			ctx, cancel := context.WithCancel(context.Background())
			stream, err := client.StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err != nil {
				t.Fatal(err)
			}
			cancel()
		}
		if s := c.Breaker(cc.Target()).Snapshot(); s.State != breaker.Closed || s.ConsecutiveFailures != 0 {
			t.Errorf("breaker: %+v", s)
		}
	})
}

// MaxTargets 1 with two targets called in turn: each call finds its
// target's state made fresh, and a breaker that one target opened does not
// follow the call to the other.
func TestMaxTargetsOneAlternating(t *testing.T) {
	down := &fakeService{unary: func(context.Context, int64, *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
		return nil, status.Error(codes.Internal, "broken")
	}}
	up := &fakeService{}
	tsDown := startServer(t, "tcp", down, nil)
	tsUp := startServer(t, "tcp", up, nil)
	c := newClient(t, resiliencegrpc.Config{MaxTargets: 1, Breaker: &breaker.Config{FailureThreshold: 1}})
	ccDown, ccUp := tsDown.dial(t, c), tsUp.dial(t, c)
	for i := range 5 {
		if _, err := testgrpc.NewTestServiceClient(ccDown).UnaryCall(context.Background(), &testgrpc.SimpleRequest{}); status.Code(err) != codes.Internal {
			t.Errorf("round %d, down: %v", i, err)
		}
		if _, err := testgrpc.NewTestServiceClient(ccUp).UnaryCall(context.Background(), &testgrpc.SimpleRequest{}); err != nil {
			t.Errorf("round %d, up: %v", i, err)
		}
	}
	if n := down.calls.Load(); n != 5 {
		t.Errorf("the failing target saw %d calls, want 5 (its breaker made afresh each time)", n)
	}
}

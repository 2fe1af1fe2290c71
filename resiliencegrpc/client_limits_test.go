package resiliencegrpc_test

import (
	"context"
	"math"
	"testing"
	"testing/synctest"

	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencegrpc"
)

// Numbers at their limits: MaxAttempts, BufferLimit and AttemptTimeout as
// large as they go, and an Observer whose funcs are all nil.
func TestConfigAtLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &fakeService{
			unary: failFirst(4, codes.Unavailable, nil),
			clientStream: func(n int64, stream testgrpc.TestService_StreamingInputCallServer) error {
				if n == 1 {
					return status.Error(codes.Unavailable, "down")
				}
				k := 0
				for {
					if _, err := stream.Recv(); err != nil {
						break
					}
					k++
				}
				return stream.SendAndClose(&testgrpc.StreamingInputCallResponse{AggregatedPayloadSize: int32(k)})
			},
		}
		ts := startServer(t, "bufconn", svc, nil)
		rc := fastRetry(math.MaxInt)
		c := newClient(t, resiliencegrpc.Config{Retry: rc, BufferLimit: math.MaxInt, AttemptTimeout: math.MaxInt64,
			MaxTargets: 1, Observer: &resilience.Observer{}, Breaker: &breaker.Config{FailureThreshold: 100}})
		client := testgrpc.NewTestServiceClient(ts.dial(t, c))
		if _, err := client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{}); err != nil {
			t.Errorf("unary: %v", err)
		}
		if n := svc.calls.Load(); n != 5 {
			t.Errorf("server saw %d calls, want 5", n)
		}
		stream, err := client.StreamingInputCall(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := stream.Send(&testgrpc.StreamingInputCallRequest{Payload: body("x")}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := stream.CloseAndRecv()
		if err != nil || resp.GetAggregatedPayloadSize() != 3 {
			t.Errorf("client stream: %v, %v; want 3 messages replayed", resp, err)
		}
	})
}

// A nil reply is the caller's mistake: the call fails with INTERNAL, and
// the target's breaker does not count it. (A nil request is sent empty.)
func TestNilReplyNotCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := startServer(t, "bufconn", &fakeService{}, nil)
		c := newClient(t, resiliencegrpc.Config{Breaker: &breaker.Config{FailureThreshold: 1}})
		cc := ts.dial(t, c)
		if err := cc.Invoke(context.Background(), "/grpc.testing.TestService/UnaryCall", nil, &testgrpc.SimpleResponse{}); err != nil {
			t.Errorf("nil request: %v", err)
		}
		err := cc.Invoke(context.Background(), "/grpc.testing.TestService/UnaryCall", &testgrpc.SimpleRequest{}, nil)
		if status.Code(err) != codes.Internal {
			t.Errorf("nil reply: %v, want INTERNAL", err)
		}
		if s := c.Breaker(cc.Target()).Snapshot(); s.State != breaker.Closed {
			t.Errorf("breaker after the caller's mistakes: %+v, want closed", s)
		}
	})
}

package resiliencegrpc_test

import (
	"context"
	"io"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencegrpc"
)

// A context that has ended before the call starts no attempt, of any kind
// of call, and counts for no breaker.
func TestContextEndedBeforeCall(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), Breaker: &breaker.Config{FailureThreshold: 1}})
		cc := ts.dial(t, c)
		client := testgrpc.NewTestServiceClient(cc)
		canceled, cancel := context.WithCancel(context.Background())
		cancel()
		expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel2()
		for _, tc := range []struct {
			ctx  context.Context
			code codes.Code
		}{{canceled, codes.Canceled}, {expired, codes.DeadlineExceeded}} {
			if _, err := client.UnaryCall(tc.ctx, &testgrpc.SimpleRequest{}); status.Code(err) != tc.code {
				t.Errorf("unary: %v, want %v", err, tc.code)
			}
			if _, err := client.StreamingOutputCall(tc.ctx, &testgrpc.StreamingOutputCallRequest{}); status.Code(err) != tc.code {
				t.Errorf("server stream: %v, want %v", err, tc.code)
			}
			if _, err := client.StreamingInputCall(tc.ctx); status.Code(err) != tc.code {
				t.Errorf("client stream: %v, want %v", err, tc.code)
			}
			if _, err := client.FullDuplexCall(tc.ctx); status.Code(err) != tc.code {
				t.Errorf("bidi stream: %v, want %v", err, tc.code)
			}
		}
		if n := svc.calls.Load(); n != 0 {
			t.Errorf("server saw %d calls, want 0", n)
		}
		if s := c.Breaker(cc.Target()).Snapshot(); s.State != breaker.Closed || s.ConsecutiveFailures != 0 {
			t.Errorf("breaker: %+v", s)
		}
	})
}

// pushedBack answers UNAVAILABLE with a pushback of an hour.
func pushedBack(ctx context.Context) error {
	grpc.SetTrailer(ctx, metadata.Pairs(resiliencegrpc.PushbackTrailer, "3600000"))
	return status.Error(codes.Unavailable, "come back in an hour")
}

// The caller's cancellation ends a pushback's wait at once, for a unary call
// and for a stream (whose replay would follow the wait).
func TestCancelDuringPushbackWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &fakeService{
			unary: func(ctx context.Context, _ int64, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
				return nil, pushedBack(ctx)
			},
			bidi: func(_ int64, stream testgrpc.TestService_FullDuplexCallServer) error {
				if _, err := stream.Recv(); err != nil {
					return err
				}
				return pushedBack(stream.Context())
			},
		}
		ts := startServer(t, "bufconn", svc, nil)
		rc := fastRetry(3)
		rc.MaxRetryAfter = 2 * time.Hour
		c := newClient(t, resiliencegrpc.Config{Retry: rc, Breaker: &breaker.Config{}})
		client := testgrpc.NewTestServiceClient(ts.dial(t, c))

		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		time.AfterFunc(time.Minute, cancel)
		if _, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{}); status.Code(err) != codes.Canceled {
			t.Errorf("unary: %v, want CANCELED", err)
		}
		if d := time.Since(start); d != time.Minute {
			t.Errorf("unary returned after %v, want 1m", d)
		}

		ctx, cancel = context.WithCancel(context.Background())
		stream, err := client.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&testgrpc.StreamingOutputCallRequest{Payload: body("a")}); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		time.AfterFunc(time.Minute, cancel)
		if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
			t.Errorf("bidi: %v, want CANCELED", err)
		}
		if d := time.Since(start); d != time.Minute {
			t.Errorf("bidi returned after %v, want 1m", d)
		}
		if err := stream.Send(&testgrpc.StreamingOutputCallRequest{Payload: body("b")}); err != io.EOF {
			t.Errorf("Send after the end: %v, want io.EOF", err)
		}
		if n := svc.calls.Load(); n != 2 {
			t.Errorf("server saw %d calls, want 2", n)
		}
	})
}

// A peer that hangs: without AttemptTimeout the caller's deadline ends the
// call, once; with it, each attempt is cut and retried, for unary calls and
// for each kind of stream.
func TestHangingPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := func(ctx context.Context) error {
			<-ctx.Done()
			return status.FromContextError(ctx.Err()).Err()
		}
		svc := &fakeService{
			unary: func(ctx context.Context, _ int64, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
				return nil, hang(ctx)
			},
			serverStream: func(_ int64, _ *testgrpc.StreamingOutputCallRequest, s testgrpc.TestService_StreamingOutputCallServer) error {
				return hang(s.Context())
			},
			clientStream: func(_ int64, s testgrpc.TestService_StreamingInputCallServer) error { return hang(s.Context()) },
			bidi:         func(_ int64, s testgrpc.TestService_FullDuplexCallServer) error { return hang(s.Context()) },
		}
		ts := startServer(t, "bufconn", svc, nil)
		for _, at := range []time.Duration{0, time.Second} {
			svc.calls.Store(0)
			c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), AttemptTimeout: at})
			client := testgrpc.NewTestServiceClient(ts.dial(t, c))
			want := int64(1)
			if at > 0 {
				want = 3
			}
			calls := map[string]func(ctx context.Context) error{
				"unary": func(ctx context.Context) error {
					_, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{})
					return err
				},
				"server stream": func(ctx context.Context) error {
					s, err := client.StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{})
					if err != nil {
						return err
					}
					_, err = s.Recv()
					return err
				},
				"client stream": func(ctx context.Context) error {
					s, err := client.StreamingInputCall(ctx)
					if err != nil {
						return err
					}
					if err := s.Send(&testgrpc.StreamingInputCallRequest{}); err != nil {
						return err
					}
					_, err = s.CloseAndRecv()
					return err
				},
				"bidi": func(ctx context.Context) error {
					s, err := client.FullDuplexCall(ctx)
					if err != nil {
						return err
					}
					_, err = s.Recv()
					return err
				},
			}
			for name, call := range calls {
				svc.calls.Store(0)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				err := call(ctx)
				cancel()
				wantCode := codes.DeadlineExceeded
				if status.Code(err) != wantCode {
					t.Errorf("AttemptTimeout %v, %s: %v, want %v", at, name, err, wantCode)
				}
				if n := svc.calls.Load(); n != want {
					t.Errorf("AttemptTimeout %v, %s: server saw %d calls, want %d", at, name, n, want)
				}
			}
		}
	})
}

// The commit rules of streams: response headers before a failure commit the
// stream; a Trailers-Only failure does not; a message before a failure
// commits it, and the caller sees the message once.
func TestStreamCommitRules(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		var mode string
		var mu sync.Mutex
		svc := &fakeService{bidi: func(n int64, stream testgrpc.TestService_FullDuplexCallServer) error {
			mu.Lock()
			m := mode
			mu.Unlock()
			if _, err := stream.Recv(); err != nil {
				return err
			}
			if n > 1 {
				return stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: body("fine")})
			}
			switch m {
			case "headers":
				if err := stream.SendHeader(metadata.Pairs("k", "v")); err != nil {
					return err
				}
			case "message":
				if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: body("one")}); err != nil {
					return err
				}
			}
			return status.Error(codes.Unavailable, "down")
		}}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), Breaker: &breaker.Config{FailureThreshold: 100}})
		client := testgrpc.NewTestServiceClient(ts.dial(t, c))
		for _, tc := range []struct {
			mode  string
			calls int64
			got   []string
			code  codes.Code
		}{
			{"headers", 1, nil, codes.Unavailable},
			{"trailers-only", 2, []string{"fine"}, codes.OK},
			{"message", 1, []string{"one"}, codes.Unavailable},
		} {
			mu.Lock()
			mode = tc.mode
			mu.Unlock()
			svc.calls.Store(0)
			stream, err := client.FullDuplexCall(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&testgrpc.StreamingOutputCallRequest{}); err != nil {
				t.Fatal(err)
			}
			got, err := recvAll(stream)
			if status.Code(err) != tc.code || !slices.Equal(got, tc.got) {
				t.Errorf("%s: received %q, %v; want %q, %v", tc.mode, got, err, tc.got, tc.code)
			}
			if n := svc.calls.Load(); n != tc.calls {
				t.Errorf("%s: server saw %d calls, want %d", tc.mode, n, tc.calls)
			}
		}
	})
}

package resiliencegrpc_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/resiliencegrpc"
	"github.com/netresilience/resilience/retry"
)

// failFirst answers the first n calls with code (and the trailer md, if
// any), and the others with a reply.
func failFirst(n int64, code codes.Code, md metadata.MD) func(context.Context, int64, *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	return func(ctx context.Context, i int64, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
		if i <= n {
			if md != nil {
				grpc.SetTrailer(ctx, md)
			}
			return nil, status.Error(code, "failing call "+string(rune('0'+i)))
		}
		return &testgrpc.SimpleResponse{Username: "ok"}, nil
	}
}

func TestUnaryRetriesUnavailable(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{unary: failFirst(2, codes.Unavailable, nil)}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), Breaker: &breaker.Config{}})
		client := testgrpc.NewTestServiceClient(ts.dial(t, c))
		reply, err := client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		if err != nil || reply.GetUsername() != "ok" {
			t.Fatalf("UnaryCall: %v, %v; want the third attempt's reply", reply, err)
		}
		prev, times := svc.seen()
		if want := []string{"", "1", "2"}; !slices.Equal(prev, want) {
			t.Errorf("grpc-previous-rpc-attempts seen by the server: %q, want %q", prev, want)
		}
		if len(times) == 3 {
			checkWait(t, transport, "after the first failure", times[1].Sub(times[0]), 10*time.Millisecond)
			checkWait(t, transport, "after the second failure", times[2].Sub(times[1]), 20*time.Millisecond)
		}
	})
}

func TestUnaryGivesUpWithLastStatus(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{unary: failFirst(10, codes.Unavailable, nil)}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(2)})
		client := testgrpc.NewTestServiceClient(ts.dial(t, c))
		_, err := client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		var re *retry.Error
		if status.Code(err) != codes.Unavailable || !errors.As(err, &re) || re.Reason != retry.Exhausted || re.Attempts != 2 {
			t.Errorf("UnaryCall: %v; want UNAVAILABLE, a *retry.Error after 2 attempts", err)
		}
		if n := svc.calls.Load(); n != 2 {
			t.Errorf("server saw %d calls, want 2", n)
		}
	})
}

func TestUnaryInvalidArgumentNotRetriedNorCounted(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{unary: failFirst(10, codes.InvalidArgument, nil)}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), Breaker: &breaker.Config{FailureThreshold: 1}})
		cc := ts.dial(t, c)
		client := testgrpc.NewTestServiceClient(cc)
		for range 3 {
			_, err := client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("UnaryCall: %v, want INVALID_ARGUMENT as it came", err)
			}
		}
		if n := svc.calls.Load(); n != 3 {
			t.Errorf("server saw %d calls for 3 calls, want 3: no retry", n)
		}
		s := c.Breaker(cc.Target()).Snapshot()
		if s.State != breaker.Closed || s.ConsecutiveFailures != 0 || s.Opened != 0 {
			t.Errorf("breaker after INVALID_ARGUMENT: %+v, want closed with no failure", s)
		}
	})
}

func TestUnaryPushback(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		// The first failure pushes back 50ms, the second has no pushback:
		// the backoff after it starts again from its base, 10ms, rather
		// than the 20ms of a second failure.
		svc := &fakeService{unary: func(ctx context.Context, n int64, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
			switch n {
			case 1:
				grpc.SetTrailer(ctx, metadata.Pairs(resiliencegrpc.PushbackTrailer, "50"))
				return nil, status.Error(codes.Unavailable, "push back")
			case 2:
				return nil, status.Error(codes.Unavailable, "again")
			}
			return &testgrpc.SimpleResponse{Username: "ok"}, nil
		}}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3)})
		client := testgrpc.NewTestServiceClient(ts.dial(t, c))
		if _, err := client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{}); err != nil {
			t.Fatalf("UnaryCall: %v", err)
		}
		_, times := svc.seen()
		if len(times) != 3 {
			t.Fatalf("server saw %d calls, want 3", len(times))
		}
		checkWait(t, transport, "after the pushback", times[1].Sub(times[0]), 50*time.Millisecond)
		if d := times[2].Sub(times[1]); transport == "bufconn" && d != 10*time.Millisecond {
			t.Errorf("after the pushback's retry failed: waited %v, want 10ms, the backoff's base", d)
		}
	})
}

func TestUnaryPushbackRefusal(t *testing.T) {
	for _, v := range []string{"-1", "soon", "99999999999"} {
		t.Run(v, func(t *testing.T) {
			overTransports(t, func(t *testing.T, transport string) {
				svc := &fakeService{unary: failFirst(10, codes.Unavailable, metadata.Pairs(resiliencegrpc.PushbackTrailer, v))}
				ts := startServer(t, transport, svc, nil)
				c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3)})
				client := testgrpc.NewTestServiceClient(ts.dial(t, c))
				_, err := client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
				var re *retry.Error
				if status.Code(err) != codes.Unavailable || !errors.As(err, &re) || re.Reason != retry.Refused {
					t.Errorf("UnaryCall: %v; want UNAVAILABLE, refused", err)
				}
				if n := svc.calls.Load(); n != 1 {
					t.Errorf("server saw %d calls, want 1", n)
				}
			})
		})
	}
}

func TestUnaryRetryInfo(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		// RESOURCE_EXHAUSTED is retried because it pushes back, after
		// exactly the RetryInfo's delay.
		svc := &fakeService{unary: func(ctx context.Context, n int64, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
			if n == 1 {
				st, err := status.New(codes.ResourceExhausted, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(30 * time.Millisecond)})
				if err != nil {
					return nil, err
				}
				return nil, st.Err()
			}
			return &testgrpc.SimpleResponse{Username: "ok"}, nil
		}}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3)})
		client := testgrpc.NewTestServiceClient(ts.dial(t, c))
		if _, err := client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{}); err != nil {
			t.Fatalf("UnaryCall: %v", err)
		}
		_, times := svc.seen()
		if len(times) != 2 {
			t.Fatalf("server saw %d calls, want 2", len(times))
		}
		checkWait(t, transport, "after RetryInfo", times[1].Sub(times[0]), 30*time.Millisecond)
	})
}

func TestUnaryResourceExhaustedWithoutPushback(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{unary: failFirst(1, codes.ResourceExhausted, nil)}
		ts := startServer(t, transport, svc, nil)
		client := testgrpc.NewTestServiceClient(ts.dial(t, newClient(t, resiliencegrpc.Config{Retry: fastRetry(3)})))
		if _, err := client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{}); status.Code(err) != codes.ResourceExhausted {
			t.Errorf("UnaryCall: %v, want RESOURCE_EXHAUSTED as it came", err)
		}
		if n := svc.calls.Load(); n != 1 {
			t.Errorf("server saw %d calls, want 1", n)
		}
		// Opted in: retried.
		opted := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), Codes: resiliencegrpc.Codes{Transient: []codes.Code{codes.Unavailable, codes.ResourceExhausted}}})
		client = testgrpc.NewTestServiceClient(ts.dial(t, opted))
		svc.calls.Store(0)
		if _, err := client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{}); err != nil {
			t.Errorf("UnaryCall with RESOURCE_EXHAUSTED transient: %v", err)
		}
	})
}

func TestBreakerOpenFailsFastWithoutConnecting(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{unary: failFirst(100, codes.Unavailable, nil)}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(1), Breaker: &breaker.Config{FailureThreshold: 2, RecoveryTimeout: time.Hour}})
		first := testgrpc.NewTestServiceClient(ts.dial(t, c))
		for range 2 {
			first.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		}
		if svc.calls.Load() != 2 || ts.lis.accepted.Load() != 1 {
			t.Fatalf("before: %d calls on %d connections, want 2 on 1", svc.calls.Load(), ts.lis.accepted.Load())
		}
		// A new ClientConn to the same target shares its breaker: its call
		// fails at once, and it never connects.
		second := testgrpc.NewTestServiceClient(ts.dial(t, c))
		_, err := second.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		var rej *resiliencegrpc.RejectedError
		if status.Code(err) != codes.Unavailable || !errors.Is(err, breaker.ErrOpen) || !errors.As(err, &rej) {
			t.Errorf("call through the open breaker: %v; want UNAVAILABLE matching breaker.ErrOpen", err)
		}
		if st, ok := status.FromError(err); !ok || st.Code() != codes.Unavailable {
			t.Errorf("status.FromError: %v, %v", st, ok)
		}
		stream, err := second.FullDuplexCall(context.Background())
		if stream != nil || status.Code(err) != codes.Unavailable || !errors.Is(err, breaker.ErrOpen) {
			t.Errorf("stream through the open breaker: %v, %v", stream, err)
		}
		if svc.calls.Load() != 2 || ts.lis.accepted.Load() != 1 {
			t.Errorf("after: %d calls on %d connections, want still 2 on 1", svc.calls.Load(), ts.lis.accepted.Load())
		}
	})
}

func TestCallerCancelNotRetriedNorCounted(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		started := make(chan struct{}, 1)
		svc := &fakeService{unary: func(ctx context.Context, _ int64, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
			started <- struct{}{}
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		}}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), Breaker: &breaker.Config{FailureThreshold: 1}})
		cc := ts.dial(t, c)
		client := testgrpc.NewTestServiceClient(cc)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-started
			cancel()
		}()
		_, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{})
		if status.Code(err) != codes.Canceled {
			t.Errorf("UnaryCall: %v, want CANCELED", err)
		}
		if n := svc.calls.Load(); n != 1 {
			t.Errorf("server saw %d calls, want 1", n)
		}
		if s := c.Breaker(cc.Target()).Snapshot(); s.State != breaker.Closed || s.ConsecutiveFailures != 0 {
			t.Errorf("breaker after the caller canceled: %+v, want closed with no failure", s)
		}
	})
}

func TestAttemptTimeout(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		// The first attempt outlasts the attempt timeout: retried.
		svc := &fakeService{unary: func(ctx context.Context, n int64, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
			if n == 1 {
				<-ctx.Done()
				return nil, status.FromContextError(ctx.Err()).Err()
			}
			return &testgrpc.SimpleResponse{Username: "ok"}, nil
		}}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), AttemptTimeout: 50 * time.Millisecond, Breaker: &breaker.Config{}})
		cc := ts.dial(t, c)
		client := testgrpc.NewTestServiceClient(cc)
		if _, err := client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{}); err != nil {
			t.Fatalf("UnaryCall: %v", err)
		}
		if n := svc.calls.Load(); n != 2 {
			t.Errorf("server saw %d calls, want 2", n)
		}
		if s := c.Breaker(cc.Target()).Snapshot(); s.ConsecutiveFailures != 0 {
			t.Errorf("breaker: %+v, want the success to reset the failure", s)
		}

		// The caller's deadline, shorter than the attempt timeout: not
		// retried, reported as DEADLINE_EXCEEDED.
		svc.calls.Store(0)
		svc.unary = func(ctx context.Context, _ int64, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{})
		if status.Code(err) != codes.DeadlineExceeded {
			t.Errorf("UnaryCall past the caller's deadline: %v, want DEADLINE_EXCEEDED", err)
		}
		if n := svc.calls.Load(); n != 1 {
			t.Errorf("server saw %d calls, want 1", n)
		}
	})
}

// partialService answers UnaryCall from a streaming handler, so that it can
// send a reply and then fail, as no unary handler can: the client's reply
// is written before the call fails.
func partialService(handler func(n int64, stream grpc.ServerStream) error) func(*grpc.Server) {
	var calls atomicCounter
	return func(s *grpc.Server) {
		s.RegisterService(&grpc.ServiceDesc{
			ServiceName: "grpc.testing.TestService",
			HandlerType: (*any)(nil),
			Streams: []grpc.StreamDesc{{
				StreamName:    "UnaryCall",
				ServerStreams: true,
				ClientStreams: true,
				Handler: func(_ any, stream grpc.ServerStream) error {
					var req testgrpc.SimpleRequest
					if err := stream.RecvMsg(&req); err != nil {
						return err
					}
					return handler(calls.next(), stream)
				},
			}},
		}, nil)
	}
}

func TestReplyIsolation(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		// A failed call that sent a reply first: committed by its headers,
		// not retried, and the caller's reply is left empty.
		ts := startServer(t, transport, nil, partialService(func(_ int64, stream grpc.ServerStream) error {
			stream.SendMsg(&testgrpc.SimpleResponse{Username: "partial", OauthScope: "leaked"})
			return status.Error(codes.Unavailable, "failed after a reply")
		}))
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3)})
		cc := ts.dial(t, c)
		reply := &testgrpc.SimpleResponse{Username: "caller's"}
		err := cc.Invoke(context.Background(), "/grpc.testing.TestService/UnaryCall", &testgrpc.SimpleRequest{}, reply)
		if status.Code(err) != codes.Unavailable {
			t.Errorf("Invoke: %v, want UNAVAILABLE", err)
		}
		if reply.GetUsername() != "" || reply.GetOauthScope() != "" {
			t.Errorf("reply after a failed call: %v, want it empty", reply)
		}
	})
}

func TestPerMethodOverrides(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{unary: failFirst(100, codes.Unavailable, nil)}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{
			Retry: fastRetry(3),
			Methods: map[string]resiliencegrpc.MethodConfig{
				"grpc.testing.TestService/*":          {Retry: &retry.Config{MaxAttempts: 2, Backoff: fastRetry(0).Backoff}},
				"/grpc.testing.TestService/EmptyCall": {Retry: &retry.Config{MaxAttempts: 1}},
			},
		})
		client := testgrpc.NewTestServiceClient(ts.dial(t, c))
		client.EmptyCall(context.Background(), &testgrpc.Empty{})
		if n := svc.calls.Swap(0); n != 1 {
			t.Errorf("EmptyCall: %d attempts, want 1 (its exact entry)", n)
		}
		client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		if n := svc.calls.Swap(0); n != 2 {
			t.Errorf("UnaryCall: %d attempts, want 2 (its service's entry)", n)
		}
		// Another service gets the Config's own policy.
		other := testgrpc.NewTestServiceClient(ts.dial(t, newClient(t, resiliencegrpc.Config{Retry: fastRetry(3),
			Methods: map[string]resiliencegrpc.MethodConfig{"other.Service/*": {Retry: &retry.Config{MaxAttempts: 1}}}})))
		other.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		if n := svc.calls.Swap(0); n != 3 {
			t.Errorf("UnaryCall under the Config's policy: %d attempts, want 3", n)
		}
	})
}

func TestNewClientRejectsBadConfigs(t *testing.T) {
	for name, cfg := range map[string]resiliencegrpc.Config{
		"negative AttemptTimeout": {AttemptTimeout: -time.Second},
		"bad retry":               {Retry: retry.Config{MaxAttempts: -1}},
		"bad breaker":             {Breaker: &breaker.Config{FailureRate: 2}},
		"code out of range":       {Codes: resiliencegrpc.Codes{Transient: []codes.Code{99}}},
		"OK listed":               {Codes: resiliencegrpc.Codes{Ignored: []codes.Code{codes.OK}}},
		"canceled listed":         {Codes: resiliencegrpc.Codes{Transient: []codes.Code{codes.Canceled}}},
		"code in both lists":      {Codes: resiliencegrpc.Codes{Transient: []codes.Code{codes.Aborted}, Ignored: []codes.Code{codes.Aborted}}},
		"method without service":  {Methods: map[string]resiliencegrpc.MethodConfig{"/Method": {}}},
		"method without name":     {Methods: map[string]resiliencegrpc.MethodConfig{"pkg.Service/": {}}},
		"method with a wildcard":  {Methods: map[string]resiliencegrpc.MethodConfig{"pkg.Service/Get*": {}}},
		"two keys for one method": {Methods: map[string]resiliencegrpc.MethodConfig{"/a.S/M": {}, "a.S/M": {}}},
		"retry and hedge":         {Methods: map[string]resiliencegrpc.MethodConfig{"a.S/M": {Retry: &retry.Config{}, Hedge: &hedgeConfig}}},
		"bad method retry":        {Methods: map[string]resiliencegrpc.MethodConfig{"a.S/M": {Retry: &retry.Config{MaxElapsed: -1}}}},
		"bad hedge":               {Hedge: &badHedgeConfig},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := resiliencegrpc.NewClient(cfg)
			if err == nil || c != nil {
				t.Fatalf("NewClient: %v, %v; want an error", c, err)
			}
			if !strings.HasPrefix(err.Error(), "resiliencegrpc: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestClassification(t *testing.T) {
	// Through the client's retry policy: its Decide says how each failure
	// is classified.
	c := newClient(t, resiliencegrpc.Config{})
	for _, tc := range []struct {
		name string
		err  error
		want resilience.Class
	}{
		{"unavailable", status.Error(codes.Unavailable, ""), resilience.ClassTransient},
		{"internal", status.Error(codes.Internal, ""), resilience.ClassPermanent},
		{"invalid argument", status.Error(codes.InvalidArgument, ""), resilience.ClassIgnored},
		{"canceled", status.Error(codes.Canceled, ""), resilience.ClassIgnored},
		{"resource exhausted", status.Error(codes.ResourceExhausted, ""), resilience.ClassPermanent},
		{"resource exhausted, pushback", resilience.WithPushback(status.Error(codes.ResourceExhausted, ""), time.Second), resilience.ClassTransient},
		{"resource exhausted, refusal", resilience.WithPushback(status.Error(codes.ResourceExhausted, ""), -1), resilience.ClassTransient},
		{"deadline exceeded", status.Error(codes.DeadlineExceeded, ""), resilience.ClassPermanent},
		{"unknown code", status.Error(codes.Code(42), ""), resilience.ClassPermanent},
		{"not a status, transient", resilience.Transient(errors.New("x")), resilience.ClassTransient},
		{"not a status", errors.New("x"), resilience.ClassPermanent},
		{"rejection", &resiliencegrpc.RejectedError{Code: codes.Unavailable, Err: breaker.ErrOpen}, resilience.ClassIgnored},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Classify(tc.err); got != tc.want {
				t.Errorf("class of %v: %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

var (
	hedgeConfig    = hedge.Config{Delay: 10 * time.Millisecond}
	badHedgeConfig = hedge.Config{Delay: -time.Second}
)

func TestPushbackLimits(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{unary: failFirst(10, codes.Unavailable, metadata.Pairs(resiliencegrpc.PushbackTrailer, "5000"))}
		ts := startServer(t, transport, svc, nil)

		// Longer than MaxRetryAfter: the retries end at once.
		rc := fastRetry(3)
		rc.MaxRetryAfter = time.Second
		client := testgrpc.NewTestServiceClient(ts.dial(t, newClient(t, resiliencegrpc.Config{Retry: rc})))
		_, err := client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		var re *retry.Error
		if !errors.As(err, &re) || re.Reason != retry.HintTooLong || status.Code(err) != codes.Unavailable {
			t.Errorf("pushback above MaxRetryAfter: %v, want UNAVAILABLE, hint too long", err)
		}

		// Past the caller's deadline: the retries end at once too.
		client = testgrpc.NewTestServiceClient(ts.dial(t, newClient(t, resiliencegrpc.Config{Retry: fastRetry(3)})))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err = client.UnaryCall(ctx, &testgrpc.SimpleRequest{})
		if !errors.As(err, &re) || re.Reason != retry.Deadline || status.Code(err) != codes.Unavailable {
			t.Errorf("pushback past the deadline: %v, want UNAVAILABLE, deadline too near", err)
		}
		if d := time.Since(start); d >= time.Second {
			t.Errorf("the call took %v: it waited for the deadline", d)
		}
		if n := svc.calls.Load(); n != 2 {
			t.Errorf("server saw %d calls, want 2", n)
		}
	})
}

func TestCommittedFailureReported(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		// A failure after headers: not retried, and the GiveUp event says
		// why.
		svc := &fakeService{unary: func(ctx context.Context, _ int64, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
			grpc.SendHeader(ctx, metadata.Pairs("k", "v"))
			return nil, status.Error(codes.Unavailable, "after headers")
		}}
		ts := startServer(t, transport, svc, nil)
		var events []resilience.Event
		obs := &resilience.Observer{GiveUp: func(e resilience.Event) { events = append(events, e) }}
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), Observer: obs})
		_, err := testgrpc.NewTestServiceClient(ts.dial(t, c)).UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		if status.Code(err) != codes.Unavailable {
			t.Errorf("UnaryCall: %v, want UNAVAILABLE", err)
		}
		if n := svc.calls.Load(); n != 1 {
			t.Errorf("server saw %d calls, want 1", n)
		}
		if len(events) != 1 || events[0].Kind != resilience.KindTransport || events[0].Reason != "committed" {
			t.Errorf("GiveUp events: %+v, want one of kind transport, reason committed", events)
		}
	})
}

func TestMaxTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := startServer(t, "bufconn", &fakeService{}, nil)
		c := newClient(t, resiliencegrpc.Config{Breaker: &breaker.Config{}, Throttling: &budget.TokensConfig{}, MaxTargets: 2})
		for _, target := range []string{"passthrough:///a", "passthrough:///b", "passthrough:///c"} {
			cc, err := grpc.NewClient(target, append(ts.dopts, c.DialOptions()...)...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := testgrpc.NewTestServiceClient(cc).EmptyCall(context.Background(), &testgrpc.Empty{}); err != nil {
				t.Fatal(err)
			}
			cc.Close()
		}
		if c.Breaker("passthrough:///a") != nil || c.Tokens("passthrough:///a") != nil {
			t.Error("the first target's state is kept past MaxTargets")
		}
		for _, target := range []string{"passthrough:///b", "passthrough:///c"} {
			if c.Breaker(target) == nil || c.Tokens(target) == nil {
				t.Errorf("no state for %s", target)
			}
			if name := c.Breaker(target).Name(); name != target {
				t.Errorf("breaker of %s is named %q", target, name)
			}
		}
	})
}

func TestBudgetRefusalGivesLastStatus(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{unary: failFirst(100, codes.Unavailable, nil)}
		ts := startServer(t, transport, svc, nil)
		// Retries may add 10% of the calls, with no floor: the first
		// call's retry is refused.
		b := budget.MustNew(budget.Config{Ratio: 0.1, MinPerSecond: -1})
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), Budget: b})
		_, err := testgrpc.NewTestServiceClient(ts.dial(t, c)).UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		var re *retry.Error
		if status.Code(err) != codes.Unavailable || !errors.Is(err, budget.ErrExhausted) || !errors.As(err, &re) || re.Attempts != 1 {
			t.Errorf("UnaryCall: %v; want UNAVAILABLE after 1 attempt, matching budget.ErrExhausted", err)
		}
		if n := svc.calls.Load(); n != 1 {
			t.Errorf("server saw %d calls, want 1", n)
		}
	})
}

func TestThrottling(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{unary: failFirst(3, codes.Unavailable, nil)}
		ts := startServer(t, transport, svc, nil)
		// 4 tokens: retries go while more than 2 are left.
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(5), Throttling: &budget.TokensConfig{MaxTokens: 4, TokenRatio: 0.5}})
		cc := ts.dial(t, c)
		client := testgrpc.NewTestServiceClient(cc)

		// 4 → 3, retried; 3 → 2, throttled.
		_, err := client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		var re *retry.Error
		if status.Code(err) != codes.Unavailable || !errors.Is(err, budget.ErrExhausted) || !errors.As(err, &re) || re.Attempts != 2 {
			t.Errorf("first call: %v; want UNAVAILABLE after 2 attempts, throttled", err)
		}
		// 2 → 1, throttled at once.
		_, err = client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		if status.Code(err) != codes.Unavailable || !errors.As(err, &re) || re.Attempts != 1 {
			t.Errorf("second call: %v; want UNAVAILABLE after 1 attempt, throttled", err)
		}
		if n := svc.calls.Load(); n != 3 {
			t.Errorf("server saw %d calls, want 3", n)
		}
		if s := c.Tokens(cc.Target()).Snapshot(); s.Tokens != 1 {
			t.Errorf("tokens: %+v, want 1 left", s)
		}
		// Successes give tokens back.
		for range 2 {
			if _, err := client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{}); err != nil {
				t.Fatal(err)
			}
		}
		if s := c.Tokens(cc.Target()).Snapshot(); s.Tokens != 2 {
			t.Errorf("tokens after 2 successes: %+v, want 2", s)
		}
	})
}

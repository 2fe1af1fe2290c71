package resiliencegrpc_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/resiliencegrpc"
)

func TestHedgedUnary(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		// The first attempt hangs; the hedge, 10ms later, wins.
		svc := &fakeService{unary: func(ctx context.Context, n int64, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
			grpc.SetHeader(ctx, metadata.Pairs("attempt", strconv.FormatInt(n, 10)))
			if n == 1 {
				<-ctx.Done()
				return nil, status.FromContextError(ctx.Err()).Err()
			}
			return &testgrpc.SimpleResponse{Username: "hedge"}, nil
		}}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{
			Retry:   fastRetry(3),
			Hedge:   &hedge.Config{Delay: 10 * time.Millisecond},
			Breaker: &breaker.Config{FailureThreshold: 1},
		})
		cc := ts.dial(t, c)
		var header metadata.MD
		reply, err := testgrpc.NewTestServiceClient(cc).UnaryCall(context.Background(), &testgrpc.SimpleRequest{}, grpc.Header(&header))
		if err != nil || reply.GetUsername() != "hedge" {
			t.Fatalf("UnaryCall: %v, %v; want the hedge's reply", reply, err)
		}
		if got := header.Get("attempt"); !slices.Equal(got, []string{"2"}) {
			t.Errorf("header: %q, want the winner's, attempt 2", got)
		}
		// Over TCP the first attempt, which makes the connection, may
		// arrive after the hedge: only the bubble's times are compared.
		prev, times := svc.seen()
		if slices.Sort(prev); !slices.Equal(prev, []string{"", "1"}) {
			t.Errorf("grpc-previous-rpc-attempts: %q, want \"\" and \"1\"", prev)
		}
		if len(times) == 2 && transport == "bufconn" {
			checkWait(t, transport, "before the hedge", times[1].Sub(times[0]), 10*time.Millisecond)
		}
		if s := c.Breaker(cc.Target()).Snapshot(); s.State != breaker.Closed || s.ConsecutiveFailures != 0 {
			t.Errorf("breaker: %+v, want the lost attempt not counted", s)
		}
	})
}

func TestHedgedReplyIsolation(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		// The first attempt writes a reply and then fails, late; the
		// hedge's reply is the caller's, with nothing of the first.
		ts := startServer(t, transport, nil, partialService(func(n int64, stream grpc.ServerStream) error {
			if n == 1 {
				stream.SendMsg(&testgrpc.SimpleResponse{Username: "partial", OauthScope: "leaked"})
				<-stream.Context().Done()
				return status.Error(codes.Unavailable, "failed after a reply")
			}
			return stream.SendMsg(&testgrpc.SimpleResponse{Username: "good"})
		}))
		c := newClient(t, resiliencegrpc.Config{Hedge: &hedge.Config{Delay: 10 * time.Millisecond}})
		cc := ts.dial(t, c)
		reply := &testgrpc.SimpleResponse{ServerId: "caller's"}
		err := cc.Invoke(context.Background(), "/grpc.testing.TestService/UnaryCall", &testgrpc.SimpleRequest{}, reply)
		if err != nil {
			t.Fatalf("Invoke: %v", err)
		}
		if reply.GetUsername() != "good" || reply.GetOauthScope() != "" || reply.GetServerId() != "" {
			t.Errorf("reply: %v, want exactly the hedge's", reply)
		}
	})
}

func TestHedgeNonFatalFailureHedgesAtOnce(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{unary: failFirst(1, codes.Unavailable, nil)}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Hedge: &hedge.Config{Delay: time.Hour}})
		start := time.Now()
		reply, err := testgrpc.NewTestServiceClient(ts.dial(t, c)).UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		if err != nil || reply.GetUsername() != "ok" {
			t.Fatalf("UnaryCall: %v, %v; want the hedge's reply", reply, err)
		}
		if d := time.Since(start); d >= time.Hour || transport == "bufconn" && d != 0 {
			t.Errorf("the call took %v: the hedge waited for its delay", d)
		}
		if n := svc.calls.Load(); n != 2 {
			t.Errorf("server saw %d calls, want 2", n)
		}
	})
}

func TestHedgeFatalFailureEndsTheCall(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		canceled := make(chan struct{})
		svc := &fakeService{unary: func(ctx context.Context, n int64, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
			if n == 1 {
				<-ctx.Done()
				close(canceled)
				return nil, status.FromContextError(ctx.Err()).Err()
			}
			return nil, status.Error(codes.InvalidArgument, "bad request")
		}}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Hedge: &hedge.Config{Delay: 10 * time.Millisecond, MaxHedges: 3}})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := testgrpc.NewTestServiceClient(ts.dial(t, c)).UnaryCall(ctx, &testgrpc.SimpleRequest{})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("UnaryCall: %v, want the fatal INVALID_ARGUMENT", err)
		}
		<-canceled // the first attempt was canceled
		if n := svc.calls.Load(); n != 2 {
			t.Errorf("server saw %d calls, want 2: no hedge after a fatal failure", n)
		}
	})
}

func TestHedgeRefusedByPushback(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		// The first hedge fails at once with a "do not retry" pushback: no
		// more hedges start, and the first attempt runs on alone.
		svc := &fakeService{unary: func(ctx context.Context, n int64, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
			if n == 2 {
				grpc.SetTrailer(ctx, metadata.Pairs(resiliencegrpc.PushbackTrailer, "-1"))
				return nil, status.Error(codes.Unavailable, "go away")
			}
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		}}
		ts := startServer(t, transport, svc, nil)
		// Hedges 100ms apart: over TCP, on a loaded machine, the refusal
		// may take longer than 10ms to come back, and a third attempt sent
		// on schedule before it arrives is right, but not what is tested.
		c := newClient(t, resiliencegrpc.Config{Hedge: &hedge.Config{Delay: 100 * time.Millisecond, MaxHedges: 3}})
		ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		defer cancel()
		_, err := testgrpc.NewTestServiceClient(ts.dial(t, c)).UnaryCall(ctx, &testgrpc.SimpleRequest{})
		if status.Code(err) != codes.DeadlineExceeded {
			t.Errorf("UnaryCall: %v, want DEADLINE_EXCEEDED", err)
		}
		if n := svc.calls.Load(); n != 2 {
			t.Errorf("server saw %d calls, want 2: no hedge after the refusal", n)
		}
	})
}

func TestHedgeThrottled(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		// 2 tokens: hedges go while more than 1 is left. The first
		// attempt's failure takes one, and its hedge is refused.
		svc := &fakeService{unary: failFirst(100, codes.Unavailable, nil)}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{
			Hedge:      &hedge.Config{Delay: time.Hour, MaxHedges: 3},
			Throttling: &budget.TokensConfig{MaxTokens: 2},
		})
		cc := ts.dial(t, c)
		_, err := testgrpc.NewTestServiceClient(cc).UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		if status.Code(err) != codes.Unavailable {
			t.Errorf("UnaryCall: %v, want UNAVAILABLE", err)
		}
		if n := svc.calls.Load(); n != 1 {
			t.Errorf("server saw %d calls, want 1: the hedges were throttled", n)
		}
		if s := c.Tokens(cc.Target()).Snapshot(); s.Tokens != 1 {
			t.Errorf("tokens: %+v, want 1 left", s)
		}
	})
}

package resiliencegrpc_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/resiliencegrpc"
	"github.com/netresilience/resilience/throttle"
)

// aimd returns an AIMD limiter that starts at initial: a drop cuts it by
// 0.9, and a success with at least half of it in flight raises it.
func aimd(initial int) *adaptive.Limiter {
	return adaptive.MustNew(adaptive.Config{Name: "api", Initial: initial})
}

func TestAdaptiveBoundUnderConcurrentCalls(t *testing.T) {
	// A limit pinned at 3 (Min = Max), calls that wait for room: every call
	// goes through, 3 at a time.
	const limit, calls = 3, 30
	lim := adaptive.MustNew(adaptive.Config{Algorithm: adaptive.Gradient, Initial: limit, Min: limit, Max: limit, MaxWait: time.Minute, MaxQueue: calls})
	boundUnderConcurrentCalls(t, resiliencegrpc.ServerConfig{Adaptive: lim}, limit, calls)
	if s := lim.Snapshot(); s.Admitted != calls || s.Rejected != 0 || s.InFlight != 0 || s.Waiting != 0 {
		t.Errorf("limiter: %+v", s)
	}
}

func TestAdaptiveShedsBeyondTheLimit(t *testing.T) {
	// Over TCP: two calls hold a limit of 2; the third is shed before its
	// handler runs, with UNAVAILABLE, the pushback trailer and a Reject
	// event; a stream too.
	lim := adaptive.MustNew(adaptive.Config{Algorithm: adaptive.Gradient, Initial: 2, Min: 2, Max: 2})
	var mu sync.Mutex
	var events []resilience.Event
	s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{
		Adaptive: lim,
		Pushback: 40 * time.Millisecond,
		Observer: &resilience.Observer{Reject: func(e resilience.Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}},
	})
	started := make(chan struct{}, 2)
	hold := make(chan struct{})
	svc := &testService{hook: func(ctx context.Context, n int64) error {
		if n <= 2 {
			started <- struct{}{}
			<-hold
		}
		return nil
	}}
	client, _ := serve(t, "tcp", s.ServerOptions(), svc, nil)
	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := client.EmptyCall(context.Background(), &testgrpc.Empty{})
			done <- err
		}()
	}
	<-started
	<-started

	var trailer metadata.MD
	_, err := client.EmptyCall(context.Background(), &testgrpc.Empty{}, grpc.Trailer(&trailer))
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "too many calls in progress") || trailer.Get("grpc-retry-pushback-ms")[0] != "40" {
		t.Errorf("shed call: %v, trailer %v; want Unavailable with a pushback of 40ms", err, trailer)
	}
	stream, err := client.FullDuplexCall(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable || stream.Trailer().Get("grpc-retry-pushback-ms")[0] != "40" {
		t.Errorf("shed stream: %v, trailer %v", err, stream.Trailer())
	}
	close(hold)
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("holding call: %v", err)
		}
	}
	if n := svc.calls.Load(); n != 2 {
		t.Errorf("handlers ran %d times, want 2", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 {
		t.Fatalf("%d Reject events, want 2", len(events))
	}
	for _, e := range events {
		if e.Kind != resilience.KindServer || e.Reason != "no wait allowed" || e.Delay != 40*time.Millisecond ||
			!errors.Is(e.Err, adaptive.ErrLimited) || !errors.Is(e.Err, bulkhead.ErrFull) {
			t.Errorf("Reject event %+v", e)
		}
		if _, ok := errors.AsType[*adaptive.Error](e.Err); !ok {
			t.Errorf("Reject event's Err %v: errors.As finds no *adaptive.Error", e.Err)
		}
	}
}

func TestAdaptiveLearnsFromTheHandlersCode(t *testing.T) {
	// A drop cuts the AIMD limit from 10 to 9; anything else leaves it (a
	// success with 1 call in flight of 10 does not raise it).
	resourceFirst := func(c codes.Code) resilience.Class {
		if c == codes.Aborted {
			return resilience.ClassTransient
		}
		return resiliencegrpc.ServerClassifyCode(c)
	}
	for _, tc := range []struct {
		name     string
		err      error
		classify func(codes.Code) resilience.Class
		want     int
	}{
		{"ok", nil, nil, 10},
		{"not found", status.Error(codes.NotFound, "none"), nil, 10},
		{"invalid argument", status.Error(codes.InvalidArgument, "bad"), nil, 10},
		{"canceled, by the handler", status.Error(codes.Canceled, "gone"), nil, 10},
		{"unavailable", status.Error(codes.Unavailable, "down"), nil, 9},
		{"resource exhausted", status.Error(codes.ResourceExhausted, "full"), nil, 9},
		{"internal", status.Error(codes.Internal, "bug"), nil, 9},
		{"deadline exceeded from the context", context.DeadlineExceeded, nil, 9},
		{"plain error (unknown)", errors.New("oops"), nil, 9},
		{"aborted", status.Error(codes.Aborted, "conflict"), nil, 10},
		{"aborted, custom Classify", status.Error(codes.Aborted, "conflict"), resourceFirst, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := aimd(10)
			s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{Adaptive: lim, Classify: tc.classify})
			client, _ := serve(t, "bufconn", s.ServerOptions(), &testService{hook: func(context.Context, int64) error { return tc.err }}, nil)
			client.EmptyCall(context.Background(), &testgrpc.Empty{})
			if got := lim.Limit(); got != tc.want {
				t.Errorf("limit %d after the answer, want %d", got, tc.want)
			}
			if s := lim.Snapshot(); s.InFlight != 0 || s.Admitted != 1 {
				t.Errorf("limiter: %+v", s)
			}
		})
	}
}

func TestAdaptiveStreamHoldsItsRoomAndReports(t *testing.T) {
	lim := aimd(10)
	s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{Adaptive: lim})
	svc := &testService{hook: func(ctx context.Context, n int64) error {
		if n == 2 {
			return status.Error(codes.Unavailable, "down")
		}
		return nil
	}}
	client, _ := serve(t, "tcp", s.ServerOptions(), svc, nil)

	stream, err := client.FullDuplexCall(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&testgrpc.StreamingOutputCallRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	if n := lim.InFlight(); n != 1 {
		t.Errorf("InFlight = %d while the stream is open, want 1", n)
	}
	stream.CloseSend()
	if _, err := stream.Recv(); err == nil {
		t.Fatal("stream did not end")
	}
	if s := lim.Snapshot(); s.InFlight != 0 || s.Limit != 10 {
		t.Errorf("after a stream that ended well: %+v, want the room freed and the limit left at 10", s)
	}

	stream, err = client.FullDuplexCall(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("stream: %v, want the handler's Unavailable", err)
	}
	if s := lim.Snapshot(); s.InFlight != 0 || s.Limit != 9 {
		t.Errorf("after a stream that failed with Unavailable: %+v, want the limit cut to 9", s)
	}
}

func TestAdaptivePanicIsADrop(t *testing.T) {
	lim := aimd(10)
	th := throttle.MustNew(throttle.Config{})
	s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{Adaptive: lim, Throttle: th})
	var recovered atomic.Value
	recoverer := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if v := recover(); v != nil {
				recovered.Store(v)
				err = status.Error(codes.Internal, "panic")
			}
		}()
		return handler(ctx, req)
	}
	opts := []grpc.ServerOption{grpc.ChainUnaryInterceptor(recoverer, s.UnaryServerInterceptor())}
	client, _ := serve(t, "bufconn", opts, &testService{hook: func(context.Context, int64) error { panic("handler bug") }}, nil)
	if _, err := client.EmptyCall(context.Background(), &testgrpc.Empty{}); status.Code(err) != codes.Internal {
		t.Fatalf("call: %v, want the recoverer's Internal", err)
	}
	if v := recovered.Load(); v != "handler bug" {
		t.Errorf("recovered %v, want the handler's panic", v)
	}
	if s := lim.Snapshot(); s.InFlight != 0 || s.Limit != 9 {
		t.Errorf("limiter after the panic: %+v, want the room freed and the limit cut to 9", s)
	}
	if snap := th.Snapshot(); snap.Requests != 1 || snap.Accepts != 0 {
		t.Errorf("throttle: %+v, want a failure", snap)
	}
}

func TestAdaptiveIgnoresACallItsClientCanceled(t *testing.T) {
	// The client cancels its call while the handler runs; the handler then
	// answers. An AIMD limit of 1 would grow to 2 after a success (one call
	// in flight uses it all), and a drop would cut a limit of 2 back to 1:
	// neither happens while the client is gone.
	lim := aimd(1)
	s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{Adaptive: lim})
	inHandler := make(chan struct{}, 1)
	served := make(chan struct{}, 1)
	after := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		defer func() { served <- struct{}{} }() // the Server's interceptor has returned
		return handler(ctx, req)
	}
	svc := &testService{hook: func(ctx context.Context, _ int64) error {
		md, _ := metadata.FromIncomingContext(ctx)
		if len(md.Get("wait")) > 0 {
			inHandler <- struct{}{}
			<-ctx.Done()
		}
		if len(md.Get("fail")) > 0 {
			return status.Error(codes.Unavailable, "down")
		}
		return nil
	}}
	opts := []grpc.ServerOption{grpc.ChainUnaryInterceptor(after, s.UnaryServerInterceptor())}
	client, _ := serve(t, "tcp", opts, svc, nil)
	call := func(gone bool, kv ...string) {
		t.Helper()
		ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), kv...))
		defer cancel()
		if gone {
			ctx = metadata.AppendToOutgoingContext(ctx, "wait", "1")
			go func() {
				<-inHandler
				cancel()
			}()
		}
		_, err := client.EmptyCall(ctx, &testgrpc.Empty{})
		if gone && status.Code(err) != codes.Canceled {
			t.Errorf("call: %v, want Canceled", err)
		}
		<-served
	}

	call(true, "ok", "1")
	if got := lim.Limit(); got != 1 {
		t.Errorf("limit %d after a success to a client that went away, want 1", got)
	}
	call(false, "ok", "1")
	if got := lim.Limit(); got != 2 {
		t.Errorf("limit %d after a success to a client that stayed, want 2", got)
	}
	call(true, "fail", "1")
	if got := lim.Limit(); got != 2 {
		t.Errorf("limit %d after Unavailable to a client that went away, want 2", got)
	}
	call(false, "fail", "1")
	if got := lim.Limit(); got != 1 {
		t.Errorf("limit %d after Unavailable to a client that stayed, want 1", got)
	}
	if s := lim.Snapshot(); s.InFlight != 0 || s.Admitted != 4 {
		t.Errorf("limiter: %+v", s)
	}
}

func TestAdaptiveWaiterGivesUpWithItsContext(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(cancel context.CancelFunc)
		want codes.Code
	}{
		{"canceled", func(cancel context.CancelFunc) { cancel() }, codes.Canceled},
		{"deadline", func(context.CancelFunc) { time.Sleep(time.Second) }, codes.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lim := adaptive.MustNew(adaptive.Config{Initial: 1, Max: 1, MaxWait: time.Hour, MaxQueue: 1})
				var rejects atomic.Int64
				s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{
					Adaptive: lim,
					Observer: &resilience.Observer{Reject: func(resilience.Event) { rejects.Add(1) }},
				})
				h := newHolder()
				svc := &testService{hook: h.hook}
				client, _ := serve(t, "bufconn", s.ServerOptions(), svc, nil)
				holdSlot(t, client, h)

				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				done := make(chan error, 1)
				go func() {
					_, err := client.EmptyCall(ctx, &testgrpc.Empty{})
					done <- err
				}()
				synctest.Wait()
				if n := lim.Waiting(); n != 1 {
					t.Fatalf("%d calls wait for room, want 1", n)
				}
				tc.end(cancel)
				if err := <-done; status.Code(err) != tc.want {
					t.Errorf("waiting call: %v, want %v", err, tc.want)
				}
				synctest.Wait()
				if s := lim.Snapshot(); s.Waiting != 0 || s.Abandoned != 1 || s.Rejected != 0 {
					t.Errorf("limiter: %+v, want the wait abandoned", s)
				}
				if n := rejects.Load(); n != 0 {
					t.Errorf("%d Reject events, want none", n)
				}
				if n := svc.calls.Load(); n != 1 {
					t.Errorf("handler ran %d times, want 1", n)
				}
			})
		})
	}
}

func TestAdaptiveWaitTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := adaptive.MustNew(adaptive.Config{Initial: 1, Max: 1, MaxWait: 100 * time.Millisecond})
		var reasons []string
		var mu sync.Mutex
		s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{
			Adaptive: lim,
			Observer: &resilience.Observer{Reject: func(e resilience.Event) {
				mu.Lock()
				reasons = append(reasons, e.Reason)
				mu.Unlock()
			}},
		})
		h := newHolder()
		client, _ := serve(t, "bufconn", s.ServerOptions(), &testService{hook: h.hook}, nil)
		holdSlot(t, client, h)
		start := time.Now()
		_, err := client.EmptyCall(context.Background(), &testgrpc.Empty{})
		if status.Code(err) != codes.Unavailable || time.Since(start) != 100*time.Millisecond {
			t.Errorf("call: %v after %v, want Unavailable after 100ms", err, time.Since(start))
		}
		mu.Lock()
		defer mu.Unlock()
		if len(reasons) != 1 || reasons[0] != "wait timed out" {
			t.Errorf("Reject reasons %q, want one, wait timed out", reasons)
		}
	})
}

func TestAdaptivePriorityFromMetadata(t *testing.T) {
	// An interceptor chained before the Server's sets the call's priority
	// from its metadata. With a limit of 4, low-priority calls may fill
	// half of it, critical ones all of it.
	lim := adaptive.MustNew(adaptive.Config{Algorithm: adaptive.Gradient, Initial: 4, Min: 4, Max: 4, Priorities: true})
	s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{Adaptive: lim})
	priorities := map[string]adaptive.Priority{"low": adaptive.Low, "critical": adaptive.Critical}
	withPriority := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		if v := md.Get("x-priority"); len(v) > 0 {
			if p, ok := priorities[v[0]]; ok {
				ctx = adaptive.WithPriority(ctx, p)
			}
		}
		return handler(ctx, req)
	}
	opts := []grpc.ServerOption{grpc.ChainUnaryInterceptor(withPriority, s.UnaryServerInterceptor())}
	svc := &testService{}
	client, _ := serve(t, "bufconn", opts, svc, nil)

	// Two calls in flight (here, permits taken directly).
	a, _ := lim.TryAcquire()
	b, _ := lim.TryAcquire()
	defer a.Release(resilience.Outcome{})
	defer b.Release(resilience.Outcome{})
	for _, tc := range []struct {
		priority string
		want     codes.Code
	}{
		{"low", codes.Unavailable},
		{"", codes.OK},
		{"critical", codes.OK},
	} {
		ctx := context.Background()
		if tc.priority != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "x-priority", tc.priority)
		}
		if _, err := client.EmptyCall(ctx, &testgrpc.Empty{}); status.Code(err) != tc.want {
			t.Errorf("priority %q: %v, want %v", tc.priority, err, tc.want)
		}
	}
}

func TestAdaptiveInterceptorsAllocateNothing(t *testing.T) {
	s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{
		Adaptive: adaptive.MustNew(adaptive.Config{Algorithm: adaptive.Gradient}),
		Throttle: throttle.MustNew(throttle.Config{}),
	})
	ctx := context.Background()
	unary := s.UnaryServerInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: "/grpc.testing.TestService/EmptyCall"}
	resp := &testgrpc.Empty{}
	handler := func(context.Context, any) (any, error) { return resp, nil }
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := unary(ctx, resp, info, handler); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("an admitted unary call allocates %v times in the interceptor, want 0", n)
	}
	stream := s.StreamServerInterceptor()
	sinfo := &grpc.StreamServerInfo{FullMethod: "/grpc.testing.TestService/FullDuplexCall", IsClientStream: true, IsServerStream: true}
	ss := &fakeStream{ctx: ctx}
	shandler := func(any, grpc.ServerStream) error { return nil }
	if n := testing.AllocsPerRun(1000, func() {
		if err := stream(nil, ss, sinfo, shandler); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("an admitted stream allocates %v times in the interceptor, want 0", n)
	}
}

func TestAdaptiveShedErrorMatchesRejection(t *testing.T) {
	lim := adaptive.MustNew(adaptive.Config{Name: "api", Initial: 1, Max: 1})
	s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{Adaptive: lim, Code: codes.ResourceExhausted})
	p, err := lim.TryAcquire()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release(resilience.Outcome{})
	ran := false
	info := &grpc.UnaryServerInfo{FullMethod: "/grpc.testing.TestService/EmptyCall"}
	_, err = s.UnaryServerInterceptor()(context.Background(), nil, info, func(context.Context, any) (any, error) { ran = true; return nil, nil })
	if ran || !errors.Is(err, adaptive.ErrLimited) || !errors.Is(err, bulkhead.ErrFull) || status.Code(err) != codes.ResourceExhausted {
		t.Errorf("shed call: ran %v, err %v; want adaptive.ErrLimited and ResourceExhausted", ran, err)
	}
	if ae, ok := errors.AsType[*adaptive.Error](err); !ok || ae.Name != "api" {
		t.Errorf("errors.As finds no *adaptive.Error of the limiter in %v", err)
	}
}

package resiliencegrpc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/resiliencegrpc"
	"github.com/netresilience/resilience/throttle"
)

// testService is grpc-go's interop TestService with handlers the tests
// steer: each call counts, then runs the test's hook with its number (1 for
// the first call).
type testService struct {
	testgrpc.UnimplementedTestServiceServer
	calls atomic.Int64
	hook  func(ctx context.Context, n int64) error // nil: answer at once
}

func (s *testService) run(ctx context.Context) error {
	n := s.calls.Add(1)
	if s.hook == nil {
		return nil
	}
	return s.hook(ctx, n)
}

func (s *testService) EmptyCall(ctx context.Context, _ *testgrpc.Empty) (*testgrpc.Empty, error) {
	if err := s.run(ctx); err != nil {
		return nil, err
	}
	return &testgrpc.Empty{}, nil
}

// FullDuplexCall answers each request with one response, until the client
// closes its side.
func (s *testService) FullDuplexCall(stream testgrpc.TestService_FullDuplexCallServer) error {
	if err := s.run(stream.Context()); err != nil {
		return err
	}
	for {
		if _, err := stream.Recv(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{}); err != nil {
			return err
		}
	}
}

// The transports the tests run over: real TCP on 127.0.0.1, and grpc-go's
// in-memory bufconn, which also runs inside a synctest bubble.
var transports = []string{"tcp", "bufconn"}

// serve starts a grpc.Server with opts and svc (and whatever register adds)
// on the transport, and returns a client of it, dialed with dopts. Both end
// with the test.
func serve(t *testing.T, transport string, opts []grpc.ServerOption, svc *testService, register func(*grpc.Server), dopts ...grpc.DialOption) (testgrpc.TestServiceClient, *grpc.ClientConn) {
	t.Helper()
	srv := grpc.NewServer(opts...)
	testgrpc.RegisterTestServiceServer(srv, svc)
	if register != nil {
		register(srv)
	}
	var lis net.Listener
	var target string
	switch transport {
	case "tcp":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lis, target = l, l.Addr().String()
	case "bufconn":
		l := bufconn.Listen(1 << 20)
		lis, target = l, "passthrough:///bufconn"
		dopts = append(dopts, grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return l.DialContext(ctx) }))
	default:
		t.Fatalf("unknown transport %q", transport)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(lis)
	}()
	dopts = append(dopts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	cc, err := grpc.NewClient(target, dopts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		srv.Stop()
		<-served
	})
	return testgrpc.NewTestServiceClient(cc), cc
}

// holder makes the first call to a testService block until release is
// called, and lets started report when it runs.
type holder struct {
	started chan struct{}
	hold    chan struct{}
	once    sync.Once
}

func newHolder() *holder {
	return &holder{started: make(chan struct{}), hold: make(chan struct{})}
}

// hook is a testService hook: call 1 blocks, the others answer at once.
func (h *holder) hook(ctx context.Context, n int64) error {
	if n != 1 {
		return nil
	}
	close(h.started)
	<-h.hold
	return nil
}

func (h *holder) release() { h.once.Do(func() { close(h.hold) }) }

// holdSlot makes a call that takes the server's only bulkhead slot, and
// returns once its handler runs. The func it returns releases h and waits
// for the call's answer, by which time the slot is free: grpc-go sends the
// answer after the interceptors return. It runs at the latest when the test
// ends.
func holdSlot(t *testing.T, client testgrpc.TestServiceClient, h *holder) (release func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := client.EmptyCall(context.Background(), &testgrpc.Empty{})
		done <- err
	}()
	var once sync.Once
	release = func() {
		once.Do(func() {
			h.release()
			if err := <-done; err != nil {
				t.Errorf("the call holding the slot: %v", err)
			}
		})
	}
	t.Cleanup(release)
	<-h.started
	return release
}

func TestShedUnaryIsTrailersOnly(t *testing.T) {
	for _, tc := range []struct {
		name     string
		code     codes.Code
		pushback time.Duration
		wantCode codes.Code
		wantPush []string // the trailer's values; nil for none
	}{
		{"defaults", 0, 0, codes.Unavailable, []string{"1000"}},
		{"resource exhausted, 250ms", codes.ResourceExhausted, 250 * time.Millisecond, codes.ResourceExhausted, []string{"250"}},
		{"rounded up to the millisecond", codes.Unavailable, 1500 * time.Microsecond, codes.Unavailable, []string{"2"}},
		{"no pushback", codes.Unavailable, -1, codes.Unavailable, nil},
	} {
		for _, transport := range transports {
			t.Run(tc.name+"/"+transport, func(t *testing.T) {
				b := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
				s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{Bulkhead: b, Code: tc.code, Pushback: tc.pushback})
				h := newHolder()
				svc := &testService{hook: h.hook}
				client, _ := serve(t, transport, s.ServerOptions(), svc, nil)
				holdSlot(t, client, h)

				var header, trailer metadata.MD
				_, err := client.EmptyCall(context.Background(), &testgrpc.Empty{}, grpc.Header(&header), grpc.Trailer(&trailer))
				st := status.Convert(err)
				if st.Code() != tc.wantCode || !strings.Contains(st.Message(), "too many calls in progress") {
					t.Errorf("shed call: %v, want code %v and a message that says why", err, tc.wantCode)
				}
				if len(header) != 0 {
					t.Errorf("shed call's header metadata = %v, want none: a Trailers-Only answer", header)
				}
				if got := trailer.Get("grpc-retry-pushback-ms"); fmt.Sprint(got) != fmt.Sprint(tc.wantPush) {
					t.Errorf("grpc-retry-pushback-ms = %q, want %q", got, tc.wantPush)
				}
				if n := svc.calls.Load(); n != 1 {
					t.Errorf("handler ran %d times, want 1: the shed call must not reach it", n)
				}
			})
		}
	}
}

// An admitted call's answer has headers: what the shed call's lack of them
// is measured against.
func TestAdmittedUnaryHasHeaders(t *testing.T) {
	s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{Bulkhead: bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})})
	client, _ := serve(t, "tcp", s.ServerOptions(), &testService{}, nil)
	var header, trailer metadata.MD
	if _, err := client.EmptyCall(context.Background(), &testgrpc.Empty{}, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
		t.Fatal(err)
	}
	if len(header) == 0 {
		t.Error("an admitted call's header metadata is empty, want content-type at least")
	}
	if got := trailer.Get("grpc-retry-pushback-ms"); got != nil {
		t.Errorf("an admitted call has grpc-retry-pushback-ms %q", got)
	}
}

func TestShedStreamIsTrailersOnly(t *testing.T) {
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			b := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
			s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{Bulkhead: b, Code: codes.ResourceExhausted, Pushback: 40 * time.Millisecond})
			h := newHolder()
			svc := &testService{hook: h.hook}
			client, _ := serve(t, transport, s.ServerOptions(), svc, nil)
			release := holdSlot(t, client, h)

			stream, err := client.FullDuplexCall(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			_, err = stream.Recv()
			if st := status.Convert(err); st.Code() != codes.ResourceExhausted {
				t.Errorf("shed stream's Recv: %v, want ResourceExhausted", err)
			}
			header, err := stream.Header()
			if len(header) != 0 {
				t.Errorf("shed stream's header metadata = %v (%v), want none: a Trailers-Only answer", header, err)
			}
			if got := stream.Trailer().Get("grpc-retry-pushback-ms"); len(got) != 1 || got[0] != "40" {
				t.Errorf("grpc-retry-pushback-ms = %q, want [40]", got)
			}
			if n := svc.calls.Load(); n != 1 {
				t.Errorf("handler ran %d times, want 1: the shed stream must not reach it", n)
			}

			// Once the slot is free, a stream goes through.
			release()
			stream, err = client.FullDuplexCall(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&testgrpc.StreamingOutputCallRequest{}); err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err != nil {
				t.Fatalf("admitted stream: %v", err)
			}
			stream.CloseSend()
			if _, err := stream.Recv(); err != io.EOF {
				t.Fatalf("admitted stream's end: %v, want io.EOF", err)
			}
		})
	}
}

// A stock grpc-go client whose own retry policy (in its service config)
// retries UNAVAILABLE retries a shed call after the pushback, and the retry
// succeeds: grpc-go retries only Trailers-Only answers, so this shows the
// shed answer is one. Without the trailer, it retries after its own
// backoff, 1ms here, which grpc-go jitters by ±20%.
func TestStockClientRetriesShedCallAfterPushback(t *testing.T) {
	const serviceConfig = `{"methodConfig": [{
		"name": [{"service": "grpc.testing.TestService"}],
		"retryPolicy": {
			"maxAttempts": 2,
			"initialBackoff": "0.001s",
			"maxBackoff": "0.001s",
			"backoffMultiplier": 1,
			"retryableStatusCodes": ["UNAVAILABLE"]
		}
	}]}`
	for _, tc := range []struct {
		name            string
		pushback        time.Duration
		atLeast, atMost time.Duration
	}{
		{"pushback 200ms", 200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond},
		{"no pushback", -1, 800 * time.Microsecond, 1200 * time.Microsecond}, // grpc-go's backoff: 1ms, ±20%
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				shed := make(chan struct{}, 1)
				b := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
				s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{
					Bulkhead: b,
					Pushback: tc.pushback,
					Observer: &resilience.Observer{Reject: func(resilience.Event) {
						select {
						case shed <- struct{}{}:
						default:
						}
					}},
				})
				h := newHolder()
				svc := &testService{hook: h.hook}
				client, _ := serve(t, "bufconn", s.ServerOptions(), svc, nil, grpc.WithDefaultServiceConfig(serviceConfig))
				holdSlot(t, client, h)

				done := make(chan error, 1)
				var elapsed time.Duration
				go func() {
					start := time.Now()
					_, err := client.EmptyCall(context.Background(), &testgrpc.Empty{})
					elapsed = time.Since(start)
					done <- err
				}()
				<-shed // the first attempt was shed; free the slot for the retry
				h.release()
				if err := <-done; err != nil {
					t.Fatalf("the retried call failed: %v", err)
				}
				if elapsed < tc.atLeast || elapsed > tc.atMost {
					t.Errorf("the call took %v, want between %v and %v", elapsed, tc.atLeast, tc.atMost)
				}
				if n := svc.calls.Load(); n != 2 {
					t.Errorf("handler ran %d times, want 2: the holding call and the retry", n)
				}
			})
		})
	}
}

func TestBulkheadBoundUnderConcurrentCalls(t *testing.T) {
	const limit, calls = 3, 30
	b := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: limit, MaxWait: time.Minute, MaxQueue: calls})
	boundUnderConcurrentCalls(t, resiliencegrpc.ServerConfig{Bulkhead: b}, limit, calls)
}

// boundUnderConcurrentCalls makes calls calls at once through a server
// with cfg, whose policy lets limit of them in at a time and the others
// wait, and checks that every call goes through and no more than limit
// are in the handlers at once.
func boundUnderConcurrentCalls(t *testing.T, cfg resiliencegrpc.ServerConfig, limit, calls int) {
	t.Helper()
	s := resiliencegrpc.MustNewServer(cfg)
	var inHandler, most atomic.Int64
	arrived := make(chan struct{})
	release := make(chan struct{})
	svc := &testService{hook: func(ctx context.Context, _ int64) error {
		n := inHandler.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		arrived <- struct{}{}
		<-release
		inHandler.Add(-1)
		return nil
	}}
	client, _ := serve(t, "tcp", s.ServerOptions(), svc, nil)

	errs := make(chan error, calls)
	for range calls {
		go func() {
			_, err := client.EmptyCall(context.Background(), &testgrpc.Empty{})
			errs <- err
		}()
	}
	// Let limit handlers in before releasing any, then release one per
	// arrival: every call goes through, limit at a time.
	for range limit {
		<-arrived
	}
	for range calls - limit {
		release <- struct{}{}
		<-arrived
	}
	for range limit {
		release <- struct{}{}
	}
	for range calls {
		if err := <-errs; err != nil {
			t.Errorf("call: %v", err)
		}
	}
	if m := most.Load(); m != int64(limit) {
		t.Errorf("at most %d calls were in handlers at once, want %d", m, limit)
	}
	if n := svc.calls.Load(); n != int64(calls) {
		t.Errorf("handler ran %d times, want %d", n, calls)
	}
}

func TestThrottleShedsOnceFailuresMount(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		wantShed bool
	}{
		{"unavailable", status.Error(codes.Unavailable, "down"), true},
		{"resource exhausted", status.Error(codes.ResourceExhausted, "full"), true},
		{"deadline exceeded from the context", context.DeadlineExceeded, true},
		{"plain error (unknown)", errors.New("oops"), true},
		{"invalid argument", status.Error(codes.InvalidArgument, "bad"), false},
		{"not found, wrapped", fmt.Errorf("lookup: %w", status.Error(codes.NotFound, "none")), false},
		{"canceled", status.Error(codes.Canceled, "gone"), false},
		{"success", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := throttle.MustNew(throttle.Config{Seed: 1})
			var rejects []resilience.Event
			var mu sync.Mutex
			s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{
				Throttle: th,
				Pushback: 30 * time.Millisecond,
				Observer: &resilience.Observer{Reject: func(e resilience.Event) {
					mu.Lock()
					rejects = append(rejects, e)
					mu.Unlock()
				}},
			})
			svc := &testService{hook: func(context.Context, int64) error { return tc.err }}
			client, _ := serve(t, "bufconn", s.ServerOptions(), svc, nil)
			const calls = 60
			shed := 0
			for range calls {
				var trailer metadata.MD
				_, err := client.EmptyCall(context.Background(), &testgrpc.Empty{}, grpc.Trailer(&trailer))
				if st := status.Convert(err); strings.Contains(st.Message(), "shedding load after recent failures") {
					shed++
					if st.Code() != codes.Unavailable || trailer.Get("grpc-retry-pushback-ms")[0] != "30" {
						t.Errorf("shed call: %v, trailer %v", err, trailer)
					}
				}
			}
			if handled := int(svc.calls.Load()); handled+shed != calls {
				t.Errorf("%d calls handled and %d shed, want %d in all", handled, shed, calls)
			}
			if tc.wantShed && shed < calls/4 {
				t.Errorf("%d of %d calls shed, want a good share: every handled call failed", shed, calls)
			}
			if !tc.wantShed && shed != 0 {
				t.Errorf("%d calls shed, want none: the handler's answers say nothing of overload", shed)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(rejects) != shed {
				t.Fatalf("%d Reject events, want one per shed call, %d", len(rejects), shed)
			}
			for _, e := range rejects {
				if e.Kind != resilience.KindServer || e.Policy != "/grpc.testing.TestService/EmptyCall" || e.Reason != "throttled" ||
					e.Delay != 30*time.Millisecond || !errors.Is(e.Err, throttle.ErrThrottled) || e.Probability <= 0 || e.Context == nil {
					t.Errorf("Reject event %+v", e)
					break
				}
				if _, ok := errors.AsType[*throttle.Error](e.Err); !ok {
					t.Errorf("Reject event's Err %v: errors.As finds no *throttle.Error", e.Err)
				}
			}
		})
	}
}

// The codes a custom Classify sees are those the client gets.
func TestClassifySeesTheClientsCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want codes.Code
	}{
		{nil, codes.OK},
		{status.Error(codes.NotFound, "x"), codes.NotFound},
		{fmt.Errorf("wrapped: %w", status.Error(codes.Aborted, "x")), codes.Aborted},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{fmt.Errorf("wrapped: %w", context.Canceled), codes.Canceled},
		{errors.New("plain"), codes.Unknown},
	} {
		seen := make(chan codes.Code, 1)
		s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{
			Throttle: throttle.MustNew(throttle.Config{}),
			Classify: func(c codes.Code) resilience.Class { seen <- c; return resiliencegrpc.ServerClassifyCode(c) },
		})
		client, _ := serve(t, "bufconn", s.ServerOptions(), &testService{hook: func(context.Context, int64) error { return tc.err }}, nil)
		_, err := client.EmptyCall(context.Background(), &testgrpc.Empty{})
		if got := <-seen; got != tc.want || status.Code(err) != tc.want {
			t.Errorf("handler error %v: Classify saw %v, client got %v; want %v", tc.err, got, status.Code(err), tc.want)
		}
	}
}

// A panicking handler counts as a failure for the throttle and frees its
// slot, and the panic goes on, here to a recovering interceptor chained
// before the Server's.
func TestPanickingHandler(t *testing.T) {
	b := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
	th := throttle.MustNew(throttle.Config{})
	s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{Bulkhead: b, Throttle: th})
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
	svc := &testService{hook: func(context.Context, int64) error { panic("handler bug") }}
	client, _ := serve(t, "bufconn", opts, svc, nil)
	if _, err := client.EmptyCall(context.Background(), &testgrpc.Empty{}); status.Code(err) != codes.Internal {
		t.Fatalf("call: %v, want the recoverer's Internal", err)
	}
	if v := recovered.Load(); v != "handler bug" {
		t.Errorf("recovered %v, want the handler's panic", v)
	}
	if n := b.InFlight(); n != 0 {
		t.Errorf("bulkhead holds %d calls after the panic, want 0", n)
	}
	if snap := th.Snapshot(); snap.Requests != 1 || snap.Accepts != 0 {
		t.Errorf("throttle counts %d requests, %d accepts; want 1 request, not accepted", snap.Requests, snap.Accepts)
	}
}

// A call waiting for a bulkhead slot gives up when its client cancels it or
// its deadline passes; the handler never runs, and the throttle counts
// nothing of it.
func TestWaiterGivesUpWithItsContext(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(cancel context.CancelFunc) // ends the call's context
		want codes.Code
	}{
		{"canceled", func(cancel context.CancelFunc) { cancel() }, codes.Canceled},
		{"deadline", func(context.CancelFunc) { time.Sleep(time.Second) }, codes.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Hour, MaxQueue: 1})
				th := throttle.MustNew(throttle.Config{})
				var rejects atomic.Int64
				s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{
					Bulkhead: b, Throttle: th,
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
				if n := b.Waiting(); n != 1 {
					t.Fatalf("%d calls wait for a slot, want 1", n)
				}
				tc.end(cancel)
				if err := <-done; status.Code(err) != tc.want {
					t.Errorf("waiting call: %v, want %v", err, tc.want)
				}
				synctest.Wait()
				if n := b.Waiting(); n != 0 {
					t.Errorf("%d calls still wait for a slot after their context ended, want 0", n)
				}
				if n := svc.calls.Load(); n != 1 {
					t.Errorf("handler ran %d times, want 1: the holding call alone", n)
				}
				if snap := th.Snapshot(); snap.Requests != 0 {
					t.Errorf("throttle counts %d requests, want 0: the holding call is in flight, the other never ran", snap.Requests)
				}
				if n := rejects.Load(); n != 0 {
					t.Errorf("%d Reject events, want none: a wait its context ended is no rejection", n)
				}
			})
		})
	}
}

// A wait for a slot that outlasts MaxWait is shed, with a Reject event.
func TestWaitTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1, MaxWait: 100 * time.Millisecond, MaxQueue: 1})
		var mu sync.Mutex
		var events []resilience.Event
		s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{
			Bulkhead: b,
			Observer: &resilience.Observer{Reject: func(e resilience.Event) {
				mu.Lock()
				events = append(events, e)
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
		if len(events) != 1 || events[0].Reason != "wait timed out" || !errors.Is(events[0].Err, bulkhead.ErrFull) ||
			events[0].Delay != resiliencegrpc.DefaultServerPushback || events[0].Kind != resilience.KindServer {
			t.Errorf("Reject events %+v, want one, wait timed out", events)
		}
	})
}

func TestSkip(t *testing.T) {
	t.Run("health and reflection by default", func(t *testing.T) {
		b := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
		s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{Bulkhead: b})
		h := newHolder()
		client, cc := serve(t, "tcp", s.ServerOptions(), &testService{hook: h.hook}, func(srv *grpc.Server) {
			healthpb.RegisterHealthServer(srv, health.NewServer())
		})
		holdSlot(t, client, h)
		resp, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health check with the bulkhead full: %v, %v; want SERVING", resp, err)
		}
		// The Watch stream too.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		watch, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health watch with the bulkhead full: %v, %v; want SERVING", resp, err)
		}
		if _, err := client.EmptyCall(context.Background(), &testgrpc.Empty{}); status.Code(err) != codes.Unavailable {
			t.Errorf("EmptyCall with the bulkhead full: %v, want Unavailable", err)
		}
		for _, m := range []string{"/grpc.health.v1.Health/Check", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"} {
			if !resiliencegrpc.SkipHealthAndReflection(m) {
				t.Errorf("SkipHealthAndReflection(%q) = false", m)
			}
		}
		for _, m := range []string{"/grpc.testing.TestService/EmptyCall", "/grpc.health.v1.HealthX/Check", ""} {
			if resiliencegrpc.SkipHealthAndReflection(m) {
				t.Errorf("SkipHealthAndReflection(%q) = true", m)
			}
		}
	})
	t.Run("custom", func(t *testing.T) {
		b := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
		s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{
			Bulkhead: b,
			Skip:     func(m string) bool { return m == "/grpc.testing.TestService/EmptyCall" },
		})
		h := newHolder()
		svc := &testService{hook: h.hook}
		client, _ := serve(t, "bufconn", s.ServerOptions(), svc, nil)
		holdSlot(t, client, h)
		if n := b.InFlight(); n != 0 {
			t.Errorf("a skipped call holds a slot: %d in flight", n)
		}
		// The stream takes the slot; EmptyCall still goes through.
		stream, err := client.FullDuplexCall(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		stream.Send(&testgrpc.StreamingOutputCallRequest{})
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
		if _, err := client.EmptyCall(context.Background(), &testgrpc.Empty{}); err != nil {
			t.Errorf("skipped EmptyCall with the slot taken: %v", err)
		}
		stream2, err := client.FullDuplexCall(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream2.Recv(); status.Code(err) != codes.Unavailable {
			t.Errorf("second stream with the slot taken: %v, want Unavailable", err)
		}
		stream.CloseSend()
		if _, err := stream.Recv(); err != io.EOF {
			t.Errorf("first stream's end: %v", err)
		}
	})
}

func TestNewServerBadConfig(t *testing.T) {
	b := bulkhead.MustNew(bulkhead.Config{})
	for _, tc := range []struct {
		cfg  resiliencegrpc.ServerConfig
		want string
	}{
		{resiliencegrpc.ServerConfig{}, "no Bulkhead, Adaptive or Throttle"},
		{resiliencegrpc.ServerConfig{Pushback: time.Second}, "no Bulkhead, Adaptive or Throttle"},
		{resiliencegrpc.ServerConfig{Bulkhead: b, Code: codes.Internal}, "Code is Internal"},
		{resiliencegrpc.ServerConfig{Bulkhead: b, Code: codes.Canceled}, "Code is Canceled"},
		{resiliencegrpc.ServerConfig{Bulkhead: b, Code: codes.Code(99)}, "Code is Code(99)"},
		{resiliencegrpc.ServerConfig{Bulkhead: b, Pushback: resiliencegrpc.MaxServerPushback + time.Millisecond}, "above MaxServerPushback"},
	} {
		s, err := resiliencegrpc.NewServer(tc.cfg)
		if err == nil || s != nil || !strings.HasPrefix(err.Error(), "resiliencegrpc: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewServer(%+v) = %v, %v; want an error saying %q", tc.cfg, s, err, tc.want)
		}
	}
	for _, cfg := range []resiliencegrpc.ServerConfig{
		{Bulkhead: b, Code: codes.ResourceExhausted, Pushback: resiliencegrpc.MaxServerPushback},
		{Throttle: throttle.MustNew(throttle.Config{}), Pushback: -time.Hour},
	} {
		if _, err := resiliencegrpc.NewServer(cfg); err != nil {
			t.Errorf("NewServer(%+v): %v", cfg, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("MustNewServer did not panic on an invalid config")
		}
	}()
	resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{})
}

func TestNilServer(t *testing.T) {
	var s *resiliencegrpc.Server
	client, _ := serve(t, "bufconn", s.ServerOptions(), &testService{}, nil)
	if _, err := client.EmptyCall(context.Background(), &testgrpc.Empty{}); status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "nil *Server") {
		t.Errorf("call through a nil *Server: %v, want Internal", err)
	}
	stream, err := client.FullDuplexCall(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Internal {
		t.Errorf("stream through a nil *Server: %v, want Internal", err)
	}
}

// The interceptor itself allocates nothing for an admitted unary call.
func TestUnaryInterceptorAllocs(t *testing.T) {
	s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{
		Bulkhead: bulkhead.MustNew(bulkhead.Config{}),
		Throttle: throttle.MustNew(throttle.Config{}),
	})
	intercept := s.UnaryServerInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: "/grpc.testing.TestService/EmptyCall"}
	resp := &testgrpc.Empty{}
	ran := 0
	handler := func(context.Context, any) (any, error) { ran++; return resp, nil }
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := intercept(ctx, resp, info, handler); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("an admitted unary call allocates %v times in the interceptor, want 0", allocs)
	}
	if ran < 1000 {
		t.Errorf("handler ran %d times, want every call", ran)
	}
}

// fakeStream is the grpc.ServerStream of a stream interceptor called
// directly.
type fakeStream struct {
	grpc.ServerStream
	ctx     context.Context
	trailer metadata.MD
}

func (f *fakeStream) Context() context.Context  { return f.ctx }
func (f *fakeStream) SetTrailer(md metadata.MD) { f.trailer = md }

// Nor for an admitted stream.
func TestStreamInterceptorAllocs(t *testing.T) {
	s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{
		Bulkhead: bulkhead.MustNew(bulkhead.Config{}),
		Throttle: throttle.MustNew(throttle.Config{}),
	})
	intercept := s.StreamServerInterceptor()
	info := &grpc.StreamServerInfo{FullMethod: "/grpc.testing.TestService/FullDuplexCall", IsClientStream: true, IsServerStream: true}
	ss := &fakeStream{ctx: context.Background()}
	ran := 0
	handler := func(any, grpc.ServerStream) error { ran++; return nil }
	allocs := testing.AllocsPerRun(1000, func() {
		if err := intercept(nil, ss, info, handler); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("an admitted stream allocates %v times in the interceptor, want 0", allocs)
	}
	if ran < 1000 {
		t.Errorf("handler ran %d times, want every call", ran)
	}
}

// The error of a shed call matches the policy's rejection, for
// interceptors chained before the Server's.
func TestShedErrorMatchesRejection(t *testing.T) {
	b := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
	s := resiliencegrpc.MustNewServer(resiliencegrpc.ServerConfig{Bulkhead: b})
	intercept := s.UnaryServerInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: "/grpc.testing.TestService/EmptyCall"}
	p, err := b.TryAcquire()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	ran := false
	_, err = intercept(context.Background(), nil, info, func(context.Context, any) (any, error) { ran = true; return nil, nil })
	if ran || !errors.Is(err, bulkhead.ErrFull) || status.Code(err) != codes.Unavailable {
		t.Errorf("shed call: ran %v, err %v; want bulkhead.ErrFull and Unavailable", ran, err)
	}
	if _, ok := errors.AsType[*bulkhead.Error](err); !ok {
		t.Errorf("errors.As finds no *bulkhead.Error in %v", err)
	}
}

package resiliencegrpc_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencegrpc"
)

func body(s string) *testgrpc.Payload { return &testgrpc.Payload{Body: []byte(s)} }

// recvAll receives a server stream's messages until it ends.
func recvAll(stream interface {
	Recv() (*testgrpc.StreamingOutputCallResponse, error)
}) ([]string, error) {
	var got []string
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, string(m.GetPayload().GetBody()))
	}
}

func TestServerStreamRetriedBeforeFirstMessage(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{serverStream: func(n int64, _ *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
			if n == 1 {
				return status.Error(codes.Unavailable, "not yet")
			}
			for _, s := range []string{"a", "b", "c"} {
				if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: body(s)}); err != nil {
					return err
				}
			}
			return nil
		}}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), Breaker: &breaker.Config{}})
		cc := ts.dial(t, c)
		stream, err := testgrpc.NewTestServiceClient(cc).StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := recvAll(stream)
		if err != nil || !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Errorf("received %q, %v; want a, b, c", got, err)
		}
		prev, _ := svc.seen()
		if !slices.Equal(prev, []string{"", "1"}) {
			t.Errorf("grpc-previous-rpc-attempts: %q, want \"\", \"1\"", prev)
		}
		if s := c.Breaker(cc.Target()).Snapshot(); s.ConsecutiveFailures != 0 {
			t.Errorf("breaker: %+v, want the stream's success to reset the failure", s)
		}
	})
}

func TestServerStreamNotRetriedAfterFirstMessage(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{serverStream: func(n int64, _ *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
			if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: body("a")}); err != nil {
				return err
			}
			return status.Error(codes.Unavailable, "broke midway")
		}}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), Breaker: &breaker.Config{}})
		cc := ts.dial(t, c)
		stream, err := testgrpc.NewTestServiceClient(cc).StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := recvAll(stream)
		if status.Code(err) != codes.Unavailable || !slices.Equal(got, []string{"a"}) {
			t.Errorf("received %q, %v; want a once, then UNAVAILABLE", got, err)
		}
		if n := svc.calls.Load(); n != 1 {
			t.Errorf("server saw %d calls, want 1", n)
		}
		if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
			t.Errorf("Recv after the end: %v, want the same error", err)
		}
		if s := c.Breaker(cc.Target()).Snapshot(); s.ConsecutiveFailures != 1 {
			t.Errorf("breaker: %+v, want the committed failure counted", s)
		}
	})
}

func TestClientStreamReplayed(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		var mu sync.Mutex
		var received [][]string // by attempt
		svc := &fakeService{clientStream: func(n int64, stream testgrpc.TestService_StreamingInputCallServer) error {
			var got []string
			for {
				m, err := stream.Recv()
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
				got = append(got, string(m.GetPayload().GetBody()))
			}
			mu.Lock()
			received = append(received, got)
			mu.Unlock()
			if n == 1 {
				return status.Error(codes.Unavailable, "lost it")
			}
			return stream.SendAndClose(&testgrpc.StreamingInputCallResponse{AggregatedPayloadSize: int32(len(got))})
		}}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3)})
		stream, err := testgrpc.NewTestServiceClient(ts.dial(t, c)).StreamingInputCall(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"x", "y", "z"} {
			if err := stream.Send(&testgrpc.StreamingInputCallRequest{Payload: body(s)}); err != nil {
				t.Fatalf("Send: %v", err)
			}
		}
		reply, err := stream.CloseAndRecv()
		if err != nil || reply.GetAggregatedPayloadSize() != 3 {
			t.Fatalf("CloseAndRecv: %v, %v; want 3 messages on the second attempt", reply, err)
		}
		mu.Lock()
		defer mu.Unlock()
		want := [][]string{{"x", "y", "z"}, {"x", "y", "z"}}
		if !slices.EqualFunc(received, want, slices.Equal) {
			t.Errorf("server received %q, want %q", received, want)
		}
	})
}

func TestClientStreamOverBufferLimitNotRetried(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{clientStream: func(_ int64, stream testgrpc.TestService_StreamingInputCallServer) error {
			for {
				if _, err := stream.Recv(); err == io.EOF {
					break
				} else if err != nil {
					return err
				}
			}
			return status.Error(codes.Unavailable, "lost it")
		}}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), BufferLimit: 100})
		stream, err := testgrpc.NewTestServiceClient(ts.dial(t, c)).StreamingInputCall(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // 2×(60 bytes and their framing): over 100
			if err := stream.Send(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: make([]byte, 60)}}); err != nil {
				t.Fatalf("Send: %v", err)
			}
		}
		if _, err := stream.CloseAndRecv(); status.Code(err) != codes.Unavailable {
			t.Errorf("CloseAndRecv: %v, want UNAVAILABLE", err)
		}
		if n := svc.calls.Load(); n != 1 {
			t.Errorf("server saw %d calls, want 1: the call was committed", n)
		}
	})
}

// echo answers each message of a bidirectional stream with its payload,
// after failing attempts before failAt with UNAVAILABLE once it has read
// readFirst messages; it records what each attempt read.
type echo struct {
	failBefore int64
	readFirst  int
	mu         sync.Mutex
	read       [][]string
}

func (e *echo) serve(n int64, stream testgrpc.TestService_FullDuplexCallServer) error {
	e.mu.Lock()
	e.read = append(e.read, nil)
	i := len(e.read) - 1
	e.mu.Unlock()
	for k := 0; ; k++ {
		if n < e.failBefore && k == e.readFirst {
			return status.Error(codes.Unavailable, "lost it")
		}
		m, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		e.mu.Lock()
		e.read[i] = append(e.read[i], string(m.GetPayload().GetBody()))
		e.mu.Unlock()
		if n >= e.failBefore {
			if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: m.GetPayload()}); err != nil {
				return err
			}
		}
	}
}

func TestBidiReplay(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		e := &echo{failBefore: 2, readFirst: 2}
		svc := &fakeService{bidi: e.serve}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3)})
		stream, err := testgrpc.NewTestServiceClient(ts.dial(t, c)).FullDuplexCall(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		send := func(s string) {
			t.Helper()
			if err := stream.Send(&testgrpc.StreamingOutputCallRequest{Payload: body(s)}); err != nil {
				t.Fatalf("Send(%s): %v", s, err)
			}
		}
		recv := func(want string) {
			t.Helper()
			m, err := stream.Recv()
			if err != nil || string(m.GetPayload().GetBody()) != want {
				t.Fatalf("Recv: %v, %v; want %s", m, err, want)
			}
		}
		send("1")
		send("2")
		recv("1") // the first attempt failed after reading 1 and 2: replayed
		recv("2")
		send("3")
		recv("3")
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Errorf("Recv at the end: %v, want io.EOF", err)
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		want := [][]string{{"1", "2"}, {"1", "2", "3"}}
		if !slices.EqualFunc(e.read, want, slices.Equal) {
			t.Errorf("server read %q, want %q", e.read, want)
		}
	})
}

func TestBidiConcurrentSendAndReceive(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		e := &echo{failBefore: 3, readFirst: 2}
		svc := &fakeService{bidi: e.serve}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(5)})
		stream, err := testgrpc.NewTestServiceClient(ts.dial(t, c)).FullDuplexCall(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"a", "b", "c", "d", "e", "f"}
		sent := make(chan error, 1)
		go func() {
			for _, s := range want {
				if err := stream.Send(&testgrpc.StreamingOutputCallRequest{Payload: body(s)}); err != nil {
					sent <- err
					return
				}
			}
			sent <- stream.CloseSend()
		}()
		got, err := recvAll(stream)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("received %q, %v; want %q once each", got, err, want)
		}
		if err := <-sent; err != nil {
			t.Errorf("sending: %v", err)
		}
		if n := svc.calls.Load(); n != 3 {
			t.Errorf("server saw %d calls, want 3", n)
		}
	})
}

func TestStreamAttemptTimeout(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{serverStream: func(n int64, _ *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
			if n == 1 {
				<-stream.Context().Done() // silent until the client gives up on it
				return stream.Context().Err()
			}
			return stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: body("a")})
		}}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), AttemptTimeout: 50 * time.Millisecond})
		client := testgrpc.NewTestServiceClient(ts.dial(t, c))
		start := time.Now()
		stream, err := client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := recvAll(stream)
		if err != nil || !slices.Equal(got, []string{"a"}) {
			t.Errorf("received %q, %v; want a", got, err)
		}
		if n := svc.calls.Load(); n != 2 {
			t.Fatalf("server saw %d calls, want 2", n)
		}
		// 50ms for the attempt, then 10ms of backoff.
		checkWait(t, transport, "the call", time.Since(start), 60*time.Millisecond)
	})
}

func TestStreamGivesUp(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		svc := &fakeService{serverStream: func(int64, *testgrpc.StreamingOutputCallRequest, testgrpc.TestService_StreamingOutputCallServer) error {
			return status.Error(codes.Unavailable, "down")
		}}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(2)})
		stream, err := testgrpc.NewTestServiceClient(ts.dial(t, c)).StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = recvAll(stream)
		if status.Code(err) != codes.Unavailable || errors.Is(err, io.EOF) {
			t.Errorf("Recv: %v, want UNAVAILABLE", err)
		}
		if n := svc.calls.Load(); n != 2 {
			t.Errorf("server saw %d calls, want 2", n)
		}
	})
}

func TestStreamCallerCancelNotRetriedNorCounted(t *testing.T) {
	overTransports(t, func(t *testing.T, transport string) {
		started := make(chan struct{}, 1)
		svc := &fakeService{serverStream: func(_ int64, _ *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
			started <- struct{}{}
			<-stream.Context().Done()
			return stream.Context().Err()
		}}
		ts := startServer(t, transport, svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(3), Breaker: &breaker.Config{FailureThreshold: 1}})
		cc := ts.dial(t, c)
		ctx, cancel := context.WithCancel(context.Background())
		stream, err := testgrpc.NewTestServiceClient(cc).StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			<-started
			cancel()
		}()
		if _, err := recvAll(stream); status.Code(err) != codes.Canceled {
			t.Errorf("Recv: %v, want CANCELED", err)
		}
		if n := svc.calls.Load(); n != 1 {
			t.Errorf("server saw %d calls, want 1", n)
		}
		if s := c.Breaker(cc.Target()).Snapshot(); s.State != breaker.Closed || s.ConsecutiveFailures != 0 {
			t.Errorf("breaker after the caller canceled: %+v, want closed with no failure", s)
		}
	})
}

func TestStreamProbeReleasedAtFirstMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The breaker is open; after RecoveryTimeout a stream is its probe,
		// and lasts longer than ProbeTimeout. Its first message lets the
		// probe's slot go, and its end, a success, closes the breaker.
		var fail atomic.Bool
		fail.Store(true)
		svc := &fakeService{serverStream: func(_ int64, _ *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
			if fail.Load() {
				return status.Error(codes.Unavailable, "down")
			}
			stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: body("a")})
			time.Sleep(time.Second) // a long stream, on the bubble's clock
			return stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: body("b")})
		}}
		ts := startServer(t, "bufconn", svc, nil)
		c := newClient(t, resiliencegrpc.Config{Retry: fastRetry(1),
			Breaker: &breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Minute, ProbeTimeout: 100 * time.Millisecond}})
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
		fail.Store(false)
		stream, err = client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if m, err := stream.Recv(); err != nil || string(m.GetPayload().GetBody()) != "a" {
			t.Fatalf("probe stream: %v, %v", m, err)
		}
		// The probe's slot is free: past ProbeTimeout, while the stream
		// goes on, another call is admitted.
		time.Sleep(200 * time.Millisecond)
		if _, err := client.EmptyCall(context.Background(), &testgrpc.Empty{}); err != nil {
			t.Errorf("a call while the probe stream runs: %v", err)
		}
		got, err := recvAll(stream)
		if err != nil || !slices.Equal(got, []string{"b"}) {
			t.Errorf("probe stream: %q, %v", got, err)
		}
		if s := br.Snapshot(); s.State != breaker.Closed {
			t.Errorf("breaker after the probe stream: %+v, want closed", s)
		}
	})
}

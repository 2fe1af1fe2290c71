package resiliencegrpc_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencegrpc"
)

// A nil *Client answers every call with INTERNAL, as a nil *Server does,
// instead of panicking in the caller's goroutine.
func TestNilClient(t *testing.T) {
	var c *resiliencegrpc.Client
	if c.Breaker("x") != nil || c.Tokens("x") != nil {
		t.Error("a nil *Client has a breaker or tokens")
	}
	invoked := false
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		invoked = true
		return nil
	}
	err := c.UnaryClientInterceptor()(context.Background(), "/s/m", &testgrpc.SimpleRequest{}, &testgrpc.SimpleResponse{}, nil, invoker)
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "nil *Client") || invoked {
		t.Errorf("unary call through a nil *Client: %v (invoked %v), want INTERNAL", err, invoked)
	}
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		invoked = true
		return nil, nil
	}
	cs, err := c.StreamClientInterceptor()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, "/s/m", streamer)
	if cs != nil || status.Code(err) != codes.Internal || invoked {
		t.Errorf("stream through a nil *Client: %v, %v (invoked %v), want INTERNAL", cs, err, invoked)
	}
	if len(c.DialOptions()) == 0 {
		t.Error("a nil *Client has no dial options")
	}
}

// Interceptors called by hand with nil arguments answer with an error, not
// a panic.
func TestInterceptorNilArguments(t *testing.T) {
	c := newClient(t, resiliencegrpc.Config{Breaker: &breaker.Config{FailureThreshold: 1}})
	ctx := context.Background()
	err := c.UnaryClientInterceptor()(ctx, "/s/m", &testgrpc.SimpleRequest{}, &testgrpc.SimpleResponse{}, nil, nil)
	if status.Code(err) != codes.Internal {
		t.Errorf("unary with a nil invoker: %v, want INTERNAL", err)
	}
	cs, err := c.StreamClientInterceptor()(ctx, &grpc.StreamDesc{ServerStreams: true}, nil, "/s/m", nil)
	if cs != nil || status.Code(err) != codes.Internal {
		t.Errorf("stream with a nil streamer: %v, %v, want INTERNAL", cs, err)
	}
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		return nil, status.Error(codes.Unavailable, "down")
	}
	cs, err = c.StreamClientInterceptor()(ctx, nil, nil, "/s/m", streamer)
	if cs != nil || status.Code(err) != codes.Internal {
		t.Errorf("stream with a nil desc: %v, %v, want INTERNAL", cs, err)
	}
	// A nil ClientConn is the target "".
	calls := 0
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		calls++
		return nil
	}
	if err := c.UnaryClientInterceptor()(ctx, "/s/m", &testgrpc.SimpleRequest{}, &testgrpc.SimpleResponse{}, nil, invoker); err != nil || calls != 1 {
		t.Errorf("unary with a nil ClientConn: %v after %d calls", err, calls)
	}
	// No breaker counted a failure for any of the above.
	if b := c.Breaker(""); b == nil || b.Snapshot().State != breaker.Closed {
		t.Errorf("breaker of target \"\": %v", b)
	}
}

func TestMethodsKeysMalformed(t *testing.T) {
	for _, key := range []string{"", "/", "//", "a/b/c", "*", "svc/*/x", "/svc/", "svc/m*", "svc", "//svc/m"} {
		_, err := resiliencegrpc.NewClient(resiliencegrpc.Config{Methods: map[string]resiliencegrpc.MethodConfig{key: {}}})
		if err == nil || !strings.HasPrefix(err.Error(), "resiliencegrpc: ") {
			t.Errorf("Methods key %q: %v, want an error", key, err)
		}
	}
}

package resilienceotel_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/resilienceotel"
	"github.com/netresilience/resilience/retry"
)

func newTracing(t *testing.T) (*resilienceotel.Telemetry, *tracetest.SpanRecorder, trace.Tracer) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	tel, err := resilienceotel.New(resilienceotel.Config{TracerProvider: tp, Propagator: propagation.TraceContext{}})
	if err != nil {
		t.Fatal(err)
	}
	return tel, rec, tp.Tracer("test")
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func eventAttrs(e sdktrace.Event) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range e.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// TestAttemptSpans sends a request that fails once with 503 and then
// succeeds, and checks the two attempt spans, their parent, the trace
// context the server received, and the retry event on the caller's span.
func TestAttemptSpans(t *testing.T) {
	tel, rec, tracer := newTracing(t)
	var mu sync.Mutex
	var parents []string // traceparent headers the server received
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		parents = append(parents, r.Header.Get("Traceparent"))
		mu.Unlock()
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	rt, err := resiliencehttp.NewTransport(tel.TraceAttempts(srv.Client().Transport), resiliencehttp.Config{
		Retry:    retry.Config{Name: "api", Backoff: backoff.Constant(0)},
		Observer: tel.Observer(),
	})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: tel.TraceCalls(rt)}
	defer client.CloseIdleConnections()

	ctx, caller := tracer.Start(context.Background(), "caller")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/items?sig=secret&x=1", nil)
	req.URL.User = url.UserPassword("me", "pw")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := io.ReadAll(resp.Body); string(body) != "ok" {
		t.Fatalf("body %q", body)
	}
	resp.Body.Close()
	caller.End()
	if req.Header.Get("Traceparent") != "" {
		t.Error("the caller's request was modified")
	}

	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans ended, want 3 (two attempts and the caller's)", len(spans))
	}
	first, second, parent := spans[0], spans[1], spans[2]
	if parent.Name() != "caller" {
		t.Fatalf("last span %q", parent.Name())
	}
	u, _ := url.Parse(srv.URL)
	for i, s := range []sdktrace.ReadOnlySpan{first, second} {
		a := attrs(s)
		if s.Name() != "GET" || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("attempt %d: span %q of kind %v", i+1, s.Name(), s.SpanKind())
		}
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("attempt %d: not a child of the caller's span", i+1)
		}
		if a["http.request.method"].AsString() != "GET" || a["server.address"].AsString() != u.Hostname() ||
			strconv.Itoa(int(a["server.port"].AsInt64())) != u.Port() {
			t.Errorf("attempt %d: attributes %v", i+1, a)
		}
		full := a["url.full"].AsString()
		if strings.Contains(full, "secret") || strings.Contains(full, "pw") || !strings.Contains(full, "REDACTED") || !strings.Contains(full, "/v1/items") {
			t.Errorf("attempt %d: url.full %q", i+1, full)
		}
		mu.Lock()
		if want := s.SpanContext().SpanID().String(); !strings.Contains(parents[i], want) {
			t.Errorf("attempt %d: server got traceparent %q, want span %s", i+1, parents[i], want)
		}
		mu.Unlock()
	}
	a1, a2 := attrs(first), attrs(second)
	if a1["http.response.status_code"].AsInt64() != 503 || a1["error.type"].AsString() != "503" || first.Status().Code != codes.Error {
		t.Errorf("first attempt: %v, status %v", a1, first.Status())
	}
	if _, ok := a1["http.request.resend_count"]; ok {
		t.Error("the first attempt has http.request.resend_count")
	}
	if a2["http.response.status_code"].AsInt64() != 200 || a2["http.request.resend_count"].AsInt64() != 1 || second.Status().Code == codes.Error {
		t.Errorf("second attempt: %v, status %v", a2, second.Status())
	}
	if _, ok := a2["error.type"]; ok {
		t.Error("the successful attempt has error.type")
	}

	events := parent.Events()
	if len(events) != 1 || events[0].Name != resilienceotel.EventNameRetry {
		t.Fatalf("caller's span events %v, want one %s", events, resilienceotel.EventNameRetry)
	}
	e := eventAttrs(events[0])
	if e["resilience.policy.name"].AsString() != "api" || e["resilience.attempt"].AsInt64() != 1 || e["error.type"].AsString() != "503" {
		t.Errorf("retry event attributes %v", e)
	}
}

// TestRejectedCallEvent checks the reject event on the caller's span for a
// call that an open breaker kept from being sent, and that no attempt span
// is made for it.
func TestRejectedCallEvent(t *testing.T) {
	tel, rec, tracer := newTracing(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	rt, err := resiliencehttp.NewTransport(tel.TraceAttempts(srv.Client().Transport), resiliencehttp.Config{
		Retry:    retry.Config{MaxAttempts: 1},
		Breaker:  &breaker.Config{FailureThreshold: 1},
		Observer: tel.Observer(),
	})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: tel.TraceCalls(rt)}
	defer client.CloseIdleConnections()

	resp, err := client.Get(srv.URL) // fails and opens the breaker
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx, caller := tracer.Start(context.Background(), "caller")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if _, err := client.Do(req); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("second call: %v, want the breaker's rejection", err)
	}
	caller.End()

	spans := rec.Ended()
	if len(spans) != 2 || spans[1].Name() != "caller" {
		t.Fatalf("%d spans, want the first call's attempt and the caller's", len(spans))
	}
	// The retry policy gives up on the rejection, which is not retryable;
	// then the call's wrapper tells that the breaker rejected it.
	events := spans[1].Events()
	if len(events) != 2 || events[0].Name != resilienceotel.EventNameGiveUp || events[1].Name != resilienceotel.EventNameReject {
		t.Fatalf("caller's span events %v, want a give-up and a reject", events)
	}
	e := eventAttrs(events[1])
	if e["resilience.policy.kind"].AsString() != "breaker" || e["resilience.reason"].AsString() != "open" ||
		e["resilience.policy.name"].AsString() != req.URL.Host {
		t.Errorf("reject event attributes %v", e)
	}
}

// failing is a RoundTripper whose every request fails.
type failing struct{}

func (failing) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, &url.Error{Op: "Get", URL: r.URL.String(), Err: errors.New("refused")}
}

func TestAttemptSpanError(t *testing.T) {
	tel, rec, _ := newTracing(t)
	req, _ := http.NewRequest("PURGE", "http://example.invalid/x", nil)
	if _, err := tel.TraceAttempts(failing{}).RoundTrip(req); err == nil {
		t.Fatal("no error")
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	a := attrs(spans[0])
	if spans[0].Name() != "HTTP" || a["http.request.method"].AsString() != "_OTHER" || a["http.request.method_original"].AsString() != "PURGE" {
		t.Errorf("span %q, attributes %v", spans[0].Name(), a)
	}
	if a["error.type"].AsString() != "*url.Error" || spans[0].Status().Code != codes.Error || a["server.port"].AsInt64() != 80 {
		t.Errorf("attributes %v, status %v", a, spans[0].Status())
	}
}

func TestNoTracerProvider(t *testing.T) {
	tel, _ := newTelemetry(t)
	base := failing{}
	if tel.TraceAttempts(base) != http.RoundTripper(base) || tel.TraceCalls(base) != http.RoundTripper(base) {
		t.Error("without a TracerProvider, the wrappers wrap")
	}
}

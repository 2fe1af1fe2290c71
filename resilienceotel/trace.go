package resilienceotel

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencehttp"
)

// The attribute keys of the span events that are not those of the metrics.
const (
	// AttrAttempt is the attempt that failed (resilience.retry), the
	// attempts made (resilience.give_up), or the hedge's number
	// (resilience.hedge).
	AttrAttempt = attribute.Key("resilience.attempt")
	// AttrDelay is a duration in seconds: the wait before the retry, the
	// delay after which a hedge was sent, how long an attempt ran before
	// its timeout fired.
	AttrDelay = attribute.Key("resilience.delay")
)

// The names of the span events.
const (
	EventNameRetry    = "resilience.retry"
	EventNameGiveUp   = "resilience.give_up"
	EventNameReject   = "resilience.reject"
	EventNameHedge    = "resilience.hedge"
	EventNameTimeout  = "resilience.timeout"
	EventNameFallback = "resilience.fallback"
)

// spanEvent adds e to the span of its context, if that span is recording.
func spanEvent(e resilience.Event) {
	if e.Context == nil {
		return
	}
	span := trace.SpanFromContext(e.Context)
	if !span.IsRecording() {
		return
	}
	var name string
	kv := make([]attribute.KeyValue, 0, 6)
	kv = append(kv, AttrPolicyName.String(e.Policy), AttrPolicyKind.String(e.Kind.String()))
	switch e.Type {
	case resilience.EventRetry:
		name = EventNameRetry
		kv = append(kv, AttrAttempt.Int(e.Attempt), AttrDelay.Float64(e.Delay.Seconds()))
		if e.Err != nil {
			kv = append(kv, errorType(e.Err))
		}
	case resilience.EventGiveUp:
		name = EventNameGiveUp
		kv = append(kv, AttrAttempt.Int(e.Attempt), AttrReason.String(e.Reason))
	case resilience.EventReject:
		name = EventNameReject
		kv = append(kv, AttrReason.String(e.Reason))
	case resilience.EventHedge:
		name = EventNameHedge
		kv = append(kv, AttrAttempt.Int(e.Attempt), AttrDelay.Float64(e.Delay.Seconds()))
	case resilience.EventTimeout:
		name = EventNameTimeout
		kv = append(kv, AttrDelay.Float64(e.Delay.Seconds()))
	case resilience.EventFallback:
		name = EventNameFallback
		kv = append(kv, AttrReason.String(e.Reason))
	default:
		return // per call (Success, Admit), of no call (StateChange), or unknown
	}
	opts := []trace.EventOption{trace.WithAttributes(kv...)}
	if !e.Time.IsZero() {
		opts = append(opts, trace.WithTimestamp(e.Time))
	}
	span.AddEvent(name, opts...)
}

// errorType is the error.type of err: the status code of a
// *resiliencehttp.StatusError, else as semconv says.
func errorType(err error) attribute.KeyValue {
	var se *resiliencehttp.StatusError
	if errors.As(err, &se) {
		return semconv.ErrorTypeKey.String(strconv.Itoa(se.StatusCode))
	}
	return semconv.ErrorType(err)
}

// attemptsKey is the context key of a call's attemptCounter.
type attemptsKey struct{}

// attemptCounter numbers the attempts of one call.
type attemptCounter struct{ n atomic.Int64 }

// TraceCalls wraps rt, a resiliencehttp.Transport (or a RoundTripper in
// front of one), so that [Telemetry.TraceAttempts] knows which attempt of
// its call each request is: it gives each request's context a counter of
// its attempts. Without it, attempt spans have no
// http.request.resend_count. It also adds a resilience.reject event to the
// caller's span when a breaker rejected the call before any attempt was
// sent (a breaker's Allow has no context to carry to the Observer). It
// starts no span of its own: the call's span is the caller's.
//
// Without a TracerProvider, it returns rt itself. A nil rt means
// http.DefaultTransport.
func (t *Telemetry) TraceCalls(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	if t == nil || t.tracer == nil {
		return rt
	}
	return &callTransport{next: rt}
}

// callTransport is the RoundTripper of TraceCalls.
type callTransport struct{ next http.RoundTripper }

// RoundTrip sends req through the wrapped RoundTripper with a counter of
// its attempts in its context.
func (c *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req == nil || req.URL == nil {
		return c.next.RoundTrip(req) // its own error for a bad request
	}
	counter := new(attemptCounter)
	ctx := context.WithValue(req.Context(), attemptsKey{}, counter)
	resp, err := c.next.RoundTrip(req.WithContext(ctx))
	if err != nil && counter.n.Load() == 0 && errors.Is(err, breaker.ErrOpen) {
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.AddEvent(EventNameReject, trace.WithAttributes(
				AttrPolicyName.String(req.URL.Host),
				AttrPolicyKind.String(resilience.KindBreaker.String()),
				AttrReason.String(rejectReason(err))))
		}
	}
	return resp, err
}

// rejectReason is the reason of a breaker's rejection err.
func rejectReason(err error) string {
	var be *breaker.Error
	if errors.As(err, &be) && be.State == breaker.HalfOpen {
		return "half-open full"
	}
	return "open"
}

// CloseIdleConnections closes the idle connections of the wrapped
// RoundTripper, if it can.
func (c *callTransport) CloseIdleConnections() {
	if ci, ok := c.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// TraceAttempts wraps base, the base RoundTripper given to
// resiliencehttp.NewTransport, so that each attempt the transport sends
// through it is a client span, as the OpenTelemetry HTTP client conventions
// ask for when a request is sent more than once: a child of the span in the
// request's context (the caller's), named after the method ("GET"), with
// http.request.method, server.address, server.port, url.full (credentials
// and signature query values redacted), http.response.status_code,
// error.type (the status code for a status of 400 or more, else the
// error's type), and http.request.resend_count on the attempts after the
// first, when [Telemetry.TraceCalls] wraps the transport. A status of 400
// or more, or an error, sets the span's status to Error. The span ends when
// the response's body is read to its end or closed (the transport drains
// and closes the bodies it discards), or at once for an error, a response
// without a body, or a protocol upgrade.
//
// A request that a breaker rejects is never sent and has no span. Without a
// TracerProvider, it returns base itself. A nil base means
// http.DefaultTransport.
func (t *Telemetry) TraceAttempts(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if t == nil || t.tracer == nil {
		return base
	}
	return &attemptTransport{base: base, tracer: t.tracer, propagator: t.propagator}
}

// attemptTransport is the RoundTripper of TraceAttempts.
type attemptTransport struct {
	base       http.RoundTripper
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
}

// CloseIdleConnections closes the idle connections of the base
// RoundTripper, if it can.
func (a *attemptTransport) CloseIdleConnections() {
	if ci, ok := a.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// knownMethods are the methods that span names and http.request.method
// keep as they are; others are "_OTHER", as the conventions say.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodDelete: true, http.MethodConnect: true, http.MethodOptions: true,
	http.MethodTrace: true, http.MethodPatch: true, "QUERY": true,
}

// RoundTrip sends r, one attempt, through the base RoundTripper in a span.
func (a *attemptTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r == nil || r.URL == nil {
		return a.base.RoundTrip(r) // its own error for a bad request
	}
	ctx := r.Context()
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	name := method
	kv := make([]attribute.KeyValue, 0, 7)
	if knownMethods[method] {
		kv = append(kv, semconv.HTTPRequestMethodKey.String(method))
	} else {
		name = "HTTP"
		kv = append(kv, semconv.HTTPRequestMethodKey.String("_OTHER"), semconv.HTTPRequestMethodOriginal(method))
	}
	kv = append(kv, semconv.ServerAddress(r.URL.Hostname()))
	if port := serverPort(r.URL); port > 0 {
		kv = append(kv, semconv.ServerPort(port))
	}
	kv = append(kv, semconv.URLFull(redacted(r.URL)))
	if c, ok := ctx.Value(attemptsKey{}).(*attemptCounter); ok {
		if n := c.n.Add(1); n > 1 {
			kv = append(kv, semconv.HTTPRequestResendCount(int(n-1)))
		}
	}
	ctx, span := a.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(kv...))
	r = r.WithContext(ctx)
	if a.propagator != nil {
		r.Header = r.Header.Clone() // r is a copy: the caller's headers stay as they were
		if r.Header == nil {
			r.Header = make(http.Header)
		}
		a.propagator.Inject(ctx, propagation.HeaderCarrier(r.Header))
	}
	resp, err := a.base.RoundTrip(r)
	if err != nil {
		span.SetAttributes(errorType(err))
		span.SetStatus(codes.Error, err.Error())
		span.End()
		return resp, err
	}
	if resp == nil {
		span.End()
		return resp, err // the transport reports the broken contract
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(resp.StatusCode)))
		span.SetStatus(codes.Error, "")
	}
	if resp.Body == nil || resp.Body == http.NoBody || resp.StatusCode == http.StatusSwitchingProtocols {
		span.End()
		return resp, nil
	}
	resp.Body = &spanBody{ReadCloser: resp.Body, span: span}
	return resp, nil
}

// serverPort returns the port of u, explicit or the scheme's, or 0.
func serverPort(u *url.URL) int {
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return 0
		}
		return n
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return 80
	case "https":
		return 443
	}
	return 0
}

// signedQueryKeys are the query parameters whose values url.full redacts,
// as the conventions advise.
var signedQueryKeys = []string{"AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"}

// redacted returns u as url.full shows it: without credentials or
// signatures.
func redacted(u *url.URL) string {
	if u.User == nil && u.RawQuery == "" {
		return u.String()
	}
	c := *u
	if c.User != nil {
		c.User = url.UserPassword("REDACTED", "REDACTED")
	}
	if c.RawQuery != "" {
		q := c.Query()
		changed := false
		for _, k := range signedQueryKeys {
			if _, ok := q[k]; ok {
				q.Set(k, "REDACTED")
				changed = true
			}
		}
		if changed {
			c.RawQuery = q.Encode()
		}
	}
	return c.String()
}

// spanBody ends an attempt's span when its response body is read to its end
// or closed.
type spanBody struct {
	io.ReadCloser
	span  trace.Span
	ended atomic.Bool
}

func (b *spanBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.end()
	case err != nil:
		if !b.ended.Load() {
			b.span.SetAttributes(errorType(err))
			b.span.SetStatus(codes.Error, err.Error())
		}
		b.end()
	}
	return n, err
}

func (b *spanBody) Close() error {
	err := b.ReadCloser.Close()
	b.end()
	return err
}

func (b *spanBody) end() {
	if b.ended.CompareAndSwap(false, true) {
		b.span.End()
	}
}

package resiliencehttp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
)

// scripted is a loopback server that answers request n with step n of its
// script (the last step repeats), and records what it received.
type scripted struct {
	*httptest.Server
	mu     sync.Mutex
	steps  []func(w http.ResponseWriter, r *http.Request)
	bodies []string
	heads  []http.Header
}

func newScripted(t *testing.T, steps ...func(w http.ResponseWriter, r *http.Request)) *scripted {
	t.Helper()
	s := &scripted{steps: steps}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

// handle records the request and answers with the script's next step.
func (s *scripted) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	n := len(s.bodies)
	s.bodies = append(s.bodies, string(body))
	s.heads = append(s.heads, r.Header.Clone())
	step := s.steps[min(n, len(s.steps)-1)]
	s.mu.Unlock()
	step(w, r)
}

func (s *scripted) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bodies)
}

func status(code int, headers ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "answer %d", code)
	}
}

func reset(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	conn.(*net.TCPConn).SetLinger(0)
	conn.Close()
}

func closeWithoutAnswer(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

// fast is a retry config with no real waits.
var fast = retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(time.Millisecond)}

func newClient(t *testing.T, base http.RoundTripper, cfg resiliencehttp.Config) (*http.Client, *resiliencehttp.Transport) {
	t.Helper()
	if base == nil {
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		base = tr
	}
	rt, err := resiliencehttp.NewTransport(base, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// No Client.Timeout: its timer goroutine would outlive a synctest bubble.
	// Tests against real servers bound themselves through the server.
	return &http.Client{Transport: rt}, rt
}

func read(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return string(b)
}

func TestRetriesTransientStatuses(t *testing.T) {
	srv := newScripted(t, status(503), status(502), status(200))
	c, _ := newClient(t, nil, resiliencehttp.Config{Retry: fast, AttemptHeader: "X-Attempt"})
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept", "text/plain")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, resp); resp.StatusCode != 200 || got != "answer 200" {
		t.Fatalf("got %d %q, want 200", resp.StatusCode, got)
	}
	if srv.requests() != 3 {
		t.Fatalf("server saw %d requests, want 3", srv.requests())
	}
	for i, h := range srv.heads {
		if h.Get("X-Attempt") != strconv.Itoa(i+1) || h.Get("Accept") != "text/plain" {
			t.Errorf("request %d headers %v; want X-Attempt %d and the caller's Accept", i+1, h, i+1)
		}
	}
	if req.Header.Get("X-Attempt") != "" {
		t.Error("the caller's request was modified")
	}
}

func TestLastResponseWhenRetriesRunOut(t *testing.T) {
	srv := newScripted(t, status(503, "X-Try", "1"), status(503, "X-Try", "2"), status(503, "X-Try", "3"))
	c, _ := newClient(t, nil, resiliencehttp.Config{Retry: fast})
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("retries ran out on a status: want the last response and no error, got %v", err)
	}
	if body := read(t, resp); resp.StatusCode != 503 || resp.Header.Get("X-Try") != "3" || body != "answer 503" {
		t.Fatalf("got %d %q (try %s); want the third 503 with its body intact", resp.StatusCode, body, resp.Header.Get("X-Try"))
	}
}

func TestNonIdempotentRequests(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      resiliencehttp.Config
		prepare  func(*http.Request) *http.Request
		attempts int
	}{
		{"POST is sent once", resiliencehttp.Config{Retry: fast}, nil, 1},
		{"RetryNonIdempotent", resiliencehttp.Config{Retry: fast, RetryNonIdempotent: true}, nil, 3},
		{"Idempotency-Key", resiliencehttp.Config{Retry: fast}, func(r *http.Request) *http.Request {
			r.Header.Set("Idempotency-Key", "k-1")
			return r
		}, 3},
		{"AllowRetry", resiliencehttp.Config{Retry: fast}, func(r *http.Request) *http.Request {
			return r.WithContext(resiliencehttp.AllowRetry(r.Context()))
		}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScripted(t, status(503))
			c, _ := newClient(t, nil, tc.cfg)
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"prompt":"hi"}`))
			if tc.prepare != nil {
				req = tc.prepare(req)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			read(t, resp)
			if srv.requests() != tc.attempts {
				t.Fatalf("server saw %d requests, want %d", srv.requests(), tc.attempts)
			}
			for i, b := range srv.bodies {
				if b != `{"prompt":"hi"}` {
					t.Fatalf("attempt %d carried body %q, want the whole body every time", i+1, b)
				}
			}
		})
	}
}

// onlyReader hides bytes.Reader's type, so that http.NewRequest sets no
// GetBody.
type onlyReader struct{ io.Reader }

func TestBodyWithoutGetBody(t *testing.T) {
	srv := newScripted(t, status(503), status(200))
	c, _ := newClient(t, nil, resiliencehttp.Config{Retry: fast, MaxBodyBuffer: 16})
	small, _ := http.NewRequest(http.MethodPut, srv.URL, onlyReader{strings.NewReader("0123456789")})
	if small.GetBody != nil {
		t.Fatal("test setup: the request has GetBody")
	}
	resp, err := c.Do(small)
	if err != nil {
		t.Fatal(err)
	}
	read(t, resp)
	if resp.StatusCode != 200 || fmt.Sprint(srv.bodies) != "[0123456789 0123456789]" {
		t.Fatalf("got %d, bodies %q; want the buffered body replayed", resp.StatusCode, srv.bodies)
	}

	srv2 := newScripted(t, status(503), status(200))
	large := strings.Repeat("x", 40)
	req, _ := http.NewRequest(http.MethodPut, srv2.URL, onlyReader{strings.NewReader(large)})
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	read(t, resp)
	if resp.StatusCode != 503 || srv2.requests() != 1 || srv2.bodies[0] != large {
		t.Fatalf("got %d after %d requests (body %d bytes); want a body above the limit sent once, whole",
			resp.StatusCode, srv2.requests(), len(srv2.bodies[0]))
	}
}

// A connection reset or closed before the answer over HTTP/1.1, and over
// HTTP/2 a stream that the server resets before it answers (with
// INTERNAL_ERROR, as net/http's server does when a handler aborts, or a
// proxy that lost its upstream; the chaos test found it), are transient for
// a request that may be replayed: the retry's answer comes back, over the
// same protocol.
func TestFailureBeforeTheAnswerIsRetried(t *testing.T) {
	abort := func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }
	for _, tc := range []struct {
		name  string
		fault func(http.ResponseWriter, *http.Request)
		h2    bool
	}{
		{"HTTP/1.1 reset", reset, false},
		{"HTTP/1.1 closed before answer", closeWithoutAnswer, false},
		{"HTTP/2 stream reset", abort, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var srv *scripted
			var base *http.Transport
			proto := 1
			if tc.h2 {
				srv, base = newScriptedH2(t, tc.fault, status(200))
				proto = 2
			} else {
				srv = newScripted(t, tc.fault, status(200))
				// A new connection per request, so that net/http does not
				// retry on another pooled connection by itself.
				base = &http.Transport{DisableKeepAlives: true}
			}
			c, _ := newClient(t, base, resiliencehttp.Config{Retry: fast})
			resp, err := c.Get(srv.URL)
			if err != nil {
				t.Fatalf("Get: %v (%v); want the fault retried", err, resilience.Classify(err))
			}
			body := read(t, resp)
			if resp.StatusCode != 200 || body != "answer 200" || resp.ProtoMajor != proto || srv.requests() != 2 {
				t.Fatalf("got %s %d %q after %d requests; want the retry's HTTP/%d 200", resp.Proto, resp.StatusCode, body, srv.requests(), proto)
			}
		})
	}
}

func TestTransportErrorExhaustionUnwrapsToTheLast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a closed port: connection refused
	c, _ := newClient(t, nil, resiliencehttp.Config{Retry: fast})
	_, err = c.Get("http://" + addr + "/")
	var re *retry.Error
	if !errors.As(err, &re) || re.Attempts != 3 || re.Reason != retry.Exhausted || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("error %v; want a retry.Error after 3 attempts unwrapping to ECONNREFUSED", err)
	}
}

func TestDiscardedBodiesAreDrainedSoOneConnectionSuffices(t *testing.T) {
	srv := newScripted(t, status(503), status(503), status(200))
	base := &http.Transport{MaxConnsPerHost: 1}
	c, _ := newClient(t, base, resiliencehttp.Config{Retry: fast})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("with one connection per host, a retry after a 503 failed: %v (was the 503 left open?)", err)
	}
	read(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("got %d, want 200", resp.StatusCode)
	}
}

func TestNotRetriedStatuses(t *testing.T) {
	for _, code := range []int{400, 401, 404, 409, 501} {
		srv := newScripted(t, status(code))
		c, _ := newClient(t, nil, resiliencehttp.Config{Retry: fast})
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
		if resp.StatusCode != code || srv.requests() != 1 {
			t.Errorf("%d: got %d after %d requests; want it returned at once", code, resp.StatusCode, srv.requests())
		}
	}
}

func TestBreakerPerHost(t *testing.T) {
	down := newScripted(t, status(503))
	up := newScripted(t, status(200))
	c, rt := newClient(t, nil, resiliencehttp.Config{
		Retry:   retry.Config{MaxAttempts: 1},
		Breaker: &breaker.Config{FailureThreshold: 2, RecoveryTimeout: time.Hour},
	})
	for range 2 {
		resp, err := c.Get(down.URL)
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
	}
	_, err := c.Get(down.URL)
	if !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("third call to a failing host: %v, want the open breaker's rejection", err)
	}
	if down.requests() != 2 {
		t.Fatalf("the failing host saw %d requests; an open breaker must not touch the network", down.requests())
	}
	resp, err := c.Get(up.URL)
	if err != nil || read(t, resp) != "answer 200" {
		t.Fatalf("another host: %v; its breaker is its own", err)
	}
	host := strings.TrimPrefix(down.URL, "http://")
	if b := rt.Breaker(host); b == nil || b.State() != breaker.Open || b.Name() != host {
		t.Fatalf("Breaker(%q) = %v; want the open breaker named after the host", host, b)
	}
}

func TestClientErrorsDoNotTripTheBreaker(t *testing.T) {
	srv := newScripted(t, status(404))
	c, rt := newClient(t, nil, resiliencehttp.Config{
		Retry:   fast,
		Breaker: &breaker.Config{FailureThreshold: 1},
	})
	for range 5 {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
	}
	if s := rt.Breaker(strings.TrimPrefix(srv.URL, "http://")).State(); s != breaker.Closed {
		t.Fatalf("breaker %v after 404s; a client's mistake says nothing of the server", s)
	}
}

func TestHintBeyondTheCapReturnsTheResponseAtOnce(t *testing.T) {
	srv := newScripted(t, status(429, "Retry-After", "3600"), status(200))
	c, _ := newClient(t, nil, resiliencehttp.Config{Retry: retry.Config{MaxAttempts: 3, MaxRetryAfter: 5 * time.Second}})
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	read(t, resp)
	if resp.StatusCode != 429 || srv.requests() != 1 {
		t.Fatalf("got %d after %d requests; want the 429 back at once instead of an hour's sleep", resp.StatusCode, srv.requests())
	}
}

func TestRetryAfterMsIsHonoured(t *testing.T) {
	srv := newScripted(t, status(429, "Retry-After-Ms", "30"), status(200))
	c, _ := newClient(t, nil, resiliencehttp.Config{Retry: fast})
	start := time.Now()
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	read(t, resp)
	if resp.StatusCode != 200 || time.Since(start) < 30*time.Millisecond {
		t.Fatalf("got %d after %v; want a wait of at least the 30ms hint, then 200", resp.StatusCode, time.Since(start))
	}
}

func TestAttemptTimeout(t *testing.T) {
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	srv := newScripted(t, hang, status(200))
	c, _ := newClient(t, nil, resiliencehttp.Config{Retry: fast, AttemptTimeout: 50 * time.Millisecond})
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// The body stays readable after RoundTrip returned: the attempt's
	// deadline is released when the body is closed.
	if body := read(t, resp); resp.StatusCode != 200 || body != "answer 200" {
		t.Fatalf("got %d %q; want the second attempt's 200", resp.StatusCode, body)
	}
}

func TestNewRejectsNonsense(t *testing.T) {
	for _, cfg := range []resiliencehttp.Config{
		{AttemptTimeout: -time.Second},
		{RetryStatuses: []int{42}},
		{AttemptHeader: "X Attempt"}, {AttemptHeader: "X-Attempt\r\nX-Injected: 1"}, {AttemptHeader: "Attempt:"},
		{AttemptHeader: "X-Versuch-\u00e4"},
		{Retry: retry.Config{MaxAttempts: -1}},
		{Breaker: &breaker.Config{FailureThreshold: -1}},
	} {
		if rt, err := resiliencehttp.NewTransport(nil, cfg); err == nil || rt != nil || !strings.HasPrefix(err.Error(), "resiliencehttp: ") {
			t.Errorf("NewTransport(%+v) = %v, %v; want an error", cfg, rt, err)
		}
	}
}

// roundTripFunc is an in-memory base transport.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func answer(r *http.Request, code int, headers ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	return &http.Response{StatusCode: code, Status: strconv.Itoa(code) + " " + http.StatusText(code), Header: h,
		Body: io.NopCloser(strings.NewReader("body")), Request: r, ProtoMajor: 1, ProtoMinor: 1}
}

func TestRetryAfterForms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		date := time.Now().Add(7 * time.Second).UTC().Format(http.TimeFormat)
		var times []time.Time
		hints := []string{"Retry-After", "2", "Retry-After", date, "Retry-After", "soon", "Retry-After-Ms", "250"}
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			times = append(times, time.Now())
			n := len(times)
			if n <= 4 {
				return answer(r, 503, hints[2*n-2], hints[2*n-1]), nil
			}
			return answer(r, 200), nil
		})
		c, _ := newClient(t, base, resiliencehttp.Config{Retry: retry.Config{MaxAttempts: 5,
			Backoff: backoff.Exponential{Base: 10 * time.Millisecond, Jitter: backoff.NoJitter}}})
		resp, err := c.Get("http://api.example/")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("got %v, %v", resp, err)
		}
		var gaps []time.Duration
		for i := 1; i < len(times); i++ {
			gaps = append(gaps, times[i].Sub(times[i-1]))
		}
		// 2s; the date 7s after the start, 5s after the second attempt; a
		// malformed hint is ignored (the backoff's 40ms); 250ms.
		if got, want := fmt.Sprint(gaps), "[2s 5s 40ms 250ms]"; got != want {
			t.Fatalf("waits %s, want %s", got, want)
		}
	})
}

func TestCancelDuringTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return answer(r, 503, "Retry-After", "10"), nil
		})
		c, _ := newClient(t, base, resiliencehttp.Config{Retry: retry.Config{MaxAttempts: 3}})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.example/", nil)
		start := time.Now()
		_, err := c.Do(req)
		if !errors.Is(err, context.Canceled) || time.Since(start) != time.Second {
			t.Fatalf("Do = %v after %v; want context.Canceled after 1s", err, time.Since(start))
		}
	})
}

func TestDeadlineTooNearReturnsTheResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			calls++
			return answer(r, 503, "Retry-After", "5"), nil
		})
		c, _ := newClient(t, base, resiliencehttp.Config{Retry: retry.Config{MaxAttempts: 3}})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.example/", nil)
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil || resp.StatusCode != 503 || calls != 1 || time.Since(start) != 0 {
			t.Fatalf("got %v, %v after %d calls and %v; want the 503 at once: its hint ends after the deadline", resp, err, calls, time.Since(start))
		}
	})
}

func TestBodyIsClosedOnEveryPath(t *testing.T) {
	c, _ := newClient(t, roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, errors.New("refused")
	}), resiliencehttp.Config{Retry: retry.Config{MaxAttempts: 1}, Breaker: &breaker.Config{FailureThreshold: 1}})
	body := &closeCounter{Reader: bytes.NewReader([]byte("x"))}
	req, _ := http.NewRequest(http.MethodPost, "http://api.example/", body)
	c.Do(req) // fails and opens the breaker
	body2 := &closeCounter{Reader: bytes.NewReader([]byte("x"))}
	req2, _ := http.NewRequest(http.MethodPost, "http://api.example/", body2)
	if _, err := c.Do(req2); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("second call: %v, want the open breaker", err)
	}
	if body.closed == 0 || body2.closed == 0 {
		t.Fatalf("bodies closed %d and %d times; RoundTrip must close the body on every path", body.closed, body2.closed)
	}
}

type closeCounter struct {
	io.Reader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

func TestBreakerRegistryIsBounded(t *testing.T) {
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) { return answer(r, 200), nil })
	c, rt := newClient(t, base, resiliencehttp.Config{Breaker: &breaker.Config{}, MaxHosts: 3})
	for i := range 5 {
		resp, err := c.Get(fmt.Sprintf("http://host%d.example:8080/", i))
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
	}
	for i := range 5 {
		host := fmt.Sprintf("host%d.example:8080", i)
		if kept := rt.Breaker(host) != nil; kept != (i >= 2) {
			t.Errorf("breaker of %s kept = %v; want only the 3 made last", host, kept)
		}
	}
}

func TestNoBreakerConfigMeansNoBreakers(t *testing.T) {
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) { return answer(r, 503), nil })
	c, rt := newClient(t, base, resiliencehttp.Config{Retry: retry.Config{MaxAttempts: 1}})
	for range 10 {
		resp, err := c.Get("http://api.example/")
		if err != nil {
			t.Fatalf("without a breaker config no call may be rejected: %v", err)
		}
		read(t, resp)
	}
	if rt.Breaker("api.example") != nil {
		t.Fatal("a breaker was made without a breaker config")
	}
}

func TestNilTransport(t *testing.T) {
	var rt *resiliencehttp.Transport
	body := &closeCounter{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest(http.MethodPost, "http://api.example/", body)
	if resp, err := rt.RoundTrip(req); err == nil || resp != nil || body.closed != 1 {
		t.Fatalf("nil transport: %v, %v, body closed %d times; want an error and the body closed", resp, err, body.closed)
	}
}

type idleCloser struct {
	http.RoundTripper
	closed int
}

func (c *idleCloser) CloseIdleConnections() { c.closed++ }

func TestCloseIdleConnectionsReachesTheBase(t *testing.T) {
	base := &idleCloser{RoundTripper: roundTripFunc(func(r *http.Request) (*http.Response, error) { return answer(r, 200), nil })}
	c, _ := newClient(t, base, resiliencehttp.Config{})
	c.CloseIdleConnections()
	if base.closed != 1 {
		t.Fatalf("base CloseIdleConnections called %d times, want 1", base.closed)
	}
}

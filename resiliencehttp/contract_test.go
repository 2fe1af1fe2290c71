package resiliencehttp_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
)

// noPanic runs f and fails the test, instead of the test binary, if f
// panics.
func noPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("%s panicked: %v", what, p)
		}
	}()
	f()
}

// counting is a base transport that counts its calls and answers each with
// answerWith.
type counting struct {
	mu         sync.Mutex
	calls      int
	answerWith func(r *http.Request, n int) (*http.Response, error)
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.calls++
	n := c.calls
	c.mu.Unlock()
	return c.answerWith(r, n)
}

func (c *counting) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// After 101 Switching Protocols net/http hands over the connection as a
// Body that is an io.ReadWriteCloser, and WebSocket clients write to it.
// With AttemptTimeout the body used to be wrapped in a type that hid Write;
// and the upgraded connection must outlive the attempt's deadline.
func TestUpgradeKeepsTheWriter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "upgrade to echo", http.StatusUpgradeRequired)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		io.Copy(conn, brw) // echo until the client closes
	}))
	defer srv.Close()
	var attemptCtx context.Context
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	record := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		attemptCtx = r.Context()
		return base.RoundTrip(r)
	})
	c, _ := newClient(t, record, resiliencehttp.Config{Retry: fast, AttemptTimeout: time.Minute})
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("got %s, want 101", resp.Status)
	}
	conn, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatalf("the 101's Body is a %T, not an io.ReadWriteCloser: the upgraded connection cannot be written", resp.Body)
	}
	// The attempt's deadline is gone from the upgraded connection: its
	// context is released, and the connection lives on.
	select {
	case <-attemptCtx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the attempt's context is still held after the upgrade: its deadline would end the connection")
	}
	echoes := bufio.NewReader(conn)
	for _, line := range []string{"hello\n", "again\n"} {
		if _, err := io.WriteString(conn, line); err != nil {
			t.Fatalf("writing to the upgraded connection: %v", err)
		}
		if got, err := echoes.ReadString('\n'); got != line {
			t.Fatalf("read back %q, %v; want the echo of %q", got, err, line)
		}
	}
}

// Where net/http reports a bad request or a bad base transport with an
// error, so does the transport: it never panics.
func TestBadRequestsAreErrors(t *testing.T) {
	base := &counting{answerWith: func(r *http.Request, _ int) (*http.Response, error) { return answer(r, 200), nil }}
	for _, cfg := range []resiliencehttp.Config{
		{},
		{Retry: fast, AttemptHeader: "X-Attempt", AttemptTimeout: time.Minute, Breaker: &breaker.Config{}},
	} {
		rt, err := resiliencehttp.NewTransport(base, cfg)
		if err != nil {
			t.Fatal(err)
		}
		noPanic(t, "RoundTrip(nil)", func() {
			if resp, err := rt.RoundTrip(nil); resp != nil || err == nil || !strings.HasPrefix(err.Error(), "resiliencehttp: ") {
				t.Errorf("RoundTrip(nil) = %v, %v; want an error", resp, err)
			}
		})
		noPanic(t, "a nil URL", func() {
			body := &closeCounter{Reader: strings.NewReader("x")}
			req := &http.Request{Method: http.MethodPut, Header: http.Header{}, Body: body}
			if resp, err := rt.RoundTrip(req); resp != nil || err == nil || !strings.HasPrefix(err.Error(), "resiliencehttp: ") || body.closed != 1 {
				t.Errorf("nil URL: %v, %v, body closed %d times; want an error and the body closed", resp, err, body.closed)
			}
		})
		noPanic(t, "a nil Header", func() {
			u, _ := url.Parse("http://api.example/")
			if resp, err := rt.RoundTrip(&http.Request{Method: http.MethodGet, URL: u}); err != nil {
				t.Errorf("nil Header: %v", err)
			} else {
				read(t, resp)
			}
		})
		noPanic(t, "a zero Request with a URL", func() {
			u, _ := url.Parse("http://api.example/")
			if resp, err := rt.RoundTrip(&http.Request{URL: u}); err != nil {
				t.Errorf("zero request: %v", err)
			} else {
				read(t, resp)
			}
		})
	}
	if base.count() != 4 {
		t.Errorf("the base saw %d requests, want the 4 well-formed ones", base.count())
	}
}

// A base transport that breaks the http.RoundTripper contract gets an error,
// as http.Client gives it, not a panic, and no body leaks.
func TestBaseTransportBreakingTheContract(t *testing.T) {
	t.Run("nil response and nil error", func(t *testing.T) {
		base := &counting{answerWith: func(*http.Request, int) (*http.Response, error) { return nil, nil }}
		c, _ := newClient(t, base, resiliencehttp.Config{Retry: fast})
		noPanic(t, "RoundTrip", func() {
			_, err := c.Get("http://api.example/")
			if err == nil || !strings.Contains(err.Error(), "resiliencehttp: ") || base.count() != 1 {
				t.Fatalf("Get = %v after %d calls; want an error from the transport, not retried", err, base.count())
			}
		})
	})
	t.Run("a response and an error", func(t *testing.T) {
		var bodies []*closeCounter
		base := &counting{answerWith: func(r *http.Request, _ int) (*http.Response, error) {
			resp := answer(r, 503)
			body := &closeCounter{Reader: strings.NewReader("x")}
			bodies = append(bodies, body)
			resp.Body = body
			return resp, errors.New("refused")
		}}
		_, rt := newClient(t, base, resiliencehttp.Config{Retry: fast})
		req, _ := http.NewRequest(http.MethodGet, "http://api.example/", nil)
		resp, err := rt.RoundTrip(req)
		if resp != nil || err == nil {
			t.Fatalf("RoundTrip = %v, %v; want the error alone", resp, err)
		}
		if len(bodies) == 0 {
			t.Fatal("the base was never called")
		}
		for i, b := range bodies {
			if b.closed != 1 {
				t.Fatalf("the body of response %d, dropped with its error, was closed %d times", i+1, b.closed)
			}
		}
	})
	t.Run("nil Body", func(t *testing.T) {
		base := &counting{answerWith: func(r *http.Request, n int) (*http.Response, error) {
			resp := answer(r, 503)
			if n > 1 {
				resp = answer(r, 200)
			}
			resp.Body = nil
			return resp, nil
		}}
		c, _ := newClient(t, base, resiliencehttp.Config{Retry: fast})
		noPanic(t, "RoundTrip", func() {
			resp, err := c.Get("http://api.example/")
			if err != nil || resp.StatusCode != 200 || read(t, resp) != "" || base.count() != 2 {
				t.Fatalf("Get = %v, %v after %d calls; want the retry's 200 with an empty body", resp, err, base.count())
			}
		})
	})
	t.Run("nil Body with a length", func(t *testing.T) {
		base := &counting{answerWith: func(r *http.Request, _ int) (*http.Response, error) {
			resp := answer(r, 200)
			resp.Body, resp.ContentLength = nil, 10
			return resp, nil
		}}
		_, rt := newClient(t, base, resiliencehttp.Config{Retry: fast})
		req, _ := http.NewRequest(http.MethodGet, "http://api.example/", nil)
		noPanic(t, "RoundTrip", func() {
			if resp, err := rt.RoundTrip(req); resp != nil || err == nil || !strings.HasPrefix(err.Error(), "resiliencehttp: ") {
				t.Fatalf("RoundTrip = %v, %v; want an error: the body promised is missing", resp, err)
			}
		})
	})
}

// A request whose context is done before RoundTrip is not sent at all, and
// the error says why.
func TestDoneContextSendsNothing(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodPost} {
		base := &counting{answerWith: func(r *http.Request, _ int) (*http.Response, error) { return answer(r, 200), nil }}
		_, rt := newClient(t, base, resiliencehttp.Config{Retry: fast, Breaker: &breaker.Config{}})
		cause := errors.New("the user went away")
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		body := &closeCounter{Reader: onlyReader{strings.NewReader("x")}}
		req, _ := http.NewRequestWithContext(ctx, method, "http://api.example/", body)
		resp, err := rt.RoundTrip(req)
		if resp != nil || !errors.Is(err, cause) || !strings.HasPrefix(err.Error(), "resiliencehttp: ") || base.count() != 0 || body.closed != 1 {
			t.Errorf("%s with a done context: %v, %v after %d attempts, body closed %d times; "+
				"want no attempt, an error wrapping the cause, and the body closed", method, resp, err, base.count(), body.closed)
		}
	}
}

// A GetBody that fails, or returns no body, ends the retries: the last
// response comes back as it came, or, after a transport error, an error
// that says both. It is never sent a short body.
func TestGetBodyThatFails(t *testing.T) {
	for _, tc := range []struct {
		name    string
		getBody func() (io.ReadCloser, error)
	}{
		{"error", func() (io.ReadCloser, error) { return nil, errors.New("file gone") }},
		{"nil body", func() (io.ReadCloser, error) { return nil, nil }},
	} {
		t.Run(tc.name+" after a status", func(t *testing.T) {
			var bodies []string
			base := &counting{answerWith: func(r *http.Request, n int) (*http.Response, error) {
				b, _ := io.ReadAll(r.Body)
				r.Body.Close()
				bodies = append(bodies, string(b))
				return answer(r, 503), nil
			}}
			c, _ := newClient(t, base, resiliencehttp.Config{Retry: fast})
			req, _ := http.NewRequest(http.MethodPut, "http://api.example/", strings.NewReader("payload"))
			req.GetBody = tc.getBody
			resp, err := c.Do(req)
			if err != nil || resp.StatusCode != 503 || len(bodies) != 1 || bodies[0] != "payload" {
				t.Fatalf("Do = %v, %v, bodies sent %q; want the first 503 back, and no attempt without its body", resp, err, bodies)
			}
			read(t, resp)
		})
		t.Run(tc.name+" after a transport error", func(t *testing.T) {
			base := &counting{answerWith: func(r *http.Request, n int) (*http.Response, error) {
				r.Body.Close()
				return nil, syscall.ECONNRESET
			}}
			c, _ := newClient(t, base, resiliencehttp.Config{Retry: fast})
			req, _ := http.NewRequest(http.MethodPut, "http://api.example/", strings.NewReader("payload"))
			req.GetBody = tc.getBody
			_, err := c.Do(req)
			if !errors.Is(err, syscall.ECONNRESET) || !strings.Contains(err.Error(), "resiliencehttp: GetBody") || base.count() != 1 {
				t.Fatalf("Do = %v after %d attempts; want one attempt, and an error naming GetBody and the reset", err, base.count())
			}
		})
	}
}

// An admitted, successful request costs the transport no allocation of its
// own: the base transport's are all there is.
func TestSuccessAllocatesNothing(t *testing.T) {
	for name, cfg := range map[string]resiliencehttp.Config{
		"retry":          {},
		"retry+breaker":  {Breaker: &breaker.Config{}},
		"three attempts": {Retry: retry.Config{MaxAttempts: 3}},
		"observer":       {Breaker: &breaker.Config{}, Observer: resilience.ObserveAll(func(resilience.Event) {})},
	} {
		resp := &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{}, Body: http.NoBody}
		rt, err := resiliencehttp.NewTransport(roundTripFunc(func(*http.Request) (*http.Response, error) { return resp, nil }), cfg)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://api.example/", nil)
		if n := testing.AllocsPerRun(1000, func() {
			if _, err := rt.RoundTrip(req); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per successful GET, want 0", name, n)
		}
	}
}

// The keep-alive race: the server closes an idle connection just as the
// pool hands it out for a PUT. net/http retries that itself only for GET,
// HEAD, OPTIONS, TRACE and requests with an Idempotency-Key, and reports
// "http: server closed idle connection" for the others; for a request the
// transport may replay, it is transient. (It was permanent: one attempt.)
func TestKeepAliveRaceIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var bodies []string
		base, l := serveInMemoryListener(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
		}), false)
		c, _ := newClient(t, base, resiliencehttp.Config{Retry: fast})
		put := func(body string, trace *httptrace.ClientTrace) (*http.Response, error) {
			ctx := context.Background()
			if trace != nil {
				ctx = httptrace.WithClientTrace(ctx, trace)
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://mem.test/", strings.NewReader(body))
			return c.Do(req)
		}
		resp, err := put("first", nil)
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp) // the connection goes back to the pool
		raced := false
		resp, err = put("second", &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
			if info.Reused && !raced {
				raced = true
				l.peer(info.Conn).Close() // the server's idle timeout, now
				time.Sleep(time.Millisecond)
			}
		}})
		if !raced {
			t.Fatal("test setup: the second request did not reuse the connection")
		}
		if err != nil {
			t.Fatalf("PUT after the server closed the idle connection: %v; want it sent again", err)
		}
		read(t, resp)
		mu.Lock()
		defer mu.Unlock()
		if resp.StatusCode != 200 || fmt.Sprint(bodies) != "[first second]" {
			t.Fatalf("got %d, the server saw %q", resp.StatusCode, bodies)
		}
	})
}

// A request that is itself at fault — a body shorter than its ContentLength
// — fails the same way on a reused connection as on a fresh one: that is not
// the keep-alive race, and it is not sent again.
func TestBrokenRequestOnAReusedConnectionIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := serveInMemory(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }), false)
		base := &counting{answerWith: func(r *http.Request, _ int) (*http.Response, error) { return inner.RoundTrip(r) }}
		c, _ := newClient(t, base, resiliencehttp.Config{Retry: fast})
		req, _ := http.NewRequest(http.MethodPut, "http://mem.test/", strings.NewReader("first"))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp) // the connection goes back to the pool
		req, _ = http.NewRequest(http.MethodPut, "http://mem.test/", strings.NewReader("short"))
		req.ContentLength = 10
		if _, err := c.Do(req); err == nil || base.count() != 2 {
			t.Fatalf("a body shorter than its length: %v after %d attempts in all; want an error, and one attempt", err, base.count()-1)
		}
	})
}

// Responses a hostile server sends: a body cut short, a 503 whose body is
// cut short before a good answer, and informational answers before the
// final one. (Coverage: these held before.)
func TestHostileResponses(t *testing.T) {
	truncated := func(code int) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(code)
			io.WriteString(w, "only part")
			http.NewResponseController(w).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			conn.Close()
		}
	}
	t.Run("a body cut short is an error, with AttemptTimeout", func(t *testing.T) {
		srv := newScripted(t, truncated(200))
		c, _ := newClient(t, nil, resiliencehttp.Config{Retry: fast, AttemptTimeout: time.Minute})
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if b, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("read %q, %v; want io.ErrUnexpectedEOF, never a short body without an error", b, err)
		}
	})
	t.Run("a 503 cut short is discarded, and the retry's answer is whole", func(t *testing.T) {
		srv := newScripted(t, truncated(503), status(200))
		c, _ := newClient(t, nil, resiliencehttp.Config{Retry: fast, AttemptTimeout: time.Minute})
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if body := read(t, resp); resp.StatusCode != 200 || body != "answer 200" || srv.requests() != 2 {
			t.Fatalf("got %d %q after %d requests", resp.StatusCode, body, srv.requests())
		}
	})
	hints := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusProcessing)
		io.WriteString(w, "final")
	}
	h1 := newScripted(t, hints)
	h2, base2 := newScriptedH2(t, hints)
	for name, tc := range map[string]struct {
		url  string
		base http.RoundTripper
	}{"HTTP/1.1": {h1.URL, nil}, "HTTP/2": {h2.URL, base2}} {
		t.Run("1xx answers before the final one, "+name, func(t *testing.T) {
			c, _ := newClient(t, tc.base, resiliencehttp.Config{Retry: fast, Breaker: &breaker.Config{FailureThreshold: 1}})
			resp, err := c.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if body := read(t, resp); resp.StatusCode != 200 || body != "final" {
				t.Fatalf("got %d %q, want the final 200", resp.StatusCode, body)
			}
		})
	}
}

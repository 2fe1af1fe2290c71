package resiliencehttp_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
)

// newScriptedH2 is newScripted over TLS with HTTP/2, and the transport that
// trusts it (a new one, so that tests do not share connections).
func newScriptedH2(t *testing.T, steps ...func(w http.ResponseWriter, r *http.Request)) (*scripted, *http.Transport) {
	t.Helper()
	s := &scripted{steps: steps}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			http.Error(w, "HTTP/2 only", http.StatusHTTPVersionNotSupported)
			return
		}
		s.handle(w, r)
	}))
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	base := s.Client().Transport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	return s, base
}

// The transport over HTTP/2 and TLS: it retries transient statuses, replays
// bodies of every kind, honours the server's hints and counts failures in
// the breaker, as over HTTP/1.1.
func TestHTTP2(t *testing.T) {
	t.Run("retries 503s", func(t *testing.T) {
		srv, base := newScriptedH2(t, status(503), status(502), status(200))
		c, _ := newClient(t, base, resiliencehttp.Config{Retry: fast, AttemptHeader: "X-Attempt"})
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if body := read(t, resp); resp.ProtoMajor != 2 || resp.StatusCode != 200 || body != "answer 200" || srv.requests() != 3 {
			t.Fatalf("got %s %d %q after %d requests; want HTTP/2's 200 after 3", resp.Proto, resp.StatusCode, body, srv.requests())
		}
		for i, h := range srv.heads {
			if h.Get("X-Attempt") != fmt.Sprint(i+1) {
				t.Errorf("request %d: X-Attempt %q", i+1, h.Get("X-Attempt"))
			}
		}
	})
	t.Run("replays bodies", func(t *testing.T) {
		for name, body := range map[string]func() io.Reader{
			"GetBody":    func() io.Reader { return strings.NewReader("0123456789") },
			"no GetBody": func() io.Reader { return onlyReader{strings.NewReader("0123456789")} },
			"streamed": func() io.Reader {
				r, w := io.Pipe()
				go func() {
					for _, part := range []string{"01234", "56789"} {
						w.Write([]byte(part))
					}
					w.Close()
				}()
				return r
			},
		} {
			t.Run(name, func(t *testing.T) {
				srv, base := newScriptedH2(t, status(503), status(200))
				c, _ := newClient(t, base, resiliencehttp.Config{Retry: fast, MaxBodyBuffer: 16})
				req, _ := http.NewRequest(http.MethodPut, srv.URL, body())
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				read(t, resp)
				if resp.StatusCode != 200 || fmt.Sprint(srv.bodies) != "[0123456789 0123456789]" {
					t.Fatalf("got %d, bodies %q; want the body sent whole twice", resp.StatusCode, srv.bodies)
				}
			})
		}
	})
	t.Run("a body above MaxBodyBuffer is sent once", func(t *testing.T) {
		srv, base := newScriptedH2(t, status(503), status(200))
		c, _ := newClient(t, base, resiliencehttp.Config{Retry: fast, MaxBodyBuffer: 16})
		large := strings.Repeat("x", 40)
		req, _ := http.NewRequest(http.MethodPut, srv.URL, onlyReader{strings.NewReader(large)})
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
		if resp.StatusCode != 503 || srv.requests() != 1 || srv.bodies[0] != large {
			t.Fatalf("got %d after %d requests; want the 503 of the one attempt, with the whole body", resp.StatusCode, srv.requests())
		}
	})
	t.Run("honours Retry-After", func(t *testing.T) {
		srv, base := newScriptedH2(t, status(429, "Retry-After-Ms", "40"), status(503, "Retry-After", "3600"), status(200))
		var delays []time.Duration
		cfg := fast
		cfg.MaxRetryAfter = 5 * time.Second
		cfg.Observer = &resilience.Observer{Retry: func(e resilience.Event) { delays = append(delays, e.Delay) }}
		c, _ := newClient(t, base, resiliencehttp.Config{Retry: cfg})
		start := time.Now()
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
		if resp.StatusCode != 503 || srv.requests() != 2 || fmt.Sprint(delays) != "[40ms]" || time.Since(start) < 40*time.Millisecond {
			t.Fatalf("got %d after %d requests, waits %v; want a 40ms wait, then the 503 whose hour-long hint is beyond the cap, at once",
				resp.StatusCode, srv.requests(), delays)
		}
	})
	t.Run("the breaker counts", func(t *testing.T) {
		srv, base := newScriptedH2(t, status(503))
		c, rt := newClient(t, base, resiliencehttp.Config{
			Retry:   retry.Config{MaxAttempts: 1},
			Breaker: &breaker.Config{FailureThreshold: 2, RecoveryTimeout: time.Hour},
		})
		for range 2 {
			resp, err := c.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			read(t, resp)
		}
		if _, err := c.Get(srv.URL); !errors.Is(err, breaker.ErrOpen) || srv.requests() != 2 {
			t.Fatalf("third call: %v after %d requests; want the open breaker, without a request", err, srv.requests())
		}
		if b := rt.Breaker(strings.TrimPrefix(srv.URL, "https://")); b == nil || b.State() != breaker.Open {
			t.Fatalf("breaker %v, want it open", b)
		}
	})
}

// A certificate the client does not trust is permanent: one attempt, and
// the verification error.
func TestUntrustedCertificateIsPermanent(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = discardLog() // the server logs the failed handshakes
	srv.StartTLS()
	defer srv.Close()
	plain := &http.Transport{ForceAttemptHTTP2: true}
	defer plain.CloseIdleConnections()
	base := &counting{answerWith: func(r *http.Request, _ int) (*http.Response, error) { return plain.RoundTrip(r) }}
	c, rt := newClient(t, base, resiliencehttp.Config{Retry: fast, Breaker: &breaker.Config{FailureThreshold: 1}})
	_, err := c.Get(srv.URL)
	var verr *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &verr) || !errors.As(err, &unknown) || base.count() != 1 {
		t.Fatalf("Get = %v after %d attempts; want one attempt and the certificate's error", err, base.count())
	}
	if b := rt.Breaker(strings.TrimPrefix(srv.URL, "https://")); b == nil || b.State() != breaker.Open {
		t.Fatalf("breaker %v; want the failure counted: it opens at one", b)
	}
}

// An HTTP/2 stream that the server resets before it answers is not retried
// for a request that may not be replayed (TestFailureBeforeTheAnswerIsRetried
// retries one that may). A reset in the middle of the body reaches the caller
// as an error, never as a short body.
func TestHTTP2StreamReset(t *testing.T) {
	abort := func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }
	t.Run("not replayable", func(t *testing.T) {
		srv, base := newScriptedH2(t, abort, status(200))
		c, _ := newClient(t, base, resiliencehttp.Config{Retry: fast})
		_, err := c.Post(srv.URL, "text/plain", strings.NewReader("order"))
		if err == nil || srv.requests() != 1 {
			t.Fatalf("POST: %v after %d requests; want the reset, once", err, srv.requests())
		}
	})
	t.Run("in the body", func(t *testing.T) {
		srv, base := newScriptedH2(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			io.WriteString(w, "the first part")
			http.NewResponseController(w).Flush()
			panic(http.ErrAbortHandler)
		})
		c, _ := newClient(t, base, resiliencehttp.Config{Retry: fast, AttemptTimeout: time.Minute})
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if b, err := io.ReadAll(resp.Body); err == nil {
			t.Fatalf("read %q and no error; want the reset", b)
		}
	})
}

// discardLog is a server's ErrorLog that says nothing.
func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }

package resiliencehttp_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
)

// sseServer serves a stream of server-sent events, over HTTP/1.1 (chunked)
// or HTTP/2 (over TLS): each request gets the events "one" and "two", each
// flushed at once, and then either the end of the stream or, while broken
// is set, a cut: on HTTP/1.1 the connection closes before the terminating
// chunk, on HTTP/2 the stream is reset.
type sseServer struct {
	*httptest.Server
	base     *http.Transport
	broken   atomic.Bool
	requests atomic.Int64
}

func newSSEServer(t *testing.T, h2 bool) *sseServer {
	t.Helper()
	s := &sseServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		for _, e := range []string{"one", "two"} {
			fmt.Fprintf(w, "data: %s\n\n", e)
			rc.Flush()
		}
		if s.broken.Load() {
			panic(http.ErrAbortHandler) // no last chunk; on HTTP/2, RST_STREAM
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	s.Config.ErrorLog = discardLog()
	if h2 {
		s.EnableHTTP2 = true
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	s.base = s.Client().Transport.(*http.Transport).Clone()
	t.Cleanup(s.base.CloseIdleConnections)
	return s
}

// A stream that breaks after its first events: the caller's Read fails
// (never a clean io.EOF after a short stream), the request is not replayed
// once its answer has begun, and the break counts as a failure for the
// host's breaker, which opens after its threshold of broken streams. A
// whole stream counts as a success, and resets the count.
func TestBrokenStreamFailsTheReadAndCountsForTheBreaker(t *testing.T) {
	for _, p := range []struct {
		name string
		h2   bool
	}{{"HTTP/1.1", false}, {"HTTP/2", true}} {
		t.Run(p.name, func(t *testing.T) {
			srv := newSSEServer(t, p.h2)
			c, rt := newClient(t, srv.base, resiliencehttp.Config{
				Retry:              fast,
				Breaker:            &breaker.Config{FailureThreshold: 2, RecoveryTimeout: time.Hour},
				RetryNonIdempotent: true,
			})
			host := strings.TrimPrefix(strings.TrimPrefix(srv.URL, "https://"), "http://")
			stream := func() (string, error) {
				resp, err := c.Post(srv.URL, "application/json", strings.NewReader(`{"stream":true}`))
				if err != nil {
					return "", err
				}
				defer resp.Body.Close()
				if resp.ProtoMajor != map[bool]int{false: 1, true: 2}[p.h2] {
					t.Fatalf("spoke %s", resp.Proto)
				}
				b, err := io.ReadAll(resp.Body)
				return string(b), err
			}
			// Whole, broken, whole, broken: the success between resets the
			// count, so the breaker stays closed.
			for i, broken := range []bool{false, true, false, true} {
				srv.broken.Store(broken)
				got, err := stream()
				switch {
				case broken && (err == nil || errors.Is(err, io.EOF)):
					t.Fatalf("stream %d: read %q, %v; want the break as an error", i+1, got, err)
				case broken && !strings.HasPrefix(got, "data: one\n\ndata: two\n\n"):
					t.Fatalf("stream %d: read %q before the break; want the events sent", i+1, got)
				case !broken && (err != nil || !strings.HasSuffix(got, "data: [DONE]\n\n")):
					t.Fatalf("stream %d: read %q, %v; want the whole stream", i+1, got, err)
				}
			}
			if n := srv.requests.Load(); n != 4 {
				t.Fatalf("the server saw %d requests for 4 streams; want 4: a stream that began is never replayed", n)
			}
			if s := rt.Breaker(host).State(); s != breaker.Closed {
				t.Fatalf("after alternating streams the breaker is %v; want closed", s)
			}
			// A second break in a row opens it.
			srv.broken.Store(true)
			if _, err := stream(); err == nil {
				t.Fatal("the fifth stream broke without an error")
			}
			if s := rt.Breaker(host).State(); s != breaker.Open {
				t.Fatalf("after two broken streams in a row the breaker is %v; want open", s)
			}
			if _, err := stream(); !errors.Is(err, breaker.ErrOpen) || srv.requests.Load() != 5 {
				t.Fatalf("next call: %v after %d requests; want breaker.ErrOpen and no request", err, srv.requests.Load())
			}
		})
	}
}

// A caller that closes a stream before its end has not seen it fail: the
// breaker hears a success, as it does for a body read to its end.
func TestStreamClosedEarlyIsASuccess(t *testing.T) {
	srv := newSSEServer(t, false)
	c, rt := newClient(t, srv.base, resiliencehttp.Config{
		Retry:   fast,
		Breaker: &breaker.Config{FailureThreshold: 2, RecoveryTimeout: time.Hour},
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.broken.Store(true)
	for range 3 {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		// Read the first event only, and hang up: the break that follows
		// is not the caller's business.
		buf := make([]byte, len("data: one\n\n"))
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if s := rt.Breaker(host).State(); s != breaker.Closed {
		t.Fatalf("after 3 streams closed early the breaker is %v; want closed", s)
	}
}

// 529, Anthropic's "overloaded", is transient by default: retried, with
// the server's retry-after-ms honoured.
func TestOverloaded529IsRetried(t *testing.T) {
	srv := newScripted(t, status(529, "Retry-After-Ms", "1"), status(529), status(200))
	c, _ := newClient(t, nil, resiliencehttp.Config{Retry: fast})
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if body := read(t, resp); resp.StatusCode != 200 || body != "answer 200" || srv.requests() != 3 {
		t.Fatalf("got %d %q after %d requests; want the 200 after two 529s", resp.StatusCode, body, srv.requests())
	}
}

// A request whose X-Stainless-Retry-Count is above zero is a client
// library's own retry, made on top of the transport's: the observer hears
// it once per transport, whatever the number of such requests, and a
// first request ("0") says nothing. Checking costs no allocation.
func TestStackedRetriesObservedOnce(t *testing.T) {
	var mu sync.Mutex
	var events []resilience.Event
	obs := &resilience.Observer{StackedRetries: func(e resilience.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}}
	ok := &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{}, Body: http.NoBody}
	base := roundTripFunc(func(*http.Request) (*http.Response, error) { return ok, nil })
	rt, err := resiliencehttp.NewTransport(base, resiliencehttp.Config{Observer: obs, Retry: fast, Breaker: &breaker.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	send := func(count string) {
		req, _ := http.NewRequest(http.MethodPost, "http://api.example/v1/chat/completions", http.NoBody)
		if count != "" {
			req.Header.Set(resiliencehttp.StackedRetryHeader, count)
		}
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	for _, count := range []string{"", "0", "x", "-1", "0"} {
		send(count)
	}
	if len(events) != 0 {
		t.Fatalf("%d events before any retry of the library; want none", len(events))
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { send("2") })
	}
	wg.Wait()
	send("1")
	if len(events) != 1 {
		t.Fatalf("%d events for 9 retried requests; want 1", len(events))
	}
	e := events[0]
	if e.Type != resilience.EventStackedRetries || e.Kind != resilience.KindTransport || e.Attempt != 2 ||
		e.Reason != "X-Stainless-Retry-Count: 2" || e.Context == nil || e.Time.IsZero() {
		t.Fatalf("event %+v; want a transport's stacked-retries event for count 2", e)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://api.example/", nil)
	req.Header.Set(resiliencehttp.StackedRetryHeader, "3")
	if n := testing.AllocsPerRun(1000, func() { rt.RoundTrip(req) }); n != 0 {
		t.Fatalf("%v allocations per request after the event; want 0", n)
	}
	rt2, _ := resiliencehttp.NewTransport(base, resiliencehttp.Config{Observer: obs})
	req.Header.Set(resiliencehttp.StackedRetryHeader, "0")
	if n := testing.AllocsPerRun(1000, func() { rt2.RoundTrip(req) }); n != 0 || len(events) != 1 {
		t.Fatalf("%v allocations per first request, %d events; want 0 and still 1", n, len(events))
	}
}

// Keeping a response's outcome for the breaker until its body ends costs
// one small allocation for a response with a body, and none for one
// without; without a breaker, nothing.
func TestBodyOutcomeCost(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breaker *breaker.Config
		body    bool
		want    float64
	}{
		{"breaker, body", &breaker.Config{}, true, 1},
		{"breaker, no body", &breaker.Config{}, false, 0},
		{"no breaker, body", nil, true, 0},
	} {
		body := io.NopCloser(strings.NewReader(""))
		resp := &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{}}
		base := roundTripFunc(func(*http.Request) (*http.Response, error) {
			resp.Body = http.NoBody // the transport may have wrapped the last one's
			if tc.body {
				resp.Body = body
			}
			return resp, nil
		})
		rt, err := resiliencehttp.NewTransport(base, resiliencehttp.Config{Breaker: tc.breaker})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://api.example/", nil)
		n := testing.AllocsPerRun(1000, func() { // its warm-up run makes the host's breaker
			got, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			got.Body.Close()
		})
		if n != tc.want {
			t.Errorf("%s: %v allocations per request; want %v", tc.name, n, tc.want)
		}
	}
}

// A half-open breaker's probe whose stream lasts longer than ProbeTimeout:
// its permit is let go when the headers arrive, so the probe is not timed
// out while it streams, and the stream's end decides: a whole stream closes
// the breaker, a stream that breaks opens it again.
func TestLongStreamAsAProbe(t *testing.T) {
	for _, tc := range []struct {
		path string
		want breaker.State
	}{{"/whole", breaker.Closed}, {"/broken", breaker.Open}} {
		t.Run(tc.path, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				base := serveInMemory(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/fail" {
						w.WriteHeader(http.StatusServiceUnavailable)
						return
					}
					w.Header().Set("Content-Type", "text/event-stream")
					rc := http.NewResponseController(w)
					io.WriteString(w, "data: one\n\n")
					rc.Flush()
					time.Sleep(5 * time.Second) // past ProbeTimeout
					if r.URL.Path == "/broken" {
						panic(http.ErrAbortHandler)
					}
					io.WriteString(w, "data: two\n\n")
				}), false)
				c, rt := newClient(t, base, resiliencehttp.Config{
					Retry:   retry.Config{MaxAttempts: 1},
					Breaker: &breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second, ProbeTimeout: 2 * time.Second},
				})
				resp, err := c.Get("http://mem.test/fail")
				if err != nil {
					t.Fatal(err)
				}
				read(t, resp)
				time.Sleep(time.Second)
				if s := rt.Breaker("mem.test").State(); s != breaker.HalfOpen {
					t.Fatalf("after the failure and the recovery timeout the breaker is %v; want half-open", s)
				}
				resp, err = c.Get("http://mem.test" + tc.path)
				if err != nil {
					t.Fatal(err)
				}
				first := make([]byte, len("data: one\n\n"))
				if _, err := io.ReadFull(resp.Body, first); err != nil {
					t.Fatal(err)
				}
				// While the probe streams, past its ProbeTimeout, another
				// caller asks the breaker: the probe must not have been
				// timed out.
				time.Sleep(3 * time.Second)
				if s := rt.Breaker("mem.test").State(); s != breaker.HalfOpen {
					t.Fatalf("3s into the probe's stream (ProbeTimeout 2s) the breaker is %v; want half-open", s)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if broken := tc.path == "/broken"; broken != (err != nil) {
					t.Fatalf("read %q, %v", b, err)
				}
				if s := rt.Breaker("mem.test").State(); s != tc.want {
					t.Fatalf("after the probe's stream of 5s (ProbeTimeout 2s) the breaker is %v; want %v", s, tc.want)
				}
			})
		})
	}
}

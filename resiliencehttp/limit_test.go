package resiliencehttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/pace"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
)

// overloadServer is a loopback server that takes capacity requests at once:
// a request that finds more in flight, itself included, gets a 429 at
// once; the others are answered "ok" after hold. It records, in the order
// they came, which requests got a 429, and the most requests it saw in
// flight at once.
type overloadServer struct {
	*httptest.Server
	capacity int64
	hold     time.Duration

	inflight, peak atomic.Int64
	mu             sync.Mutex
	refused        []bool
}

func newOverloadServer(t *testing.T, capacity int64, hold time.Duration, h2 bool) (*overloadServer, *http.Transport) {
	t.Helper()
	s := &overloadServer{capacity: capacity, hold: hold}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.handle))
	s.Config.ErrorLog = discardLog()
	var base *http.Transport
	if h2 {
		s.EnableHTTP2 = true
		s.StartTLS()
		base = s.Client().Transport.(*http.Transport).Clone()
	} else {
		s.Start()
		base = &http.Transport{}
	}
	base.MaxIdleConnsPerHost = 128 // the load's connections are reused, not churned
	t.Cleanup(s.Close)
	t.Cleanup(base.CloseIdleConnections)
	return s, base
}

func (s *overloadServer) handle(w http.ResponseWriter, r *http.Request) {
	n := s.inflight.Add(1)
	defer s.inflight.Add(-1) // before the answer reaches the client
	for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
	}
	s.mu.Lock()
	s.refused = append(s.refused, n > s.capacity)
	s.mu.Unlock()
	if n > s.capacity {
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	time.Sleep(s.hold) // a real server's work, on a real socket
	io.WriteString(w, "ok")
}

// refusals returns how many requests got a 429 in the first quarter and in
// the second half of the requests, and how many came.
func (s *overloadServer) refusals() (firstQuarter, secondHalf, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.refused)
	for i, r := range s.refused {
		switch {
		case !r:
		case i < n/4:
			firstQuarter++
		case i >= n/2:
			secondHalf++
		}
	}
	return firstQuarter, secondHalf, n
}

// total429s returns how many requests got a 429 in all.
func total429s(s *overloadServer) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.refused {
		if r {
			n++
		}
	}
	return n
}

// load sends calls GETs to url from workers goroutines at once, each
// reading its answer to the end; it returns the first error.
func load(c *http.Client, url string, workers, calls int) error {
	var (
		left  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	left.Store(int64(calls))
	for range workers {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				resp, err := c.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

func hostOf(url string) string {
	return strings.TrimPrefix(strings.TrimPrefix(url, "https://"), "http://")
}

// A provider that takes 16 requests at once and answers 429 beyond, under
// a load of 64 callers that start with a limit of 128: the AIMD limit falls
// to about what the provider takes within the first quarter of the
// requests, and once it has, 429s become rare (the limit still probes above
// it now and then: that is how AIMD follows a capacity that grows). The
// callers queue for room (MaxWait) rather than fail, as an application's
// would.
func TestLimitFindsWhatTheHostTakes(t *testing.T) {
	const capacity = 16
	srv, base := newOverloadServer(t, capacity, 2*time.Millisecond, false)
	c, rt := newClient(t, base, resiliencehttp.Config{
		Retry: retry.Config{MaxAttempts: 1}, // each 429 comes back, to be counted
		Limit: &adaptive.Config{Initial: 128, Max: 256, MaxWait: time.Minute, MaxQueue: -1,
			AIMD: adaptive.AIMDConfig{Backoff: 0.7}},
	})
	if err := load(c, srv.URL, 64, 800); err != nil {
		t.Fatal(err)
	}
	first, second, total := srv.refusals()
	lim := rt.Limiter(hostOf(srv.URL))
	limit := lim.Limit()
	t.Logf("%d requests; 429s: %d in the first quarter, %d in the second half; limit %d; peak in flight at the server %d",
		total, first, second, limit, srv.peak.Load())
	if limit < capacity/2 || limit > 2*capacity {
		t.Errorf("the limit ended at %d; want it within [%d, %d], about the provider's %d", limit, capacity/2, 2*capacity, capacity)
	}
	// The load overloads the provider: without a limit about three
	// requests in four would get a 429. How fast the 64 callers ramp up
	// depends on the machine, so the overload is judged on the whole run,
	// and the learning on the second half: once the limit has settled near
	// the capacity, at most one request in twenty is refused.
	if total429 := total429s(srv); total429 < 20 {
		t.Errorf("only %d 429s in all: the load did not overload the provider", total429)
	}
	if second > total/2/20 {
		t.Errorf("%d 429s in the second half (%d in the first quarter): want at most one in twenty of its %d requests", second, first, total/2)
	}
	if s := lim.Snapshot(); s.InFlight != 0 || s.Waiting != 0 || s.Admitted != uint64(total) || s.Rejected != 0 {
		t.Errorf("after the load: %+v; want nothing in flight or waiting, %d admitted, none rejected", s, total)
	}
}

// With a limit that cannot move, the requests in flight at the server never
// exceed it, and reach it under a load of more callers, over HTTP/1.1 and
// over HTTP/2, where all of them share one connection.
func TestLimitBoundsTheRequestsInFlight(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			const limit = 3
			srv, base := newOverloadServer(t, 100, time.Millisecond, h2)
			c, rt := newClient(t, base, resiliencehttp.Config{
				Limit: &adaptive.Config{Initial: limit, Min: limit, Max: limit, MaxWait: time.Minute, MaxQueue: -1},
			})
			if err := load(c, srv.URL, 12, 200); err != nil {
				t.Fatal(err)
			}
			if p := srv.peak.Load(); p != limit {
				t.Fatalf("at most %d requests were in flight at the server; want the limit, %d", p, limit)
			}
			if s := rt.Limiter(hostOf(srv.URL)).Snapshot(); s.Admitted != 200 || s.InFlight != 0 {
				t.Fatalf("limiter %+v; want 200 admitted, none left in flight", s)
			}
		})
	}
}

// limitOf returns the transport's limiter of the in-memory host.
func memLimiter(t *testing.T, rt *resiliencehttp.Transport) *adaptive.Limiter {
	t.Helper()
	l := rt.Limiter("mem.test")
	if l == nil {
		t.Fatal("no limiter for mem.test")
	}
	return l
}

// A streamed answer is one call in flight for as long as it streams: its
// permit is held until its body ends, at io.EOF or at Close, and not while
// a retry waits.
func TestStreamHoldsItsPermitUntilItsBodyEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := serveInMemory(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/busy" {
				w.Header().Set("Retry-After", "3")
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: one\n\n")
			http.NewResponseController(w).Flush()
			time.Sleep(5 * time.Second)
			io.WriteString(w, "data: two\n\n")
		}), false)
		c, rt := newClient(t, base, resiliencehttp.Config{
			Retry: retry.Config{MaxAttempts: 2},
			Limit: &adaptive.Config{Initial: 10, AIMD: adaptive.AIMDConfig{Backoff: 0.5}},
		})
		for _, end := range []string{"EOF", "Close"} {
			resp, err := c.Get("http://mem.test/stream")
			if err != nil {
				t.Fatal(err)
			}
			lim := memLimiter(t, rt)
			first := make([]byte, len("data: one\n\n"))
			if _, err := io.ReadFull(resp.Body, first); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second)
			if n := lim.InFlight(); n != 1 {
				t.Fatalf("%s: 3s into the stream, %d calls in flight; want the stream's 1", end, n)
			}
			if end == "EOF" {
				if _, err := io.ReadAll(resp.Body); err != nil {
					t.Fatal(err)
				}
				if n := lim.InFlight(); n != 0 {
					t.Fatalf("at the stream's io.EOF, before Close, %d calls in flight; want 0", n)
				}
			}
			resp.Body.Close()
			if n := lim.InFlight(); n != 0 {
				t.Fatalf("%s: after Close, %d calls in flight; want 0", end, n)
			}
			if l := lim.Limit(); l != 10 {
				t.Fatalf("%s: a whole stream moved the limit to %d; want it left at 10", end, l)
			}
		}
		// A 503 with Retry-After: 3s: the limit is cut, and the wait for the
		// next attempt holds no permit.
		done := make(chan struct{})
		go func() {
			defer close(done)
			resp, err := c.Get("http://mem.test/busy")
			if err != nil {
				t.Error(err)
				return
			}
			read(t, resp)
		}()
		time.Sleep(time.Second)
		if n, l := memLimiter(t, rt).InFlight(), memLimiter(t, rt).Limit(); n != 0 || l != 5 {
			t.Errorf("while waiting out a Retry-After: %d in flight, limit %d; want 0, and the limit halved to 5", n, l)
		}
		<-done
	})
}

// A stream that breaks midway is a drop: it cuts the limit, over HTTP/1.1
// (no last chunk) and HTTP/2 (a stream reset); a whole one does not.
func TestBrokenStreamIsADrop(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			srv := newSSEServer(t, h2)
			c, rt := newClient(t, srv.base, resiliencehttp.Config{
				Retry:              fast,
				RetryNonIdempotent: true,
				Limit:              &adaptive.Config{Initial: 10, AIMD: adaptive.AIMDConfig{Backoff: 0.5}},
			})
			stream := func() error {
				resp, err := c.Post(srv.URL, "application/json", strings.NewReader(`{"stream":true}`))
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				_, err = io.ReadAll(resp.Body)
				return err
			}
			if err := stream(); err != nil {
				t.Fatal(err)
			}
			lim := rt.Limiter(hostOf(srv.URL))
			if l := lim.Limit(); l != 10 {
				t.Fatalf("a whole stream moved the limit to %d; want 10", l)
			}
			srv.broken.Store(true)
			if err := stream(); err == nil {
				t.Fatal("a broken stream read without an error")
			}
			if l, n := lim.Limit(), lim.InFlight(); l != 5 || n != 0 {
				t.Fatalf("after a broken stream: limit %d, %d in flight; want the limit halved to 5, none in flight", l, n)
			}
		})
	}
}

// What the caller cancels teaches the limiter nothing, before the answer
// or while the body streams; an AttemptTimeout that ends an attempt is a
// drop.
func TestCanceledCallTeachesTheLimitNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := serveInMemory(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/stream" {
				io.WriteString(w, "data: one\n\n")
				http.NewResponseController(w).Flush()
			}
			<-r.Context().Done() // never answers, or never ends its stream
		}), false)
		c, rt := newClient(t, base, resiliencehttp.Config{
			Retry:          retry.Config{MaxAttempts: 1},
			AttemptTimeout: 10 * time.Second,
			Limit:          &adaptive.Config{Initial: 10, AIMD: adaptive.AIMDConfig{Backoff: 0.5}},
		})
		get := func(ctx context.Context, path string) (*http.Response, error) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://mem.test"+path, nil)
			return c.Do(req)
		}

		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		if _, err := get(ctx, "/hang"); !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled before the answer: %v; want context.Canceled", err)
		}
		lim := memLimiter(t, rt)
		if l, n := lim.Limit(), lim.InFlight(); l != 10 || n != 0 {
			t.Fatalf("after a call canceled before its answer: limit %d, %d in flight; want 10, 0", l, n)
		}

		ctx, cancel = context.WithCancel(context.Background())
		resp, err := get(ctx, "/stream")
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(time.Second, cancel)
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Fatal("a stream canceled midway read without an error")
		}
		resp.Body.Close()
		if l, n := lim.Limit(), lim.InFlight(); l != 10 || n != 0 {
			t.Fatalf("after a stream canceled midway: limit %d, %d in flight; want 10, 0", l, n)
		}

		if _, err := get(context.Background(), "/hang"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("an attempt past AttemptTimeout: %v; want its deadline", err)
		}
		if l, n := lim.Limit(), lim.InFlight(); l != 5 || n != 0 {
			t.Fatalf("after an attempt timed out: limit %d, %d in flight; want the limit halved to 5, none in flight", l, n)
		}
	})
}

// A host whose limit is reached, and which may not wait: the attempt is not
// sent, its error matches adaptive.ErrLimited and bulkhead.ErrFull, and it
// is not retried — not even by a retry classifier that calls every error
// transient. On a first attempt the caller gets the rejection itself; on a
// later one, the retry.Error that wraps it.
func TestRejectedAttemptIsNeitherSentNorRetried(t *testing.T) {
	var busy atomic.Bool // the next answer is a 503
	srv := newScripted(t, func(w http.ResponseWriter, r *http.Request) {
		if busy.CompareAndSwap(true, false) {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "a long answer")
	})
	var (
		c     *http.Client
		held  *http.Response // holds the host's one permit
		armed atomic.Bool    // the next retry takes the permit first
	)
	hold := func() {
		var err error
		if held, err = c.Get(srv.URL + "/held"); err != nil {
			t.Error(err)
		}
	}
	c, rt := newClient(t, nil, resiliencehttp.Config{
		Retry: retry.Config{MaxAttempts: 3, Backoff: fast.Backoff,
			Classifier: func(error) resilience.Class { return resilience.ClassTransient },
			Observer: &resilience.Observer{Retry: func(resilience.Event) {
				if armed.CompareAndSwap(true, false) {
					hold() // during the retry's wait
				}
			}}},
		Limit: &adaptive.Config{Initial: 1, Min: 1, Max: 1},
	})

	hold()
	_, err := c.Get(srv.URL)
	var le *adaptive.Error
	if !errors.Is(err, adaptive.ErrLimited) || !errors.Is(err, bulkhead.ErrFull) || !errors.As(err, &le) || le.Name != hostOf(srv.URL) {
		t.Fatalf("a first attempt over the limit: %v; want the host's adaptive.Error", err)
	}
	var re *retry.Error
	if errors.As(err, &re) || srv.requests() != 1 {
		t.Fatalf("a first attempt over the limit: %v after %d requests; want no retry.Error, no request sent", err, srv.requests())
	}
	read(t, held)

	busy.Store(true)
	armed.Store(true)
	_, err = c.Get(srv.URL)
	if !errors.As(err, &re) || re.Attempts != 2 || re.Reason != retry.NotRetryable || !errors.Is(err, adaptive.ErrLimited) {
		t.Fatalf("a second attempt over the limit: %v; want a retry.Error after 2 attempts, NotRetryable, matching ErrLimited", err)
	}
	if n := srv.requests(); n != 3 { // the held one, the 503, and the held one again
		t.Fatalf("the server saw %d requests; want 3: the rejected attempt was sent", n)
	}
	read(t, held)
	if s := rt.Limiter(hostOf(srv.URL)).Snapshot(); s.Rejected != 2 || s.InFlight != 0 {
		t.Fatalf("limiter %+v; want 2 rejected, none in flight", s)
	}
}

// An attempt that the limit admits and the host's open breaker rejects
// gives its permit back, and teaches the limit nothing.
func TestBreakerRejectionTeachesTheLimitNothing(t *testing.T) {
	srv := newScripted(t, status(http.StatusServiceUnavailable))
	c, rt := newClient(t, nil, resiliencehttp.Config{
		Retry:   retry.Config{MaxAttempts: 1},
		Breaker: &breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Hour},
		Limit:   &adaptive.Config{Initial: 10, AIMD: adaptive.AIMDConfig{Backoff: 0.5}},
	})
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	read(t, resp)
	lim := rt.Limiter(hostOf(srv.URL))
	if l := lim.Limit(); l != 5 {
		t.Fatalf("after a 503: limit %d; want it halved to 5", l)
	}
	for range 3 {
		if _, err := c.Get(srv.URL); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("%v; want the open breaker's rejection", err)
		}
	}
	if s := lim.Snapshot(); s.Limit != 5 || s.InFlight != 0 || s.Admitted != 4 || srv.requests() != 1 {
		t.Fatalf("after 3 rejections by the breaker: %+v, %d requests; want the limit still 5, none in flight, 4 admitted, 1 request", s, srv.requests())
	}
}

// The limiter learns from each attempt what its outcome says: a status of
// RetryStatuses or a transient error is a drop, which cuts the limit; a
// success, another status (a client's 404 included) or a permanent error is
// not.
func TestLimitLearnsFromEachOutcome(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(*http.Request) (*http.Response, error)
		drop bool
	}{
		{"200", func(r *http.Request) (*http.Response, error) { return answer(r, 200), nil }, false},
		{"404", func(r *http.Request) (*http.Response, error) { return answer(r, 404), nil }, false},
		{"501", func(r *http.Request) (*http.Response, error) { return answer(r, 501), nil }, false},
		{"429", func(r *http.Request) (*http.Response, error) { return answer(r, 429), nil }, true},
		{"503", func(r *http.Request) (*http.Response, error) { return answer(r, 503), nil }, true},
		{"529", func(r *http.Request) (*http.Response, error) { return answer(r, 529), nil }, true},
		{"reset", func(*http.Request) (*http.Response, error) { return nil, syscall.ECONNRESET }, true},
		{"permanent error", func(*http.Request) (*http.Response, error) { return nil, errors.New("no such thing") }, false},
	} {
		rt, err := resiliencehttp.NewTransport(roundTripFunc(tc.fail), resiliencehttp.Config{
			Retry: retry.Config{MaxAttempts: 1},
			Limit: &adaptive.Config{Initial: 10, AIMD: adaptive.AIMDConfig{Backoff: 0.5}},
		})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://api.example/", nil)
		if resp, err := rt.RoundTrip(req); err == nil {
			read(t, resp)
		}
		want := map[bool]int{false: 10, true: 5}[tc.drop]
		if s := rt.Limiter("api.example").Snapshot(); s.Limit != want || s.InFlight != 0 {
			t.Errorf("%s: limit %d, %d in flight; want %d, 0", tc.name, s.Limit, s.InFlight, want)
		}
	}
}

// Each host has its own limit, listed by Limiters; past MaxHosts, the
// guards of the host met first are dropped together, and a call in flight
// under a dropped limiter gives its permit back to it.
func TestLimitsPerHost(t *testing.T) {
	refusing := newScripted(t, status(http.StatusTooManyRequests))
	fine := newScripted(t, status(200))
	c, rt := newClient(t, nil, resiliencehttp.Config{
		Retry: retry.Config{MaxAttempts: 1},
		Limit: &adaptive.Config{Initial: 10, AIMD: adaptive.AIMDConfig{Backoff: 0.5}},
	})
	for range rt.Limiters {
		t.Fatal("a transport that has sent nothing has no limiters to list")
	}
	for _, u := range []string{refusing.URL, fine.URL} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
	}
	if a, b := rt.Limiter(hostOf(refusing.URL)).Limit(), rt.Limiter(hostOf(fine.URL)).Limit(); a != 5 || b != 10 {
		t.Fatalf("limits %d for the host that refused and %d for the other; want 5 and 10", a, b)
	}
	var hosts []string
	for host, l := range rt.Limiters {
		if l != rt.Limiter(host) || l.Name() != host {
			t.Errorf("Limiters gave %q the limiter %q, not Limiter(%q)'s", host, l.Name(), host)
		}
		hosts = append(hosts, host)
	}
	if len(hosts) != 2 || hosts[0] > hosts[1] {
		t.Fatalf("Limiters listed %q; want both hosts, sorted", hosts)
	}
	if rt.Breaker(hosts[0]) != nil {
		t.Fatal("a transport without Breaker made a breaker")
	}

	base := roundTripFunc(func(r *http.Request) (*http.Response, error) { return answer(r, 200), nil })
	c, rt = newClient(t, base, resiliencehttp.Config{Breaker: &breaker.Config{}, Limit: &adaptive.Config{}, MaxHosts: 2})
	held, err := c.Get("http://a.example/")
	if err != nil {
		t.Fatal(err)
	}
	first := rt.Limiter("a.example")
	for _, h := range []string{"b.example", "c.example"} {
		resp, err := c.Get("http://" + h + "/")
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
	}
	if rt.Limiter("a.example") != nil || rt.Breaker("a.example") != nil {
		t.Fatal("the first host's guards were kept past MaxHosts 2")
	}
	if rt.Limiter("c.example") == nil || rt.Breaker("c.example") == nil {
		t.Fatal("the last host has no limiter or no breaker")
	}
	if n := first.InFlight(); n != 1 {
		t.Fatalf("the dropped limiter has %d calls in flight; want the held one", n)
	}
	read(t, held)
	if n := first.InFlight(); n != 0 {
		t.Fatalf("the held call ended and the dropped limiter has %d in flight; want 0", n)
	}
}

func TestLimitConfigIsChecked(t *testing.T) {
	for _, cfg := range []adaptive.Config{
		{AIMD: adaptive.AIMDConfig{Backoff: 1.5}},
		{Initial: 10, Max: 5},
		{MaxQueue: 3},
	} {
		_, err := resiliencehttp.NewTransport(nil, resiliencehttp.Config{Limit: &cfg})
		if err == nil || !strings.HasPrefix(err.Error(), "resiliencehttp: Limit: adaptive: ") {
			t.Errorf("Limit %+v: %v; want the adaptive package's error, prefixed", cfg, err)
		}
	}
}

// The limiter's events reach the transport's Observer too, named after the
// host.
func TestLimitEventsReachTheObserver(t *testing.T) {
	srv := newScripted(t, status(200))
	var mine, theirs []string
	var mu sync.Mutex
	note := func(to *[]string) func(resilience.Event) {
		return func(e resilience.Event) {
			if e.Kind == resilience.KindAdaptive {
				mu.Lock()
				*to = append(*to, fmt.Sprintf("%v %s", e.Type, e.Policy))
				mu.Unlock()
			}
		}
	}
	c, _ := newClient(t, nil, resiliencehttp.Config{
		Limit:    &adaptive.Config{Observer: &resilience.Observer{Admit: note(&mine)}},
		Observer: &resilience.Observer{Admit: note(&theirs)},
	})
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	read(t, resp)
	want := fmt.Sprintf("[%v %s]", resilience.EventAdmit, hostOf(srv.URL))
	if fmt.Sprint(mine) != want || fmt.Sprint(theirs) != want {
		t.Fatalf("the Limit's observer heard %v, the transport's %v; want %s each", mine, theirs, want)
	}
}

// An admitted request costs the transport's limit no allocation: a
// response without a body none at all; one with a body the one that holds
// its permit until it ends, shared with the breaker's.
func TestLimitAllocations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breaker *breaker.Config
		body    bool
		want    float64
	}{
		{"limit, no body", nil, false, 0},
		{"limit+breaker, no body", &breaker.Config{}, false, 0},
		{"limit, body", nil, true, 1},
		{"limit+breaker, body", &breaker.Config{}, true, 1},
	} {
		body := io.NopCloser(strings.NewReader(""))
		resp := &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{}}
		base := roundTripFunc(func(*http.Request) (*http.Response, error) {
			resp.Body = http.NoBody
			if tc.body {
				resp.Body = body
			}
			return resp, nil
		})
		rt, err := resiliencehttp.NewTransport(base, resiliencehttp.Config{Breaker: tc.breaker, Limit: &adaptive.Config{}})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://api.example/", nil)
		n := testing.AllocsPerRun(1000, func() { // its warm-up run makes the host's guards
			got, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			got.Body.Close()
		})
		if n != tc.want {
			t.Errorf("%s: %v allocations per request; want %v", tc.name, n, tc.want)
		}
		if s := rt.Limiter("api.example").Snapshot(); s.InFlight != 0 || s.Admitted != 1001 {
			t.Errorf("%s: limiter %+v; want 1001 admitted, none in flight", tc.name, s)
		}
	}
}

// With Pace: an attempt that the limiter rejects after its turn in the
// quota was reserved gives the turn back, as one the breaker rejects does.
func TestLimitRejectionGivesThePaceTurnBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var requests atomic.Int64
		base := serveInMemory(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			w.Header().Set("x-ratelimit-remaining-requests", "5")
			w.Header().Set("x-ratelimit-reset-requests", "1h")
			io.WriteString(w, "data: one\n\n")
			http.NewResponseController(w).Flush()
			time.Sleep(5 * time.Second)
		}), false)
		c, rt := newClient(t, base, resiliencehttp.Config{
			Pace:  &pace.Config{},
			Limit: &adaptive.Config{Initial: 1, Min: 1, Max: 1},
		})
		held, err := c.Get("http://mem.test/")
		if err != nil {
			t.Fatal(err)
		}
		defer held.Body.Close()
		before := rt.Pacer().Snapshot("mem.test")
		if _, err := c.Get("http://mem.test/"); !errors.Is(err, adaptive.ErrLimited) || requests.Load() != 1 {
			t.Fatalf("%v after %d requests; want the limiter's rejection, and the one request held", err, requests.Load())
		}
		after := rt.Pacer().Snapshot("mem.test")
		if !before.Requests.Known || after.Requests.Remaining != before.Requests.Remaining || after.InFlight != 0 {
			t.Fatalf("the quota before the rejection %+v, after it %+v; want the turn given back", before, after)
		}
		read(t, held)
	})
}

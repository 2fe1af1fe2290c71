package resiliencehttp_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/throttle"
)

// The bodies of the default answers to a shed request.
const (
	shedBodyFull      = "503 service unavailable: too many requests in progress\n"
	shedBodyThrottled = "503 service unavailable: shedding load after recent failures\n"
	shedBodyGaveUp    = "503 service unavailable: request ended while waiting\n"
)

func shedMiddleware(t testing.TB, cfg resiliencehttp.ShedConfig) func(http.Handler) http.Handler {
	t.Helper()
	m, err := resiliencehttp.Shed(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// shedLog is a server's error log: it is written from the server's
// goroutines.
type shedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *shedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *shedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// shedServer starts a loopback server for h whose error log goes to the
// returned shedLog, and returns a client of its own that opens a connection
// per request, so that no request is retried on a reused connection.
func shedServer(t *testing.T, h http.Handler) (*httptest.Server, *http.Client, *shedLog) {
	t.Helper()
	logs := &shedLog{}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(logs, "", 0)
	srv.Start()
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
	})
	return srv, &http.Client{Transport: tr}, logs
}

// shedResult is what a client got.
type shedResult struct {
	code       int
	retryAfter string
	body       string
	err        error
}

func shedGet(ctx context.Context, client *http.Client, url string) shedResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return shedResult{err: err}
	}
	resp, err := client.Do(req)
	if err != nil {
		return shedResult{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return shedResult{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(body), err: err}
}

// shedServe runs h on a request with ctx, without a network.
func shedServe(h http.Handler, ctx context.Context) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil))
	return rec
}

// shedCheckShed fails t unless rec is the default answer to a shed request.
func shedCheckShed(t *testing.T, rec *httptest.ResponseRecorder, retryAfter, body string) {
	t.Helper()
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != retryAfter || rec.Body.String() != body {
		t.Errorf("got %d, Retry-After %q, body %q; want 503, Retry-After %q, body %q",
			rec.Code, rec.Header().Get("Retry-After"), rec.Body.String(), retryAfter, body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestShedRejectsNonsense(t *testing.T) {
	bh := bulkhead.MustNew(bulkhead.Config{})
	for _, tc := range []struct {
		name string
		cfg  resiliencehttp.ShedConfig
		want string
	}{
		{"zero", resiliencehttp.ShedConfig{}, "resiliencehttp: ShedConfig has no Bulkhead, Adaptive or Throttle: nothing to shed with"},
		{"nothing to shed with", resiliencehttp.ShedConfig{RetryAfter: time.Second, Classify: resiliencehttp.ShedClassifyStatus}, "resiliencehttp: ShedConfig has no Bulkhead, Adaptive or Throttle: nothing to shed with"},
		{"no policy, RetryAfter off", resiliencehttp.ShedConfig{RetryAfter: -time.Second}, "resiliencehttp: ShedConfig has no Bulkhead, Adaptive or Throttle: nothing to shed with"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := resiliencehttp.Shed(tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Shed: %v, want %q", err, tc.want)
			}
			if m != nil {
				t.Error("Shed returned middleware with its error")
			}
			defer func() {
				if r := recover(); r != err && (r == nil || r.(error).Error() != tc.want) {
					t.Errorf("MustShed panicked with %v, want %v", r, err)
				}
			}()
			resiliencehttp.MustShed(tc.cfg)
		})
	}
	if m := resiliencehttp.MustShed(resiliencehttp.ShedConfig{Bulkhead: bh}); m == nil {
		t.Error("MustShed of a valid config returned nil")
	}
}

func TestShedClassifyStatus(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   resilience.Class
	}{
		{100, resilience.ClassSuccess},
		{101, resilience.ClassSuccess},
		{200, resilience.ClassSuccess},
		{204, resilience.ClassSuccess},
		{302, resilience.ClassSuccess},
		{399, resilience.ClassSuccess},
		{400, resilience.ClassPermanent},
		{404, resilience.ClassPermanent},
		{429, resilience.ClassPermanent},
		{499, resilience.ClassPermanent},
		{500, resilience.ClassTransient},
		{501, resilience.ClassPermanent},
		{502, resilience.ClassTransient},
		{503, resilience.ClassTransient},
		{504, resilience.ClassTransient},
		{599, resilience.ClassTransient},
		{600, resilience.ClassPermanent},
		{999, resilience.ClassPermanent},
	} {
		if got := resiliencehttp.ShedClassifyStatus(tc.status); got != tc.want {
			t.Errorf("ShedClassifyStatus(%d) = %v, want %v", tc.status, got, tc.want)
		}
	}
}

func TestShedRetryAfterIsRoundedUpToSecondsOrOff(t *testing.T) {
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
	p, err := bh.TryAcquire()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	for _, tc := range []struct {
		retryAfter time.Duration
		want       string
	}{
		{0, "1"},
		{time.Nanosecond, "1"},
		{time.Second, "1"},
		{time.Second + time.Nanosecond, "2"},
		{1500 * time.Millisecond, "2"},
		{3 * time.Second, "3"},
		{time.Hour, "3600"},
		{1<<63 - 1, "9223372037"},
		{-1, ""}, // off: no header
		{-time.Hour, ""},
	} {
		m := shedMiddleware(t, resiliencehttp.ShedConfig{Bulkhead: bh, RetryAfter: tc.retryAfter})
		rec := shedServe(m(http.NotFoundHandler()), context.Background())
		shedCheckShed(t, rec, tc.want, shedBodyFull)
		if _, set := rec.Header()["Retry-After"]; set != (tc.want != "") {
			t.Errorf("RetryAfter %v: Retry-After header set = %v", tc.retryAfter, set)
		}
	}
}

func TestShedBoundsConcurrencyOverTheNetwork(t *testing.T) {
	const limit, total = 4, 120
	bh := bulkhead.MustNew(bulkhead.Config{Name: "api", MaxConcurrent: limit})
	shedBoundsConcurrency(t, resiliencehttp.ShedConfig{Bulkhead: bh, RetryAfter: 2 * time.Second}, limit, total,
		func() (int, uint64, uint64) { s := bh.Snapshot(); return s.InFlight, s.Admitted, s.Rejected })
}

// shedBoundsConcurrency sends total requests at once through Shed with cfg
// (whose RetryAfter is 2s) to handlers that hold them until released, and
// checks that limit of them are admitted, the others shed at once, and no
// more than limit are in the handler at any time. counts returns the
// policy's calls in flight, admitted and rejected.
func shedBoundsConcurrency(t *testing.T, cfg resiliencehttp.ShedConfig, limit, total int, counts func() (inFlight int, admitted, rejected uint64)) {
	t.Helper()
	var inHandler, most atomic.Int64
	release := make(chan struct{})
	h := shedMiddleware(t, cfg)(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := inHandler.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-release
			inHandler.Add(-1)
			io.WriteString(w, "handled")
		}))
	srv, client, _ := shedServer(t, h)
	var once sync.Once
	releaseAll := func() { once.Do(func() { close(release) }) }
	t.Cleanup(releaseAll) // before the server closes: it waits for its handlers

	results := make(chan shedResult, total)
	var wg sync.WaitGroup
	for range total {
		wg.Go(func() { results <- shedGet(context.Background(), client, srv.URL) })
	}
	// The handlers admitted hold their room until released, so every other
	// request is shed meanwhile.
	for range total - limit {
		r := <-results
		if r.err != nil || r.code != http.StatusServiceUnavailable || r.retryAfter != "2" || r.body != shedBodyFull {
			t.Errorf("while %d requests hold the limit: got %+v, want 503 with Retry-After 2", limit, r)
		}
	}
	if n, _, _ := counts(); n != limit {
		t.Errorf("InFlight = %d while the handlers are held, want %d", n, limit)
	}
	releaseAll()
	for range limit {
		if r := <-results; r.err != nil || r.code != http.StatusOK || r.body != "handled" || r.retryAfter != "" {
			t.Errorf("admitted request: got %+v, want 200 handled", r)
		}
	}
	wg.Wait()
	if m := most.Load(); m != int64(limit) {
		t.Errorf("at most %d requests were in the handler at once, want %d", m, limit)
	}
	if n, admitted, rejected := counts(); n != 0 || admitted != uint64(limit) || rejected != uint64(total-limit) {
		t.Errorf("after the requests: %d in flight, %d admitted, %d rejected; want 0, %d, %d", n, admitted, rejected, limit, total-limit)
	}
}

func TestShedQueuedRequestsWaitForASlot(t *testing.T) {
	const limit, total = 3, 100
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: limit, MaxWait: time.Hour, MaxQueue: total})
	var inHandler, most atomic.Int64
	h := shedMiddleware(t, resiliencehttp.ShedConfig{Bulkhead: bh})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := inHandler.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			runtime.Gosched()
			inHandler.Add(-1)
			io.WriteString(w, "handled")
		}))
	srv, client, _ := shedServer(t, h)
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range total {
		wg.Go(func() {
			if r := shedGet(context.Background(), client, srv.URL); r.err == nil && r.code == http.StatusOK && r.body == "handled" {
				ok.Add(1)
			} else {
				t.Errorf("got %+v, want 200 handled", r)
			}
		})
	}
	wg.Wait()
	if n := ok.Load(); n != total {
		t.Errorf("%d requests handled, want all %d", n, total)
	}
	if m := most.Load(); m > limit {
		t.Errorf("%d requests were in the handler at once, above the limit %d", m, limit)
	}
}

func TestShedThrottleStartsSheddingWhenTheHandlerFails(t *testing.T) {
	th := throttle.MustNew(throttle.Config{Name: "api", Seed: 1})
	var handled atomic.Int64
	h := shedMiddleware(t, resiliencehttp.ShedConfig{Throttle: th})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			handled.Add(1)
			http.Error(w, "handler: overloaded", http.StatusServiceUnavailable)
		}))
	srv, client, _ := shedServer(t, h)

	const minRequests, total = throttle.DefaultMinRequests, 60
	shed, reached := 0, 0 // after the first minRequests
	for i := range total {
		r := shedGet(context.Background(), client, srv.URL)
		switch {
		case r.err != nil:
			t.Fatal(r.err)
		case r.code == http.StatusServiceUnavailable && r.body == "handler: overloaded\n" && r.retryAfter == "":
			if i >= minRequests {
				reached++
			}
		case r.code == http.StatusServiceUnavailable && r.body == shedBodyThrottled && r.retryAfter == "1":
			if i < minRequests {
				t.Fatalf("request %d shed before the throttle held %d requests", i, minRequests)
			}
			shed++
		default:
			t.Fatalf("request %d: unexpected answer %+v", i, r)
		}
	}
	if reached > 10 {
		t.Errorf("after %d failures, %d of the next %d requests still reached the handler", minRequests, reached, total-minRequests)
	}
	if n := handled.Load(); n != int64(minRequests+reached) {
		t.Errorf("the handler ran %d times, want %d", n, minRequests+reached)
	}
	if s := th.Snapshot(); s.Rejected != uint64(shed) || s.Accepts != 0 || s.Requests != total {
		t.Errorf("throttle: %+v, want %d rejected, 0 accepts, %d requests", s, shed, total)
	}
}

func TestShedThrottleCountsTheHandlersAnswers(t *testing.T) {
	boom := errors.New("boom")
	customClassify := func(status int) resilience.Class {
		switch status {
		case http.StatusTooManyRequests:
			return resilience.ClassTransient
		case http.StatusTeapot:
			return resilience.ClassIgnored
		}
		return resiliencehttp.ShedClassifyStatus(status)
	}
	for _, tc := range []struct {
		name     string
		handler  func(w http.ResponseWriter, r *http.Request)
		classify func(int) resilience.Class
		canceled bool // the client has gone before the handler returns
		full     bool // a bulkhead behind the throttle has no slot free
		panics   bool
		requests int
		accepts  int
	}{
		{name: "200", handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }, requests: 1, accepts: 1},
		{name: "nothing written", handler: func(w http.ResponseWriter, r *http.Request) {}, requests: 1, accepts: 1},
		{name: "204", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, requests: 1, accepts: 1},
		{name: "404", handler: http.NotFound, requests: 1, accepts: 1},
		{name: "501", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotImplemented) }, requests: 1, accepts: 1},
		{name: "500", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }, requests: 1, accepts: 0},
		{name: "503", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }, requests: 1, accepts: 0},
		{name: "103 then 503", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusServiceUnavailable)
		}, requests: 1, accepts: 0},
		{name: "103 then written", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "ok")
			w.WriteHeader(http.StatusServiceUnavailable) // superfluous
		}, requests: 1, accepts: 1},
		{name: "written then a superfluous 500", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("ok"))
			w.WriteHeader(http.StatusInternalServerError)
		}, requests: 1, accepts: 1},
		{name: "flushed then a superfluous 500", handler: func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			w.WriteHeader(http.StatusInternalServerError)
		}, requests: 1, accepts: 1},
		{name: "flushed through a ResponseController then a superfluous 500", handler: func(w http.ResponseWriter, r *http.Request) {
			http.NewResponseController(w).Flush()
			w.WriteHeader(http.StatusInternalServerError)
		}, requests: 1, accepts: 1},
		{name: "503 then written", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("busy"))
		}, requests: 1, accepts: 0},
		{name: "panic", handler: func(w http.ResponseWriter, r *http.Request) { panic(boom) }, panics: true, requests: 1, accepts: 0},
		{name: "panic after a 200", handler: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
			panic(boom)
		}, panics: true, requests: 1, accepts: 0},
		{name: "client gone, 503", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }, canceled: true, requests: 0, accepts: 0},
		{name: "client gone, 404", handler: http.NotFound, canceled: true, requests: 0, accepts: 0},
		{name: "client gone, 200", handler: func(w http.ResponseWriter, r *http.Request) {}, canceled: true, requests: 1, accepts: 1},
		{name: "custom: 429 transient", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTooManyRequests) }, classify: customClassify, requests: 1, accepts: 0},
		{name: "default: 429 permanent", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTooManyRequests) }, requests: 1, accepts: 1},
		{name: "custom: 418 ignored", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }, classify: customClassify, requests: 0, accepts: 0},
		{name: "custom: nothing written is a 200", handler: func(w http.ResponseWriter, r *http.Request) {}, classify: func(status int) resilience.Class {
			if status == http.StatusOK {
				return resilience.ClassTransient
			}
			return resilience.ClassSuccess
		}, requests: 1, accepts: 0},
		{name: "custom: 500 by default", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }, classify: customClassify, requests: 1, accepts: 0},
		{name: "shed by the bulkhead", handler: func(w http.ResponseWriter, r *http.Request) { t.Error("handler called") }, full: true, requests: 0, accepts: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := throttle.MustNew(throttle.Config{})
			cfg := resiliencehttp.ShedConfig{Throttle: th, Classify: tc.classify}
			if tc.full {
				bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
				p, _ := bh.TryAcquire()
				defer p.Release()
				cfg.Bulkhead = bh
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			handler := tc.handler
			if tc.canceled {
				handler = func(w http.ResponseWriter, r *http.Request) {
					cancel()
					tc.handler(w, r)
				}
			}
			h := shedMiddleware(t, cfg)(http.HandlerFunc(handler))
			func() {
				defer func() {
					if r := recover(); (r != nil) != tc.panics {
						t.Errorf("recovered %v", r)
					}
				}()
				shedServe(h, ctx)
			}()
			if s := th.Snapshot(); s.Requests != tc.requests || s.Accepts != tc.accepts {
				t.Errorf("throttle counted %d requests, %d accepts; want %d, %d", s.Requests, s.Accepts, tc.requests, tc.accepts)
			}
		})
	}
}

// shedBoom is a panic value whose identity the tests check.
type shedBoom struct{ n int }

func TestShedPanicsGoOnUnchanged(t *testing.T) {
	boom := &shedBoom{1}
	for _, value := range []any{boom, http.ErrAbortHandler} {
		bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
		th := throttle.MustNew(throttle.Config{})
		h := shedMiddleware(t, resiliencehttp.ShedConfig{Bulkhead: bh, Throttle: th})(
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(value) }))
		rec := httptest.NewRecorder()
		got := func() (v any) {
			defer func() { v = recover() }()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			return nil
		}()
		if got != value {
			t.Errorf("recovered %#v, want %#v itself", got, value)
		}
		if bh.InFlight() != 0 {
			t.Errorf("panic %v: the slot was not released", value)
		}
		if s := th.Snapshot(); s.Requests != 1 || s.Accepts != 0 {
			t.Errorf("panic %v: throttle counted %+v, want a failure", value, s)
		}
		if rec.Code != http.StatusOK || rec.Body.Len() != 0 || len(rec.Header()) != 0 {
			t.Errorf("panic %v: the middleware wrote %d %q %v", value, rec.Code, rec.Body, rec.Header())
		}
	}
}

func TestShedGoexitReleasesTheSlot(t *testing.T) {
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
	th := throttle.MustNew(throttle.Config{})
	h := shedMiddleware(t, resiliencehttp.ShedConfig{Bulkhead: bh, Throttle: th})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { runtime.Goexit() }))
	done := make(chan struct{})
	go func() {
		defer close(done)
		shedServe(h, context.Background())
	}()
	<-done
	if bh.InFlight() != 0 {
		t.Error("the slot was not released")
	}
	if s := th.Snapshot(); s.Requests != 1 || s.Accepts != 0 {
		t.Errorf("throttle counted %+v, want a failure", s)
	}
}

func TestShedPanicOverTheNetwork(t *testing.T) {
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
	th := throttle.MustNew(throttle.Config{})
	h := shedMiddleware(t, resiliencehttp.ShedConfig{Bulkhead: bh, Throttle: th})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/panic":
				panic("boom in the handler")
			case "/abort":
				io.WriteString(w, "partial")
				panic(http.ErrAbortHandler)
			}
			io.WriteString(w, "handled")
		}))
	srv, client, logs := shedServer(t, h)

	if r := shedGet(context.Background(), client, srv.URL+"/panic"); r.err == nil {
		t.Errorf("after a panic the client got %+v, want the connection closed", r)
	}
	if l := logs.String(); !strings.Contains(l, "http: panic serving") || !strings.Contains(l, "boom in the handler") {
		t.Errorf("the server did not log the panic: %q", l)
	}
	// The only slot was released: the next request gets through.
	if r := shedGet(context.Background(), client, srv.URL); r.err != nil || r.code != http.StatusOK || r.body != "handled" {
		t.Errorf("after a panic: %+v, want 200 handled", r)
	}

	before := logs.String()
	if r := shedGet(context.Background(), client, srv.URL+"/abort"); r.err == nil {
		t.Errorf("after ErrAbortHandler the client got %+v, want the response aborted", r)
	}
	if r := shedGet(context.Background(), client, srv.URL); r.err != nil || r.code != http.StatusOK {
		t.Errorf("after ErrAbortHandler: %+v, want 200", r)
	}
	if l := logs.String(); l != before {
		t.Errorf("the server logged ErrAbortHandler, so it did not reach it unchanged: %q", l[len(before):])
	}
	if s := th.Snapshot(); s.Requests != 4 || s.Accepts != 2 {
		t.Errorf("throttle: %+v, want 4 requests of which the 2 that panicked failed", s)
	}
	if bh.InFlight() != 0 {
		t.Error("a slot is still taken")
	}
}

func TestShedNeverOverwritesAStartedResponse(t *testing.T) {
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 2})
	th := throttle.MustNew(throttle.Config{Seed: 1})
	var held bulkhead.Permit
	h := shedMiddleware(t, resiliencehttp.ShedConfig{Bulkhead: bh, Throttle: th})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Handler", "yes")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "first ")
			w.(http.Flusher).Flush()
			// Meanwhile the bulkhead fills up, and the throttle sees enough
			// failures to shed nearly everything.
			var err error
			if held, err = bh.TryAcquire(); err != nil {
				t.Error(err)
			}
			for range 100 {
				if p, err := th.Allow(); err == nil {
					p.Done(resilience.Transient(errors.New("down")))
				}
			}
			io.WriteString(w, "second")
			w.WriteHeader(http.StatusInternalServerError) // superfluous
		}))
	srv, client, _ := shedServer(t, h)
	defer func() { held.Release() }()

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != "first second" ||
		resp.Header.Get("X-Handler") != "yes" || resp.Header.Values("Retry-After") != nil {
		t.Errorf("got %d %q %v (%v), want exactly the handler's 200 \"first second\"", resp.StatusCode, body, resp.Header, err)
	}
	// The state did change: the next request is shed by the throttle or
	// the full bulkhead.
	if p := th.Probability(); p < 0.9 {
		t.Errorf("throttle probability %v after the failures", p)
	}
	if r := shedGet(context.Background(), client, srv.URL); r.code != http.StatusServiceUnavailable || r.retryAfter != "1" {
		t.Errorf("next request: %+v, want shed", r)
	}
	// The handler's request counted as the 200 it sent, not as the 500.
	if s := th.Snapshot(); s.Accepts != 1 {
		t.Errorf("throttle: %+v, want the handler's request accepted", s)
	}
}

func TestShedResponseControllerReachesTheWriterBeneath(t *testing.T) {
	th := throttle.MustNew(throttle.Config{}) // the throttle makes the middleware wrap the writer
	gotPart1 := make(chan struct{})
	h := shedMiddleware(t, resiliencehttp.ShedConfig{Throttle: th})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Errorf("SetWriteDeadline: %v", err)
			}
			if err := rc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Errorf("SetReadDeadline: %v", err)
			}
			if err := rc.EnableFullDuplex(); err != nil {
				t.Errorf("EnableFullDuplex: %v", err)
			}
			if _, ok := w.(http.Flusher); !ok {
				t.Error("the writer is not an http.Flusher")
			}
			io.WriteString(w, "part1\n")
			if err := rc.Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			// Without the flush the client would see nothing yet, and this
			// would wait until the client gives up.
			select {
			case <-gotPart1:
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, "part2\n")
		}))
	srv, client, _ := shedServer(t, h)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); line != "part1\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	close(gotPart1)
	if rest, err := io.ReadAll(br); string(rest) != "part2\n" || err != nil {
		t.Errorf("rest %q, %v", rest, err)
	}
}

func TestShedHijackThroughTheWrapper(t *testing.T) {
	for _, how := range []string{"ResponseController", "Hijacker"} {
		t.Run(how, func(t *testing.T) {
			bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
			th := throttle.MustNew(throttle.Config{})
			h := shedMiddleware(t, resiliencehttp.ShedConfig{Bulkhead: bh, Throttle: th})(
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					hijack := http.NewResponseController(w).Hijack
					if how == "Hijacker" {
						hj, ok := w.(http.Hijacker)
						if !ok {
							t.Error("the writer is not an http.Hijacker")
							return
						}
						hijack = hj.Hijack
					}
					conn, brw, err := hijack()
					if err != nil {
						t.Error(err)
						return
					}
					defer conn.Close()
					brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
					brw.Flush()
				}))
			// The client has its answer before the handler returns: served
			// says when the middleware is done.
			served := make(chan struct{}, 1)
			srv, client, _ := shedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer func() { served <- struct{}{} }()
				h.ServeHTTP(w, r)
			}))
			for i := range 2 {
				if r := shedGet(context.Background(), client, srv.URL); r.err != nil || r.code != http.StatusOK || r.body != "hijacked" {
					t.Errorf("request %d: got %+v", i, r)
				}
				<-served
			}
			if s := th.Snapshot(); s.Requests != 2 || s.Accepts != 2 {
				t.Errorf("throttle: %+v, want hijacked requests counted as successes", s)
			}
		})
	}
}

// shedPlainWriter is a ResponseWriter with no optional interface, which
// allocates nothing.
type shedPlainWriter struct {
	header http.Header
	code   int
	n      int
}

func (w *shedPlainWriter) Header() http.Header { return w.header }
func (w *shedPlainWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *shedPlainWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

// shedFullWriter has the optional interfaces the wrapper passes on.
type shedFullWriter struct {
	shedPlainWriter
	readFrom, writeString int
}

func (w *shedFullWriter) ReadFrom(r io.Reader) (int64, error) {
	w.readFrom++
	w.code = http.StatusOK
	return io.Copy(io.Discard, r)
}

func (w *shedFullWriter) WriteString(s string) (int, error) {
	w.writeString++
	return w.Write([]byte(s))
}

func TestShedWrapperPassesOnOptionalInterfaces(t *testing.T) {
	th := throttle.MustNew(throttle.Config{})
	m := shedMiddleware(t, resiliencehttp.ShedConfig{Throttle: th})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	h := m(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src := struct{ io.Reader }{strings.NewReader("copied")} // no WriteTo: io.Copy asks w
		if n, err := io.Copy(w, src); n != 6 || err != nil {
			t.Errorf("io.Copy: %d, %v", n, err)
		}
		if n, err := io.WriteString(w, "string"); n != 6 || err != nil {
			t.Errorf("io.WriteString: %d, %v", n, err)
		}
	}))

	full := &shedFullWriter{shedPlainWriter: shedPlainWriter{header: http.Header{}}}
	h.ServeHTTP(full, req)
	if full.readFrom != 1 || full.writeString != 1 || full.n != 6 {
		t.Errorf("writer beneath: ReadFrom %d times, WriteString %d times, %d bytes written; want 1, 1, 6", full.readFrom, full.writeString, full.n)
	}

	plain := &shedPlainWriter{header: http.Header{}}
	h.ServeHTTP(plain, req)
	if plain.n != 12 || plain.code != http.StatusOK {
		t.Errorf("plain writer: %d bytes, code %d; want 12, 200", plain.n, plain.code)
	}

	// What the writer beneath cannot do fails as through a
	// ResponseController, and counts for nothing.
	h = m(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.Flush(); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("Flush: %v, want ErrNotSupported", err)
		}
		w.(http.Flusher).Flush()
		if _, _, err := w.(http.Hijacker).Hijack(); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("Hijack: %v, want ErrNotSupported", err)
		}
		if err := rc.SetWriteDeadline(time.Time{}); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("SetWriteDeadline: %v, want ErrNotSupported", err)
		}
		w.WriteHeader(http.StatusServiceUnavailable) // not superfluous: nothing was flushed
	}))
	plain = &shedPlainWriter{header: http.Header{}}
	h.ServeHTTP(plain, req)
	if plain.code != http.StatusServiceUnavailable {
		t.Errorf("code %d", plain.code)
	}
	if s := th.Snapshot(); s.Requests != 3 || s.Accepts != 2 {
		t.Errorf("throttle: %+v, want the 503 after a failed flush counted as a failure", s)
	}
}

func TestShedWaitForASlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1, MaxWait: 10 * time.Second, MaxQueue: 5})
		th := throttle.MustNew(throttle.Config{})
		release := make(chan struct{})
		var calls atomic.Int64
		h := shedMiddleware(t, resiliencehttp.ShedConfig{Bulkhead: bh, Throttle: th})(
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				<-release
				io.WriteString(w, "handled")
			}))
		serve := func(ctx context.Context) <-chan *httptest.ResponseRecorder {
			done := make(chan *httptest.ResponseRecorder, 1)
			go func() { done <- shedServe(h, ctx) }()
			return done
		}
		first := serve(context.Background())
		synctest.Wait()

		// The client goes away while the request waits for a slot.
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		gone := serve(ctx)
		synctest.Wait()
		if bh.Waiting() != 1 {
			t.Fatalf("%d requests waiting, want 1", bh.Waiting())
		}
		time.Sleep(time.Second)
		cancel()
		shedCheckShed(t, <-gone, "1", shedBodyGaveUp)
		if d := time.Since(start); d != time.Second {
			t.Errorf("the abandoned wait took %v, want 1s", d)
		}

		// An outer deadline ends the wait: the client still there gets the
		// 503, not the empty 200 that a handler answering nothing sends.
		ctx, cancel = context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start = time.Now()
		shedCheckShed(t, <-serve(ctx), "1", shedBodyGaveUp)
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("the wait ended by the deadline took %v, want 3s", d)
		}

		// A wait that lasts MaxWait is a rejection.
		start = time.Now()
		shedCheckShed(t, <-serve(context.Background()), "1", shedBodyFull)
		if d := time.Since(start); d != 10*time.Second {
			t.Errorf("the wait took %v, want MaxWait 10s", d)
		}

		// A request that waits while the slot comes free is served.
		third := serve(context.Background())
		synctest.Wait()
		close(release)
		for _, done := range []<-chan *httptest.ResponseRecorder{first, third} {
			if rec := <-done; rec.Code != http.StatusOK || rec.Body.String() != "handled" {
				t.Errorf("got %d %q, want 200 handled", rec.Code, rec.Body)
			}
		}
		if n := calls.Load(); n != 2 {
			t.Errorf("the handler ran %d times, want 2", n)
		}
		if s := bh.Snapshot(); s.Abandoned != 2 || s.Rejected != 1 || s.Admitted != 2 || s.InFlight != 0 {
			t.Errorf("bulkhead: %+v", s)
		}
		// Neither the waits abandoned nor the rejection count for the
		// throttle; the two requests served do.
		if s := th.Snapshot(); s.Requests != 2 || s.Accepts != 2 {
			t.Errorf("throttle: %+v, want 2 requests accepted", s)
		}
	})
}

func TestShedThrottleDecidesBeforeTheBulkhead(t *testing.T) {
	// A request the throttle sheds neither waits for a bulkhead slot nor
	// counts for the bulkhead.
	synctest.Test(t, func(t *testing.T) {
		bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1, MaxWait: 10 * time.Second})
		held, _ := bh.TryAcquire()
		defer held.Release()
		th := throttle.MustNew(throttle.Config{Seed: 1})
		for range 1000 {
			if p, err := th.Allow(); err == nil {
				p.Done(resilience.Transient(errors.New("down")))
			}
		}
		h := shedMiddleware(t, resiliencehttp.ShedConfig{Bulkhead: bh, Throttle: th})(
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("handler called") }))
		start := time.Now()
		shedCheckShed(t, shedServe(h, context.Background()), "1", shedBodyThrottled)
		if d := time.Since(start); d != 0 {
			t.Errorf("the shed request took %v, want no wait", d)
		}
		if s := bh.Snapshot(); s.Rejected != 0 || s.Admitted != 1 {
			t.Errorf("bulkhead: %+v, want only the held slot counted", s)
		}
	})
}

func TestShedRejectedWritesTheAnswer(t *testing.T) {
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
	th := throttle.MustNew(throttle.Config{Seed: 3, MinRequests: 1})
	var errs []error
	var called atomic.Int64
	h := shedMiddleware(t, resiliencehttp.ShedConfig{
		Bulkhead:   bh,
		Throttle:   th,
		RetryAfter: 5 * time.Second,
		Rejected: func(w http.ResponseWriter, r *http.Request, err error) {
			errs = append(errs, err)
			if got := w.Header().Get("Retry-After"); got != "5" {
				t.Errorf("Retry-After when Rejected is called: %q, want 5", got)
			}
			w.Header().Set("Retry-After", "7")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":"busy"}`)
		},
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called.Add(1) }))

	p, _ := bh.TryAcquire()
	rec := shedServe(h, context.Background())
	p.Release()
	if rec.Code != http.StatusTooManyRequests || rec.Body.String() != `{"error":"busy"}` || rec.Header().Get("Retry-After") != "7" {
		t.Errorf("got %d %q %v", rec.Code, rec.Body, rec.Header())
	}
	// Fail until the throttle sheds.
	for range 1000 {
		if p, err := th.Allow(); err == nil {
			p.Done(resilience.Transient(errors.New("down")))
		}
	}
	for range 20 {
		shedServe(h, context.Background())
	}
	if len(errs) < 10 || !errors.Is(errs[0], bulkhead.ErrFull) || errors.Is(errs[0], throttle.ErrThrottled) {
		t.Fatalf("errors given to Rejected: %v", errs)
	}
	for _, err := range errs[1:] {
		if !errors.Is(err, throttle.ErrThrottled) {
			t.Errorf("error given to Rejected: %v, want ErrThrottled", err)
		}
	}
	if n := called.Load(); n+int64(len(errs)) != 21 {
		t.Errorf("handler called %d times, Rejected %d times, for 21 requests", n, len(errs))
	}
}

func TestShedNilHandlerAnswersAnError(t *testing.T) {
	m := shedMiddleware(t, resiliencehttp.ShedConfig{Bulkhead: bulkhead.MustNew(bulkhead.Config{})})
	rec := shedServe(m(nil), context.Background())
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "resiliencehttp: Shed: nil handler") {
		t.Errorf("got %d %q", rec.Code, rec.Body)
	}
}

func TestShedAllocations(t *testing.T) {
	okBody := []byte("ok")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(okBody) })
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	w := &shedPlainWriter{header: http.Header{}}

	full := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
	held, _ := full.TryAcquire()
	defer held.Release()
	shedding := throttle.MustNew(throttle.Config{Seed: 1})
	for range 100000 {
		if p, err := shedding.Allow(); err == nil {
			p.Done(resilience.Transient(errors.New("down")))
		}
	}
	limited := adaptive.MustNew(adaptive.Config{Algorithm: adaptive.Gradient, Initial: 1, Min: 1, Max: 1})
	lheld, _ := limited.TryAcquire()
	defer lheld.Release(resilience.Outcome{})
	var handled atomic.Int64
	counting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable) // so that the throttle keeps shedding
	})

	for _, tc := range []struct {
		name    string
		cfg     resiliencehttp.ShedConfig
		handler http.Handler
		want    float64
	}{
		{"bulkhead, admitted", resiliencehttp.ShedConfig{Bulkhead: bulkhead.MustNew(bulkhead.Config{})}, handler, 0},
		{"throttle, admitted", resiliencehttp.ShedConfig{Throttle: throttle.MustNew(throttle.Config{})}, handler, 0},
		{"adaptive, admitted", resiliencehttp.ShedConfig{Adaptive: adaptive.MustNew(adaptive.Config{Algorithm: adaptive.Gradient})}, handler, 0},
		{"both, admitted", resiliencehttp.ShedConfig{Bulkhead: bulkhead.MustNew(bulkhead.Config{}), Throttle: throttle.MustNew(throttle.Config{})}, handler, 0},
		{"all three, admitted", resiliencehttp.ShedConfig{
			Bulkhead: bulkhead.MustNew(bulkhead.Config{}),
			Adaptive: adaptive.MustNew(adaptive.Config{}),
			Throttle: throttle.MustNew(throttle.Config{}),
		}, handler, 0},
		{"bulkhead, rejected", resiliencehttp.ShedConfig{Bulkhead: full}, nil, 0},
		{"throttle, rejected", resiliencehttp.ShedConfig{Throttle: shedding}, nil, 0},
		{"adaptive, rejected", resiliencehttp.ShedConfig{Adaptive: limited}, nil, 0},
	} {
		next := tc.handler
		if next == nil {
			next = counting
		}
		h := shedMiddleware(t, tc.cfg)(next)
		h.ServeHTTP(w, req) // the header map takes the keys once
		before := handled.Load()
		if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, req) }); n != tc.want {
			t.Errorf("%s: %v allocations per request, want %v", tc.name, n, tc.want)
		}
		if tc.handler == nil && handled.Load()-before > 10 {
			t.Errorf("%s: %d of 1001 requests admitted", tc.name, handled.Load()-before)
		}
	}
}

func TestShedConcurrentRequestsBalanceTheirSlots(t *testing.T) {
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 3, MaxWait: time.Hour, MaxQueue: 2})
	th := throttle.MustNew(throttle.Config{})
	var failed atomic.Int64
	h := shedMiddleware(t, resiliencehttp.ShedConfig{Bulkhead: bh, Throttle: th})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/panic" {
				panic(http.ErrAbortHandler)
			}
			if r.URL.Path == "/fail" {
				failed.Add(1)
				w.WriteHeader(http.StatusBadGateway)
			}
		}))
	var wg sync.WaitGroup
	var rejected atomic.Int64
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				path := "/"
				switch (g + i) % 10 {
				case 3:
					path = "/fail"
				case 7:
					path = "/panic"
				}
				rec := httptest.NewRecorder()
				func() {
					defer func() {
						if r := recover(); r != nil && r != http.ErrAbortHandler {
							t.Error(r)
						}
					}()
					h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				}()
				if rec.Code == http.StatusServiceUnavailable {
					rejected.Add(1)
				}
			}
		})
	}
	wg.Wait()
	s := bh.Snapshot()
	if s.InFlight != 0 || s.Waiting != 0 || s.Admitted+s.Rejected != 16*200 || s.Rejected+uint64(th.Snapshot().Rejected) != uint64(rejected.Load()) {
		t.Errorf("bulkhead after the requests: %+v, throttle %+v, %d shed", s, th.Snapshot(), rejected.Load())
	}
}

// Benchmarks: the middleware's cost per request, over the bare handler.

func BenchmarkShed(b *testing.B) {
	okBody := []byte("ok")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(okBody) })
	for _, bc := range []struct {
		name string
		wrap func(http.Handler) http.Handler
	}{
		{"bare", func(h http.Handler) http.Handler { return h }},
		{"bulkhead", shedMiddleware(b, resiliencehttp.ShedConfig{Bulkhead: bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1 << 20})})},
		{"throttle", shedMiddleware(b, resiliencehttp.ShedConfig{Throttle: throttle.MustNew(throttle.Config{})})},
		{"both", shedMiddleware(b, resiliencehttp.ShedConfig{
			Bulkhead: bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1 << 20}),
			Throttle: throttle.MustNew(throttle.Config{}),
		})},
		{"adaptive", shedMiddleware(b, resiliencehttp.ShedConfig{Adaptive: adaptive.MustNew(adaptive.Config{Algorithm: adaptive.Gradient, Max: 1 << 20})})},
		{"adaptive+throttle", shedMiddleware(b, resiliencehttp.ShedConfig{
			Adaptive: adaptive.MustNew(adaptive.Config{Algorithm: adaptive.Gradient, Max: 1 << 20}),
			Throttle: throttle.MustNew(throttle.Config{}),
		})},
	} {
		shedBench(b, bc.name, bc.wrap(handler))
	}
}

func BenchmarkShedRejected(b *testing.B) {
	// The throttle admits about one request in the number it remembers; the
	// handler fails those, so that it keeps shedding.
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	full := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
	held, _ := full.TryAcquire()
	defer held.Release()
	shedding := throttle.MustNew(throttle.Config{})
	now := time.Now()
	for range 1000 {
		if p, err := shedding.AllowAt(now, 1); err == nil {
			p.DoneAt(now, resilience.Transient(errors.New("down")))
		}
	}
	limited := adaptive.MustNew(adaptive.Config{Algorithm: adaptive.Gradient, Initial: 1, Min: 1, Max: 1})
	lheld, _ := limited.TryAcquire()
	defer lheld.Release(resilience.Outcome{})
	shedBench(b, "bulkhead", shedMiddleware(b, resiliencehttp.ShedConfig{Bulkhead: full})(handler))
	shedBench(b, "throttle", shedMiddleware(b, resiliencehttp.ShedConfig{Throttle: shedding})(handler))
	shedBench(b, "adaptive", shedMiddleware(b, resiliencehttp.ShedConfig{Adaptive: limited})(handler))
}

// shedBench measures h with a fresh httptest.ResponseRecorder per request,
// and with a writer reused that allocates nothing, on one goroutine and on
// all.
func shedBench(b *testing.B, name string, h http.Handler) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b.Run(name+"/recorder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
	b.Run(name+"/recorder/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	})
	b.Run(name+"/plain", func(b *testing.B) {
		w := &shedPlainWriter{header: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, req)
		}
	})
	b.Run(name+"/plain/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			w := &shedPlainWriter{header: http.Header{}}
			for pb.Next() {
				h.ServeHTTP(w, req)
			}
		})
	})
}

package resiliencehttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
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

// shedAIMD returns an AIMD limiter that starts at 10: a drop takes it to 9,
// and a success with a call or two in flight leaves it alone.
func shedAIMD(t *testing.T) *adaptive.Limiter {
	t.Helper()
	return adaptive.MustNew(adaptive.Config{Name: "api", Initial: 10})
}

func TestShedAdaptiveBoundsConcurrencyOverTheNetwork(t *testing.T) {
	// A limit pinned at 4 (Min = Max), so that what the handler may see at
	// once is known whatever the limiter learns.
	const limit, total = 4, 60
	lim := adaptive.MustNew(adaptive.Config{Name: "api", Algorithm: adaptive.Gradient, Initial: limit, Min: limit, Max: limit})
	shedBoundsConcurrency(t, resiliencehttp.ShedConfig{Adaptive: lim, RetryAfter: 2 * time.Second}, limit, total,
		func() (int, uint64, uint64) { s := lim.Snapshot(); return s.InFlight, s.Admitted, s.Rejected })
}

func TestShedAdaptiveRejectionMatchesLimitedAndFull(t *testing.T) {
	lim := adaptive.MustNew(adaptive.Config{Name: "api", Initial: 1, Max: 1})
	held, err := lim.TryAcquire()
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release(resilience.Outcome{})

	// The default answer.
	h := shedMiddleware(t, resiliencehttp.ShedConfig{Adaptive: lim})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("handler called") }))
	shedCheckShed(t, shedServe(h, context.Background()), "1", shedBodyFull)

	// Rejected sees the limiter's own error.
	var got error
	h = shedMiddleware(t, resiliencehttp.ShedConfig{
		Adaptive: lim,
		Rejected: func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			w.WriteHeader(http.StatusTooManyRequests)
		},
	})(http.NotFoundHandler())
	if rec := shedServe(h, context.Background()); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("got %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	var ae *adaptive.Error
	if !errors.Is(got, adaptive.ErrLimited) || !errors.Is(got, bulkhead.ErrFull) || !errors.As(got, &ae) || ae.Name != "api" || ae.Reason != adaptive.NoWait {
		t.Errorf("Rejected got %v, want an *adaptive.Error matching ErrLimited and bulkhead.ErrFull", got)
	}
	if s := lim.Snapshot(); s.Rejected != 2 || s.Admitted != 1 {
		t.Errorf("limiter: %+v", s)
	}
}

func TestShedAdaptiveLearnsFromTheHandlersStatus(t *testing.T) {
	// Over the network: the status the handler answers with is what the
	// limiter learns, as Classify sorts it. A drop cuts the AIMD limit from
	// 10 to 9; anything else leaves it (a success with 1 call in flight of
	// 10 does not raise it).
	status := func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("status"))
		switch code {
		case 0: // writes no status: a 200
		case http.StatusOK:
			io.WriteString(w, "ok") // the implicit 200 of a write
		default:
			w.WriteHeader(code)
		}
	}
	tooMany := func(code int) resilience.Class {
		if code == http.StatusTooManyRequests {
			return resilience.ClassTransient
		}
		if code == http.StatusConflict {
			return resilience.ClassIgnored
		}
		return resiliencehttp.ShedClassifyStatus(code)
	}
	for _, tc := range []struct {
		status   int
		classify func(int) resilience.Class
		want     int
	}{
		{0, nil, 10},
		{http.StatusOK, nil, 10},
		{http.StatusNotFound, nil, 10},
		{http.StatusTooManyRequests, nil, 10},
		{http.StatusNotImplemented, nil, 10},
		{http.StatusServiceUnavailable, nil, 9},
		{http.StatusInternalServerError, nil, 9},
		{http.StatusBadGateway, nil, 9},
		{http.StatusTooManyRequests, tooMany, 9},
		{http.StatusConflict, tooMany, 10},
	} {
		lim := shedAIMD(t)
		h := shedMiddleware(t, resiliencehttp.ShedConfig{Adaptive: lim, Classify: tc.classify})(http.HandlerFunc(status))
		srv, client, _ := shedServer(t, h)
		r := shedGet(context.Background(), client, srv.URL+"/?status="+strconv.Itoa(tc.status))
		if r.err != nil || (tc.status != 0 && r.code != tc.status) {
			t.Fatalf("status %d: got %+v", tc.status, r)
		}
		if got := lim.Limit(); got != tc.want {
			t.Errorf("status %d (custom Classify %v): limit %d after the answer, want %d", tc.status, tc.classify != nil, got, tc.want)
		}
		if s := lim.Snapshot(); s.InFlight != 0 || s.Admitted != 1 {
			t.Errorf("status %d: limiter %+v", tc.status, s)
		}
	}
}

func TestShedAdaptiveMeasuresFromAdmission(t *testing.T) {
	// Gradient windows of 10 calls that each take 50ms in the handler, half
	// of them after waiting 50ms for room: the window's mean latency is
	// the handler's 50ms, not the 75ms that counting the waits would give.
	synctest.Test(t, func(t *testing.T) {
		lim := adaptive.MustNew(adaptive.Config{Algorithm: adaptive.Gradient, Initial: 1, Min: 1, Max: 1, MaxWait: time.Second})
		h := shedMiddleware(t, resiliencehttp.ShedConfig{Adaptive: lim})(
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(50 * time.Millisecond)
				io.WriteString(w, "handled")
			}))
		var wg sync.WaitGroup
		for range 5 {
			for range 2 {
				wg.Go(func() {
					if rec := shedServe(h, context.Background()); rec.Code != http.StatusOK {
						t.Errorf("got %d", rec.Code)
					}
				})
			}
			wg.Wait()
		}
		if s := lim.Snapshot(); s.Latency != 50*time.Millisecond || s.Admitted != 10 || s.Rejected != 0 {
			t.Errorf("limiter after a window: %+v, want a mean latency of 50ms over 10 calls", s)
		}
	})
}

func TestShedAdaptiveWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := adaptive.MustNew(adaptive.Config{Initial: 1, Max: 1, MaxWait: 10 * time.Second, MaxQueue: 5})
		release := make(chan struct{})
		var calls atomic.Int64
		h := shedMiddleware(t, resiliencehttp.ShedConfig{Adaptive: lim})(
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

		// The client goes away while the request waits for room.
		ctx, cancel := context.WithCancel(context.Background())
		gone := serve(ctx)
		synctest.Wait()
		if lim.Waiting() != 1 {
			t.Fatalf("%d requests waiting, want 1", lim.Waiting())
		}
		time.Sleep(time.Second)
		cancel()
		shedCheckShed(t, <-gone, "1", shedBodyGaveUp)

		// A wait that lasts MaxWait is a rejection.
		start := time.Now()
		shedCheckShed(t, <-serve(context.Background()), "1", shedBodyFull)
		if d := time.Since(start); d != 10*time.Second {
			t.Errorf("the wait took %v, want MaxWait 10s", d)
		}

		// A request that waits while the room comes free is served.
		second := serve(context.Background())
		synctest.Wait()
		close(release)
		for _, done := range []<-chan *httptest.ResponseRecorder{first, second} {
			if rec := <-done; rec.Code != http.StatusOK || rec.Body.String() != "handled" {
				t.Errorf("got %d %q, want 200 handled", rec.Code, rec.Body)
			}
		}
		if n := calls.Load(); n != 2 {
			t.Errorf("the handler ran %d times, want 2", n)
		}
		if s := lim.Snapshot(); s.Abandoned != 1 || s.Rejected != 1 || s.Admitted != 2 || s.InFlight != 0 || s.Waiting != 0 {
			t.Errorf("limiter: %+v", s)
		}
	})
}

func TestShedAdaptivePanicIsADrop(t *testing.T) {
	boom := &shedBoom{2}
	for _, value := range []any{boom, http.ErrAbortHandler} {
		lim := shedAIMD(t)
		h := shedMiddleware(t, resiliencehttp.ShedConfig{Adaptive: lim})(
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(value) }))
		got := func() (v any) {
			defer func() { v = recover() }()
			shedServe(h, context.Background())
			return nil
		}()
		if got != value {
			t.Errorf("recovered %#v, want %#v itself", got, value)
		}
		if s := lim.Snapshot(); s.InFlight != 0 || s.Limit != 9 {
			t.Errorf("panic %v: limiter %+v, want the room freed and the limit cut to 9", value, s)
		}
	}

	// runtime.Goexit passes the same way.
	lim := shedAIMD(t)
	h := shedMiddleware(t, resiliencehttp.ShedConfig{Adaptive: lim})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { runtime.Goexit() }))
	done := make(chan struct{})
	go func() {
		defer close(done)
		shedServe(h, context.Background())
	}()
	<-done
	if s := lim.Snapshot(); s.InFlight != 0 || s.Limit != 9 {
		t.Errorf("Goexit: limiter %+v, want the room freed and the limit cut to 9", s)
	}

	// Over the network, the next request gets through.
	lim = adaptive.MustNew(adaptive.Config{Initial: 1, Max: 1})
	h = shedMiddleware(t, resiliencehttp.ShedConfig{Adaptive: lim})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/panic" {
				panic("boom in the handler")
			}
			io.WriteString(w, "handled")
		}))
	srv, client, _ := shedServer(t, h)
	if r := shedGet(context.Background(), client, srv.URL+"/panic"); r.err == nil {
		t.Errorf("after a panic the client got %+v, want the connection closed", r)
	}
	if r := shedGet(context.Background(), client, srv.URL); r.err != nil || r.code != http.StatusOK || r.body != "handled" {
		t.Errorf("after a panic: %+v, want 200 handled", r)
	}
}

func TestShedAdaptiveIgnoresAClientThatWentAway(t *testing.T) {
	// The client cancels its request while the handler runs; the handler
	// then answers. An AIMD limit of 1 would grow to 2 after a success
	// (one call in flight uses it all), and a drop would cut a limit of 2
	// back to 1: neither happens while the client is gone.
	lim := adaptive.MustNew(adaptive.Config{Name: "api", Initial: 1})
	th := throttle.MustNew(throttle.Config{})
	inHandler := make(chan struct{}, 1)
	served := make(chan struct{}, 1)
	h := shedMiddleware(t, resiliencehttp.ShedConfig{Adaptive: lim, Throttle: th})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Has("wait") {
				inHandler <- struct{}{}
				<-r.Context().Done()
			}
			if r.URL.Query().Has("fail") {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "handled")
		}))
	after := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		served <- struct{}{} // the middleware has reported the outcome
	})
	srv, client, _ := shedServer(t, after)
	gone := func(query string) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-inHandler
			cancel()
		}()
		if r := shedGet(ctx, client, srv.URL+"/?wait&"+query); !errors.Is(r.err, context.Canceled) {
			t.Errorf("got %+v, want the request canceled", r)
		}
		<-served
	}
	stays := func(query string, code int) {
		t.Helper()
		if r := shedGet(context.Background(), client, srv.URL+"/?"+query); r.err != nil || r.code != code {
			t.Errorf("got %+v, want %d", r, code)
		}
		<-served
	}

	gone("ok")
	if got := lim.Limit(); got != 1 {
		t.Errorf("limit %d after a success to a client that went away, want 1", got)
	}
	stays("ok", http.StatusOK)
	if got := lim.Limit(); got != 2 {
		t.Errorf("limit %d after a success to a client that stayed, want 2", got)
	}
	gone("fail")
	if got := lim.Limit(); got != 2 {
		t.Errorf("limit %d after a 503 to a client that went away, want 2", got)
	}
	stays("fail", http.StatusServiceUnavailable)
	if got := lim.Limit(); got != 1 {
		t.Errorf("limit %d after a 503 to a client that stayed, want 1", got)
	}
	if s := lim.Snapshot(); s.InFlight != 0 || s.Admitted != 4 {
		t.Errorf("limiter: %+v", s)
	}
	// The throttle counts the success to a client that went away, as it
	// always has, but not the failure.
	if s := th.Snapshot(); s.Requests != 3 || s.Accepts != 2 {
		t.Errorf("throttle: %+v, want 3 requests of which 2 accepted", s)
	}
}

func TestShedAdaptivePolicyOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A request the throttle sheds does not reach the limiter.
		th := throttle.MustNew(throttle.Config{Seed: 1})
		for range 1000 {
			if p, err := th.Allow(); err == nil {
				p.Done(resilience.Transient(errors.New("down")))
			}
		}
		lim := shedAIMD(t)
		h := shedMiddleware(t, resiliencehttp.ShedConfig{Adaptive: lim, Throttle: th})(
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("handler called") }))
		shedCheckShed(t, shedServe(h, context.Background()), "1", shedBodyThrottled)
		if s := lim.Snapshot(); s.Admitted != 0 || s.Rejected != 0 {
			t.Errorf("limiter: %+v, want nothing", s)
		}

		// A request the limiter sheds does not reach the bulkhead, nor
		// count for the throttle.
		th = throttle.MustNew(throttle.Config{})
		full := adaptive.MustNew(adaptive.Config{Initial: 1, Max: 1})
		held, _ := full.TryAcquire()
		defer held.Release(resilience.Outcome{})
		bh := bulkhead.MustNew(bulkhead.Config{})
		h = shedMiddleware(t, resiliencehttp.ShedConfig{Adaptive: full, Bulkhead: bh, Throttle: th})(
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("handler called") }))
		shedCheckShed(t, shedServe(h, context.Background()), "1", shedBodyFull)
		if s := bh.Snapshot(); s.Admitted != 0 || s.Rejected != 0 {
			t.Errorf("bulkhead: %+v, want nothing", s)
		}
		if s := th.Snapshot(); s.Requests != 0 {
			t.Errorf("throttle: %+v, want nothing", s)
		}

		// A request the bulkhead sheds after the limiter admitted it
		// frees its room in the limiter.
		lim = adaptive.MustNew(adaptive.Config{Algorithm: adaptive.Gradient, Initial: 2, Min: 2, Max: 2})
		bh = bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1, MaxWait: 100 * time.Millisecond})
		release := make(chan struct{})
		h = shedMiddleware(t, resiliencehttp.ShedConfig{Adaptive: lim, Bulkhead: bh})(
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
		first := make(chan *httptest.ResponseRecorder, 1)
		go func() { first <- shedServe(h, context.Background()) }()
		synctest.Wait()
		shedCheckShed(t, shedServe(h, context.Background()), "1", shedBodyFull)
		if s := lim.Snapshot(); s.InFlight != 1 || s.Admitted != 2 || s.Rejected != 0 {
			t.Errorf("limiter after the bulkhead shed a request: %+v, want 1 in flight of 2 admitted", s)
		}
		close(release)
		if rec := <-first; rec.Code != http.StatusOK {
			t.Errorf("got %d", rec.Code)
		}
		if s := lim.Snapshot(); s.InFlight != 0 {
			t.Errorf("limiter: %+v", s)
		}
	})
}

func TestShedAdaptiveConcurrentRequestsBalanceTheirRoom(t *testing.T) {
	lim := adaptive.MustNew(adaptive.Config{Algorithm: adaptive.Gradient, Initial: 4, MaxWait: time.Hour, MaxQueue: 2})
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 3})
	th := throttle.MustNew(throttle.Config{})
	h := shedMiddleware(t, resiliencehttp.ShedConfig{Adaptive: lim, Bulkhead: bh, Throttle: th})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/panic":
				panic(http.ErrAbortHandler)
			case "/fail":
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
				if rec.Code == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") != "" {
					rejected.Add(1)
				}
			}
		})
	}
	wg.Wait()
	l, b, tr := lim.Snapshot(), bh.Snapshot(), th.Snapshot()
	if l.InFlight != 0 || l.Waiting != 0 || b.InFlight != 0 || l.Rejected+b.Rejected+uint64(tr.Rejected) != uint64(rejected.Load()) {
		t.Errorf("after the requests: limiter %+v, bulkhead %+v, throttle %+v, %d shed", l, b, tr, rejected.Load())
	}
}

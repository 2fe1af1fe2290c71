package resiliencehttp_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/throttle"
)

func ExampleShed() {
	// At most 2 requests in the handler at once; the rest are shed at once.
	pool := bulkhead.MustNew(bulkhead.Config{Name: "api", MaxConcurrent: 2})
	shed, err := resiliencehttp.Shed(resiliencehttp.ShedConfig{
		Bulkhead:   pool,
		RetryAfter: 2 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	handler := shed(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello\n")
	}))

	serve := func() {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		fmt.Printf("%d Retry-After=%q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	serve()

	// Two long requests hold both slots (here, two permits taken directly).
	a, _ := pool.TryAcquire()
	b, _ := pool.TryAcquire()
	serve()
	a.Release()
	b.Release()
	serve()
	// Output:
	// 200 Retry-After="" hello
	// 503 Retry-After="2" 503 service unavailable: too many requests in progress
	// 200 Retry-After="" hello
}

func ExampleShed_adaptive() {
	// The handler's concurrency, limited to what it takes without queueing:
	// the Gradient algorithm learns it from the handler's latency. Requests
	// beyond the limit wait up to 50ms for room, then are shed.
	limiter := adaptive.MustNew(adaptive.Config{
		Name:      "api",
		Algorithm: adaptive.Gradient,
		MaxWait:   50 * time.Millisecond,
	})
	handler := resiliencehttp.MustShed(resiliencehttp.ShedConfig{Adaptive: limiter})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello\n")
		}))

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	fmt.Print(rec.Code, " ", rec.Body)
	fmt.Println("limit:", limiter.Limit(), "in flight:", limiter.InFlight())
	// Output:
	// 200 hello
	// limit: 20 in flight: 0
}

func ExampleShed_priorities() {
	// With Priorities, a request of priority p is admitted only while fewer
	// than Limit × Shares[p] requests are in flight: near the limit, low
	// priorities are shed first. A middleware before Shed puts the priority
	// in the request's context, here from a header that a trusted proxy sets
	// (a header any client can set is no ground for priority: derive it from
	// the route or the authenticated caller otherwise).
	limiter := adaptive.MustNew(adaptive.Config{
		Name:       "api",
		Algorithm:  adaptive.Gradient,
		Initial:    4,
		Min:        4,
		Max:        4, // pinned, for the example
		Priorities: true,
	})
	priorities := map[string]adaptive.Priority{
		"low": adaptive.Low, "normal": adaptive.Normal, "high": adaptive.High, "critical": adaptive.Critical,
	}
	withPriority := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p, ok := priorities[r.Header.Get("X-Priority")]; ok {
				r = r.WithContext(adaptive.WithPriority(r.Context(), p))
			}
			next.ServeHTTP(w, r)
		})
	}
	shed := resiliencehttp.MustShed(resiliencehttp.ShedConfig{Adaptive: limiter})
	handler := withPriority(shed(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello\n")
	})))

	// Two long requests are in flight (here, two permits taken directly):
	// half the limit, all that low-priority requests may fill.
	a, _ := limiter.TryAcquire()
	b, _ := limiter.TryAcquire()
	for _, p := range []string{"low", "", "critical"} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("X-Priority", p)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Printf("priority %q: %d\n", p, rec.Code)
	}
	a.Release(resilience.Outcome{})
	b.Release(resilience.Outcome{})
	// Output:
	// priority "low": 503
	// priority "": 200
	// priority "critical": 200
}

func ExampleShed_throttle() {
	// The adaptive throttle sheds requests once the handler fails most of
	// them. Seed makes the draws reproducible.
	th := throttle.MustNew(throttle.Config{Name: "api", Seed: 7})
	handler := resiliencehttp.MustShed(resiliencehttp.ShedConfig{Throttle: th})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		}))

	handled, shed := 0, 0
	for range 40 {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Header().Get("Retry-After") != "" {
			shed++
		} else {
			handled++
		}
	}
	fmt.Println("reached the handler:", handled, "shed:", shed)
	fmt.Printf("rejection probability now: %.2f\n", th.Probability())
	// Output:
	// reached the handler: 12 shed: 28
	// rejection probability now: 0.98
}

func ExampleMustShed() {
	// A JSON answer to shed requests, with 429 when the bulkhead is full.
	pool := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1})
	shed := resiliencehttp.MustShed(resiliencehttp.ShedConfig{
		Bulkhead: pool,
		Rejected: func(w http.ResponseWriter, r *http.Request, err error) {
			// Retry-After is already set.
			w.Header().Set("Content-Type", "application/json")
			if errors.Is(err, bulkhead.ErrFull) {
				w.WriteHeader(http.StatusTooManyRequests)
			} else {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			io.WriteString(w, `{"error":"busy, try again later"}`+"\n")
		},
	})
	handler := shed(http.NotFoundHandler())

	held, _ := pool.TryAcquire()
	defer held.Release()
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	fmt.Print(rec.Code, " ", rec.Header().Get("Retry-After"), " ", rec.Body)
	// Output:
	// 429 1 {"error":"busy, try again later"}
}

func ExampleShedClassifyStatus() {
	// A Classify that also takes 429 from the handler as overload, and
	// leaves the rest to the default.
	classify := func(status int) resilience.Class {
		if status == http.StatusTooManyRequests {
			return resilience.ClassTransient
		}
		return resiliencehttp.ShedClassifyStatus(status)
	}
	for _, status := range []int{200, 404, 429, 500, 501, 503} {
		fmt.Println(status, resiliencehttp.ShedClassifyStatus(status), classify(status))
	}
	// Output:
	// 200 success success
	// 404 permanent permanent
	// 429 permanent transient
	// 500 transient transient
	// 501 permanent permanent
	// 503 transient transient
}

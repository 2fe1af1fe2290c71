package resiliencehttp_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/pace"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
)

// quotaHeaders answers every request with status and OpenAI's headers for
// the requests dimension, and records when each came.
type quotaHeaders struct {
	status    int
	remaining string
	reset     string

	mu    sync.Mutex
	times []time.Time
}

func (h *quotaHeaders) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.times = append(h.times, time.Now())
	h.mu.Unlock()
	w.Header().Set("x-ratelimit-remaining-requests", h.remaining)
	w.Header().Set("x-ratelimit-reset-requests", h.reset)
	w.WriteHeader(h.status)
}

func (h *quotaHeaders) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.times)
}

// events records a transport's pace events.
type events struct {
	mu      sync.Mutex
	admits  []resilience.Event
	rejects []resilience.Event
}

func (e *events) observer() *resilience.Observer {
	return &resilience.Observer{
		Admit:  func(ev resilience.Event) { e.mu.Lock(); e.admits = append(e.admits, ev); e.mu.Unlock() },
		Reject: func(ev resilience.Event) { e.mu.Lock(); e.rejects = append(e.rejects, ev); e.mu.Unlock() },
	}
}

func pacedClient(t *testing.T, h http.Handler, cfg resiliencehttp.Config) (*http.Client, *resiliencehttp.Transport) {
	t.Helper()
	if cfg.Pace == nil {
		cfg.Pace = &pace.Config{}
	}
	return newClient(t, serveInMemory(t, h, false), cfg)
}

func get(t *testing.T, c *http.Client, ctx context.Context) (*http.Response, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://llm.example/v1/models", nil)
	resp, err := c.Do(req)
	if err == nil {
		read(t, resp)
	}
	return resp, err
}

// The turns: one request left until the reset in 10s, so the second goes
// at once and the third waits for the reset; the waits are reported.
func TestPaceWaitsForTheTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &quotaHeaders{status: 200, remaining: "1", reset: "10s"}
		var ev events
		c, rt := pacedClient(t, h, resiliencehttp.Config{Observer: ev.observer()})
		start := time.Now()
		for range 3 {
			if _, err := get(t, c, context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if got := h.times[2].Sub(start); h.times[1] != start || got != 10*time.Second {
			t.Fatalf("requests at %v, %v, %v; want 0, 0, 10s", h.times[0].Sub(start), h.times[1].Sub(start), got)
		}
		if len(ev.admits) != 3 || ev.admits[2].Delay != 10*time.Second || ev.admits[2].Kind != resilience.KindPace || ev.admits[2].Policy != "llm.example" {
			t.Fatalf("Admit events %+v; want 3, the last after 10s", ev.admits)
		}
		if s := rt.Pacer().Snapshot("llm.example"); s.InFlight != 0 || !s.Requests.Known {
			t.Fatalf("snapshot %+v; want nothing on its way, and the quota known", s)
		}
	})
}

// A turn further off than MaxWait: the request is not sent, and fails at
// once with the pacer's rejection, which says when the turn would come.
func TestPaceRejects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &quotaHeaders{status: 200, remaining: "0", reset: "1h"}
		var ev events
		c, _ := pacedClient(t, h, resiliencehttp.Config{Observer: ev.observer(), Pace: &pace.Config{MaxWait: time.Minute}})
		if _, err := get(t, c, context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		_, err := get(t, c, context.Background())
		var pe *pace.Error
		if !errors.Is(err, pace.ErrOverQuota) || !errors.As(err, &pe) || pe.Reason != pace.WaitTooLong || h.count() != 1 {
			t.Fatalf("%v after %d requests; want a WaitTooLong rejection, 1 request sent", err, h.count())
		}
		if d, ok := resilience.RetryAfter(err); !ok || d != 59*time.Minute {
			t.Errorf("RetryAfter = %v, %v; want 59m", d, ok)
		}
		if len(ev.rejects) != 1 || ev.rejects[0].Reason != "wait too long" || ev.rejects[0].Delay != 59*time.Minute || ev.rejects[0].Kind != resilience.KindPace || !errors.Is(ev.rejects[0].Err, pace.ErrOverQuota) {
			t.Errorf("Reject events %+v", ev.rejects)
		}
		// Before the context's deadline: rejected at once as well.
		h.remaining, h.reset = "0", "30s"
		time.Sleep(time.Hour) // past the reset
		if _, err := get(t, c, context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		if _, err := get(t, c, ctx); !errors.As(err, &pe) || pe.Reason != pace.PastDeadline || time.Since(start) != 0 {
			t.Fatalf("a turn after the deadline: %v after %v", err, time.Since(start))
		}
	})
}

// A wait that the caller gives up: the request is not sent, the error is the
// caller's, and the turn is given back.
func TestPaceWaitCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &quotaHeaders{status: 200, remaining: "0", reset: "30s"}
		c, rt := pacedClient(t, h, resiliencehttp.Config{})
		get(t, c, context.Background())
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		_, err := get(t, c, ctx)
		if !errors.Is(err, context.Canceled) || errors.Is(err, pace.ErrOverQuota) || h.count() != 1 {
			t.Fatalf("%v after %d requests; want the cancellation, nothing more sent", err, h.count())
		}
		if s := rt.Pacer().Snapshot("llm.example"); s.InFlight != 0 {
			t.Fatalf("snapshot %+v; want the turn given back", s)
		}
	})
}

// After a 429 whose headers say the quota is spent for 5 minutes, the retry
// stops at once rather than back off into an attempt the pacer would
// reject, and hands back the 429.
func TestPaceStopsTheRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &quotaHeaders{status: http.StatusTooManyRequests, remaining: "0", reset: "5m"}
		c, _ := pacedClient(t, h, resiliencehttp.Config{
			Retry: retry.Config{MaxAttempts: 5, Backoff: backoff.Exponential{Base: time.Second, Jitter: backoff.NoJitter}},
			Pace:  &pace.Config{MaxWait: time.Minute},
		})
		start := time.Now()
		resp, err := get(t, c, context.Background())
		if err != nil || resp.StatusCode != http.StatusTooManyRequests || h.count() != 1 || time.Since(start) != 0 {
			t.Fatalf("%v, %v after %d requests and %v; want the 429 at once", resp, err, h.count(), time.Since(start))
		}
	})
}

// A request's tokens from its context are what it is counted for.
func TestPaceTokensFromTheContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &quotaHeaders{status: 200, remaining: "10", reset: "10s"}
		var ev events
		c, _ := pacedClient(t, h, resiliencehttp.Config{Observer: ev.observer()})
		get(t, c, pace.WithTokens(context.Background(), 1234))
		if len(ev.admits) != 1 || ev.admits[0].Cost != 1234 {
			t.Fatalf("Admit events %+v; want one of cost 1234", ev.admits)
		}
	})
	if _, err := resiliencehttp.NewTransport(nil, resiliencehttp.Config{Pace: &pace.Config{Tokens: -1}}); err == nil ||
		err.Error() != "resiliencehttp: Pace: pace: Tokens is negative: -1" {
		t.Errorf("NewTransport with a bad Pace: %v", err)
	}
	var nilTransport *resiliencehttp.Transport
	if nilTransport.Pacer() != nil {
		t.Error("a nil Transport has a pacer")
	}
}

// A host whose breaker is open: the request fails at once with the
// breaker's rejection, without waiting for a turn it could not use.
func TestPaceBreakerOpenNoWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &quotaHeaders{status: http.StatusServiceUnavailable, remaining: "0", reset: "30s"}
		c, rt := pacedClient(t, h, resiliencehttp.Config{
			Retry:   retry.Config{MaxAttempts: 1},
			Breaker: &breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Minute},
		})
		if resp, err := get(t, c, context.Background()); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("%v, %v; want the 503", resp, err)
		}
		start := time.Now()
		if _, err := get(t, c, context.Background()); !errors.Is(err, breaker.ErrOpen) || time.Since(start) != 0 || h.count() != 1 {
			t.Fatalf("%v after %v and %d requests; want the open breaker's rejection at once", err, time.Since(start), h.count())
		}
		if s := rt.Pacer().Snapshot("llm.example"); s.InFlight != 0 {
			t.Fatalf("snapshot %+v; want nothing on its way", s)
		}
	})
}

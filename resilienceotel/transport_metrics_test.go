package resilienceotel_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
)

// TestTransportBreakers registers a transport and reads the state of each
// host's breaker, made after the registration.
func TestTransportBreakers(t *testing.T) {
	tel, reader := newTelemetry(t)
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer failing.Close()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	rt, err := resiliencehttp.NewTransport(nil, resiliencehttp.Config{
		Retry:    retry.Config{Name: "api", MaxAttempts: 1},
		Breaker:  &breaker.Config{FailureThreshold: 1},
		Observer: tel.Observer(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.CloseIdleConnections()
	if _, err := tel.Register(rt); err != nil {
		t.Fatal(err)
	}
	if _, err := tel.Register(rt); err == nil || !strings.Contains(err.Error(), "registered twice") {
		t.Errorf("a second registration: %v", err)
	}
	if got := collected(t, reader)["resilience.breaker.state"]; len(got) != 0 {
		t.Errorf("states before any request: %v", got)
	}
	client := &http.Client{Transport: rt}
	for _, u := range []string{ok.URL, failing.URL} {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	okHost, failingHost := strings.TrimPrefix(ok.URL, "http://"), strings.TrimPrefix(failing.URL, "http://")
	got := collected(t, reader)
	if n := len(got["resilience.breaker.state"]); n != 6 {
		t.Errorf("%d breaker state series, want 6", n)
	}
	compare(t, map[string]map[string]string{"resilience.breaker.state": got["resilience.breaker.state"]}, map[string]map[string]string{
		"resilience.breaker.state": {
			"resilience.breaker.state=closed,resilience.policy.name=" + okHost:         "1",
			"resilience.breaker.state=open,resilience.policy.name=" + okHost:           "0",
			"resilience.breaker.state=half-open,resilience.policy.name=" + okHost:      "0",
			"resilience.breaker.state=closed,resilience.policy.name=" + failingHost:    "0",
			"resilience.breaker.state=open,resilience.policy.name=" + failingHost:      "1",
			"resilience.breaker.state=half-open,resilience.policy.name=" + failingHost: "0",
		},
	})
	want := "resilience.breaker.from_state=closed,resilience.breaker.to_state=open,resilience.policy.name=" + failingHost
	if got["resilience.breaker.transitions"][want] != "1" {
		t.Errorf("transitions %v", got["resilience.breaker.transitions"])
	}
	want = "resilience.outcome=transient,resilience.policy.name=api,resilience.reason=attempts exhausted,resilience.retried=false"
	if got["resilience.retry.calls"][want] != "1" {
		t.Errorf("retry calls %v, want the 500 as transient", got["resilience.retry.calls"])
	}

	// A 404 is the client's mistake: not retried, ignored. Its host's
	// breaker comes with the next collection.
	resp, err := client.Get(notFound.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got = collected(t, reader)
	want = "resilience.outcome=ignored,resilience.policy.name=api,resilience.reason=not retryable,resilience.retried=false"
	if got["resilience.retry.calls"][want] != "1" {
		t.Errorf("retry calls %v, want the 404 as ignored", got["resilience.retry.calls"])
	}
	want = "resilience.breaker.state=closed,resilience.policy.name=" + strings.TrimPrefix(notFound.URL, "http://")
	if got["resilience.breaker.state"][want] != "1" {
		t.Errorf("no closed state for the third host: %v", got["resilience.breaker.state"])
	}
}

// TestTransportLimiters registers a transport with a per-host adaptive
// limit and reads each host's limiter, made after the registration.
func TestTransportLimiters(t *testing.T) {
	tel, reader := newTelemetry(t)
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer busy.Close()
	rt, err := resiliencehttp.NewTransport(nil, resiliencehttp.Config{
		Retry:    retry.Config{Name: "api", MaxAttempts: 1},
		Limit:    &adaptive.Config{Initial: 10, AIMD: adaptive.AIMDConfig{Backoff: 0.5}},
		Observer: tel.Observer(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.CloseIdleConnections()
	if _, err := tel.Register(rt); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: rt}
	for _, u := range []string{ok.URL, busy.URL} {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	okHost, busyHost := strings.TrimPrefix(ok.URL, "http://"), strings.TrimPrefix(busy.URL, "http://")
	got := collected(t, reader)
	compare(t, map[string]map[string]string{
		"resilience.adaptive.limit":        got["resilience.adaptive.limit"],
		"resilience.adaptive.active_calls": got["resilience.adaptive.active_calls"],
	}, map[string]map[string]string{
		"resilience.adaptive.limit": {
			"resilience.policy.name=" + okHost:   "10",
			"resilience.policy.name=" + busyHost: "5", // the 429 halved it
		},
		"resilience.adaptive.active_calls": {
			"resilience.policy.name=" + okHost:   "0",
			"resilience.policy.name=" + busyHost: "0",
		},
	})
	if n := len(got["resilience.breaker.state"]); n != 0 {
		t.Errorf("%d breaker state series for a transport without breakers", n)
	}
}

package resiliencehttp_test

import (
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/resiliencetest"
	"github.com/netresilience/resilience/retry"
)

// TestFaultsOnVirtualTime runs the transport over the in-memory fault
// transport, so every wait is exact.
func TestFaultsOnVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		faults := resiliencetest.NewTransport(
			resiliencetest.Fault{Break: resiliencetest.Reset},
			resiliencetest.Fault{Break: resiliencetest.Close},
			resiliencetest.RetryAfter(http.StatusServiceUnavailable, "3"),
			resiliencetest.Fault{Status: http.StatusGatewayTimeout, Delay: 2 * time.Second},
		)
		c, _ := newClient(t, faults, resiliencehttp.Config{Retry: retry.Config{
			MaxAttempts: 5,
			Backoff:     backoff.Exponential{Base: 100 * time.Millisecond, Jitter: backoff.NoJitter},
		}})
		resp, err := c.Get("http://llm.example/v1/models")
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("got %d, want 200 after the four faults", resp.StatusCode)
		}
		var gaps []time.Duration
		got := faults.Received()
		for i := 1; i < len(got); i++ {
			gaps = append(gaps, got[i].Time.Sub(got[i-1].Time))
		}
		// Backoff 100ms and 200ms after the reset and the close; the 3s hint;
		// then the 504 that took 2s to come, and 800ms of backoff.
		if want := "[100ms 200ms 3s 2.8s]"; fmt.Sprint(gaps) != want {
			t.Fatalf("gaps between attempts %v, want %s", gaps, want)
		}
	})
}

func TestResetOfANonReplayableRequestIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		faults := resiliencetest.NewTransport(resiliencetest.Fault{Break: resiliencetest.Reset})
		c, _ := newClient(t, faults, resiliencehttp.Config{Retry: fast})
		req, _ := http.NewRequest(http.MethodPost, "http://llm.example/v1/chat", nil)
		_, err := c.Do(req)
		if !errors.Is(err, syscall.ECONNRESET) || faults.Requests() != 1 {
			t.Fatalf("POST without permission to replay: %v after %d requests; want the reset, once", err, faults.Requests())
		}
	})
}

// TestRetryStopsWhenTheHostsBreakerOpens: 4 attempts around a breaker per
// host that opens after 3 failures. Once the third failure opens it, the
// transport stops at once, rather than wait for a fourth attempt that the
// breaker would reject: with the breaker's rejection after a transport
// error, and with the last response after a status.
func TestRetryStopsWhenTheHostsBreakerOpens(t *testing.T) {
	cfg := resiliencehttp.Config{
		Retry:   retry.Config{MaxAttempts: 4, Backoff: backoff.Exponential{Base: 100 * time.Millisecond, Jitter: backoff.NoJitter}},
		Breaker: &breaker.Config{FailureThreshold: 3, RecoveryTimeout: 5 * time.Second},
	}
	reset := resiliencetest.Fault{Break: resiliencetest.Reset}
	unavailable := resiliencetest.Fault{Status: http.StatusServiceUnavailable}
	for _, fault := range []resiliencetest.Fault{reset, unavailable} {
		synctest.Test(t, func(t *testing.T) {
			faults := resiliencetest.NewTransport(fault, fault, fault, fault)
			c, _ := newClient(t, faults, cfg)
			start := time.Now()
			resp, err := c.Get("http://llm.example/v1/models")
			got := faults.Received()
			if len(got) != 3 {
				t.Fatalf("%d requests reached the server, want 3", len(got))
			}
			if last := got[2].Time; time.Since(last) != 0 || last.Sub(start) != 300*time.Millisecond {
				t.Errorf("waited %v after the third request (and %v before it); want no wait after it, 100ms+200ms before", time.Since(last), last.Sub(start))
			}
			if fault.Status != 0 {
				if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("got %v, %v; want the last response, 503", resp, err)
				}
				read(t, resp)
				return
			}
			var re *retry.Error
			if !errors.Is(err, breaker.ErrOpen) || !errors.As(err, &re) || re.Attempts != 3 || re.Reason != retry.Rejected || !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("error %v; want a retry.Error saying 3 attempts, matching breaker.ErrOpen and the reset", err)
			}
			if d, ok := resilience.RetryAfter(err); !ok || d != 5*time.Second {
				t.Errorf("RetryAfter = %v, %v; want the breaker's 5s until a probe", d, ok)
			}
		})
	}
}

func TestReplayMethods(t *testing.T) {
	getHead := []string{http.MethodGet, http.MethodHead}
	for _, tc := range []struct {
		name     string
		methods  []string
		method   string
		key      bool // an Idempotency-Key header
		attempts int
	}{
		{"default: PUT", nil, http.MethodPut, false, 3},
		{"default: DELETE", nil, http.MethodDelete, false, 3},
		{"default: an empty method is a GET", nil, "", false, 3},
		{"default: POST", nil, http.MethodPost, false, 1},
		{"GET and HEAD: GET", getHead, http.MethodGet, false, 3},
		{"GET and HEAD: HEAD", getHead, http.MethodHead, false, 3},
		{"GET and HEAD: PUT", getHead, http.MethodPut, false, 1},
		{"GET and HEAD: DELETE", getHead, http.MethodDelete, false, 1},
		{"GET and HEAD: PUT with an Idempotency-Key", getHead, http.MethodPut, true, 3},
		{"none: GET", []string{}, http.MethodGet, false, 1},
		{"names match exactly", []string{"get"}, http.MethodGet, false, 1},
		{"another method", []string{"PURGE"}, "PURGE", false, 3},
	} {
		synctest.Test(t, func(t *testing.T) {
			reset := resiliencetest.Fault{Break: resiliencetest.Reset}
			faults := resiliencetest.NewTransport(reset, reset, reset)
			c, _ := newClient(t, faults, resiliencehttp.Config{Retry: fast, ReplayMethods: tc.methods})
			req, _ := http.NewRequest(tc.method, "http://llm.example/v1/files/1", nil)
			if tc.key {
				req.Header.Set("Idempotency-Key", "k-1")
			}
			_, err := c.Do(req)
			if !errors.Is(err, syscall.ECONNRESET) || faults.Requests() != tc.attempts {
				t.Errorf("%s: %v after %d requests; want the reset after %d", tc.name, err, faults.Requests(), tc.attempts)
			}
		})
	}
	if _, err := resiliencehttp.NewTransport(nil, resiliencehttp.Config{ReplayMethods: []string{"GET", "BAD METHOD"}}); err == nil ||
		err.Error() != `resiliencehttp: ReplayMethods holds "BAD METHOD", not a method name` {
		t.Errorf("NewTransport with a bad method name: %v", err)
	}
}

func TestNoRetryStatuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		faults := resiliencetest.NewTransport(resiliencetest.Fault{Status: http.StatusServiceUnavailable})
		c, _ := newClient(t, faults, resiliencehttp.Config{Retry: fast, RetryStatuses: []int{}})
		resp, err := c.Get("http://llm.example/v1/models")
		if err != nil || resp.StatusCode != http.StatusServiceUnavailable || faults.Requests() != 1 {
			t.Fatalf("%v, %v after %d requests; want the 503, sent once", resp, err, faults.Requests())
		}
		read(t, resp)
	})
}

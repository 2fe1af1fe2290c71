package resiliencehttp_test

import (
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience/backoff"
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

package resiliencehttp_test

import (
	"net/http"
	"testing"

	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/resiliencehttp"
)

// TestTokensHearOfFailuresAndSuccesses checks that the transport runs a
// retry policy's gRFC A6 token bucket as the other executors do, against a
// real loopback server: each 503 takes a token, and each 200 — of a retry
// or of a first attempt — gives TokenRatio back.
func TestTokensHearOfFailuresAndSuccesses(t *testing.T) {
	srv := newScripted(t, status(503), status(503), status(200))
	tokens := budget.MustNewTokens(budget.TokensConfig{TokenRatio: 0.5})
	cfg := resiliencehttp.Config{Retry: fast}
	cfg.Retry.Tokens = tokens
	c, _ := newClient(t, nil, cfg)
	for i, want := range []float64{10 - 2 + 0.5, 10 - 2 + 0.5 + 0.5} {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if read(t, resp); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d", i+1, resp.StatusCode)
		}
		if got := tokens.Snapshot().Tokens; got != want {
			t.Errorf("after request %d: %v tokens, want %v", i+1, got, want)
		}
	}
	if n := srv.requests(); n != 4 {
		t.Errorf("the server saw %d requests, want 4", n)
	}
}

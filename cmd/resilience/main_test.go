package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestDemo runs the demo against its real loopback server, without waits, and
// checks what it reports for each situation.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	set := settings{backoff: backoff.Exponential{Base: 1, Max: 1, Jitter: backoff.NoJitter}, retryAfter: 0}
	if err := demo(&out, set); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		`result: "hello" after 3 attempt(s)`,
		"connection reset by peer (transient)",
		`result: "hello again" after 2 attempt(s)`,
		"429 Too Many Requests (retry after 0s) (transient)",
		`result: "worth the wait" after 2 attempt(s)`,
		"attempt 1: protocol error: 404 Not Found (permanent)\n  result: failed after 1 attempt(s)",
		"result: failed after 4 attempt(s)",
		"retry: gave up after 4 attempts (attempts exhausted): network error: 503 Service Unavailable",
		"call 2: network error: 503 Service Unavailable; breaker closed\n",
		"call 3: network error: 503 Service Unavailable; breaker open\n",
		`call 4: rejected at once, breaker "down-service" is open; probe allowed in 30s`,
		"result: 3 of 5 calls reached the server",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q; output:\n%s", want, text)
		}
	}
}

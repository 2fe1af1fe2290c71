package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/netresilience/resilience/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestRun runs the program for one short cycle of the upstream: up, down,
// up again. The breaker must open during the outage and the scrape at the
// end must show it, with the retry policy's calls.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), options{addr: "127.0.0.1:0", run: 2500 * time.Millisecond, cycle: 2 * time.Second, tick: 250 * time.Millisecond}, &out)
	text := out.String()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, text)
	}
	for _, want := range []string{
		"debug page: http://127.0.0.1:",
		"upstream down",
		"breaker open",
		`resilience_breaker_transitions_total{resilience_breaker_from_state="closed",resilience_breaker_to_state="open"`,
		`resilience_retry_calls_total{resilience_outcome="success"`,
		`resilience_retry_calls_total{resilience_outcome="rejected"`,
		`resilience_bulkhead_active_calls{resilience_policy_name="client pool"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output has no %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", text)
	}
}

func TestBadFlags(t *testing.T) {
	if err := run(context.Background(), options{addr: "127.0.0.1:0", run: 0, cycle: time.Second}, new(bytes.Buffer)); err == nil {
		t.Error("run accepted -for 0")
	}
}

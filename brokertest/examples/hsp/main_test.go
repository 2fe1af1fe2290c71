package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/netresilience/resilience/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestHSP runs the demonstration and checks that the message went through
// before and after the broker's restart, that the supervisor saw the loss
// and the failed dials, and that the breaker opened while the broker was
// away and closed once it was back.
func TestHSP(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, 700*time.Millisecond); err != nil {
		t.Fatalf("%v; output:\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		`published and received "hello"`,
		"supervisor: connection lost after",
		"supervisor: dial failed (3 in a row)",
		"breaker: closed -> open",
		"breaker: half-open -> closed",
		`published and received "hello again"`,
		"2 connections; the breaker opened",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

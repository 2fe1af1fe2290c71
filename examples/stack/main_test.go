package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netresilience/resilience/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestStack runs the program against its loopback server on a small load and
// checks that every call is accounted for and the outage opened the breaker.
func TestStack(t *testing.T) {
	sc := scenario{clients: 4, callsEach: 10, hang: 50 * time.Millisecond, attemptTimeout: 20 * time.Millisecond, downFrom: 10, downTo: 40}
	var out bytes.Buffer
	if err := run(&out, sc); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	total := 0
	for _, m := range regexp.MustCompile(`(?m)^  [a-z: ]+?\s+(\d+)$`).FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[1])
		total += n
	}
	if total != 40 {
		t.Errorf("outcomes add up to %d, want the 40 calls; output:\n%s", total, text)
	}
	for _, want := range []string{"40 calls in", "breaker: opened", "rate limit:", "retry budget:"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "breaker: opened 0 times") {
		t.Errorf("an outage of 30 requests did not open the breaker:\n%s", text)
	}
}

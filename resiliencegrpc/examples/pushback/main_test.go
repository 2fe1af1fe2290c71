package main

import (
	"strings"
	"testing"

	"github.com/netresilience/resilience/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestRun runs the program over loopback and checks what it says, line by
// line: the pushback is waited for, not the backoff, and the shed call is
// retried after its pushback and succeeds.
func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := `1. A retry with pushback
server: UnaryCall (previous attempts: none): busy, UNAVAILABLE with pushback 80ms
client: attempt 1 failed (Unavailable); retry in 80ms
server: UnaryCall (previous attempts: 1): OK
client: UnaryCall OK after at least the pushback (80ms)

2. A shed request
server: EmptyCall: takes the only slot
server: shed /grpc.testing.TestService/EmptyCall before its handler: no wait allowed, pushback 150ms
client: attempt 1 failed (Unavailable); retry in 150ms
server: EmptyCall (previous attempts: 1): OK
client: second EmptyCall OK after at least the pushback (150ms)
client: first EmptyCall OK
`
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

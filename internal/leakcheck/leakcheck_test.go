package leakcheck

import (
	"strings"
	"testing"
	"time"
)

func TestReportsALeakAndItsEnd(t *testing.T) {
	stop := make(chan struct{})
	go leakyWorker(stop)
	if got := Wait(20 * time.Millisecond); !strings.Contains(got, "leakyWorker") {
		t.Fatalf("Wait did not report the running goroutine; got %q", got)
	}
	close(stop)
	if got := Wait(5 * time.Second); got != "" {
		t.Fatalf("Wait reported a goroutine after it ended:\n%s", got)
	}
}

func leakyWorker(stop chan struct{}) { <-stop }

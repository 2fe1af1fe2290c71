package proptest

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestMain runs the tests and then fails the binary if they left goroutines
// running: the proptest module's own small version of the core module's
// internal/leakcheck, which it cannot import.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		if stacks := leaked(before, 5*time.Second); stacks != "" {
			fmt.Fprintf(os.Stderr, "proptest: goroutines still running after the tests (%d before them):\n\n%s\n", before, stacks)
			code = 1
		}
	}
	os.Exit(code)
}

// leaked polls until no more goroutines run than before the tests, or until
// limit passes; it returns every goroutine's stack then, or "" if none is
// left over.
func leaked(before int, limit time.Duration) string {
	deadline := time.Now().Add(limit)
	for delay := time.Millisecond; runtime.NumGoroutine() > before; delay *= 2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			for {
				n := runtime.Stack(buf, true)
				if n < len(buf) {
					return string(buf[:n])
				}
				buf = make([]byte, 2*len(buf))
			}
		}
		time.Sleep(min(delay, 100*time.Millisecond))
	}
	return ""
}

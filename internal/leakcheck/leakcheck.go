// Package leakcheck fails a test binary that leaves goroutines running. It is
// the module's own small version of a goroutine leak checker, so that the core
// module's tests need nothing outside the standard library.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { leakcheck.Main(m) }
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Main runs the tests and then, if they passed, waits up to a few seconds
// for every goroutine they started to end. If some are still running, it
// prints their stacks and exits with status 1.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := Wait(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "leakcheck: goroutines still running after the tests:\n\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// Wait polls until no goroutine other than the caller and the runtime's and
// testing package's own is left, or until limit passes. It returns the stacks
// of the goroutines still running then, or "" if none is.
func Wait(limit time.Duration) string {
	deadline := time.Now().Add(limit)
	for delay := time.Millisecond; ; delay *= 2 {
		leaked := Running()
		if len(leaked) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(min(delay, 100*time.Millisecond))
	}
}

// Running returns the stacks of the goroutines that are running other than
// the calling one and those the runtime and the testing package keep.
func Running() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var leaked []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 || ignored(g) { // the first is the caller's own
			continue
		}
		leaked = append(leaked, g)
	}
	return leaked
}

// ignored reports goroutines that belong to the runtime or to the testing
// package rather than to a test.
func ignored(stack string) bool {
	for _, s := range []string{
		"testing.(*M).",
		"testing.(*T).Run(",
		"testing.runTests",
		"testing.tRunner.func1",
		"testing.(*F).Fuzz",
		"runtime.goexit0",
		"os/signal.signal_recv",
		"os/signal.loop",
		"runtime.ensureSigM",
		"created by runtime.gc",
		"runtime.MHeap_Scavenger",
		"runtime/trace.Start",
		"testing/synctest",
		"runtime.ReadTrace",
	} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return strings.TrimSpace(stack) == ""
}

package timeout_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/timeout"
)

// TestAbandonedPanicEndsTheProgram checks, in a child process, that a panic
// in a call that was left running is not swallowed: the hook reports it, and
// then it ends the program as any goroutine's panic does.
func TestAbandonedPanicEndsTheProgram(t *testing.T) {
	const env = "TIMEOUT_TEST_ABANDONED_PANIC"
	if os.Getenv(env) == "1" {
		synctest.Test(t, func(t *testing.T) {
			tm := timeout.MustNew(timeout.Config{Timeout: time.Second, Abandon: true,
				Observer: &resilience.Observer{AbandonedReturn: func(ev resilience.Event) {
					fmt.Fprintf(os.Stderr, "hook: panicked=%v\n", ev.Reason == "panicked")
				}},
			})
			release := make(chan struct{})
			err := timeout.Run(context.Background(), tm, func(context.Context) error {
				<-release
				panic("abandoned boom")
			})
			fmt.Fprintf(os.Stderr, "returned: %v\n", errors.Is(err, timeout.ErrTimeout))
			close(release)
			<-make(chan struct{}) // until the panic ends the program
		})
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAbandonedPanicEndsTheProgram$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the child process ended with %v; want it to fail\n%s", err, out)
	}
	for _, want := range []string{"returned: true\n", "hook: panicked=true\n", "panic: abandoned boom"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the child's output lacks %q:\n%s", want, out)
		}
	}
}

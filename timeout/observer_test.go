package timeout_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/timeout"
)

func TestPanickingObserverLeavesTheTimeoutWorking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := resilience.ObserveAll(func(resilience.Event) { panic("observer") })
		for _, abandon := range []bool{false, true} {
			tm := mustNew(t, timeout.Config{Timeout: time.Second, Abandon: abandon, Observer: boom})
			release := make(chan struct{})
			err := timeout.Run(context.Background(), tm, func(ctx context.Context) error {
				if abandon {
					<-release
				}
				return hang(ctx)
			})
			if !errors.Is(err, timeout.ErrTimeout) {
				t.Errorf("abandon=%v: Run = %v, want a timeout", abandon, err)
			}
			close(release)
			synctest.Wait() // the abandoned call returns, and its observer panics
			want := timeout.Snapshot{Timeout: time.Second, TimedOut: 1}
			if abandon {
				want.Abandoned = 1
			}
			wantSnapshot(t, tm, want)
			if err := timeout.Run(context.Background(), tm, func(context.Context) error { return nil }); err != nil {
				t.Errorf("abandon=%v: a call after the panics: %v", abandon, err)
			}
		}
	})
}

func TestObserverAddsNoAllocation(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		slow := func(ctx context.Context) error { <-ctx.Done(); return errLate }
		plain := mustNew(t, timeout.Config{Timeout: time.Second})
		observed := mustNew(t, timeout.Config{Timeout: time.Second, Observer: resilience.ObserveAll(func(resilience.Event) {})})
		want := testing.AllocsPerRun(20, func() { timeout.Run(ctx, plain, slow) })
		if got := testing.AllocsPerRun(20, func() { timeout.Run(ctx, observed, slow) }); got != want {
			t.Errorf("a timed-out attempt allocates %v times with an observer, %v without", got, want)
		}
		callerFirst, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		long := mustNew(t, timeout.Config{Timeout: time.Hour, Observer: resilience.ObserveAll(func(resilience.Event) {})})
		if got := testing.AllocsPerRun(200, func() { timeout.Do(callerFirst, long, succeed) }); got != 0 {
			t.Errorf("with the caller's deadline first and an observer, a successful call allocates %v times; want 0", got)
		}
	})
}

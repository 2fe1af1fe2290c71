package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/retry"
)

type ctxKey struct{}

func TestObserverSeesRejections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []resilience.Event
		b := mustNew(t, breaker.Config{Name: "api", FailureThreshold: 1, RecoveryTimeout: 10 * time.Second,
			Observer: resilience.ObserveAll(func(e resilience.Event) { events = append(events, e) })})
		start := time.Now()
		call(b, errDown) // closed > open
		time.Sleep(4 * time.Second)
		ctx := context.WithValue(context.Background(), ctxKey{}, "call")
		err := breaker.Run(ctx, b, func(context.Context) error { return nil })
		time.Sleep(6 * time.Second)
		probe, _ := b.Allow()            // open > half-open: the probe
		_, full := b.AllowAt(time.Now()) // half-open, its probe taken
		probe.Done(nil)                  // half-open > closed

		var log []string
		for _, e := range events {
			s := fmt.Sprintf("%v %s %v", e.Type, e.Policy, e.Time.Sub(start))
			switch e.Type {
			case resilience.EventStateChange:
				s += fmt.Sprintf(" %s>%s #%d", e.From, e.To, e.Attempt)
			case resilience.EventReject:
				s += fmt.Sprintf(" (%s) retry after %v", e.Reason, e.Delay)
			}
			log = append(log, s)
			if e.Kind != resilience.KindBreaker || e.Context == nil {
				t.Errorf("event %+v: want kind breaker and a context", e)
			}
		}
		want := []string{
			"state-change api 0s closed>open #1",
			"reject api 4s (open) retry after 6s",
			"state-change api 10s open>half-open #2",
			"reject api 10s (half-open full) retry after 0s",
			"state-change api 10s half-open>closed #3",
		}
		if strings.Join(log, "\n") != strings.Join(want, "\n") {
			t.Fatalf("events\n%s\nwant\n%s", strings.Join(log, "\n"), strings.Join(want, "\n"))
		}
		if events[1].Err != err || events[1].Context.Value(ctxKey{}) != "call" {
			t.Errorf("rejection event: Err %v, context %v; want the call's error %v and its context", events[1].Err, events[1].Context, err)
		}
		var be *breaker.Error
		if !errors.As(events[3].Err, &be) || be.State != breaker.HalfOpen || events[3].Err != full {
			t.Errorf("half-open rejection event's Err = %v, want the rejection %v", events[3].Err, full)
		}
	})
}

func TestPanickingObserverLeavesTheBreakerWorking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		panics := 0
		b := mustNew(t, breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second,
			Observer: resilience.ObserveAll(func(resilience.Event) { panics++; panic("observer") })})
		if ran, err := call(b, errDown); !ran || err != errDown {
			t.Fatalf("call = %v, %v; want it run, failing with %v", ran, err, errDown)
		}
		wantState(t, b, breaker.Open)
		if ran, err := call(b, nil); ran || !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("call = %v, %v; want it rejected", ran, err)
		}
		time.Sleep(time.Second)
		if ran, err := call(b, nil); !ran || err != nil {
			t.Fatalf("probe = %v, %v; want it run and succeed", ran, err)
		}
		wantState(t, b, breaker.Closed)
		// closed>open, the rejection, open>half-open, half-open>closed.
		if panics != 4 {
			t.Errorf("observer called %d times, want 4", panics)
		}
		// The breaker still delivers changes after the panics.
		b.ForceOpen()
		if panics != 5 {
			t.Errorf("observer called %d times after ForceOpen, want 5", panics)
		}
	})
}

func TestObservedBreakerAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	nop := resilience.ObserveAll(func(resilience.Event) {})
	ok := func(context.Context) (int, error) { return 1, nil }
	closed := mustNew(t, breaker.Config{Observer: nop})
	open := mustNew(t, breaker.Config{Observer: nop})
	open.ForceOpen()
	composed := resilience.Compose(retry.MustNew(retry.Config{Observer: nop}), mustNew(t, breaker.Config{Observer: nop}))
	for name, f := range map[string]func(){
		"closed":                 func() { breaker.Do(ctx, closed, ok) },
		"open rejection":         func() { breaker.Do(ctx, open, ok) },
		"Compose(retry,breaker)": func() { resilience.Do(ctx, composed, ok) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per call with an observer, want 0", name, n)
		}
	}
}

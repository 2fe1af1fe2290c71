package retry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/retry"
)

// recorder records every event it receives, as "type attempt reason" lines,
// and keeps the events.
type recorder struct {
	events []resilience.Event
}

func (r *recorder) observer() *resilience.Observer {
	return resilience.ObserveAll(func(e resilience.Event) { r.events = append(r.events, e) })
}

func (r *recorder) String() string {
	var b strings.Builder
	for _, e := range r.events {
		fmt.Fprintf(&b, "%v %d", e.Type, e.Attempt)
		if e.Reason != "" {
			fmt.Fprintf(&b, " (%s)", e.Reason)
		}
		if e.Delay != 0 {
			fmt.Fprintf(&b, " after %v", e.Delay)
		}
		b.WriteString("; ")
	}
	return b.String()
}

type ctxKey struct{}

func TestObserverSeesEveryCallEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.WithValue(context.Background(), ctxKey{}, "call")
		for _, tc := range []struct {
			name string
			errs []error
			want string
		}{
			{"success at once", nil, "success 1; "},
			{"success after retries", []error{errReset, errReset}, "retry 1 after 100ms; retry 2 after 200ms; success 3; "},
			{"not retryable at once", []error{errBad}, "give-up 1 (not retryable); "},
			{"not retryable after a retry", []error{errReset, errBad}, "retry 1 after 100ms; give-up 2 (not retryable); "},
			{"attempts exhausted", []error{errReset, errReset, errReset}, "retry 1 after 100ms; retry 2 after 200ms; give-up 3 (attempts exhausted); "},
		} {
			rec := &recorder{}
			p := mustNew(t, retry.Config{Name: "api", Backoff: steady, Observer: rec.observer()})
			start := time.Now()
			s := &script{errs: tc.errs}
			_, err := retry.Do(ctx, p, s.call)
			if got := rec.String(); got != tc.want {
				t.Errorf("%s: events %s, want %s", tc.name, got, tc.want)
			}
			if len(rec.events) == 0 {
				continue
			}
			for _, e := range rec.events {
				if e.Kind != resilience.KindRetry || e.Policy != "api" || e.Context.Value(ctxKey{}) != "call" || e.Time.Before(start) {
					t.Errorf("%s: event %+v: want kind retry, policy api, the call's context and its time", tc.name, e)
				}
			}
			last := rec.events[len(rec.events)-1]
			if last.Type == resilience.EventGiveUp && last.Err != err {
				t.Errorf("%s: give-up's Err = %v, want the call's error %v", tc.name, last.Err, err)
			}
			if last.Type == resilience.EventSuccess && (last.Err != nil || err != nil) {
				t.Errorf("%s: success with Err %v, call error %v", tc.name, last.Err, err)
			}
		}
	})
}

func TestObserverGiveUpCarriesTheRetryError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A budget that allows no retry: the give-up says so, and its Err
		// is the *retry.Error the call returns.
		b := budget.MustNew(budget.Config{Ratio: 0.001, MinPerSecond: 1e-9})
		b.Withdraw() // the floor's one retry, if any
		rec := &recorder{}
		p := mustNew(t, retry.Config{Backoff: steady, Budget: b, Observer: rec.observer()})
		_, err := retry.Do(context.Background(), p, (&script{errs: []error{errReset, errReset}}).call)
		if got, want := rec.String(), "give-up 1 (retry budget exhausted); "; got != want {
			t.Fatalf("events %s, want %s", got, want)
		}
		var re *retry.Error
		if !errors.As(rec.events[0].Err, &re) || re.Reason != retry.BudgetExhausted || rec.events[0].Err != err {
			t.Errorf("give-up Err = %v, want the call's *retry.Error %v", rec.events[0].Err, err)
		}
	})
}

func TestObserverSeesACancelDuringTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rec := &recorder{}
		p := mustNew(t, retry.Config{Backoff: backoff.Constant(time.Second), Observer: &resilience.Observer{
			Retry:  func(e resilience.Event) { rec.events = append(rec.events, e); go cancel() },
			GiveUp: func(e resilience.Event) { rec.events = append(rec.events, e) },
		}})
		_, err := retry.Do(ctx, p, (&script{errs: []error{errReset, errReset}}).call)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Do = %v, want canceled", err)
		}
		if got, want := rec.String(), "retry 1 after 1s; give-up 1 (canceled); "; got != want {
			t.Errorf("events %s, want %s", got, want)
		}
	})
}

func TestObserverWithoutSuccessIsNotAskedForIt(t *testing.T) {
	p := mustNew(t, retry.Config{Observer: &resilience.Observer{GiveUp: func(resilience.Event) {}}})
	if plan, err := p.BeginRetries(); err != nil || plan.ReportSuccess {
		t.Errorf("BeginRetries = %+v, %v; want no success report without a Success func", plan, err)
	}
	p = mustNew(t, retry.Config{Observer: &resilience.Observer{Success: func(resilience.Event) {}}})
	if plan, err := p.BeginRetries(); err != nil || !plan.ReportSuccess {
		t.Errorf("BeginRetries = %+v, %v; want a success report with a Success func", plan, err)
	}
}

func TestPanickingObserverLeavesTheCallWorking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := func(resilience.Event) { panic("observer") }
		p := mustNew(t, retry.Config{Backoff: steady, Observer: resilience.ObserveAll(boom)})
		s := &script{errs: []error{errReset}}
		if v, err := retry.Do(context.Background(), p, s.call); v != 42 || err != nil || len(s.calls) != 2 {
			t.Errorf("Do = %v, %v after %d attempts; want 42, nil after 2", v, err, len(s.calls))
		}
		_, err := retry.Do(context.Background(), p, (&script{errs: []error{errBad}}).call)
		if err != errBad {
			t.Errorf("Do = %v, want %v", err, errBad)
		}
	})
}

func TestObserverMayCallBack(t *testing.T) {
	// An observer that runs a call through the same policy does not
	// deadlock, and sees that call's events too.
	var p *retry.Policy
	depth, successes := 0, 0
	p = mustNew(t, retry.Config{Observer: &resilience.Observer{Success: func(resilience.Event) {
		successes++
		if depth++; depth == 1 {
			retry.Run(context.Background(), p, func(context.Context) error { return nil })
		}
	}}})
	if err := retry.Run(context.Background(), p, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if successes != 2 {
		t.Errorf("%d successes reported, want 2", successes)
	}
}

func TestObservedCallsAllocateNothing(t *testing.T) {
	nop := resilience.ObserveAll(func(resilience.Event) {})
	p := mustNew(t, retry.Config{Backoff: backoff.Constant(0), Observer: nop})
	ctx := context.Background()
	composed := resilience.Compose(p)
	ok := func(context.Context) (int, error) { return 1, nil }
	calls := 0
	flaky := func(context.Context) (int, error) {
		if calls++; calls%2 == 1 {
			return 0, errReset
		}
		return 1, nil
	}
	for name, f := range map[string]func(){
		"retry.Do, success":               func() { retry.Do(ctx, p, ok) },
		"resilience.Do(Compose), success": func() { resilience.Do(ctx, composed, ok) },
		"retry.Do, one retry":             func() { retry.Do(ctx, p, flaky) },
		"retry.Do, give-up":               func() { retry.Do(ctx, p, func(context.Context) (int, error) { return 0, errBad }) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per call with an observer, want 0", name, n)
		}
	}
}

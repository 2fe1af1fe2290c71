package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
)

// The tests in this file run hundreds of goroutines against one breaker and
// check what must hold whatever the interleaving; run them with -race. Each
// load is bounded in count, every goroutine ends before its test does, and
// nothing sleeps: goroutines start together on a closed channel, and the
// tests that need time drive the breaker on virtual time through AllowAt and
// DoneAt.

// concFailure is the failure the load reports: transient, by its mark.
var concFailure = resilience.Transient(errors.New("upstream unavailable"))

// concBound bounds every load: a load that has not ended by then is taken
// for a deadlock. It is a bound, not a timing assertion.
const concBound = 10 * time.Second

// concRun starts n goroutines, releases them together, runs f(i) on the
// i-th, and waits until they have all returned. It fails the test if they
// have not within concBound.
func concRun(t *testing.T, n int, f func(i int)) {
	t.Helper()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(concBound):
		t.Fatalf("%d goroutines have not finished after %v: deadlock", n, concBound)
	}
}

// concRecorder records state changes from an observer, which may
// run on any goroutine, and counts the calls of the hook that overlapped: the
// hook is called in the order of the changes, so one call must have returned
// before the next begins.
type concRecorder struct {
	running, overlaps atomic.Int32

	mu     sync.Mutex
	events []resilience.Event
}

// observer returns an observer of state changes that records each change.
func (r *concRecorder) observer() *resilience.Observer { return r.hook(nil) }

// hook returns an observer of state changes that records each change and
// then calls then, if it is not nil.
func (r *concRecorder) hook(then func(resilience.Event)) *resilience.Observer {
	return &resilience.Observer{StateChange: func(ev resilience.Event) {
		if r.running.Add(1) != 1 {
			r.overlaps.Add(1)
		}
		defer r.running.Add(-1)
		r.mu.Lock()
		r.events = append(r.events, ev)
		r.mu.Unlock()
		if then != nil {
			then(ev)
		}
	}}
}

// check verifies that the hook's calls did not overlap and that the
// recorded changes form one chain — each starts where the one before ended,
// from a new breaker's closed state, with generations 1, 2, 3, ... so none is
// missing, repeated or out of order — and returns their target states.
func (r *concRecorder) check(t *testing.T) []string {
	t.Helper()
	if n := r.overlaps.Load(); n != 0 {
		t.Fatalf("the state-change hook was called %d times while a call for an earlier change was running", n)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	from := breaker.Closed.String()
	to := make([]string, len(r.events))
	for i, ev := range r.events {
		if ev.Attempt != i+1 || ev.From != from || ev.Type != resilience.EventStateChange || ev.Kind != resilience.KindBreaker {
			t.Fatalf("state change %d is %v→%v generation %d; want from %v, generation %d\nall: %+v",
				i, ev.From, ev.To, ev.Attempt, from, i+1, r.events)
		}
		from, to[i] = ev.To, ev.To
	}
	return to
}

// concWant is the sequence of target states a recorder should hold.
func concWant(t *testing.T, got []string, want ...breaker.State) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("state changes to %v; want %v", got, want)
	}
}

// TestConcurrentClosedStaysClosed runs 200 goroutines through a closed
// breaker whose threshold the failures cannot reach: it must stay closed,
// admit every call, count every outcome in its window, and keep an exact
// count of consecutive failures, which no racing success or failure may lose.
func TestConcurrentClosedStaysClosed(t *testing.T) {
	const (
		goroutines = 200
		calls      = 50 // per goroutine
		failEvery  = 5  // of each goroutine's calls, one in five fails
		failures   = goroutines * calls / failEvery
		threshold  = 2*failures + 1 // no run of failures below can reach it
	)
	for _, tc := range []struct {
		name string
		cfg  breaker.Config
	}{
		{"consecutive", breaker.Config{}},
		// The failure rate stays far below the limit: 20% in the mixed load, 25% at most.
		{"window", breaker.Config{Window: time.Hour, FailureRate: 0.9}},
		{"window+slow", breaker.Config{Window: time.Hour, FailureRate: 0.9, SlowCall: time.Hour, SlowCallRate: 0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.FailureThreshold = threshold
			b := breaker.MustNew(cfg)
			ctx := context.Background()
			var ran, errs atomic.Int64

			// A mixed load: the consecutive count goes up and down under
			// racing failures and successes.
			concRun(t, goroutines, func(i int) {
				for j := range calls {
					fail := (i+j)%failEvery == 0
					_, err := breaker.Do(ctx, b, func(context.Context) (int, error) {
						ran.Add(1)
						if fail {
							return 0, concFailure
						}
						return 1, nil
					})
					if (err != nil) != fail || (err != nil && err != concFailure) {
						errs.Add(1)
					}
				}
			})
			if n := errs.Load(); n != 0 {
				t.Fatalf("%d calls returned an error other than their function's", n)
			}
			if n := ran.Load(); n != goroutines*calls {
				t.Fatalf("the functions ran %d times, want %d: every call of a closed breaker is admitted", n, goroutines*calls)
			}
			s := b.Snapshot()
			if s.State != breaker.Closed || s.Opened != 0 || s.Rejected != 0 || s.Generation != 0 {
				t.Fatalf("after the mixed load: %+v; want closed, never opened, nothing rejected", s)
			}
			if s.ConsecutiveFailures > failures {
				t.Fatalf("ConsecutiveFailures = %d, more than the %d failures reported", s.ConsecutiveFailures, failures)
			}
			if cfg.Window > 0 && (s.Calls != goroutines*calls || s.Failures != failures || s.SlowCalls != 0) {
				t.Fatalf("window counts %d calls, %d failures, %d slow; want %d, %d, 0",
					s.Calls, s.Failures, s.SlowCalls, goroutines*calls, failures)
			}

			// Only successes: the count must end at zero.
			concRun(t, goroutines, func(int) {
				for range calls {
					breaker.Run(ctx, b, func(context.Context) error { return nil })
				}
			})
			if s := b.Snapshot(); s.State != breaker.Closed || s.ConsecutiveFailures != 0 || s.Opened != 0 {
				t.Fatalf("after only successes: %+v; want closed, no consecutive failures, never opened", s)
			}

			// Only failures: every one must be counted, none lost to a
			// racing compare-and-swap.
			concRun(t, goroutines, func(i int) {
				for range calls / failEvery {
					breaker.Run(ctx, b, func(context.Context) error { return concFailure })
				}
			})
			s = b.Snapshot()
			if s.State != breaker.Closed || s.ConsecutiveFailures != failures || s.Opened != 0 {
				t.Fatalf("after %d concurrent failures: %+v; want closed with exactly %d consecutive failures",
					failures, s, failures)
			}
			if cfg.Window > 0 && (s.Calls != 2*goroutines*calls+failures || s.Failures != 2*failures) {
				t.Fatalf("window counts %d calls and %d failures; want %d and %d",
					s.Calls, s.Failures, 2*goroutines*calls+failures, 2*failures)
			}

			// The threshold is exact: one failure short stays closed, the
			// failure that reaches it opens the breaker.
			for range threshold - failures - 1 {
				breaker.Run(ctx, b, func(context.Context) error { return concFailure })
			}
			if s := b.Snapshot(); s.State != breaker.Closed || s.ConsecutiveFailures != threshold-1 {
				t.Fatalf("one failure short of the threshold: %+v; want closed with %d", s, threshold-1)
			}
			breaker.Run(ctx, b, func(context.Context) error { return concFailure })
			if s := b.Snapshot(); s.State != breaker.Open || s.Opened != 1 {
				t.Fatalf("at the threshold: %+v; want open, opened once", s)
			}
		})
	}
}

// TestConcurrentTripOpensOnce has 200 goroutines fail at once: many
// failures race to trip the breaker, but it opens exactly once, and once it
// is open no call is admitted — the function runs only for calls admitted
// before, at most one in flight per goroutine.
func TestConcurrentTripOpensOnce(t *testing.T) {
	const (
		goroutines = 200
		calls      = 20 // per goroutine
		threshold  = 10
	)
	var rec concRecorder
	b := breaker.MustNew(breaker.Config{
		Name:             "trip",
		FailureThreshold: threshold,
		RecoveryTimeout:  time.Hour, // never half-open during the test
		Observer:         rec.observer(),
	})
	ctx := context.Background()

	// The first call of every goroutine waits until all of them are in
	// flight, so that all 200 are admitted by the closed breaker and then
	// report their failures together.
	var started atomic.Int64
	gate := make(chan struct{})
	var failed, rejected, other atomic.Int64
	concRun(t, goroutines, func(int) {
		for range calls {
			_, err := breaker.Do(ctx, b, func(context.Context) (int, error) {
				if started.Add(1) == goroutines {
					close(gate)
				}
				<-gate
				return 0, concFailure
			})
			var oe *breaker.Error
			switch {
			case err == concFailure:
				failed.Add(1)
			case errors.As(err, &oe) && errors.Is(err, breaker.ErrOpen) && oe.State == breaker.Open && oe.Name == "trip":
				rejected.Add(1)
			default:
				other.Add(1)
			}
		}
	})

	if n := other.Load(); n != 0 {
		t.Fatalf("%d calls returned neither their function's error nor an open rejection", n)
	}
	ran := started.Load()
	if ran < goroutines || ran > threshold+goroutines-1 {
		// At the opening, threshold failures have been counted and each
		// other goroutine has at most one call in flight; nothing is
		// admitted after.
		t.Fatalf("the function ran %d times; want between %d and %d (%d counted failures and at most one call in flight per other goroutine)",
			ran, goroutines, threshold+goroutines-1, threshold)
	}
	if failed.Load() != ran || rejected.Load() != goroutines*calls-ran {
		t.Fatalf("%d failures and %d rejections for %d runs of %d calls", failed.Load(), rejected.Load(), ran, goroutines*calls)
	}
	t.Logf("the function ran %d times for %d calls", ran, goroutines*calls)

	s := b.Snapshot()
	if s.State != breaker.Open || s.Opened != 1 || s.Generation != 1 || s.ConsecutiveFailures != 0 {
		t.Fatalf("after the load: %+v; want open, opened once, generation 1", s)
	}
	if s.Rejected != uint64(rejected.Load()) {
		t.Fatalf("Snapshot().Rejected = %d; the callers saw %d rejections", s.Rejected, rejected.Load())
	}
	concWant(t, rec.check(t), breaker.Open)

	// Later calls are rejected without running.
	called := false
	err := breaker.Run(ctx, b, func(context.Context) error { called = true; return nil })
	if called || !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("a later call: ran %v, error %v; want rejected with ErrOpen", called, err)
	}
}

// TestConcurrentSuccessesRacingATrip races successes against the failure
// that opens the breaker, round after round. A success may clear the count
// of failures in a row before that failure counts, so that the breaker stays
// closed; but once the breaker has opened, a success admitted before cannot
// undo the opening.
func TestConcurrentSuccessesRacingATrip(t *testing.T) {
	const (
		rounds    = 300
		successes = 8 // goroutines, each with a few successes
	)
	var rec concRecorder
	b := breaker.MustNew(breaker.Config{
		FailureThreshold: 2,
		RecoveryTimeout:  time.Hour, // an opening lasts until the Reset
		Observer:         rec.observer(),
	})
	ctx := context.Background()
	fail := func(context.Context) error { return concFailure }
	succeed := func(context.Context) error { return nil }
	var opened uint64
	for round := range rounds {
		if b.State() == breaker.Open {
			b.Reset()
		}
		breaker.Run(ctx, b, succeed)
		breaker.Run(ctx, b, fail) // one short of the threshold
		concRun(t, successes+1, func(i int) {
			if i == 0 {
				breaker.Run(ctx, b, fail)
				return
			}
			for range 3 {
				breaker.Run(ctx, b, succeed)
			}
		})
		s := b.Snapshot()
		switch {
		case s.State == breaker.Open && s.Opened == opened+1:
			opened++
		case s.State == breaker.Closed && s.Opened == opened && s.ConsecutiveFailures <= 1:
		default:
			t.Fatalf("round %d: %+v after %d openings; want open once more, or still closed with at most one failure in a row",
				round, s, opened)
		}
	}
	got := rec.check(t)
	for i, s := range got {
		if want := []breaker.State{breaker.Open, breaker.Closed}[i%2]; s != want.String() {
			t.Fatalf("state change %d is to %v, want %v: %v", i, s, want, got)
		}
	}
	t.Logf("the failure opened the breaker in %d of %d rounds", opened, rounds)
}

// TestConcurrentHalfOpenAdmitsExactlyTheProbes releases 300 goroutines on a
// breaker the moment it turns half-open, round after round: exactly
// HalfOpenProbes of them get a permit, the rest a half-open rejection. The
// probes then report together from as many goroutines; the state-change
// hook must see one unbroken chain of changes, and the breaker close once.
func TestConcurrentHalfOpenAdmitsExactlyTheProbes(t *testing.T) {
	const (
		callers  = 300
		rounds   = 50
		recovery = time.Minute
	)
	for _, probes := range []int{1, 3, 5} {
		t.Run(fmt.Sprintf("probes=%d", probes), func(t *testing.T) {
			var rec concRecorder
			b := breaker.MustNew(breaker.Config{
				Name:             "probes",
				FailureThreshold: 1,
				RecoveryTimeout:  recovery,
				HalfOpenProbes:   probes,
				Observer:         rec.observer(),
			})
			at := time.Now()
			p, err := b.AllowAt(at)
			if err != nil {
				t.Fatal(err)
			}
			p.DoneAt(at, concFailure) // open, until at+recovery

			for round := range rounds {
				last := round == rounds-1
				if s := b.StateAt(at.Add(recovery - 1)); s != breaker.Open {
					t.Fatalf("round %d: %v a nanosecond before the recovery timeout; want open", round, s)
				}
				at = at.Add(recovery)

				permits := make([]breaker.Permit, callers)
				errs := make([]error, callers)
				states := make([]breaker.State, callers)
				concRun(t, callers, func(i int) {
					if i%3 == 0 { // some ask for the state first: it turns half-open on that path too
						states[i] = b.StateAt(at)
					} else {
						states[i] = breaker.HalfOpen
					}
					permits[i], errs[i] = b.AllowAt(at)
				})
				var admitted []breaker.Permit
				for i, err := range errs {
					if states[i] != breaker.HalfOpen {
						t.Fatalf("round %d: StateAt = %v at the recovery timeout; want half-open", round, states[i])
					}
					if err == nil {
						admitted = append(admitted, permits[i])
						continue
					}
					var oe *breaker.Error
					if !errors.Is(err, breaker.ErrOpen) || !errors.As(err, &oe) || oe.State != breaker.HalfOpen {
						t.Fatalf("round %d: rejection %v (%#v); want an *Error with State half-open matching ErrOpen", round, err, oe)
					}
				}
				if len(admitted) != probes {
					t.Fatalf("round %d: %d of %d callers got a permit; want exactly %d", round, len(admitted), callers, probes)
				}
				if s := b.SnapshotAt(at); s.State != breaker.HalfOpen || s.ProbesInFlight != probes {
					t.Fatalf("round %d: %+v; want half-open with %d probes in flight", round, s, probes)
				}

				// The probes report together. Before the last round one of
				// them fails, so whatever the order the breaker reopens
				// (the others' successes are too few to close it, or come
				// too late to count); in the last round all succeed.
				concRun(t, probes, func(i int) {
					if !last && i == 0 {
						admitted[i].DoneAt(at, concFailure)
						return
					}
					admitted[i].DoneAt(at, nil)
				})
				s := b.SnapshotAt(at)
				switch {
				case last && (s.State != breaker.Closed || s.ProbesInFlight != 0):
					t.Fatalf("round %d: %+v after %d successful probes; want closed", round, s, probes)
				case !last && (s.State != breaker.Open || !s.OpenUntil.Equal(at.Add(recovery)) || s.ProbesInFlight != 0):
					t.Fatalf("round %d: %+v after a failed probe; want open until %v", round, s, at.Add(recovery))
				}
			}

			s := b.SnapshotAt(at)
			if s.Opened != rounds || s.Generation != 2*rounds+1 {
				t.Fatalf("%+v; want opened %d times, generation %d", s, rounds, 2*rounds+1)
			}
			want := []breaker.State{breaker.Open}
			for range rounds - 1 {
				want = append(want, breaker.HalfOpen, breaker.Open)
			}
			want = append(want, breaker.HalfOpen, breaker.Closed)
			concWant(t, rec.check(t), want...)
		})
	}
}

// TestConcurrentHookCallsBackIntoTheBreaker has a state-change hook call
// State, Snapshot and Reset while 200 goroutines fail through the breaker,
// so that it keeps opening and being reset from inside its own hook. Nothing
// may deadlock, and the hook must see every change once, in order.
func TestConcurrentHookCallsBackIntoTheBreaker(t *testing.T) {
	const (
		goroutines = 200
		calls      = 30 // per goroutine
	)
	var (
		rec      concRecorder
		b        *breaker.Breaker
		hookErrs atomic.Int64
		opens    atomic.Int64
	)
	b = breaker.MustNew(breaker.Config{
		FailureThreshold: 3,
		RecoveryTimeout:  time.Hour, // only the hook's Reset ends an opening
		Observer: rec.hook(func(ev resilience.Event) {
			state := b.State()
			if s := b.Snapshot(); s.Generation < uint64(ev.Attempt) {
				hookErrs.Add(1) // the hook learns of a change the breaker has not made
			}
			if ev.To == breaker.Open.String() {
				// Nothing but this hook moves the breaker out of this
				// opening, so it is still open.
				if state != breaker.Open {
					hookErrs.Add(1)
				}
				opens.Add(1)
				b.Reset()
			}
		}),
	})
	ctx := context.Background()
	var ran, rejected, other atomic.Int64
	concRun(t, goroutines, func(i int) {
		for j := range calls {
			err := breaker.Run(ctx, b, func(context.Context) error {
				ran.Add(1)
				return concFailure
			})
			switch {
			case err == concFailure:
			case errors.Is(err, breaker.ErrOpen):
				rejected.Add(1)
			default:
				other.Add(1)
			}
			if j%10 == 0 { // callers look too, outside the hook
				b.State()
				b.Snapshot()
			}
		}
	})
	if n := hookErrs.Load(); n != 0 {
		t.Fatalf("the hook saw the breaker behind its own change, or not open on an opening, %d times", n)
	}
	if n := other.Load(); n != 0 {
		t.Fatalf("%d calls returned an unexpected error", n)
	}
	if ran.Load()+rejected.Load() != goroutines*calls {
		t.Fatalf("%d runs and %d rejections for %d calls", ran.Load(), rejected.Load(), goroutines*calls)
	}
	got := rec.check(t)
	if len(got) == 0 || opens.Load() == 0 {
		t.Fatal("the breaker never opened under a load of failures")
	}
	// Every opening is followed by the Reset of its own hook, and nothing
	// else changes the state.
	for i, s := range got {
		if want := []breaker.State{breaker.Open, breaker.Closed}[i%2]; s != want.String() {
			t.Fatalf("state change %d is to %v, want %v: %v", i, s, want, got)
		}
	}
	s := b.Snapshot()
	if s.State != breaker.Closed || s.Opened != uint64(opens.Load()) || s.Generation != uint64(len(got)) || len(got) != 2*int(opens.Load()) {
		t.Fatalf("%+v after %d changes, %d openings seen by the hook; want closed, with the hook's counts",
			s, len(got), opens.Load())
	}
	t.Logf("%d openings, %d rejections", opens.Load(), rejected.Load())
}

// concPanic is what the panicking calls panic with.
type concPanic struct{ i int }

// TestConcurrentPanics: a panic in the guarded function goes on out of Do,
// counts as a failure, and in a half-open breaker frees its probe slot by
// reopening the breaker.
func TestConcurrentPanics(t *testing.T) {
	ctx := context.Background()

	// panicking runs fn through b and reports what came out of Do: the
	// recovered panic value, or the error.
	panicking := func(b *breaker.Breaker, fn func(context.Context) (int, error)) (recovered any, err error) {
		defer func() { recovered = recover() }()
		_, err = breaker.Do(ctx, b, fn)
		return nil, err
	}

	t.Run("closed", func(t *testing.T) {
		const threshold = 200
		b := breaker.MustNew(breaker.Config{FailureThreshold: threshold, RecoveryTimeout: time.Hour})
		var started, wrong atomic.Int64
		gate := make(chan struct{})
		// threshold-1 goroutines panic together: one short of the threshold.
		concRun(t, threshold-1, func(i int) {
			r, err := panicking(b, func(context.Context) (int, error) {
				if started.Add(1) == threshold-1 {
					close(gate)
				}
				<-gate // all admitted before any panics
				panic(concPanic{i})
			})
			if p, ok := r.(concPanic); !ok || p.i != i || err != nil {
				wrong.Add(1)
			}
		})
		if n := wrong.Load(); n != 0 {
			t.Fatalf("%d of %d panics did not come out of Do as they went in", n, threshold-1)
		}
		if s := b.Snapshot(); s.State != breaker.Closed || s.ConsecutiveFailures != threshold-1 || s.Opened != 0 {
			t.Fatalf("after %d concurrent panics: %+v; want closed with %d consecutive failures", threshold-1, s, threshold-1)
		}
		r, _ := panicking(b, func(context.Context) (int, error) { panic(concPanic{-1}) })
		if r != (concPanic{-1}) {
			t.Fatalf("recovered %v, want the panic value", r)
		}
		if s := b.Snapshot(); s.State != breaker.Open || s.Opened != 1 {
			t.Fatalf("after %d panics in a row: %+v; want open", threshold, s)
		}
		called := false
		_, err := panicking(b, func(context.Context) (int, error) { called = true; return 0, nil })
		if called || !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("after the panics: ran %v, error %v; want rejected", called, err)
		}
	})

	for _, probes := range []int{1, 3} {
		t.Run(fmt.Sprintf("half-open/probes=%d", probes), func(t *testing.T) {
			const (
				callers  = 100
				recovery = time.Minute
			)
			b := breaker.MustNew(breaker.Config{FailureThreshold: 1, RecoveryTimeout: recovery, HalfOpenProbes: probes})
			// Open it an hour ago on its own clock, so that Do, which reads
			// the real clock, finds it half-open.
			past := time.Now().Add(-time.Hour)
			p, _ := b.AllowAt(past)
			p.DoneAt(past, concFailure)

			var admitted, wrong, rejected atomic.Int64
			gate := make(chan struct{})
			concRun(t, callers, func(i int) {
				r, err := panicking(b, func(context.Context) (int, error) {
					if admitted.Add(1) == int64(probes) {
						close(gate)
					}
					<-gate // every probe is in flight before any panics
					panic(concPanic{i})
				})
				switch {
				case r != nil:
					if r != (concPanic{i}) {
						wrong.Add(1)
					}
				case errors.Is(err, breaker.ErrOpen):
					rejected.Add(1)
				default:
					wrong.Add(1)
				}
			})
			if n := wrong.Load(); n != 0 {
				t.Fatalf("%d calls neither panicked with their value nor were rejected", n)
			}
			if n := admitted.Load(); n != int64(probes) || rejected.Load() != callers-n {
				t.Fatalf("%d probes ran and %d calls were rejected; want %d and %d", n, rejected.Load(), probes, callers-probes)
			}
			// The panicking probes are failures: the breaker is open again,
			// holding no slot, rather than half-open with its slots taken.
			s := b.Snapshot()
			if s.State != breaker.Open || s.Opened != 2 || s.Generation != 3 || s.ProbesInFlight != 0 {
				t.Fatalf("after panicking probes: %+v; want open again (opened twice, generation 3), no probe in flight", s)
			}
			// And at its next half-open turn every slot is free.
			later := time.Now().Add(recovery + time.Second)
			for i := range probes {
				if _, err := b.AllowAt(later); err != nil {
					t.Fatalf("probe %d of %d at the next half-open turn: %v", i+1, probes, err)
				}
			}
			var oe *breaker.Error
			if _, err := b.AllowAt(later); !errors.As(err, &oe) || oe.State != breaker.HalfOpen {
				t.Fatalf("one probe too many: %v; want a half-open rejection", err)
			}
		})
	}
}

// TestConcurrentStaleResults: calls admitted before a change of state report
// from many goroutines after it, while fresh calls report too. The stale
// results must not move the new state: not while open, not while half-open
// (where a stale success could close the breaker or a stale failure reopen
// it), not after it closed again; the fresh results must all count.
func TestConcurrentStaleResults(t *testing.T) {
	const recovery = time.Minute

	t.Run("closed-open-half-open-closed", func(t *testing.T) {
		const (
			threshold = 5
			old       = 200
		)
		b := breaker.MustNew(breaker.Config{FailureThreshold: threshold, RecoveryTimeout: recovery})
		t0 := time.Now()
		permits := make([]breaker.Permit, old)
		errs := make([]error, old)
		concRun(t, old, func(i int) { permits[i], errs[i] = b.AllowAt(t0) })
		for i, err := range errs {
			if err != nil {
				t.Fatalf("closed breaker rejected permit %d: %v", i, err)
			}
		}
		// threshold of them fail together: the breaker opens at t0.
		concRun(t, threshold, func(i int) { permits[i].DoneAt(t0, concFailure) })
		want := func(when time.Time, state breaker.State, gen uint64, until time.Time) {
			t.Helper()
			s := b.SnapshotAt(when)
			if s.State != state || s.Generation != gen || !s.OpenUntil.Equal(until) || s.Opened != 1 || s.ConsecutiveFailures != 0 {
				t.Fatalf("%+v; want %v, generation %d, open until %v, opened once, no consecutive failures", s, state, gen, until)
			}
		}
		want(t0, breaker.Open, 1, t0.Add(recovery))

		rest := permits[threshold:]
		third := len(rest) / 3

		// While open: stale failures must not reopen it later or count.
		concRun(t, third, func(i int) { rest[i].DoneAt(t0.Add(time.Second), concFailure) })
		want(t0.Add(time.Second), breaker.Open, 1, t0.Add(recovery))

		// While half-open, with its one probe in flight: stale successes
		// must not close it, stale failures not reopen it, and none may
		// free the probe's slot.
		t1 := t0.Add(recovery)
		probe, err := b.AllowAt(t1)
		if err != nil {
			t.Fatalf("no probe at the recovery timeout: %v", err)
		}
		concRun(t, third, func(i int) {
			var res error
			if i%2 == 0 {
				res = concFailure
			}
			rest[third+i].DoneAt(t1, res)
		})
		want(t1, breaker.HalfOpen, 2, time.Time{})
		if _, err := b.AllowAt(t1); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("a second probe after stale results: %v; want rejected, the slot is the probe's", err)
		}
		probe.DoneAt(t1, nil)
		want(t1, breaker.Closed, 3, time.Time{})

		// Closed again: the remaining stale failures race with
		// threshold-1 fresh ones; only the fresh ones count.
		stale := rest[2*third:]
		fresh := make([]breaker.Permit, threshold-1)
		for i := range fresh {
			if fresh[i], err = b.AllowAt(t1); err != nil {
				t.Fatal(err)
			}
		}
		concRun(t, len(stale)+len(fresh), func(i int) {
			if i < len(fresh) {
				fresh[i].DoneAt(t1, concFailure)
				return
			}
			stale[i-len(fresh)].DoneAt(t1, concFailure)
		})
		if s := b.SnapshotAt(t1); s.State != breaker.Closed || s.ConsecutiveFailures != threshold-1 || s.Opened != 1 || s.Generation != 3 {
			t.Fatalf("after %d stale and %d fresh failures: %+v; want closed with %d consecutive failures",
				len(stale), len(fresh), s, threshold-1)
		}
	})

	t.Run("after-force-open-and-reset", func(t *testing.T) {
		const (
			threshold = 5
			old       = 200
		)
		b := breaker.MustNew(breaker.Config{FailureThreshold: threshold, RecoveryTimeout: recovery})
		t0 := time.Now()
		permits := make([]breaker.Permit, old)
		concRun(t, old, func(i int) { permits[i], _ = b.AllowAt(t0) })
		b.ForceOpen()
		concRun(t, old/2, func(i int) { permits[i].DoneAt(t0, nil) })
		if s := b.SnapshotAt(t0); s.State != breaker.Open || !s.Forced || s.Generation != 1 {
			t.Fatalf("forced open, after stale successes: %+v; want still forced open", s)
		}
		b.Reset()
		fresh := make([]breaker.Permit, threshold-1)
		for i := range fresh {
			fresh[i], _ = b.AllowAt(t0)
		}
		stale := permits[old/2:]
		concRun(t, len(stale)+len(fresh), func(i int) {
			if i < len(fresh) {
				fresh[i].DoneAt(t0, concFailure)
				return
			}
			stale[i-len(fresh)].DoneAt(t0, concFailure)
		})
		if s := b.SnapshotAt(t0); s.State != breaker.Closed || s.ConsecutiveFailures != threshold-1 || s.Opened != 1 || s.Generation != 2 {
			t.Fatalf("after Reset, %d stale and %d fresh failures: %+v; want closed with %d consecutive failures",
				len(stale), len(fresh), s, threshold-1)
		}
	})

	t.Run("probes-given-up-on", func(t *testing.T) {
		// Probes that never report are given up on after ProbeTimeout; when
		// they report later, racing the next round's probes, their
		// successes must not count towards closing the breaker, though
		// they held the same slots.
		const (
			probes       = 5
			probeTimeout = 10 * time.Second
		)
		b := breaker.MustNew(breaker.Config{
			FailureThreshold: 1,
			RecoveryTimeout:  recovery,
			HalfOpenProbes:   probes,
			ProbeTimeout:     probeTimeout,
		})
		t0 := time.Now()
		p, _ := b.AllowAt(t0)
		p.DoneAt(t0, concFailure)

		t1 := t0.Add(recovery)
		lost := make([]breaker.Permit, probes)
		for i := range lost {
			var err error
			if lost[i], err = b.AllowAt(t1); err != nil {
				t.Fatal(err)
			}
		}
		t2 := t1.Add(probeTimeout)
		if s := b.SnapshotAt(t2); s.State != breaker.Open || !s.OpenUntil.Equal(t2.Add(recovery)) || s.ProbesInFlight != 0 {
			t.Fatalf("probes silent for the probe timeout: %+v; want open again until %v", s, t2.Add(recovery))
		}

		t3 := t2.Add(recovery)
		next := make([]breaker.Permit, probes)
		for i := range next {
			var err error
			if next[i], err = b.AllowAt(t3); err != nil {
				t.Fatal(err)
			}
		}
		// The lost probes and all but one of the new ones succeed together.
		concRun(t, 2*probes-1, func(i int) {
			if i < probes {
				lost[i].DoneAt(t3, nil)
				return
			}
			next[i-probes].DoneAt(t3, nil)
		})
		if s := b.SnapshotAt(t3); s.State != breaker.HalfOpen || s.ProbesInFlight != 1 {
			t.Fatalf("after %d stale and %d fresh successes: %+v; want half-open with one probe in flight", probes, probes-1, s)
		}
		next[probes-1].DoneAt(t3, nil)
		if s := b.StateAt(t3); s != breaker.Closed {
			t.Fatalf("after all %d probes of the round succeeded: %v; want closed", probes, s)
		}
	})
}

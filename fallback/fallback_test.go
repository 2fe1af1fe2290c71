package fallback_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/fallback"
)

var (
	errTransient = resilience.Transient(errors.New("503"))
	errPermanent = resilience.Permanent(errors.New("400 bad request"))
	errAlt       = errors.New("provider B down")
)

// openErr returns a real rejection by an open breaker.
func openErr(t testing.TB) error {
	b := breaker.MustNew(breaker.Config{FailureThreshold: 1})
	breaker.Run(context.Background(), b, func(context.Context) error { return errTransient })
	err := breaker.Run(context.Background(), b, func(context.Context) error { return nil })
	if !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("breaker did not open: %v", err)
	}
	return err
}

func TestFallsBackOnConfiguredClassesOnly(t *testing.T) {
	errOpen := openErr(t)
	// context.Canceled from inside the call while the caller's ctx is live:
	// ignored by Classify, e.g. an inner policy's own cancellation.
	errInnerCancel := fmt.Errorf("inner: %w", context.Canceled)
	errs := []struct {
		name  string
		err   error
		class resilience.Class
	}{
		{"transient", errTransient, resilience.ClassTransient},
		{"permanent", errPermanent, resilience.ClassPermanent},
		{"breaker open", errOpen, resilience.ClassIgnored},
		{"inner cancel", errInnerCancel, resilience.ClassIgnored},
	}
	for _, on := range []struct {
		name    string
		classes []resilience.Class
	}{
		{"default", nil},
		{"transient", []resilience.Class{resilience.ClassTransient}},
		{"permanent", []resilience.Class{resilience.ClassPermanent}},
		{"ignored", []resilience.Class{resilience.ClassIgnored}},
		{"transient+permanent", []resilience.Class{resilience.ClassTransient, resilience.ClassPermanent}},
		{"none", []resilience.Class{}},
	} {
		f := fallback.MustNew(fallback.Config{On: on.classes})
		for _, e := range errs {
			t.Run(on.name+"/"+e.name, func(t *testing.T) {
				want := on.classes == nil
				for _, c := range on.classes {
					want = want || c == e.class
				}
				fn := func(context.Context) (string, error) { return "A", e.err }
				alts := 0
				alt := func(_ context.Context, err error) (string, error) {
					alts++
					if err != e.err {
						t.Errorf("alt got %v, want the call's error %v", err, e.err)
					}
					return "B", nil
				}
				ctx := context.Background()
				v, err := fallback.Do(ctx, f, fn, alt)
				if want {
					if v != "B" || err != nil || alts != 1 {
						t.Errorf("Do = %q, %v after %d alternatives; want B, nil after 1", v, err, alts)
					}
				} else if v != "A" || err != e.err || alts != 0 {
					t.Errorf("Do = %q, %v after %d alternatives; want A, %v after 0", v, err, alts, e.err)
				}
				if got := f.Handles(e.err); got != want {
					t.Errorf("Handles = %v, want %v", got, want)
				}
				v, err = fallback.Value(ctx, f, fn, "V")
				if want && (v != "V" || err != nil) || !want && (v != "A" || err != e.err) {
					t.Errorf("Value = %q, %v (fall back: %v)", v, err, want)
				}
				runAlts := 0
				err = fallback.Run(ctx, f, func(context.Context) error { return e.err },
					func(context.Context, error) error { runAlts++; return nil })
				if want && (err != nil || runAlts != 1) || !want && (err != e.err || runAlts != 0) {
					t.Errorf("Run = %v after %d alternatives (fall back: %v)", err, runAlts, want)
				}
			})
		}
	}
}

func TestSuccessNeverFallsBack(t *testing.T) {
	f := fallback.MustNew(fallback.Config{Observer: &resilience.Observer{Fallback: func(resilience.Event) { t.Error("observer called on success") }}})
	v, err := fallback.Do(context.Background(), f,
		func(context.Context) (int, error) { return 1, nil },
		func(context.Context, error) (int, error) { t.Error("alternative called"); return 2, nil })
	if v != 1 || err != nil {
		t.Fatalf("Do = %d, %v; want 1, nil", v, err)
	}
	if f.Handles(nil) {
		t.Error("Handles(nil) = true")
	}
}

func TestCallerCancellationNeverFallsBack(t *testing.T) {
	f := fallback.MustNew(fallback.Config{Observer: &resilience.Observer{Fallback: func(resilience.Event) { t.Error("observer called") }}})
	for _, cause := range []error{nil, errors.New("shutting down")} {
		ctx, cancel := context.WithCancelCause(context.Background())
		// The call sees the cancellation and returns its cause, which
		// Classify cannot tell from any other (permanent) error.
		fn := func(ctx context.Context) (int, error) { cancel(cause); return 0, context.Cause(ctx) }
		alt := func(context.Context, error) (int, error) { t.Error("alternative called"); return 1, nil }
		if _, err := fallback.Do(ctx, f, fn, alt); err == nil {
			t.Error("Do: nil error")
		}
		if _, err := fallback.Value(ctx, f, fn, 1); err == nil {
			t.Error("Value: nil error")
		}
		err := fallback.Run(ctx, f, func(ctx context.Context) error { _, err := fn(ctx); return err },
			func(context.Context, error) error { t.Error("alternative called"); return nil })
		if err == nil {
			t.Error("Run: nil error")
		}
	}
}

func TestCallerDeadlineFallsBack(t *testing.T) {
	// A caller's expired deadline is not a cancellation: a fixed value or a
	// cache is still worth returning.
	synctest.Test(t, func(t *testing.T) {
		f := fallback.MustNew(fallback.Config{})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		v, err := fallback.Value(ctx, f, func(ctx context.Context) (string, error) { <-ctx.Done(); return "", ctx.Err() }, "cached")
		if v != "cached" || err != nil {
			t.Fatalf("Value = %q, %v; want cached, nil", v, err)
		}
		// A call that would begin after the deadline does not: the
		// caller's context is over, and so is its call.
		v, err = fallback.Value(ctx, f, func(ctx context.Context) (string, error) { return "fresh", nil }, "cached")
		if v != "" || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Value after the deadline = %q, %v; want no value and the deadline's error", v, err)
		}
	})
}

func TestAlternativeErrorJoinsBoth(t *testing.T) {
	errOpen := openErr(t)
	f := fallback.MustNew(fallback.Config{Name: "llm"})
	v, err := fallback.Do(context.Background(), f,
		func(context.Context) (string, error) { return "", errOpen },
		func(context.Context, error) (string, error) { return "partial", errAlt })
	if v != "partial" {
		t.Errorf("value = %q, want the alternative's", v)
	}
	for _, target := range []error{breaker.ErrOpen, errAlt, fallback.ErrFailed} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false", err, target)
		}
	}
	var fe *fallback.Error
	if !errors.As(err, &fe) || fe.Name != "llm" || fe.Err != errOpen || fe.Alternative != errAlt {
		t.Fatalf("errors.As *Error = %+v", fe)
	}
	var oe *breaker.Error
	if !errors.As(err, &oe) {
		t.Error("errors.As does not find the breaker's *breaker.Error")
	}
	want := `fallback "llm": alternative failed: provider B down; after: breaker is open`
	if err.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", err.Error(), want)
	}
	if got := (&fallback.Error{}).Error(); got != "fallback: alternative failed: <nil>; after: <nil>" {
		t.Errorf("zero Error() = %q", got)
	}
	err = fallback.Run(context.Background(), f, func(context.Context) error { return errTransient },
		func(context.Context, error) error { return errAlt })
	if !errors.Is(err, errTransient) || !errors.Is(err, errAlt) || !errors.Is(err, fallback.ErrFailed) {
		t.Errorf("Run error %v does not hold both failures", err)
	}
	// The joined error is classified by the alternative's failure first.
	if c := resilience.Classify(&fallback.Error{Err: errPermanent, Alternative: errTransient}); c != resilience.ClassTransient {
		t.Errorf("Classify(joined) = %v, want transient (the alternative's)", c)
	}
}

func TestObserver(t *testing.T) {
	var events []resilience.Event
	f := fallback.MustNew(fallback.Config{
		Name:     "h",
		On:       []resilience.Class{resilience.ClassTransient},
		Observer: &resilience.Observer{Fallback: func(e resilience.Event) { events = append(events, e) }},
	})
	ctx := context.Background()
	fallback.Value(ctx, f, func(context.Context) (int, error) { return 0, errPermanent }, 1)
	fallback.Value(ctx, f, func(context.Context) (int, error) { return 0, errTransient }, 1)
	if len(events) != 1 {
		t.Fatalf("events = %+v; want one transient event", events)
	}
	if e := events[0]; e.Type != resilience.EventFallback || e.Kind != resilience.KindFallback || e.Policy != "h" ||
		e.Err != errTransient || e.Reason != resilience.ClassTransient.String() || e.Context != ctx || e.Time.IsZero() {
		t.Fatalf("event = %+v; want a transient fallback of h", e)
	}
}

func TestPanickingObserverLeavesTheFallbackWorking(t *testing.T) {
	f := fallback.MustNew(fallback.Config{Observer: resilience.ObserveAll(func(resilience.Event) { panic("observer") })})
	if v, err := fallback.Value(context.Background(), f, fail, 2); v != 2 || err != nil {
		t.Fatalf("Value = %v, %v; want the fallback value 2", v, err)
	}
}

func TestCustomClassifier(t *testing.T) {
	errQuota := errors.New("quota")
	f := fallback.MustNew(fallback.Config{
		On: []resilience.Class{resilience.ClassTransient},
		Classifier: func(err error) resilience.Class {
			if errors.Is(err, errQuota) {
				return resilience.ClassTransient
			}
			return resilience.Classify(err)
		},
	})
	if !f.Handles(errQuota) || f.Handles(errPermanent) {
		t.Fatal("classifier not used")
	}
}

func TestPanicsPropagate(t *testing.T) {
	f := fallback.MustNew(fallback.Config{})
	ctx := context.Background()
	catch := func(fn func()) (r any) {
		defer func() { r = recover() }()
		fn()
		return nil
	}
	if r := catch(func() {
		fallback.Do(ctx, f, func(context.Context) (int, error) { panic("in call") },
			func(context.Context, error) (int, error) { t.Error("alternative ran after a panic"); return 0, nil })
	}); r != "in call" {
		t.Errorf("recovered %v, want the call's panic", r)
	}
	if r := catch(func() {
		fallback.Run(ctx, f, func(context.Context) error { return errTransient },
			func(context.Context, error) error { panic("in alternative") })
	}); r != "in alternative" {
		t.Errorf("recovered %v, want the alternative's panic", r)
	}
	g := fallback.MustNew(fallback.Config{Alternative: func(context.Context, error) error { panic("in Alternative") }})
	if r := catch(func() {
		g.Execute(ctx, resilience.OperationFunc(func(context.Context) error { return errTransient }))
	}); r != "in Alternative" {
		t.Errorf("recovered %v, want Config.Alternative's panic", r)
	}
}

func TestNilArguments(t *testing.T) {
	f := fallback.MustNew(fallback.Config{})
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	alt := func(context.Context, error) (int, error) { return 2, nil }
	efn := func(context.Context) error { return nil }
	ealt := func(context.Context, error) error { return nil }
	var nilF *fallback.Fallback
	//lint:ignore SA1012 testing a nil context on purpose
	var nilCtx context.Context
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"Do nil ctx", second(fallback.Do(nilCtx, f, fn, alt)), resilience.ErrNilContext},
		{"Do nil fn", second(fallback.Do(ctx, f, nil, alt)), resilience.ErrNilFunc},
		{"Do nil alt", second(fallback.Do(ctx, f, fn, nil)), resilience.ErrNilFunc},
		{"Value nil ctx", second(fallback.Value(nilCtx, f, fn, 3)), resilience.ErrNilContext},
		{"Value nil fn", second(fallback.Value[int](ctx, f, nil, 3)), resilience.ErrNilFunc},
		{"Run nil ctx", fallback.Run(nilCtx, f, efn, ealt), resilience.ErrNilContext},
		{"Run nil fn", fallback.Run(ctx, f, nil, ealt), resilience.ErrNilFunc},
		{"Run nil alt", fallback.Run(ctx, f, efn, nil), resilience.ErrNilFunc},
		{"Execute nil op", fallback.MustNew(fallback.Config{Alternative: ealt}).Execute(ctx, nil), resilience.ErrNilFunc},
		{"Execute nil ctx", fallback.MustNew(fallback.Config{Alternative: ealt}).Execute(nilCtx, resilience.OperationFunc(efn)), resilience.ErrNilContext},
		{"Execute no Alternative", f.Execute(ctx, resilience.OperationFunc(efn)), fallback.ErrNoAlternative},
	} {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, c.err, c.want)
		}
	}
	// A nil *Fallback returns an error from every call, and never panics.
	for name, err := range map[string]error{
		"Do":      second(fallback.Do(ctx, nilF, fn, alt)),
		"Value":   second(fallback.Value(ctx, nilF, fn, 3)),
		"Run":     fallback.Run(ctx, nilF, efn, ealt),
		"Execute": nilF.Execute(ctx, resilience.OperationFunc(efn)),
	} {
		if err == nil {
			t.Errorf("%s on a nil *Fallback: nil error", name)
		}
	}
	if nilF.Handles(errTransient) || nilF.Name() != "" {
		t.Error("nil *Fallback: Handles or Name")
	}
	// Without an Alternative, Execute does not run the operation.
	ran := false
	f.Execute(ctx, resilience.OperationFunc(func(context.Context) error { ran = true; return nil }))
	if ran {
		t.Error("Execute without Alternative ran the operation")
	}
}

func second[T any](_ T, err error) error { return err }

func TestNewInvalidConfig(t *testing.T) {
	for _, c := range []struct {
		cfg  fallback.Config
		want string
	}{
		{fallback.Config{On: []resilience.Class{resilience.ClassTransient, resilience.ClassSuccess}},
			"fallback: On[1] is ClassSuccess: a success never falls back"},
		{fallback.Config{On: []resilience.Class{resilience.Class(9)}},
			"fallback: On[0] is an unknown class: Class(9)"},
	} {
		f, err := fallback.New(c.cfg)
		if f != nil || err == nil || err.Error() != c.want {
			t.Errorf("New(%+v) = %v, %v; want error %q", c.cfg, f, err, c.want)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Error("MustNew did not panic")
				}
			}()
			fallback.MustNew(c.cfg)
		}()
	}
	if f, err := fallback.New(fallback.Config{Name: "n"}); err != nil || f.Name() != "n" {
		t.Errorf("New(valid) = %v, %v", f, err)
	}
}

func TestExecuteAsPolicy(t *testing.T) {
	ctx := context.Background()
	b := breaker.MustNew(breaker.Config{FailureThreshold: 2})
	var secondary atomic.Int32
	var sawOpen atomic.Int32
	f := fallback.MustNew(fallback.Config{
		Alternative: func(_ context.Context, err error) error {
			if errors.Is(err, breaker.ErrOpen) {
				sawOpen.Add(1)
			}
			secondary.Add(1)
			return nil
		},
	})
	p := resilience.Compose(f, b) // fallback outside, breaker inside
	primary := 0
	for range 5 {
		err := resilience.Run(ctx, p, func(context.Context) error { primary++; return errTransient })
		if err != nil {
			t.Fatalf("Run through Compose(fallback, breaker) = %v", err)
		}
	}
	if primary != 2 || secondary.Load() != 5 || sawOpen.Load() != 3 {
		t.Fatalf("primary %d, secondary %d, saw open %d; want 2, 5, 3", primary, secondary.Load(), sawOpen.Load())
	}
	// Through resilience.Do the alternative's success has the zero value.
	v, err := resilience.Do(ctx, p, func(context.Context) (int, error) { return 7, errTransient })
	if v != 0 || err != nil {
		t.Errorf("Do through the policy = %d, %v; want 0, nil", v, err)
	}
	// The alternative's failure is joined with the original.
	g := fallback.MustNew(fallback.Config{Alternative: func(context.Context, error) error { return errAlt }})
	err = resilience.Run(ctx, resilience.Compose(breaker.MustNew(breaker.Config{}), g),
		func(context.Context) error { return errTransient })
	if !errors.Is(err, errAlt) || !errors.Is(err, errTransient) || !errors.Is(err, fallback.ErrFailed) {
		t.Errorf("Compose(breaker, fallback) = %v; want both failures", err)
	}
	err = g.Execute(ctx, resilience.OperationFunc(func(context.Context) error { return errTransient }))
	if !errors.Is(err, errAlt) || !errors.Is(err, errTransient) {
		t.Errorf("Execute = %v; want both failures", err)
	}
	// A failure outside On is returned as it is.
	h := fallback.MustNew(fallback.Config{On: []resilience.Class{resilience.ClassIgnored},
		Alternative: func(context.Context, error) error { t.Error("alternative ran"); return nil }})
	if err := h.Execute(ctx, resilience.OperationFunc(func(context.Context) error { return errTransient })); err != errTransient {
		t.Errorf("Execute = %v, want the call's error", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	var hooks atomic.Int64
	f := fallback.MustNew(fallback.Config{Observer: &resilience.Observer{Fallback: func(resilience.Event) { hooks.Add(1) }}})
	const goroutines, calls = 16, 200
	var wg sync.WaitGroup
	var fellBack atomic.Int64
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				fail := (g+i)%3 == 0
				v, err := fallback.Do(context.Background(), f,
					func(context.Context) (int, error) {
						if fail {
							return 0, errTransient
						}
						return 1, nil
					},
					func(context.Context, error) (int, error) { fellBack.Add(1); return 2, nil })
				if err != nil || (fail && v != 2) || (!fail && v != 1) {
					t.Errorf("Do = %d, %v (fail %v)", v, err, fail)
					return
				}
			}
		})
	}
	wg.Wait()
	want := int64(0)
	for g := range goroutines {
		for i := range calls {
			if (g+i)%3 == 0 {
				want++
			}
		}
	}
	if fellBack.Load() != want || hooks.Load() != want {
		t.Fatalf("fell back %d times, hook %d; want %d", fellBack.Load(), hooks.Load(), want)
	}
}

//go:noinline
func succeed(context.Context) (int, error) { return 1, nil }

//go:noinline
func fail(context.Context) (int, error) { return 0, errTransient }

//go:noinline
func alternative(context.Context, error) (int, error) { return 2, nil }

func TestNoAllocations(t *testing.T) {
	f := fallback.MustNew(fallback.Config{Observer: resilience.ObserveAll(func(resilience.Event) {})})
	ctx := context.Background()
	for name, call := range map[string]func(){
		"Do success":    func() { fallback.Do(ctx, f, succeed, alternative) },
		"Value success": func() { fallback.Value(ctx, f, succeed, 2) },
		"Run success": func() {
			fallback.Run(ctx, f, func(context.Context) error { return nil }, func(context.Context, error) error { return nil })
		},
		"Do fallback":    func() { fallback.Do(ctx, f, fail, alternative) },
		"Value fallback": func() { fallback.Value(ctx, f, fail, 2) },
	} {
		if n := testing.AllocsPerRun(1000, call); n != 0 {
			t.Errorf("%s: %v allocations, want 0", name, n)
		}
	}
}

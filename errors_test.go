package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/netresilience/resilience"
)

func TestMarksKeepNil(t *testing.T) {
	if err := resilience.Transient(nil); err != nil {
		t.Errorf("Transient(nil) = %#v, want nil", err)
	}
	if err := resilience.Permanent(nil); err != nil {
		t.Errorf("Permanent(nil) = %#v, want nil", err)
	}
	if err := resilience.WithRetryAfter(nil, time.Second); err != nil {
		t.Errorf("WithRetryAfter(nil, 1s) = %#v, want nil", err)
	}
}

func TestPermanentWraps(t *testing.T) {
	e := errors.New("400 Bad Request")
	err := fmt.Errorf("call: %w", resilience.Permanent(e))

	var pe *resilience.ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("errors.As(%v, *ProtocolError) = false, want true", err)
	}
	if pe.Err != e {
		t.Errorf("ProtocolError.Err = %v, want %v", pe.Err, e)
	}
	if pe.Unwrap() != e {
		t.Errorf("ProtocolError.Unwrap() = %v, want %v", pe.Unwrap(), e)
	}
	if !errors.Is(err, e) {
		t.Errorf("errors.Is(%v, e) = false, want true", err)
	}
	var ne *resilience.NetworkError
	if errors.As(err, &ne) {
		t.Errorf("errors.As(%v, *NetworkError) = true, want false", err)
	}
}

func TestTransientWraps(t *testing.T) {
	e := errors.New("503 Service Unavailable")
	err := fmt.Errorf("call: %w", resilience.Transient(e))

	var ne *resilience.NetworkError
	if !errors.As(err, &ne) {
		t.Fatalf("errors.As(%v, *NetworkError) = false, want true", err)
	}
	if ne.Err != e {
		t.Errorf("NetworkError.Err = %v, want %v", ne.Err, e)
	}
	if ne.Unwrap() != e {
		t.Errorf("NetworkError.Unwrap() = %v, want %v", ne.Unwrap(), e)
	}
	if !errors.Is(err, e) {
		t.Errorf("errors.Is(%v, e) = false, want true", err)
	}
	var pe *resilience.ProtocolError
	if errors.As(err, &pe) {
		t.Errorf("errors.As(%v, *ProtocolError) = true, want false", err)
	}
}

func TestErrorTexts(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"zero NetworkError", &resilience.NetworkError{}, "network error"},
		{"NetworkError", &resilience.NetworkError{Err: boom}, "network error: boom"},
		{"Transient", resilience.Transient(boom), "network error: boom"},
		{"zero ProtocolError", &resilience.ProtocolError{}, "protocol error"},
		{"ProtocolError", &resilience.ProtocolError{Err: boom}, "protocol error: boom"},
		{"Permanent", resilience.Permanent(boom), "protocol error: boom"},
		{"zero RetryAfterError", &resilience.RetryAfterError{}, "retry after 0s"},
		{"RetryAfterError no error", &resilience.RetryAfterError{After: time.Second}, "retry after 1s"},
		{"WithRetryAfter", resilience.WithRetryAfter(boom, 1500*time.Millisecond), "boom (retry after 1.5s)"},
		{"WithRetryAfter negative", resilience.WithRetryAfter(boom, -time.Second), "boom (retry after 0s)"},
		{"nested", resilience.Transient(resilience.WithRetryAfter(boom, 2*time.Second)), "network error: boom (retry after 2s)"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%s: Error() = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestWithRetryAfter(t *testing.T) {
	e := errors.New("429 Too Many Requests")
	err := resilience.WithRetryAfter(e, 3*time.Second)

	var ra *resilience.RetryAfterError
	if !errors.As(err, &ra) {
		t.Fatalf("errors.As(%v, *RetryAfterError) = false, want true", err)
	}
	if ra.Err != e || ra.After != 3*time.Second {
		t.Errorf("WithRetryAfter(e, 3s) = %+v, want {Err: e, After: 3s}", *ra)
	}
	if ra.Unwrap() != e || ra.RetryAfter() != 3*time.Second {
		t.Errorf("Unwrap, RetryAfter = %v, %v; want e, 3s", ra.Unwrap(), ra.RetryAfter())
	}
	if !errors.Is(err, e) {
		t.Errorf("errors.Is(%v, e) = false, want true", err)
	}

	neg := resilience.WithRetryAfter(e, -time.Minute)
	if !errors.As(neg, &ra) || ra.After != 0 {
		t.Errorf("WithRetryAfter(e, -1m) = %#v, want After 0", neg)
	}
}

// hintError carries a server hint without importing resilience.
type hintError struct{ d time.Duration }

func (h hintError) Error() string             { return fmt.Sprintf("slow down for %v", h.d) }
func (h hintError) RetryAfter() time.Duration { return h.d }

func TestRetryAfter(t *testing.T) {
	e := errors.New("x")
	for _, tc := range []struct {
		name   string
		err    error
		want   time.Duration
		wantOK bool
	}{
		{"nil", nil, 0, false},
		{"none", e, 0, false},
		{"none wrapped", fmt.Errorf("a: %w", resilience.Transient(e)), 0, false},
		{"none joined", errors.Join(e, context.Canceled), 0, false},
		{"direct", resilience.WithRetryAfter(e, time.Second), time.Second, true},
		{"zero", resilience.WithRetryAfter(e, 0), 0, true},
		{"negative", resilience.WithRetryAfter(e, -time.Second), 0, true},
		{"through %w", fmt.Errorf("b: %w", fmt.Errorf("a: %w", resilience.WithRetryAfter(e, 2*time.Second))), 2 * time.Second, true},
		{"inside a mark", resilience.Transient(resilience.WithRetryAfter(e, 2*time.Second)), 2 * time.Second, true},
		{"through Join", errors.Join(e, resilience.WithRetryAfter(e, 3*time.Second)), 3 * time.Second, true},
		{"through Join under %w", fmt.Errorf("a: %w", errors.Join(e, fmt.Errorf("b: %w", resilience.WithRetryAfter(e, 4*time.Second)))), 4 * time.Second, true},
		{"first of two wrapped", resilience.WithRetryAfter(resilience.WithRetryAfter(e, time.Second), time.Minute), time.Minute, true},
		{"first of two joined", errors.Join(resilience.WithRetryAfter(e, time.Second), resilience.WithRetryAfter(e, time.Minute)), time.Second, true},
		{"Join depth first", errors.Join(errors.Join(e, hintError{5 * time.Second}), hintError{time.Minute}), 5 * time.Second, true},
		{"own type", hintError{7 * time.Second}, 7 * time.Second, true},
		{"own type wrapped", fmt.Errorf("call: %w", hintError{7 * time.Second}), 7 * time.Second, true},
		{"own type joined", errors.Join(e, hintError{8 * time.Second}), 8 * time.Second, true},
		{"own type negative", hintError{-time.Second}, 0, true},
		{"zero RetryAfterError", &resilience.RetryAfterError{}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := resilience.RetryAfter(tc.err)
			if d != tc.want || ok != tc.wantOK {
				t.Errorf("RetryAfter(%v) = %v, %v; want %v, %v", tc.err, d, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestWithRetryAfterKeepsClass(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want resilience.Class
	}{
		{"plain", resilience.WithRetryAfter(errors.New("x"), time.Second), resilience.ClassPermanent},
		{"Transient inside", resilience.WithRetryAfter(resilience.Transient(errors.New("x")), time.Second), resilience.ClassTransient},
		{"Transient outside", resilience.Transient(resilience.WithRetryAfter(errors.New("x"), time.Second)), resilience.ClassTransient},
		{"Permanent inside", resilience.WithRetryAfter(resilience.Permanent(context.DeadlineExceeded), time.Second), resilience.ClassPermanent},
		{"canceled inside", resilience.WithRetryAfter(context.Canceled, time.Second), resilience.ClassIgnored},
		{"deadline inside", resilience.WithRetryAfter(context.DeadlineExceeded, time.Second), resilience.ClassTransient},
		{"own hint type", hintError{time.Second}, resilience.ClassPermanent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resilience.Classify(tc.err); got != tc.want {
				t.Errorf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// countdown is a hint that counts down to a moment, as a breaker's
// rejection does.
type countdown struct{ until time.Time }

func (c countdown) Error() string                            { return "rejected" }
func (c countdown) RetryAfter() time.Duration                { return time.Until(c.until) }
func (c countdown) RetryAfterAt(now time.Time) time.Duration { return c.until.Sub(now) }

func TestRetryAfterAt(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	down := countdown{until: t0.Add(5 * time.Second)}
	for _, c := range []struct {
		name string
		err  error
		now  time.Time
		want time.Duration
		ok   bool
	}{
		{"countdown", down, t0, 5 * time.Second, true},
		{"wrapped countdown", fmt.Errorf("call: %w", down), t0.Add(2 * time.Second), 3 * time.Second, true},
		{"countdown passed", down, t0.Add(time.Minute), 0, true},
		{"a fixed hint reads the same at any time", resilience.WithRetryAfter(errors.New("x"), time.Second), t0, time.Second, true},
		{"the outer hint first", resilience.WithRetryAfter(down, time.Second), t0, time.Second, true},
		{"no hint", errors.New("x"), t0, 0, false},
		{"nil", nil, t0, 0, false},
	} {
		if got, ok := resilience.RetryAfterAt(c.err, c.now); got != c.want || ok != c.ok {
			t.Errorf("%s: RetryAfterAt = %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestPushback(t *testing.T) {
	base := errors.New("unavailable")
	if resilience.WithPushback(nil, time.Second) != nil {
		t.Fatal("WithPushback(nil) must stay nil")
	}
	for _, tc := range []struct {
		err  error
		want time.Duration
		ok   bool
		text string
	}{
		{base, 0, false, "unavailable"},
		{resilience.WithPushback(base, 50*time.Millisecond), 50 * time.Millisecond, true, "unavailable (pushback: retry after 50ms)"},
		{resilience.WithPushback(base, -1), -1, true, "unavailable (pushback: do not retry)"},
		{fmt.Errorf("call: %w", resilience.WithPushback(base, 0)), 0, true, "call: unavailable (pushback: retry after 0s)"},
		{errors.Join(base, resilience.WithPushback(base, -1), resilience.WithPushback(base, time.Second)), -1, true, ""},
		{&resilience.PushbackError{After: time.Second}, time.Second, true, "pushback: retry after 1s"},
	} {
		d, ok := resilience.Pushback(tc.err)
		if d != tc.want || ok != tc.ok {
			t.Errorf("Pushback(%v) = %v %v, want %v %v", tc.err, d, ok, tc.want, tc.ok)
		}
		if tc.text != "" && tc.err.Error() != tc.text {
			t.Errorf("Error() = %q, want %q", tc.err.Error(), tc.text)
		}
		if _, ok := resilience.RetryAfter(tc.err); ok {
			t.Errorf("RetryAfter(%v) found a hint: a pushback is not a Retry-After floor", tc.err)
		}
	}
	if !errors.Is(resilience.WithPushback(base, 1), base) {
		t.Fatal("a PushbackError must unwrap to its error")
	}
	if got := resilience.Classify(resilience.WithPushback(resilience.Transient(base), -1)); got != resilience.ClassTransient {
		t.Fatalf("class of a refused transient error = %v, want transient", got)
	}
}

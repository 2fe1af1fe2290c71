package resilience_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/netresilience/resilience"
)

// rawHint is an error whose RetryAfter method reports any duration, even a
// negative one, as a server hint parsed by someone else might.
type rawHint time.Duration

func (h rawHint) Error() string             { return "raw hint" }
func (h rawHint) RetryAfter() time.Duration { return time.Duration(h) }

// FuzzRetryAfter checks the server hints of the root package for hints of
// any length or sign, in chains of any shape:
//
//   - WithRetryAfter(nil, d) is nil; otherwise RetryAfter finds its hint,
//     a negative one as zero, and the error keeps its class and unwraps to
//     what it wraps;
//   - of several hints in a chain, RetryAfter reports the first in the order
//     errors.As searches (the outermost; in a join, the first branch that
//     has one);
//   - the error WithRetryAfter makes reports its own hint through its
//     RetryAfter method as the hint given, or zero for a negative one;
//   - RetryAfterAt finds the same hint at any time, none of these hints
//     counting down;
//   - a chain without a hint reports none.
//
// shape picks how the chain is built: bits 0-1, how the inner error is
// marked (not, transient, permanent, with a raw hint d2); bit 2, a second
// WithRetryAfter of d2 inside the first; bit 3, wrapped by fmt.Errorf; bit
// 4, joined after an error without a hint; bit 5, no WithRetryAfter at all.
func FuzzRetryAfter(f *testing.F) {
	f.Add(int64(time.Second), int64(0), uint8(0))
	f.Add(int64(-1), int64(0), uint8(1))
	f.Add(int64(0), int64(5), uint8(2|4))
	f.Add(int64(-1<<63), int64(1<<63-1), uint8(3|4|8|16))
	f.Add(int64(1<<63-1), int64(-1<<63), uint8(3|32))
	f.Add(int64(7), int64(-7), uint8(3|8|16|32))
	f.Add(int64(7), int64(9), uint8(32))

	boom := errors.New("boom")
	f.Fuzz(func(t *testing.T, d1, d2 int64, shape uint8) {
		if resilience.WithRetryAfter(nil, time.Duration(d1)) != nil {
			t.Fatal("WithRetryAfter(nil, ...) is not nil")
		}
		var inner error = boom
		var want time.Duration
		found := false
		switch shape & 3 {
		case 1:
			inner = resilience.Transient(boom)
		case 2:
			inner = resilience.Permanent(boom)
		case 3:
			inner = rawHint(d2)
			want, found = max(time.Duration(d2), 0), true
		}
		class := resilience.Classify(inner)
		err := inner
		if shape&4 != 0 {
			err = resilience.WithRetryAfter(err, time.Duration(d2))
			want, found = max(time.Duration(d2), 0), true
			checkOwnHint(t, err, want)
		}
		if shape&32 == 0 {
			err = resilience.WithRetryAfter(err, time.Duration(d1))
			want, found = max(time.Duration(d1), 0), true
			checkOwnHint(t, err, want)
			if !errors.Is(err, inner) {
				t.Fatalf("%v does not unwrap to %v", err, inner)
			}
		}
		if shape&8 != 0 {
			err = fmt.Errorf("call: %w", err)
		}
		if shape&16 != 0 {
			err = errors.Join(errors.New("first, without a hint"), err)
		}
		got, ok := resilience.RetryAfter(err)
		if got != want || ok != found {
			t.Fatalf("RetryAfter(%v) = %v, %v; want %v, %v", err, got, ok, want, found)
		}
		if gotAt, okAt := resilience.RetryAfterAt(err, time.Unix(int64(d1), int64(d2))); gotAt != got || okAt != ok {
			t.Fatalf("RetryAfterAt(%v) = %v, %v; RetryAfter says %v, %v", err, gotAt, okAt, got, ok)
		}
		if shape&16 == 0 && resilience.Classify(err) != class {
			t.Fatalf("Classify(%v) = %v, but the error it wraps is %v", err, resilience.Classify(err), class)
		}
		_ = err.Error()
	})
}

// checkOwnHint checks that err, made by WithRetryAfter, reports the hint want
// through its own RetryAfter method.
func checkOwnHint(t *testing.T, err error, want time.Duration) {
	t.Helper()
	h, ok := err.(interface{ RetryAfter() time.Duration })
	if !ok || h.RetryAfter() != want {
		t.Fatalf("WithRetryAfter made %#v, whose RetryAfter method does not report %v", err, want)
	}
}

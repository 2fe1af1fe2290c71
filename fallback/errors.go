package fallback

import (
	"errors"
	"strconv"

	"github.com/netresilience/resilience/internal/nilpolicy"
)

// ErrFailed matches, through errors.Is, every error of a call whose
// alternative failed too:
//
//	if errors.Is(err, fallback.ErrFailed) { ... }
//
// The error itself is an *[Error], which holds both failures.
var ErrFailed = errors.New("fallback: the call and its alternative failed")

// ErrNoAlternative is returned by [Fallback.Execute] when Config.Alternative
// is nil: a Policy has no other way to learn what to fall back to. The
// operation does not run.
var ErrNoAlternative = errors.New("fallback: no Alternative in Config")

// errNilFallback is the error of a call through a nil pointer.
const errNilFallback = nilpolicy.Error("fallback: nil *Fallback")

// Error is the failure of a call whose alternative failed too. It matches
// [ErrFailed], and its Unwrap method returns both errors, the alternative's
// first — so resilience.Classify and a retry policy around the fallback see
// the alternative's failure first — and errors.Is and errors.As find either:
//
//	errors.Is(err, breaker.ErrOpen)  // the original call's rejection
//	errors.Is(err, context.DeadlineExceeded) // the alternative's timeout
//
// It is made only when the alternative fails, never on a call that succeeds
// at first or through its alternative. The zero value is an error with no
// causes; an Error is safe for concurrent use once made, and callers must not
// modify one they receive.
type Error struct {
	Name        string // the fallback's name
	Err         error  // the original call's failure
	Alternative error  // the alternative's failure
}

// Error returns a message such as
// `fallback "llm": alternative failed: <alternative's error>; after: <call's error>`.
func (e *Error) Error() string {
	s := "fallback"
	if e.Name != "" {
		s += " " + strconv.Quote(e.Name)
	}
	return s + ": alternative failed: " + msg(e.Alternative) + "; after: " + msg(e.Err)
}

func msg(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// Unwrap returns the alternative's error and the original call's error.
func (e *Error) Unwrap() []error { return []error{e.Alternative, e.Err} }

// Is reports whether target is [ErrFailed].
func (e *Error) Is(target error) bool { return target == ErrFailed }

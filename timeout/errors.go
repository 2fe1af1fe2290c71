package timeout

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/netresilience/resilience/internal/nilpolicy"
)

// ErrTimeout matches, through errors.Is, every error with which an attempt
// timed out:
//
//	if errors.Is(err, timeout.ErrTimeout) { ... }
//
// The error itself is an *[Error], which says more. An attempt that ended
// because the caller's own context ended is not a timeout: its error does not
// match ErrTimeout.
var ErrTimeout = errors.New("timeout: attempt timed out")

// errNilTimeout is the error of a call through a nil pointer.
const errNilTimeout = nilpolicy.Error("timeout: nil *Timeout")

// Error is an attempt that timed out: its deadline passed while the caller's
// context was still alive, and the function either returned an error after
// the deadline or was left running (Abandoned). It matches [ErrTimeout]; its
// Timeout method reports true, which is what makes resilience.Classify call it
// transient, so a retry policy outside the timeout tries again; and it
// unwraps to what the function returned, or to context.DeadlineExceeded when
// the function has not returned.
//
// The context an attempt runs with ends with a cause that is an *Error too
// (context.Cause returns it), so a function that hands back its context's
// cause returns this very error. That error, and the one returned when a call
// is left running, are made once by [New] and shared: callers must not modify
// an Error. Only a timeout makes Errors; a zero Error is meaningless but
// harmless.
type Error struct {
	Name  string        // the timeout's name
	Limit time.Duration // the attempt timeout that passed
	// Abandoned is true when the call was left running in the background:
	// the timeout returned at the deadline, without the function's result.
	Abandoned bool
	// Err is what the function returned, or context.DeadlineExceeded if it
	// has not returned.
	Err error
}

// Error returns a message such as
// `timeout "llm-api": attempt timed out after 2s: connection reset`.
func (e *Error) Error() string {
	s := "timeout"
	if e.Name != "" {
		s += " " + strconv.Quote(e.Name)
	}
	s += ": attempt timed out after " + e.Limit.String()
	if e.Abandoned {
		s += " and was left running"
	}
	if e.Err != nil && e.Err != context.DeadlineExceeded {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is [ErrTimeout].
func (e *Error) Is(target error) bool { return target == ErrTimeout }

// Unwrap returns what the function returned, or context.DeadlineExceeded.
func (e *Error) Unwrap() error { return e.Err }

// Timeout reports true: the attempt timed out. It is the behaviour by which
// resilience.Classify, and anything else that asks errors for it (as
// net.Error does), tells a timeout.
func (e *Error) Timeout() bool { return true }

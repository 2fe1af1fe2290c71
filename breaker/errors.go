package breaker

import (
	"errors"
	"strconv"
	"time"

	"github.com/netresilience/resilience/internal/nilpolicy"
)

// ErrOpen matches every rejection by a breaker, through errors.Is:
//
//	if errors.Is(err, breaker.ErrOpen) { ... }
//
// The rejection itself is an *[Error], which says more.
var ErrOpen = errors.New("breaker: open")

// errNilBreaker is the error of a call through a nil pointer.
const errNilBreaker = nilpolicy.Error("breaker: nil *Breaker")

// Error is a breaker's rejection of a call: the breaker is open, or
// half-open with every probe slot taken. It matches [ErrOpen], and its
// RetryAfter method gives the time until a probe is allowed — the hint a
// server can pass on as a Retry-After header. A retry policy does not retry
// it by default: it is a local rejection, which the default classifier calls
// ignored (neither retried nor counted by another policy), since a breaker
// exists to fail fast.
//
// Rejections allocate nothing: a breaker hands out one Error per
// opening, so callers must not modify it.
type Error struct {
	Name  string // the breaker's name
	State State  // Open, or HalfOpen when every probe slot is taken
	// Until is when the open breaker will allow a probe, on the breaker's
	// clock; zero when half-open or forced open.
	Until time.Time
}

// Error returns a message such as `breaker "llm-api" is open`.
func (e *Error) Error() string {
	s := "breaker"
	if e.Name != "" {
		s += " " + strconv.Quote(e.Name)
	}
	if e.State == HalfOpen {
		return s + " is half-open and its probes are taken"
	}
	return s + " is open"
}

// LocalRejection reports true: the call was refused here, before it reached
// the service, so resilience.Classify calls it ignored — a retry policy does
// not retry it, and a policy outside this one does not count it.
func (e *Error) LocalRejection() bool { return true }

// Is reports whether target is [ErrOpen].
func (e *Error) Is(target error) bool { return target == ErrOpen }

// RetryAfter returns the time from now until Until, or zero if that has
// passed or is unknown.
func (e *Error) RetryAfter() time.Duration {
	return e.RetryAfterAt(time.Now())
}

// RetryAfterAt is [Error.RetryAfter] at the time now, for virtual time: the
// time from now until Until, or zero if that has passed or is unknown.
func (e *Error) RetryAfterAt(now time.Time) time.Duration {
	if e.Until.IsZero() {
		return 0
	}
	return max(e.Until.Sub(now), 0)
}

package adaptive

import (
	"errors"
	"strconv"

	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/internal/nilpolicy"
)

// ErrLimited matches every rejection by a limiter, through errors.Is:
//
//	if errors.Is(err, adaptive.ErrLimited) { ... }
//
// A rejection matches [bulkhead.ErrFull] too, so code that sheds on a full
// bulkhead (an HTTP server's 503, a gRPC server's RESOURCE_EXHAUSTED) sheds
// on a reached limit alike. The rejection itself is an *[Error].
var ErrLimited = errors.New("adaptive: limit reached")

// errNilLimiter is the error of a call through a nil pointer.
const errNilLimiter = nilpolicy.Error("adaptive: nil *Limiter")

// Reason is why a limiter rejected a call. The zero Reason is [NoWait].
type Reason uint8

const (
	// NoWait: the limit (or the call's priority's share of it) was
	// reached and the call could not wait, because MaxWait is zero or it
	// came through TryAcquire.
	NoWait Reason = iota
	// QueueFull: the limit was reached and MaxQueue callers were already
	// waiting.
	QueueFull
	// WaitTimeout: the call waited MaxWait and no room came.
	WaitTimeout

	numReasons = 3
)

// String returns "no wait allowed", "queue full" or "wait timed out".
func (r Reason) String() string {
	switch r {
	case NoWait:
		return "no wait allowed"
	case QueueFull:
		return "queue full"
	case WaitTimeout:
		return "wait timed out"
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// Error is a limiter's rejection of a call. It matches [ErrLimited] and
// [bulkhead.ErrFull]. The limit moves, so the Error does not repeat it:
// [Limiter.Snapshot] has it. A limiter makes one Error per Reason and
// Priority when it is made and returns it for every such rejection, so a
// rejection allocates nothing, and callers must not modify it.
type Error struct {
	Name     string   // the limiter's name
	Reason   Reason   // why the call was rejected
	Priority Priority // the call's priority; zero when the limiter has no Priorities
}

// Error returns a message such as
// `adaptive limit "api" reached: no wait allowed (priority low)`.
func (e *Error) Error() string {
	s := "adaptive limit"
	if e.Name != "" {
		s += " " + strconv.Quote(e.Name)
	}
	s += " reached: " + e.Reason.String()
	if e.Priority != 0 {
		s += " (priority " + e.Priority.String() + ")"
	}
	return s
}

// Is reports whether target is [ErrLimited] or [bulkhead.ErrFull].
func (e *Error) Is(target error) bool { return target == ErrLimited || target == bulkhead.ErrFull }

// LocalRejection reports true: the call was refused here, before it reached
// the service, so resilience.Classify calls it ignored — a retry policy does
// not retry it, and a policy outside this one does not count it.
func (e *Error) LocalRejection() bool { return true }

// abandonedError is returned when a caller's context ends its wait: the
// caller's doing, not a rejection, so it does not match ErrLimited. It
// unwraps to the context's cause.
type abandonedError struct {
	name  string
	cause error
}

func (e *abandonedError) Error() string {
	s := "adaptive limit"
	if e.name != "" {
		s += " " + strconv.Quote(e.name)
	}
	return s + ": gave up waiting for room: " + e.cause.Error()
}

func (e *abandonedError) Unwrap() error { return e.cause }

// LocalRejection reports true: the call never reached the service, so no
// policy outside the limiter counts it against the service.
func (e *abandonedError) LocalRejection() bool { return true }

package bulkhead

import (
	"errors"
	"strconv"
	"time"

	"github.com/netresilience/resilience/internal/nilpolicy"
)

// ErrFull matches every rejection by a bulkhead, through errors.Is:
//
//	if errors.Is(err, bulkhead.ErrFull) { ... }
//
// The rejection itself is a *[Error], which says why.
var ErrFull = errors.New("bulkhead: full")

// errNilBulkhead is the error of a call through a nil pointer.
const errNilBulkhead = nilpolicy.Error("bulkhead: nil *Bulkhead")

// Reason is why a bulkhead rejected a call. The zero Reason is [NoWait].
type Reason uint8

const (
	// NoWait: every slot was taken and the call could not wait, because
	// MaxWait is zero or it came through [Bulkhead.TryAcquire].
	NoWait Reason = iota
	// QueueFull: every slot was taken and MaxQueue callers were already
	// waiting.
	QueueFull
	// WaitTimeout: the call waited MaxWait and no slot came free.
	WaitTimeout
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

// Error is a bulkhead's rejection of a call. It matches [ErrFull]. Its
// fields other than Reason repeat the limits of the bulkhead that rejected
// the call, for the message and for logs.
//
// The zero Error reads "bulkhead is full". Rejections allocate
// nothing: a bulkhead makes one Error per Reason
// when it is made and returns it for every rejection with that reason, so
// callers must not modify it.
//
// Error has no RetryAfter method: a bulkhead cannot know when a slot
// will come free, and resilience.RetryAfter would take any such method for
// a server's hint. A retry policy does not retry a rejection by default —
// the default classifier calls it ignored, a local rejection — since a
// bulkhead exists to shed load, not to defer it; a caller that wants to wait
// for a slot sets MaxWait instead.
type Error struct {
	Name          string        // the bulkhead's name
	Reason        Reason        // why the call was rejected
	MaxConcurrent int           // the bulkhead's number of slots
	MaxQueue      int           // how many callers may wait; zero without MaxWait
	MaxWait       time.Duration // how long a caller may wait; zero for no waiting
}

// Error returns a message such as
// `bulkhead "db" is full: 10 calls in flight, 10 waiting`.
func (e *Error) Error() string {
	s := "bulkhead"
	if e.Name != "" {
		s += " " + strconv.Quote(e.Name)
	}
	s += " is full"
	switch e.Reason {
	case NoWait:
		if e.MaxConcurrent > 0 {
			s += ": " + calls(e.MaxConcurrent) + " in flight"
		}
	case QueueFull:
		if e.MaxConcurrent > 0 {
			s += ": " + calls(e.MaxConcurrent) + " in flight, " + strconv.Itoa(e.MaxQueue) + " waiting"
		} else {
			s += ": its queue is full"
		}
	case WaitTimeout:
		s += ": no slot came free within " + e.MaxWait.String()
	default:
		s += " (" + e.Reason.String() + ")"
	}
	return s
}

// calls returns "1 call" or "n calls".
func calls(n int) string {
	if n == 1 {
		return "1 call"
	}
	return strconv.Itoa(n) + " calls"
}

// LocalRejection reports true: the call was refused here, before it reached
// the service, so resilience.Classify calls it ignored — a retry policy does
// not retry it, and a policy outside this one does not count it.
func (e *Error) LocalRejection() bool { return true }

// Is reports whether target is [ErrFull].
func (e *Error) Is(target error) bool { return target == ErrFull }

// abandonedError is returned when a caller's context ends its wait for a
// slot: the caller's doing, not a rejection, so it does not match ErrFull.
// It unwraps to the context's cause.
type abandonedError struct {
	name  string
	cause error
}

func (e *abandonedError) Error() string {
	s := "bulkhead"
	if e.name != "" {
		s += " " + strconv.Quote(e.name)
	}
	return s + ": gave up waiting for a slot: " + e.cause.Error()
}

func (e *abandonedError) Unwrap() error { return e.cause }

// LocalRejection reports true: the call never reached the service — its
// caller gave up waiting for a slot — so resilience.Classify calls it
// ignored, whatever the cause (a deadline would otherwise be transient), and
// no policy outside the bulkhead counts it against the service.
func (e *abandonedError) LocalRejection() bool { return true }

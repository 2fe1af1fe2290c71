package ratelimit

import (
	"errors"
	"strconv"
	"time"

	"github.com/netresilience/resilience/internal/nilpolicy"
)

// ErrLimited matches every rejection by a limiter, through errors.Is:
//
//	if errors.Is(err, ratelimit.ErrLimited) { ... }
//
// The rejection itself is a *[Error], which says why and when the
// tokens will be there.
var ErrLimited = errors.New("ratelimit: limited")

// ErrBadCost matches the error for a call that costs more tokens than the
// bucket holds (Burst), or a negative number: no wait could serve it, so it
// fails at once. It is not a rejection: it does not match [ErrLimited].
var ErrBadCost = errors.New("ratelimit: bad cost")

// errNilLimiter is the error of a call through a nil pointer.
const errNilLimiter = nilpolicy.Error("ratelimit: nil *Limiter")

// Reason is why a limiter rejected a call.
type Reason uint8

const (
	// NoWait: the bucket held too few tokens for the call, which could not
	// wait because MaxWait is zero.
	NoWait Reason = iota
	// WaitTooLong: the call's tokens would come later than MaxWait.
	WaitTooLong
	// PastDeadline: the call's tokens would come no earlier than its
	// context's deadline.
	PastDeadline
)

// numReasons is how many Reasons there are.
const numReasons = 3

// String returns "no wait allowed", "wait too long" or "past the deadline".
func (r Reason) String() string {
	switch r {
	case NoWait:
		return "no wait allowed"
	case WaitTooLong:
		return "wait too long"
	case PastDeadline:
		return "past the deadline"
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// Error is a limiter's rejection of a call: its tokens are not in the
// bucket and would not come in time. It matches [ErrLimited], and its
// RetryAfter method gives the time until they would — the hint a server can
// pass on as a Retry-After header. A retry policy does not retry it by
// default: it is a local rejection, which the default classifier calls
// ignored (neither retried nor counted by another policy), since the limiter
// has already waited as long as it was allowed to (MaxWait).
//
// Rejections allocate nothing. A limiter shares one Error among all
// its rejections of a reason and cost, so callers must not modify it, and
// RetryAfter reads the limiter's bucket when it is called rather than a copy
// taken at the rejection: the hint is exact whenever it is asked for, however
// long the error was kept, and is safe to ask for from any goroutine. (The
// errors for cost one are made with the limiter. For other costs it keeps,
// per reason, 32 slots, one for each cost modulo 32: a rejection whose cost
// is not the one in its slot makes a new Error — one allocation — and
// takes the slot, so a steady mix of a few costs allocates nothing.) The hint
// at the moment of the rejection is the Delay of the Reject event that the
// limiter's observer receives.
type Error struct {
	Name    string        // the limiter's name
	Reason  Reason        // why the call was rejected
	Cost    int           // the call's tokens
	MaxWait time.Duration // how long a call may wait; zero for no waiting

	l *Limiter // whose bucket RetryAfter reads
}

// Error returns a message such as
// `ratelimit "llm-tokens": 3 tokens not available within 100ms`.
func (e *Error) Error() string {
	s := "ratelimit"
	if e.Name != "" {
		s += " " + strconv.Quote(e.Name)
	}
	s += ": " + tokens(e.Cost) + " not available "
	switch e.Reason {
	case NoWait:
		return s + "now"
	case WaitTooLong:
		return s + "within " + e.MaxWait.String()
	case PastDeadline:
		return s + "before the context's deadline"
	}
	return s + "(" + e.Reason.String() + ")"
}

// tokens returns "1 token" or "n tokens".
func tokens(n int) string {
	if n == 1 {
		return "1 token"
	}
	return strconv.Itoa(n) + " tokens"
}

// LocalRejection reports true: the call was refused here, before it reached
// the service, so resilience.Classify calls it ignored — a retry policy does
// not retry it, and a policy outside this one does not count it.
func (e *Error) LocalRejection() bool { return true }

// Is reports whether target is [ErrLimited].
func (e *Error) Is(target error) bool { return target == ErrLimited }

// RetryAfter returns how long from now until the limiter's bucket would hold
// Cost tokens, if no other call took them first: zero if it holds them now,
// or if e was not made by a limiter.
func (e *Error) RetryAfter() time.Duration {
	if e.l == nil {
		return 0
	}
	return e.l.delay(e.l.nanos(), e.Cost)
}

// RetryAfterAt is [Error.RetryAfter] at the time now, for virtual
// time.
func (e *Error) RetryAfterAt(now time.Time) time.Duration {
	if e.l == nil {
		return 0
	}
	return e.l.delay(e.l.fromTime(now), e.Cost)
}

// costError is the error for a cost that no wait could serve. It matches
// ErrBadCost.
type costError struct {
	name        string
	cost, burst int
}

func (e *costError) Error() string {
	s := "ratelimit"
	if e.name != "" {
		s += " " + strconv.Quote(e.name)
	}
	if e.cost < 0 {
		return s + ": cost is negative: " + strconv.Itoa(e.cost)
	}
	return s + ": a call of " + tokens(e.cost) + " can never go: the bucket holds " + tokens(e.burst)
}

func (e *costError) Is(target error) bool { return target == ErrBadCost }

// abandonedError is returned when a caller's context ends its wait for
// tokens: the caller's doing, not a rejection, so it does not match
// ErrLimited. It unwraps to the context's cause.
type abandonedError struct {
	name  string
	cause error
}

func (e *abandonedError) Error() string {
	s := "ratelimit"
	if e.name != "" {
		s += " " + strconv.Quote(e.name)
	}
	return s + ": gave up waiting for tokens: " + e.cause.Error()
}

func (e *abandonedError) Unwrap() error { return e.cause }

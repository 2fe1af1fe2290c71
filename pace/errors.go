package pace

import (
	"strconv"
	"time"

	"github.com/netresilience/resilience/ratelimit"
)

// ErrOverQuota matches every rejection by a pacer, through errors.Is:
//
//	if errors.Is(err, pace.ErrOverQuota) { ... }
//
// The rejection itself is a *[Error], which says which dimension held the
// call back and when its turn would come.
var ErrOverQuota = errorString("pace: over the quota")

type errorString string

func (e errorString) Error() string { return string(e) }

// Reason is why a pacer rejected a call: the reasons of a rate limiter
// that cannot wait long enough, and the same type, so that code reading
// either kind of rejection reads one Reason.
type Reason = ratelimit.Reason

// The reasons for a rejection.
const (
	// NoWait: the call's turn had not come, and it could not wait, since
	// MaxWait is negative.
	NoWait = ratelimit.NoWait
	// WaitTooLong: the call's turn is more than MaxWait away.
	WaitTooLong = ratelimit.WaitTooLong
	// PastDeadline: the call's turn is no earlier than its deadline.
	PastDeadline = ratelimit.PastDeadline

	numReasons = 3
)

// Error is a pacer's rejection of a call: its key's quota would not let it
// go in time. It matches [ErrOverQuota], and its RetryAfter method gives the
// time until the call's turn would come — the hint that a retry policy or a
// server passing it on reads. It is a local rejection: resilience.Classify
// calls it ignored, so a retry policy does not retry it (the pacer has
// already said how long the call would have to wait) and a policy outside
// does not count it as a failure.
//
// Rejections allocate nothing: a pacer keeps one Error per key, dimension
// and reason, so callers must not modify it, and RetryAfter reads the key's
// state when it is called, for a call of the pacer's estimate of tokens, rather
// than a copy taken at the rejection. The hint at the moment of the
// rejection is the Delay of the Reject event that an executor reports.
type Error struct {
	Name      string        // the pacer's name
	Key       string        // the key whose quota held the call back
	Dimension Dimension     // the dimension that held it back
	Reason    Reason        // why it was rejected
	MaxWait   time.Duration // how long a call may wait; zero for no waiting

	k *key // whose state RetryAfter reads
}

// Error returns a message such as
// `pace "llm": "api.example.com" tokens quota: no turn within 1m0s`.
func (e *Error) Error() string {
	s := "pace"
	if e.Name != "" {
		s += " " + strconv.Quote(e.Name)
	}
	s += ": " + strconv.Quote(e.Key) + " " + e.Dimension.String() + " quota: no turn "
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

// Is reports whether target is [ErrOverQuota].
func (e *Error) Is(target error) bool { return target == ErrOverQuota }

// LocalRejection reports true: the call was refused here, before it reached
// the service.
func (e *Error) LocalRejection() bool { return true }

// RetryAfter returns how long from now until a call to the key, of the
// pacer's estimate of tokens, would have its turn: zero if it would now, or
// if e was not made by a pacer.
func (e *Error) RetryAfter() time.Duration {
	if e.k == nil {
		return 0
	}
	return e.k.delay(0, e.k.p.nanos())
}

// RetryAfterAt is [Error.RetryAfter] at the time now, for virtual time.
func (e *Error) RetryAfterAt(now time.Time) time.Duration {
	if e.k == nil {
		return 0
	}
	return e.k.delay(0, e.k.p.fromTime(now))
}

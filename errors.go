package resilience

import "time"

// NetworkError marks an error as transient: a failure of the path to a
// service (a dropped connection, a timeout, an overloaded upstream) that may
// well succeed if tried again. [Classify] reports any error whose chain holds
// a *NetworkError as [ClassTransient], whatever else the chain holds.
//
// Make one with [Transient]. The zero value wraps no error and reads
// "network error".
type NetworkError struct {
	Err error
}

// Error returns "network error: " followed by the wrapped error's text.
func (e *NetworkError) Error() string {
	if e.Err == nil {
		return "network error"
	}
	return "network error: " + e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *NetworkError) Unwrap() error { return e.Err }

// ProtocolError marks an error as permanent: the service understood the
// request and refused it, or the request itself is wrong, so trying again
// would fail the same way. [Classify] reports any error whose chain holds a
// *ProtocolError as [ClassPermanent].
//
// Make one with [Permanent]. The zero value wraps no error and reads
// "protocol error".
type ProtocolError struct {
	Err error
}

// Error returns "protocol error: " followed by the wrapped error's text.
func (e *ProtocolError) Error() string {
	if e.Err == nil {
		return "protocol error"
	}
	return "protocol error: " + e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *ProtocolError) Unwrap() error { return e.Err }

// Transient marks err as transient by wrapping it in a *[NetworkError].
// A nil err stays nil, so Transient can wrap a call's result directly:
//
//	return resilience.Transient(conn.Close())
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &NetworkError{Err: err}
}

// Permanent marks err as permanent by wrapping it in a *[ProtocolError].
// A nil err stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &ProtocolError{Err: err}
}

// RetryAfterError attaches a server's hint — "do not try again for this
// long" — to an error. Policies find hints through the RetryAfter method, not
// through this type, so any error type can carry one without importing this
// package.
//
// Make one with [WithRetryAfter].
type RetryAfterError struct {
	Err   error
	After time.Duration
}

// Error returns the wrapped error's text followed by the hint.
func (e *RetryAfterError) Error() string {
	hint := "retry after " + e.After.String()
	if e.Err == nil {
		return hint
	}
	return e.Err.Error() + " (" + hint + ")"
}

// Unwrap returns the wrapped error.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns the hint.
func (e *RetryAfterError) RetryAfter() time.Duration { return e.After }

// WithRetryAfter attaches the hint d to err: a retry policy that retries err
// waits at least d first. A nil err stays nil, and a negative d is taken as
// zero. The hint does not change how err is classified: mark it with
// [Transient] as well if the call should be retried.
func WithRetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	if d < 0 {
		d = 0
	}
	return &RetryAfterError{Err: err, After: d}
}

// PushbackError carries a server's pushback, as gRPC servers send it (the
// grpc-retry-pushback-ms trailer, or a google.rpc.RetryInfo detail): unlike
// a Retry-After hint, which is a floor under the backoff, a pushback is the
// wait itself. An After of zero or more asks for a retry after exactly After,
// with the backoff of any later retry starting again from its base; a
// negative After asks not to be retried at all. Retry policies find a
// pushback through the Pushback method, not through this type.
//
// A PushbackError has no RetryAfter method, so code that knows only hints
// does not mistake "do not retry" for "retry at once". It does not change
// how the error it wraps is classified: an overloaded server's UNAVAILABLE
// with a "do not retry" pushback is still a transient failure to a circuit
// breaker; only the retry stops.
//
// Make one with [WithPushback].
type PushbackError struct {
	Err   error
	After time.Duration
}

// Error returns the wrapped error's text followed by the pushback.
func (e *PushbackError) Error() string {
	push := "pushback: do not retry"
	if e.After >= 0 {
		push = "pushback: retry after " + e.After.String()
	}
	if e.Err == nil {
		return push
	}
	return e.Err.Error() + " (" + push + ")"
}

// Unwrap returns the wrapped error.
func (e *PushbackError) Unwrap() error { return e.Err }

// Pushback returns the pushback: the exact wait before a retry, or a
// negative duration for "do not retry".
func (e *PushbackError) Pushback() time.Duration { return e.After }

// WithPushback attaches the pushback d to err: a retry policy that retries
// err waits exactly d first and then starts its backoff again from its base;
// a negative d asks it not to retry. A nil err stays nil. Mark err with
// [Transient] as well if it would not otherwise be retried.
func WithPushback(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &PushbackError{Err: err, After: d}
}

// pusher is the behaviour that carries a pushback.
type pusher interface {
	Pushback() time.Duration
}

// Pushback returns the first pushback found in err's chain: the value of the
// first error, in the order [errors.As] searches, that has a method
// Pushback() time.Duration. ok is false when there is none. A negative d
// means the server asked for no retry.
func Pushback(err error) (d time.Duration, ok bool) {
	p, ok := find[pusher](err)
	if !ok {
		return 0, false
	}
	return p.Pushback(), true
}

// hinter is the behaviour that carries a server hint.
type hinter interface {
	RetryAfter() time.Duration
}

// RetryAfter returns the first server hint found in err's chain: the value
// of the first error, in the order [errors.As] searches, that has a method
// RetryAfter() time.Duration. ok is false when there is none. A negative hint
// is reported as zero.
func RetryAfter(err error) (d time.Duration, ok bool) {
	h, ok := find[hinter](err)
	if !ok {
		return 0, false
	}
	return max(h.RetryAfter(), 0), true
}

// RetryAfterAt is [RetryAfter] at the time now, for virtual time. It finds
// the same hint; if the error that carries it also has a method
// RetryAfterAt(time.Time) time.Duration — a hint that counts down from when
// it is asked, such as a circuit breaker's or a rate limiter's rejection —
// that method is asked at now. A negative hint is reported as zero.
func RetryAfterAt(err error, now time.Time) (d time.Duration, ok bool) {
	h, ok := find[hinter](err)
	if !ok {
		return 0, false
	}
	if a, ok := h.(interface{ RetryAfterAt(time.Time) time.Duration }); ok {
		return max(a.RetryAfterAt(now), 0), true
	}
	return max(h.RetryAfter(), 0), true
}

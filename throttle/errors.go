package throttle

import (
	"errors"
	"math"
	"strconv"

	"github.com/netresilience/resilience/internal/nilpolicy"
)

// ErrThrottled matches every local rejection by a throttle, through
// errors.Is:
//
//	if errors.Is(err, throttle.ErrThrottled) { ... }
//
// The rejection itself is a *[Error], which says more.
var ErrThrottled = errors.New("throttle: rejected locally")

// errNilThrottle is the error of a call through a nil pointer.
const errNilThrottle = nilpolicy.Error("throttle: nil *Throttle")

// Error is a throttle's local rejection of a call: the backend has
// lately accepted too few of the client's requests, and this one lost the
// draw. It matches [ErrThrottled]. A retry policy does not retry it by
// default — the default classifier calls it ignored, a local rejection —
// since retrying
// what the throttle sheds would bring the load straight back.
//
// It has no RetryAfter method: no time is known at which the throttle will
// admit a call, as each call is admitted by chance with probability
// 1 − Probability, and that probability falls only as the backend accepts
// more.
//
// Rejections allocate nothing: a throttle makes its 99 rejection errors, one
// per percent of probability, when it is made, and hands out the one for the
// probability rounded to the nearest percent. Callers must not modify them.
// The exact probability is in the Reject event that the throttle's observer
// receives (Config.Observer).
// The zero value reads "throttle rejected the call locally (rejection
// probability 0.00)".
type Error struct {
	Name string // the throttle's name
	// Probability is the rejection probability the call was refused at,
	// rounded to the nearest percent and kept within [0.01, 0.99].
	Probability float64
}

// Error returns a message such as
// `throttle "llm-api" rejected the call locally (rejection probability 0.83)`.
func (e *Error) Error() string {
	s := "throttle"
	if e.Name != "" {
		s += " " + strconv.Quote(e.Name)
	}
	return s + " rejected the call locally (rejection probability " + strconv.FormatFloat(e.Probability, 'f', 2, 64) + ")"
}

// LocalRejection reports true: the call was refused here, before it reached
// the service, so resilience.Classify calls it ignored — a retry policy does
// not retry it, and a policy outside this one does not count it.
func (e *Error) LocalRejection() bool { return true }

// Is reports whether target is [ErrThrottled].
func (e *Error) Is(target error) bool { return target == ErrThrottled }

// Rejection errors come one per percent, from 1% to 99%.
const errorSteps = 99

// newErrors makes a throttle's rejection errors, in one allocation.
func newErrors(name string) []Error {
	errs := make([]Error, errorSteps)
	for i := range errs {
		errs[i] = Error{Name: name, Probability: float64(i+1) / 100}
	}
	return errs
}

// errorFor returns the rejection error for the probability p (0 < p < 1).
func errorFor(errs []Error, p float64) *Error {
	i := int(math.Round(p * 100))
	i = min(max(i, 1), errorSteps)
	return &errs[i-1]
}

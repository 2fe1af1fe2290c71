package hedge

import (
	"errors"
	"strconv"
	"time"

	"github.com/netresilience/resilience"
)

// FailureAction is what a hedged call does after one of its attempts failed,
// as [Hedger.AfterFailure] decides.
type FailureAction uint8

const (
	// Continue: the failure changes nothing; the next hedge, if any, is
	// due when it was.
	Continue FailureAction = iota
	// NextHedge: the next hedge, if one is left, is due
	// FailureDecision.After from the failure (zero: at once), and each
	// hedge after it a delay after the one before.
	NextHedge
	// StopHedges: no further hedge starts; the attempts running go on, and
	// the call ends with the first of them to succeed, or with the failures
	// once all have failed.
	StopHedges
	// Fatal: the failure ends the call: the other attempts are canceled,
	// and the call returns this failure.
	Fatal
)

// String returns "continue", "next hedge", "stop hedges" or "fatal".
func (a FailureAction) String() string {
	switch a {
	case Continue:
		return "continue"
	case NextHedge:
		return "next hedge"
	case StopHedges:
		return "stop hedges"
	case Fatal:
		return "fatal"
	}
	return "FailureAction(" + strconv.Itoa(int(a)) + ")"
}

// FailureDecision is the answer of [Hedger.AfterFailure]: a plain value.
type FailureDecision struct {
	Action FailureAction
	// After is, with NextHedge, how long after the failure the next hedge
	// is due: zero for at once, or the server's pushback. Zero otherwise.
	After time.Duration
}

// AfterFailure decides what a hedged call does after its attempt number
// attempt (0 for the first, n for hedge n) failed with err, and counts the
// failure in Config.Tokens. The executors ask it for every failure of an
// attempt that they did not cancel themselves, while the caller's context
// is alive; an executor of one's own, such as a simulator, does the same.
//
// Without Config.Failures, it keeps the default rule: a failure of the
// first attempt ends the hedging of its call (StopHedges), and a failure of
// a hedge changes nothing (Continue). With Config.Failures, it follows gRFC
// A6 by the class that Failures gives err:
//
//   - transient: NextHedge at once; or, if err carries a server's pushback
//     (resilience.Pushback) of d >= 0, NextHedge after d; a pushback d < 0
//     ("do not retry") is StopHedges;
//   - permanent: Fatal, whatever the pushback;
//   - ignored (the caller's own cancellation), or success: Continue.
//
// An err that matches [ErrLost] (an attempt that the executor canceled) is
// Continue and is not counted. Whether a hedge is left is not its concern:
// the executor keeps what [Hedger.AllowHedge] said of the last hedge.
//
// Tokens, if set, counts a transient failure, or one whose pushback asks for
// no retry, whatever the class of its error but ignored, as a failure
// (Tokens.Failure); the class is Failures', or resilience.Classify's
// without it.
//
// The decision does not depend on the time, so it has no At form: an
// executor on virtual time calls it as is. It allocates nothing (the
// classifier aside). A nil Hedger returns the zero FailureDecision,
// Continue: it allows no hedge anyway.
func (h *Hedger) AfterFailure(attempt int, err error) FailureDecision {
	if h == nil {
		return FailureDecision{}
	}
	if err == nil || err == ErrLost || errors.Is(err, ErrLost) {
		return FailureDecision{}
	}
	if h.failures == nil {
		h.tokens.Failed(resilience.Classify(err), err)
		if attempt == 0 {
			return FailureDecision{Action: StopHedges}
		}
		return FailureDecision{}
	}
	class := h.failures(err)
	h.tokens.Failed(class, err)
	push, ok := resilience.Pushback(err)
	switch class {
	case resilience.ClassTransient:
		switch {
		case !ok:
			return FailureDecision{Action: NextHedge}
		case push < 0:
			return FailureDecision{Action: StopHedges}
		default:
			return FailureDecision{Action: NextHedge, After: push}
		}
	case resilience.ClassPermanent:
		return FailureDecision{Action: Fatal}
	}
	return FailureDecision{}
}

// AfterSuccess counts a successful attempt of a hedged call in
// Config.Tokens (Tokens.Success), as the executors do for every attempt
// that succeeds, the losers' included. Without Tokens, and for a nil
// Hedger, it does nothing.
func (h *Hedger) AfterSuccess() {
	if h == nil {
		return
	}
	h.tokens.Success()
}

// abortError is the cause with which the other attempts of a call end
// after a fatal failure: it matches [ErrLost], and wraps the failure.
type abortError struct{ err error }

func (e *abortError) Error() string { return "hedge: another attempt failed: " + e.err.Error() }

func (e *abortError) Unwrap() error { return e.err }

func (e *abortError) Is(target error) bool { return target == ErrLost }

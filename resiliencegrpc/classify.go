package resiliencegrpc

import (
	"context"
	"errors"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/netresilience/resilience"
)

// DefaultTransientCodes are the codes that are transient by default: the
// only code that says, by itself, that the server did not process the call.
var DefaultTransientCodes = []codes.Code{codes.Unavailable}

// DefaultIgnoredCodes are the codes that are the caller's own mistake by
// default: never retried, and not counted by a breaker, since the service
// answered as it should.
var DefaultIgnoredCodes = []codes.Code{
	codes.InvalidArgument,
	codes.NotFound,
	codes.AlreadyExists,
	codes.PermissionDenied,
	codes.Unauthenticated,
	codes.FailedPrecondition,
	codes.OutOfRange,
	codes.Unimplemented,
}

// Codes classifies the failures that carry a gRPC status, for the retry
// policies and the breakers. Each zero field means its documented default.
//
// A code is transient (retried, and counted as a failure by a breaker) if it
// is in Transient; ignored (never retried, never counted) if it is in
// Ignored; and permanent (not retried, counted as a failure) otherwise.
// Three codes follow rules of their own: CANCELED is always ignored, being
// the caller's own doing or a hedge that lost; RESOURCE_EXHAUSTED is
// transient when the server sent a pushback (the grpc-retry-pushback-ms
// trailer or a google.rpc.RetryInfo detail), whatever the lists say, unless
// it is in Ignored; and DEADLINE_EXCEEDED is transient when the client's own
// AttemptTimeout ended the attempt, whatever the lists say, while the
// caller's deadline always ends the call.
type Codes struct {
	// Transient lists the transient codes. Default [DefaultTransientCodes]:
	// UNAVAILABLE. Add codes.ResourceExhausted to retry it without a
	// pushback too. An empty, non-nil list makes no code transient.
	Transient []codes.Code
	// Ignored lists the codes that are the caller's mistake. Default
	// [DefaultIgnoredCodes]. An empty, non-nil list ignores none.
	Ignored []codes.Code
}

// maxCode is the largest code that gRPC defines.
const maxCode = codes.Unauthenticated

// classTable is the class of each code that gRPC defines.
type classTable [maxCode + 1]resilience.Class

// table checks c and returns its classes.
func (c Codes) table() (classTable, error) {
	var t classTable
	for i := range t {
		t[i] = resilience.ClassPermanent
	}
	transient, ignored := c.Transient, c.Ignored
	if transient == nil {
		transient = DefaultTransientCodes
	}
	if ignored == nil {
		ignored = DefaultIgnoredCodes
	}
	var seen classTable // ClassSuccess: not listed
	for _, list := range []struct {
		name  string
		codes []codes.Code
		class resilience.Class
	}{{"Transient", transient, resilience.ClassTransient}, {"Ignored", ignored, resilience.ClassIgnored}} {
		for _, code := range list.codes {
			switch {
			case code > maxCode:
				return t, errors.New("resiliencegrpc: Codes." + list.name + " holds " + strconv.FormatUint(uint64(code), 10) + ", not a gRPC code")
			case code == codes.OK || code == codes.Canceled:
				return t, errors.New("resiliencegrpc: Codes." + list.name + " holds " + code.String() + ", whose class is fixed")
			case seen[code] != resilience.ClassSuccess && seen[code] != list.class:
				return t, errors.New("resiliencegrpc: Codes lists " + code.String() + " as both transient and ignored")
			}
			seen[code] = list.class
			t[code] = list.class
		}
	}
	t[codes.OK] = resilience.ClassSuccess
	t[codes.Canceled] = resilience.ClassIgnored
	return t, nil
}

// class returns the class of a failure with code, which carries a pushback
// if pushed.
func (t *classTable) class(code codes.Code, pushed bool) resilience.Class {
	if code > maxCode {
		return resilience.ClassPermanent
	}
	c := t[code]
	if code == codes.ResourceExhausted && pushed && c == resilience.ClassPermanent {
		return resilience.ClassTransient
	}
	return c
}

// Classify returns the class that the client's policies give err, a call's
// error: by Codes if it carries a gRPC status, else by Config.Retry's
// Classifier. It is the classifier to give a policy of one's own that
// guards gRPC calls, such as a breaker around a group of methods.
func (c *Client) Classify(err error) resilience.Class {
	return c.classify(err, c.other)
}

// classifier returns the classifier of the client's policies: statuses by
// the client's Codes, other errors by other (default resilience.Classify).
func (c *Client) classifier(other resilience.Classifier) resilience.Classifier {
	if other == nil {
		other = resilience.Classify
	}
	return func(err error) resilience.Class { return c.classify(err, other) }
}

// hedgeClassifier returns the classifier of the client's hedgers, given
// that of the method's retry policy: gRFC A6's rules for hedging, under
// which a failure that is not transient is fatal (the call returns it at
// once), unless it is the attempt's own cancellation or a local
// rejection. So a code that Codes ignores, such as INVALID_ARGUMENT, is
// permanent here.
func (c *Client) hedgeClassifier(retried resilience.Classifier) resilience.Classifier {
	return func(err error) resilience.Class {
		cl := retried(err)
		if cl != resilience.ClassIgnored || localRejection(err) {
			return cl
		}
		if st, ok := grpcStatus(err); ok && st.Code() != codes.Canceled {
			return resilience.ClassPermanent
		}
		return cl
	}
}

// classify sorts err into a class, as the classifier does.
func (c *Client) classify(err error, other resilience.Classifier) resilience.Class {
	switch {
	case err == nil:
		return resilience.ClassSuccess
	case errors.Is(err, errAttemptTimeout):
		return resilience.ClassTransient
	case localRejection(err):
		return resilience.ClassIgnored
	}
	if st, ok := grpcStatus(err); ok {
		_, pushed := resilience.Pushback(err)
		return c.classes.class(st.Code(), pushed)
	}
	return other(err)
}

// grpcStatus returns the status of the first error in err's chain that has
// one.
func grpcStatus(err error) (*status.Status, bool) {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return nil, false
	}
	st := se.GRPCStatus()
	return st, st != nil
}

// localRejection reports whether err's chain holds a refusal by a policy of
// this process, as resilience.Classify knows them.
func localRejection(err error) bool {
	var lr interface{ LocalRejection() bool }
	return errors.As(err, &lr) && lr.LocalRejection()
}

// errAttemptTimeout is the cause with which an attempt's context ends when
// its AttemptTimeout fires.
var errAttemptTimeout = errors.New("resiliencegrpc: attempt timed out")

// attemptTimeoutError is the failure of an attempt that AttemptTimeout
// ended: the attempt's error (DEADLINE_EXCEEDED), marked so that it is
// transient.
type attemptTimeoutError struct{ err error }

func (e *attemptTimeoutError) Error() string {
	return e.err.Error() + " (attempt timeout)"
}

func (e *attemptTimeoutError) Unwrap() []error { return []error{e.err, errAttemptTimeout} }

// GRPCStatus reports DEADLINE_EXCEEDED, whatever the attempt's own status
// (a stream attempt, which has no deadline, was canceled).
func (e *attemptTimeoutError) GRPCStatus() *status.Status {
	return status.New(codes.DeadlineExceeded, e.Error())
}

// RejectedError is the error of a call, or of one of its attempts, that a
// policy of this process refused before it reached the server, such as an
// open breaker: its gRPC status (status.FromError, status.Code) says Code,
// UNAVAILABLE for a breaker, and it unwraps to the policy's own error, so
// that errors.Is(err, breaker.ErrOpen) holds.
type RejectedError struct {
	// Code is the gRPC code the rejection reports.
	Code codes.Code
	// Err is the policy's error, such as a *breaker.Error.
	Err error
}

// Error returns "resiliencegrpc: call rejected: " and the policy's error.
func (e *RejectedError) Error() string {
	return "resiliencegrpc: call rejected: " + e.Err.Error()
}

// Unwrap returns the policy's error.
func (e *RejectedError) Unwrap() error { return e.Err }

// GRPCStatus returns the rejection's status: Code, with Error as message.
func (e *RejectedError) GRPCStatus() *status.Status {
	return status.New(e.Code, e.Error())
}

// LocalRejection reports true: the call never reached the server, so the
// policies neither retry it nor count it.
func (e *RejectedError) LocalRejection() bool { return true }

// canceledBy reports whether an attempt that ended with err under ctx, its
// own context, ended because ctx was canceled: by the caller, or because a
// hedge won. The breaker counts such an attempt as neither success nor
// failure.
func canceledBy(ctx context.Context, err error) bool {
	return err != nil && errors.Is(ctx.Err(), context.Canceled)
}

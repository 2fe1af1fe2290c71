package resilience

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"reflect"
	"strconv"
)

// Class is what a call's outcome means to a policy.
type Class uint8

const (
	// ClassSuccess: the call worked (its error is nil).
	ClassSuccess Class = iota
	// ClassTransient: the call failed in a way that may pass if tried again
	// (a dropped connection, a timeout, an overloaded server). Retries retry
	// it; breakers count it as a failure.
	ClassTransient
	// ClassPermanent: the call failed in a way that trying again cannot fix
	// (a rejected request, a bad certificate, an unknown host). Retries
	// return it at once; breakers count it as a failure.
	ClassPermanent
	// ClassIgnored: the outcome says nothing about the service, such as the
	// caller's own cancellation, or a refusal by a policy of this process (an
	// open breaker, a full bulkhead) before the call reached the service. It
	// is never retried and never counted for or against the service.
	ClassIgnored
)

// String returns "success", "transient", "permanent" or "ignored".
func (c Class) String() string {
	switch c {
	case ClassSuccess:
		return "success"
	case ClassTransient:
		return "transient"
	case ClassPermanent:
		return "permanent"
	case ClassIgnored:
		return "ignored"
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// Classifier sorts a call's error into a [Class]. It must treat a nil error as
// [ClassSuccess], must be safe for concurrent use, and should be fast: it runs
// after every failed call. A Classifier that needs the default for the errors
// it does not know about calls [Classify]:
//
//	func(err error) resilience.Class {
//		if errors.Is(err, ErrQuotaExceeded) {
//			return resilience.ClassPermanent
//		}
//		return resilience.Classify(err)
//	}
type Classifier func(error) Class

// Classify is the default [Classifier]. It decides, in this order:
//
//  1. nil is [ClassSuccess]. A mark made with [Transient] or [Permanent]
//     anywhere in the chain decides: the first one found, in the order of
//     [errors.Is], wins.
//  2. The caller's own cancellation, [context.Canceled], is [ClassIgnored];
//     so is a local rejection: an error with a method LocalRejection() bool
//     that reports true, which the rejections of this module's policies
//     (breaker, bulkhead, throttle, rate limiter) have. A policy outside
//     another then neither retries nor counts the inner one's refusals.
//  3. Go's network errors, found anywhere in the chain:
//     certificate failures, TLS alerts and handshake failures, a DNS "no such
//     host", are [ClassPermanent] (and win over a transient error in the same
//     chain); a refused, reset or aborted connection, a broken pipe,
//     an unreachable host or network, ETIMEDOUT, any error whose
//     Timeout() method reports true (every [net.Error] timeout, and
//     [context.DeadlineExceeded]), [io.ErrUnexpectedEOF], a DNS error that
//     is temporary or timed out, and an HTTP/2 stream reset with
//     INTERNAL_ERROR, REFUSED_STREAM, CANCEL or ENHANCE_YOUR_CALM (the
//     server failed, refused the stream unprocessed, gave it up, or asks the
//     client to slow down: over HTTP/2, what a reset connection is over
//     HTTP/1.1) are [ClassTransient].
//  4. Anything else is [ClassPermanent]: an error nobody said is transient is
//     not retried.
//
// A deadline that ends an attempt is transient, so a retry policy may try
// again; the executors themselves stop when the caller's own context is done,
// whatever the class. They must: a context canceled with a cause
// ([context.WithCancelCause]) makes net/http and others return the cause,
// which Classify cannot tell from any other error, so only the executor,
// which holds the context, knows the caller gave up.
//
// A bare [io.EOF] is permanent here: it is as often a normal end of input as a
// dropped connection. Adapters that know better, such as an HTTP transport
// whose connection closed before any response, classify it themselves.
func Classify(err error) Class {
	if err == nil {
		return ClassSuccess
	}
	if c, ok := marked(err); ok {
		return c
	}
	if errors.Is(err, context.Canceled) || localRejection(err) {
		return ClassIgnored
	}
	if permanentNetwork(err) {
		return ClassPermanent
	}
	if transientNetwork(err) {
		return ClassTransient
	}
	return ClassPermanent
}

// marked reports the class of the first NetworkError or ProtocolError in err's
// chain.
func marked(err error) (c Class, ok bool) {
	for err != nil {
		switch e := err.(type) {
		case *NetworkError:
			return ClassTransient, true
		case *ProtocolError:
			return ClassPermanent, true
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		case interface{ Unwrap() []error }:
			for _, err := range e.Unwrap() {
				if c, ok := marked(err); ok {
					return c, true
				}
			}
			return 0, false
		default:
			return 0, false
		}
	}
	return 0, false
}

// find returns the first error in err's chain, in the order errors.As
// searches it, that is an E: a concrete error type or an interface. Unlike
// errors.As it does not consult As methods; in return it needs no reflection
// and allocates nothing, which matters on a retry loop's path.
func find[E any](err error) (E, bool) {
	for err != nil {
		if e, ok := err.(E); ok {
			return e, true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, err := range u.Unwrap() {
				if e, ok := find[E](err); ok {
					return e, true
				}
			}
			err = nil
		default:
			err = nil
		}
	}
	var zero E
	return zero, false
}

// has reports whether err's chain holds an E.
func has[E any](err error) bool {
	_, ok := find[E](err)
	return ok
}

// localRejection reports whether err's chain holds a refusal by a policy of
// this process.
func localRejection(err error) bool {
	r, ok := find[interface{ LocalRejection() bool }](err)
	return ok && r.LocalRejection()
}

// anyInChain reports whether f reports true for any error in err's chain,
// in the order errors.Is searches it.
func anyInChain(err error, f func(error) bool) bool {
	for err != nil {
		if f(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, err := range u.Unwrap() {
				if anyInChain(err, f) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// timedOut reports whether any error in err's chain has a Timeout method
// that reports true. (A wrapper whose own Timeout reports false does not hide
// a timeout beneath it.)
func timedOut(err error) bool {
	return anyInChain(err, func(err error) bool {
		t, ok := err.(interface{ Timeout() bool })
		return ok && t.Timeout()
	})
}

// HTTP/2 error codes (RFC 9113, section 7) with which a stream ends for a
// reason another try may not meet.
const (
	h2InternalError   = 0x2
	h2RefusedStream   = 0x7
	h2Cancel          = 0x8
	h2EnhanceYourCalm = 0xb
)

// streamReset reports whether err's chain holds an HTTP/2 stream error with
// one of those codes. net/http (its bundled HTTP/2) and golang.org/x/net/http2
// report a stream reset as a struct with the fields StreamID uint32, Code (a
// uint32 error code) and Cause error; net/http's type is not exported, so it
// is recognised by that shape, as x/net/http2 itself converts between the
// two. It runs only for errors nothing else classified.
func streamReset(err error) bool {
	return anyInChain(err, func(err error) bool {
		v := reflect.ValueOf(err)
		if v.Kind() == reflect.Pointer && !v.IsNil() {
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct || v.NumField() != 3 {
			return false
		}
		typ := v.Type()
		id, code, cause := typ.Field(0), typ.Field(1), typ.Field(2)
		if id.Name != "StreamID" || id.Type.Kind() != reflect.Uint32 || code.Name != "Code" ||
			code.Type.Kind() != reflect.Uint32 || cause.Name != "Cause" || cause.Type != reflect.TypeFor[error]() {
			return false
		}
		switch v.Field(1).Uint() {
		case h2InternalError, h2RefusedStream, h2Cancel, h2EnhanceYourCalm:
			return true
		}
		return false
	})
}

// permanentNetwork reports failures that trying again will not fix: the peer's
// certificate is not trusted or does not match, the TLS handshake was refused,
// or the host name does not exist.
func permanentNetwork(err error) bool {
	if has[x509.UnknownAuthorityError](err) || has[x509.HostnameError](err) ||
		has[x509.CertificateInvalidError](err) || has[*tls.CertificateVerificationError](err) ||
		has[tls.RecordHeaderError](err) || has[tls.AlertError](err) {
		return true
	}
	if op, ok := find[*net.OpError](err); ok && (op.Op == "remote error" || op.Op == "local error") {
		return true // a TLS alert, sent by the peer or by this side
	}
	dns, ok := find[*net.DNSError](err)
	return ok && dns.IsNotFound
}

// transientNetwork reports failures of the path to a service that may pass
// on another try.
func transientNetwork(err error) bool {
	if errors.Is(err, io.ErrUnexpectedEOF) || transientErrno(err) {
		return true
	}
	if dns, ok := find[*net.DNSError](err); ok && (dns.IsTimeout || dns.IsTemporary) {
		return true
	}
	return timedOut(err) || streamReset(err)
}

package resiliencegrpc

import (
	"math"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/netresilience/resilience"
)

// PushbackTrailer is the trailer in which a gRPC server tells a client when
// to retry (gRFC A6): an ASCII signed 32-bit count of milliseconds, with no
// unnecessary leading zeros; a negative or malformed value ("+5", "05",
// " 5"), or more than one, asks the client not to retry at all.
const PushbackTrailer = "grpc-retry-pushback-ms"

// PreviousAttemptsHeader is the metadata key that tells the server, on
// every attempt after the first, how many attempts of the call came before
// it (gRFC A6).
const PreviousAttemptsHeader = "grpc-previous-rpc-attempts"

// ParsePushback returns the pushback that a failed call's trailer or
// status carries: from the trailer [PushbackTrailer] if it has one, else
// from a google.rpc.RetryInfo detail of the status. d >= 0 asks for a retry
// after exactly d; d < 0 (a negative, malformed or repeated value, or a
// RetryInfo delay that is negative or invalid, or more than one RetryInfo)
// asks for no retry. ok is false when there is no pushback; a RetryInfo
// without a delay is none.
func ParsePushback(trailer metadata.MD, st *status.Status) (d time.Duration, ok bool) {
	if vs := trailer[PushbackTrailer]; len(vs) > 0 {
		if len(vs) > 1 {
			return -1, true
		}
		v := vs[0]
		// gRFC A6: an integer with no unnecessary leading zeros; a sign
		// other than a minus, or a leading zero, is malformed.
		if v == "" || v[0] == '+' || len(v) > 1 && v[0] == '0' || v[0] == '-' {
			return -1, true
		}
		ms, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return -1, true
		}
		return time.Duration(ms) * time.Millisecond, true
	}
	if st == nil {
		return 0, false
	}
	found := false
	for _, detail := range st.Details() {
		ri, isRI := detail.(*errdetails.RetryInfo)
		if !isRI || ri.GetRetryDelay() == nil {
			continue
		}
		if found {
			return -1, true
		}
		found = true
		delay := ri.GetRetryDelay()
		if delay.CheckValid() != nil || delay.GetSeconds() < 0 || delay.GetNanos() < 0 {
			return -1, true
		}
		if delay.GetSeconds() > math.MaxInt64/int64(time.Second)-1 {
			d = math.MaxInt64
		} else {
			d = delay.AsDuration()
		}
	}
	return d, found
}

// failure is the error that the policies see for an attempt that failed
// with err: with the server's pushback attached, and marked transient if
// AttemptTimeout ended it.
func failure(err error, trailer metadata.MD, timedOut bool) error {
	if timedOut {
		err = &attemptTimeoutError{err}
	}
	st, _ := grpcStatus(err)
	if d, ok := ParsePushback(trailer, st); ok {
		err = resilience.WithPushback(err, d)
	}
	return err
}

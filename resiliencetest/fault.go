package resiliencetest

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Fault is what a [Server] or a [Transport] does with one request: answer
// it — at once, late, slowly, or cut short — or break the exchange without
// an answer. The zero Fault answers normally: through the Handler of the
// server or transport when it has one, else with 200 and the body "ok".
//
// A Fault is a plain value; its Header is read and never modified, so one
// Fault may serve any number of requests at once.
type Fault struct {
	// Status is the status to answer with, in 200-999. Zero, with an empty
	// Body, means the normal answer; zero with a Body means 200.
	Status int

	// Header holds headers to add to the answer, such as Retry-After. The
	// Content-Length is always the server's own.
	Header http.Header

	// Body is the body to answer with, sent as it is. [Status] and
	// [RetryAfter] set it to the status text.
	Body string

	// Delay is how long to wait before answering, or before breaking the
	// exchange. The wait ends early when the request's context ends (the
	// client gave up: nothing more is sent) or when the server closes (the
	// connection is closed without an answer).
	Delay time.Duration

	// SlowBody, if set, sends the body one byte at a time, waiting this long
	// before each byte; the headers go out at once. A wait ends early as
	// Delay's does, and the client then reads an error.
	SlowBody time.Duration

	// Break, if set, breaks the exchange instead of answering normally: see
	// [Reset], [Close], [Hang] and [Truncate].
	Break Break
}

// Break is how a [Fault] breaks an exchange: the failures of the network
// and of servers that a client must survive. The zero Break is [Answer],
// which breaks nothing.
type Break uint8

// Breaks of the exchange. Reset, Close and Hang send no answer, so a Fault
// that has one of them sets no Status, Header, Body or SlowBody.
const (
	// Answer breaks nothing: the request is answered. It is the zero Break.
	Answer Break = iota

	// Reset resets the connection (a TCP RST) instead of answering. The
	// client's read fails with an error whose chain holds
	// syscall.ECONNRESET.
	Reset

	// Close closes the connection without an answer. The client reads
	// io.EOF.
	Close

	// Hang never answers: the request is held until the client gives up
	// (its context ends) or the server closes, which then closes the
	// connection without an answer.
	Hang

	// Truncate sends the answer's headers with a Content-Length one byte
	// more than its body, then the body, then closes the connection. The
	// client gets the response, and reading its body ends in
	// io.ErrUnexpectedEOF.
	Truncate

	breakCount // the number of Breaks
)

var breakNames = [breakCount]string{"answer", "reset", "close", "hang", "truncate"}

// String returns the Break's name: "answer", "reset", "close", "hang" or
// "truncate".
func (b Break) String() string {
	if b < breakCount {
		return breakNames[b]
	}
	return "Break(" + strconv.Itoa(int(b)) + ")"
}

// Status returns a Fault that answers with the status code and its status
// text as the body.
func Status(code int) Fault {
	return Fault{Status: code, Body: defaultBody(code)}
}

// RetryAfter returns a Fault that answers with the status code, its status
// text as the body, and the Retry-After header set to value — a number of
// seconds such as "2", an HTTP date, or any text a client must cope with.
func RetryAfter(code int, value string) Fault {
	return Fault{Status: code, Header: http.Header{"Retry-After": {value}}, Body: defaultBody(code)}
}

// OK returns a Fault that answers 200 with the body.
func OK(body string) Fault {
	return Fault{Status: http.StatusOK, Body: body}
}

// defaultBody is the body of a status: its text, or nothing for the
// statuses that have no body.
func defaultBody(code int) string {
	if !bodyAllowed(code) {
		return ""
	}
	return http.StatusText(code)
}

// bodyAllowed reports whether a response with the status may have a body.
func bodyAllowed(code int) bool {
	return code != http.StatusNoContent && code != http.StatusNotModified
}

// String describes the fault briefly, such as "503 after 2s" or "reset".
func (f Fault) String() string {
	var b strings.Builder
	switch f.Break {
	case Reset, Close, Hang:
		b.WriteString(f.Break.String())
	default:
		if f.answersItself() {
			b.WriteString(strconv.Itoa(f.status()))
		} else {
			b.WriteString("normal answer")
		}
		if len(f.Header) > 0 {
			keys := make([]string, 0, len(f.Header))
			for k := range f.Header {
				keys = append(keys, http.CanonicalHeaderKey(k))
			}
			slices.Sort(keys)
			b.WriteString(" with " + strings.Join(keys, ", "))
		}
	}
	if f.Delay != 0 {
		b.WriteString(" after " + f.Delay.String())
	}
	if f.SlowBody != 0 {
		b.WriteString(", a byte every " + f.SlowBody.String())
	}
	if f.Break == Truncate {
		b.WriteString(", truncated")
	} else if f.Break >= breakCount {
		b.WriteString(", " + f.Break.String())
	}
	return b.String()
}

// answersItself reports whether the fault gives its own answer rather than
// the normal one.
func (f Fault) answersItself() bool { return f.Status != 0 || f.Body != "" }

// status is the status the fault answers with when it answers itself.
func (f Fault) status() int {
	if f.Status == 0 {
		return http.StatusOK
	}
	return f.Status
}

// validate reports the first nonsense in f.
func (f Fault) validate() error {
	switch {
	case f.Status != 0 && (f.Status < 200 || f.Status > 999):
		return errors.New("resiliencetest: Status " + strconv.Itoa(f.Status) + " is not in 200-999")
	case f.Delay < 0:
		return errors.New("resiliencetest: Delay is negative: " + f.Delay.String())
	case f.SlowBody < 0:
		return errors.New("resiliencetest: SlowBody is negative: " + f.SlowBody.String())
	case f.Break >= breakCount:
		return errors.New("resiliencetest: " + f.Break.String() + " is not a Break")
	case (f.Break == Reset || f.Break == Close || f.Break == Hang) &&
		(f.Status != 0 || f.Header != nil || f.Body != "" || f.SlowBody != 0):
		return errors.New("resiliencetest: a " + f.Break.String() +
			" sends no answer, so Status, Header, Body and SlowBody must be unset")
	case !bodyAllowed(f.Status) && f.Body != "":
		return errors.New("resiliencetest: Status " + strconv.Itoa(f.Status) + " allows no Body")
	case !bodyAllowed(f.Status) && f.Break == Truncate:
		return errors.New("resiliencetest: Status " + strconv.Itoa(f.Status) + " has no body to truncate")
	}
	return nil
}

// faultError is the error for a request whose fault is nonsense.
func faultError(n int, err error) error {
	return errors.New("resiliencetest: request " + strconv.Itoa(n) + ": " +
		strings.TrimPrefix(err.Error(), "resiliencetest: "))
}

package resiliencetest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// Transport is an http.RoundTripper that answers requests in memory,
// without a network, with the same faults as a [Server], and fails them as
// net/http's Transport fails when a real server misbehaves:
//
//   - a Reset fails the round trip with a *net.OpError whose chain holds
//     syscall.ECONNRESET;
//   - a Close fails it with io.EOF;
//   - a Hang, or a Delay that outlasts the request's context, fails it
//     with context.Cause of the context, when the context ends (a Hang
//     under a context that never ends never returns; inside a bubble,
//     synctest reports it as a deadlock);
//   - a Truncate gives a response whose body ends in io.ErrUnexpectedEOF;
//   - a SlowBody gives a response whose body yields a byte at a time;
//   - a response body read after the request's context has ended fails
//     with context.Cause of the context.
//
// The errors are bare, as a RoundTripper's are; http.Client wraps them in a
// *url.Error. Waits use timers, so inside a testing/synctest bubble they
// take virtual time and are exact — which a Server cannot do, since
// goroutines blocked on the network do not let a bubble's time advance.
//
// RoundTrip reads and closes the request's body, numbers the request in
// arrival order, gives it the next fault of the script, and once the script
// is spent a fault picked by Schedule or Random, or else Default. A request
// whose context has already ended fails at once without arriving.
//
// The zero Transport answers every request 200 "ok". Set its fields before
// its first request, and do not change them after. Its methods are safe
// for concurrent use.
type Transport struct {
	// Default is the fault for the requests after the script that Random
	// (or Schedule) does not pick a fault for. Its zero value answers
	// normally.
	Default Fault

	// Random, if set, picks faults for the requests after the script.
	Random *Mix

	// Schedule, if set, picks faults for the requests after the script
	// with a Mix that changes over time, in place of Random, as a
	// [Server]'s does. Inside a testing/synctest bubble its phases last
	// exactly their Duration of the bubble's time.
	Schedule *Schedule

	// Handler, if set, gives the normal answer, as a [Server]'s Handler
	// does. It runs on the goroutine that called RoundTrip, and its answer
	// is recorded before it is returned: it cannot stream.
	Handler http.Handler

	script script
}

// NewTransport returns a Transport that answers its requests with the
// faults of the script, in arrival order, and normally after them.
func NewTransport(script ...Fault) *Transport {
	t := &Transport{}
	t.script.faults = append([]Fault(nil), script...)
	return t
}

// Client returns an HTTP client that sends its requests through t.
func (t *Transport) Client() *http.Client { return &http.Client{Transport: t} }

// Requests returns how many requests have arrived: a request arrives when
// its body has been read. A nil Transport has had none.
func (t *Transport) Requests() int {
	if t == nil {
		return 0
	}
	return t.script.requests()
}

// Received returns a record of every request that has arrived, in arrival
// order: Received()[i].N is i+1. The records are copies, the caller's to
// keep. A nil Transport has received nothing.
func (t *Transport) Received() []Request {
	if t == nil {
		return nil
	}
	return t.script.records()
}

// Errors for requests that cannot be sent.
var (
	errNilTransport = errors.New("resiliencetest: nil *Transport")
	errNilRequest   = errors.New("resiliencetest: nil Request")
	errNilURL       = errors.New("resiliencetest: nil Request.URL")
	errNilHeader    = errors.New("resiliencetest: nil Request.Header")
	errNoHost       = errors.New("resiliencetest: no Host in request URL")
	errClosedBody   = errors.New("resiliencetest: read on closed response body")
)

// RoundTrip answers the request with its fault. It implements
// http.RoundTripper: it closes the request's body, also on errors, and
// returns either a response with a non-nil Body or an error.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req == nil {
		return nil, errNilRequest
	}
	if err := t.check(req); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	ctx := req.Context()
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	rec := t.script.arrive(req, body, after{t.Schedule, t.Random, t.Default})
	f := rec.Fault
	if err := f.validate(); err != nil {
		return nil, faultError(rec.N, err)
	}
	if !wait(ctx, nil, f.Delay) {
		return nil, context.Cause(ctx)
	}
	switch f.Break {
	case Hang:
		<-ctx.Done()
		return nil, context.Cause(ctx)
	case Reset:
		return nil, &net.OpError{Op: "read", Net: "tcp", Addr: newHostAddr(req), Err: os.NewSyscallError("read", errReset)}
	case Close:
		return nil, io.EOF
	}
	var a answer
	if f.answersItself() || t.Handler == nil {
		a = ownAnswer(f)
	} else {
		a = recordAnswer(t.Handler, f, serverRequest(req, body))
	}
	return response(req, a, f), nil
}

// check returns the error for a request that cannot be sent.
func (t *Transport) check(req *http.Request) error {
	switch {
	case t == nil:
		return errNilTransport
	case req.URL == nil:
		return errNilURL
	case req.Header == nil:
		return errNilHeader
	case req.URL.Scheme != "http" && req.URL.Scheme != "https":
		return errors.New("resiliencetest: unsupported protocol scheme " + strconv.Quote(req.URL.Scheme))
	case req.URL.Host == "":
		return errNoHost
	}
	if ctx := req.Context(); ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

// hostAddr is the address of the server of a request: the host and port of
// its URL.
type hostAddr string

func newHostAddr(req *http.Request) hostAddr {
	port := req.URL.Port()
	if port == "" {
		port = "80"
		if req.URL.Scheme == "https" {
			port = "443"
		}
	}
	return hostAddr(net.JoinHostPort(req.URL.Hostname(), port))
}

// Network returns "tcp".
func (a hostAddr) Network() string { return "tcp" }

// String returns the host and port.
func (a hostAddr) String() string { return string(a) }

// serverRequest returns the request as a server's Handler would see it.
func serverRequest(req *http.Request, body []byte) *http.Request {
	r := handlerRequest(req, body)
	u := *req.URL
	u.Scheme, u.Host, u.User, u.Fragment, u.RawFragment = "", "", nil, "", ""
	r.URL = &u
	r.RequestURI = req.URL.RequestURI()
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	r.RemoteAddr = "192.0.2.1:1234" // as httptest.NewRequest has it
	return r
}

// response returns the response that carries the answer to req.
func response(req *http.Request, a answer, f Fault) *http.Response {
	h := a.header
	h.Del("Content-Length")
	text := http.StatusText(a.status)
	if text == "" {
		text = "status code " + strconv.Itoa(a.status) // as net/http's server writes it
	}
	resp := &http.Response{
		Status:     strconv.Itoa(a.status) + " " + text,
		StatusCode: a.status,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       http.NoBody,
		Request:    req,
	}
	if h.Get("Date") == "" {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	if !bodyAllowed(a.status) {
		if req.Method == http.MethodHead {
			resp.ContentLength = -1 // unknown: no Content-Length header
		}
		return resp
	}
	resp.ContentLength = int64(len(a.body))
	if f.Break == Truncate {
		resp.ContentLength++
	}
	h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	if len(a.body) > 0 && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	if req.Method != http.MethodHead && resp.ContentLength > 0 {
		resp.Body = &body{
			ctx:       req.Context(),
			rest:      a.body,
			slow:      f.SlowBody,
			truncated: f.Break == Truncate,
			closed:    make(chan struct{}),
		}
	}
	return resp
}

// body is the body of a response from a Transport.
type body struct {
	ctx       context.Context // the request's
	rest      string          // what is left to read
	slow      time.Duration   // the wait before each byte, if any
	truncated bool            // whether the body ends in io.ErrUnexpectedEOF

	closeOnce sync.Once
	closed    chan struct{}
}

// Read reads the body: a byte at a time after a wait when it is slow, and
// an error once the request's context has ended.
func (b *body) Read(p []byte) (int, error) {
	select {
	case <-b.closed:
		return 0, errClosedBody
	default:
	}
	if len(b.rest) == 0 && !b.truncated {
		return 0, io.EOF
	}
	if b.ctx.Err() != nil {
		return 0, context.Cause(b.ctx)
	}
	if len(b.rest) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	n := len(b.rest)
	if b.slow > 0 {
		if !wait(b.ctx, b.closed, b.slow) {
			if b.ctx.Err() != nil {
				return 0, context.Cause(b.ctx)
			}
			return 0, errClosedBody
		}
		n = 1
	}
	n = copy(p, b.rest[:n])
	b.rest = b.rest[n:]
	return n, nil
}

// Close closes the body; a Read waiting for a slow byte returns at once.
func (b *body) Close() error {
	b.closeOnce.Do(func() { close(b.closed) })
	return nil
}

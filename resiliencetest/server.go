package resiliencetest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
)

// Server is an HTTP server on the loopback interface that answers each
// request with a fault: the first request with the first fault of its
// script, the second with the second, and so on in arrival order; the
// requests after the script with a fault picked by Schedule or Random, or
// else with Default. It is shaped like net/http/httptest.Server, which it
// runs.
//
// Each request arrives on a connection of its own, unless KeepAlive (or
// EnableHTTP2) is set, so that a fault that breaks a connection hits only
// the request it was scripted for: net/http's Transport silently sends a
// request again when a connection it reused fails before answering and the
// request is replayable (a GET, or any request with an Idempotency-Key
// header), which would hide the fault from the client and spend the next
// one.
//
// Close releases requests that are waiting out a fault: their connections
// are closed without an answer, so Close returns promptly and leaves no
// goroutine behind.
//
// Make a Server with [NewServer], or with [NewUnstartedServer] to set its
// fields before [Server.Start]. The fields must not be changed once it has
// started. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's base URL, of the form http://127.0.0.1:port with
	// no trailing slash. It is set by Start.
	URL string

	// Default is the fault for the requests after the script that Random
	// (or Schedule) does not pick a fault for. Its zero value answers
	// normally.
	Default Fault

	// Random, if set, picks faults for the requests after the script.
	Random *Mix

	// Schedule, if set, picks faults for the requests after the script
	// with a Mix that changes over time, in place of Random: the Mix of
	// its phase in force when the request arrives.
	Schedule *Schedule

	// Handler, if set, gives the normal answer: it answers every request
	// whose fault has no Status and no Body, after the fault's Delay and
	// with the fault's headers added. It reads the request's body as
	// usual. Without a Handler the normal answer is 200 "ok".
	Handler http.Handler

	// KeepAlive lets clients reuse connections between requests; see
	// above for why they do not by default.
	KeepAlive bool

	// EnableHTTP2 lets clients speak HTTP/2 to a server started with
	// StartTLS, as [Server.Client] does; it implies KeepAlive, since HTTP/2
	// sends all requests over one connection. A Reset, a Close or a
	// Truncate then cannot break that connection, which other requests
	// share: it resets the request's stream (RST_STREAM INTERNAL_ERROR)
	// instead, so that the client's round trip, or its read of the
	// body, fails with a stream error.
	EnableHTTP2 bool

	ts        *httptest.Server
	script    script
	closing   chan struct{} // closed by Close to release waiting handlers
	closeOnce sync.Once
	conns     atomic.Int64 // connections open now
}

// NewServer starts and returns a Server that answers its requests with the
// faults of the script, in arrival order, and normally after them. The
// caller should Close it when done. It panics, as httptest.NewServer does,
// if it cannot listen on a port of 127.0.0.1.
func NewServer(script ...Fault) *Server {
	s := NewUnstartedServer(script...)
	s.Start()
	return s
}

// NewUnstartedServer returns a Server that is not started yet, so that its
// fields can be set: start it with Start or StartTLS. The caller should
// Close it when done, started or not. It panics, as
// httptest.NewUnstartedServer does, if it cannot listen on a port of
// 127.0.0.1.
func NewUnstartedServer(script ...Fault) *Server {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("resiliencetest: failed to listen on a port: %v", err))
	}
	s := &Server{closing: make(chan struct{})}
	s.script.faults = append([]Fault(nil), script...)
	s.ts = &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(s.serve), ConnState: s.connState}}
	return s
}

// connState counts the open connections: a hijacked one is no longer the
// server's (the server closes those it hijacks itself at once).
func (s *Server) connState(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		s.conns.Add(1)
	case http.StateHijacked, http.StateClosed:
		s.conns.Add(-1)
	}
}

// Start starts a server from NewUnstartedServer. It panics if the server
// has already started.
func (s *Server) Start() {
	s.ts.Config.SetKeepAlivesEnabled(s.KeepAlive)
	s.ts.Start()
	s.URL = s.ts.URL
}

// StartTLS starts a server from NewUnstartedServer on TLS, with a
// certificate that [Server.Client] trusts. It panics if the server has
// already started.
func (s *Server) StartTLS() {
	s.ts.Config.SetKeepAlivesEnabled(s.KeepAlive || s.EnableHTTP2)
	s.ts.EnableHTTP2 = s.EnableHTTP2
	s.ts.StartTLS()
	s.URL = s.ts.URL
}

// Close shuts the server down: it releases the requests that wait out a
// Delay, a Hang or a SlowBody by closing their connections, and returns
// once every request has ended — including calls to Handler, which it waits
// for as httptest.Server.Close does. It may be called more than once.
func (s *Server) Close() {
	if s == nil {
		return
	}
	s.closeOnce.Do(func() { close(s.closing) })
	s.ts.Close()
}

// Client returns an HTTP client for the server: it trusts the server's
// certificate when started with StartTLS, and its idle connections are
// closed by Close. It is nil until the server has started.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Certificate returns the certificate of a server started with StartTLS,
// or nil.
func (s *Server) Certificate() *x509.Certificate { return s.ts.Certificate() }

// Requests returns how many requests have arrived: a request arrives when
// its body has been read. A nil Server has had none.
func (s *Server) Requests() int {
	if s == nil {
		return 0
	}
	return s.script.requests()
}

// Conns returns how many connections to the server are open now: accepted
// and not yet closed. A hijacked connection counts as closed — a Reset or a
// Close hijacks its connection and closes it at once; one a Handler hijacks
// is the Handler's. Once a client has closed its idle connections and the
// server has seen them close, Conns is 0 unless the client left some open:
// a response body never closed, a request still running. A test polls it
// to check that a client leaks no connections. A nil Server has none.
func (s *Server) Conns() int {
	if s == nil {
		return 0
	}
	return int(s.conns.Load())
}

// Received returns a record of every request that has arrived, in arrival
// order: Received()[i].N is i+1. The records are copies, the caller's to
// keep. A nil Server has received nothing.
func (s *Server) Received() []Request {
	if s == nil {
		return nil
	}
	return s.script.records()
}

// serve is the server's handler: it reads the request's body, takes the
// request's fault and carries it out.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := readBody(r) // a body cut short is recorded as it came
	rec := s.script.arrive(r, body, after{s.Schedule, s.Random, s.Default})
	f := rec.Fault
	if err := f.validate(); err != nil {
		http.Error(w, faultError(rec.N, err).Error(), http.StatusInternalServerError)
		return
	}
	ctx := r.Context()
	if !wait(ctx, s.closing, f.Delay) {
		panic(http.ErrAbortHandler) // close the connection, answering nothing
	}
	switch f.Break {
	case Hang:
		wait(ctx, s.closing, -1)
		panic(http.ErrAbortHandler)
	case Reset, Close:
		breakConn(w, f.Break)
		return
	}
	var a answer
	switch {
	case f.answersItself() || s.Handler == nil:
		a = ownAnswer(f)
	case f.SlowBody == 0 && f.Break != Truncate:
		// The Handler answers by itself, so that it may stream.
		addHeader(w.Header(), f.Header)
		s.Handler.ServeHTTP(w, handlerRequest(r, body))
		return
	default:
		a = recordAnswer(s.Handler, f, handlerRequest(r, body))
	}
	s.send(w, r, a, f)
}

// send writes the answer as the fault says: slowly, cut short.
func (s *Server) send(w http.ResponseWriter, r *http.Request, a answer, f Fault) {
	h := w.Header()
	for k, vs := range a.header {
		h[k] = vs
	}
	h.Del("Content-Length")
	hasBody := bodyAllowed(a.status)
	if hasBody {
		length := len(a.body)
		if f.Break == Truncate {
			length++
		}
		h.Set("Content-Length", strconv.Itoa(length))
		if len(a.body) > 0 && h.Get("Content-Type") == "" {
			h.Set("Content-Type", "text/plain; charset=utf-8")
		}
	}
	w.WriteHeader(a.status)
	flusher, _ := w.(http.Flusher)
	switch {
	case !hasBody || r.Method == http.MethodHead:
	case f.SlowBody > 0:
		if flusher != nil {
			flusher.Flush()
		}
		for i := range a.body {
			if !wait(r.Context(), s.closing, f.SlowBody) {
				panic(http.ErrAbortHandler)
			}
			if _, err := io.WriteString(w, a.body[i:i+1]); err != nil {
				panic(http.ErrAbortHandler)
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	default:
		io.WriteString(w, a.body)
	}
	if f.Break == Truncate {
		if flusher != nil {
			flusher.Flush()
		}
		panic(http.ErrAbortHandler) // close the connection with the body short
	}
}

// breakConn resets or closes the request's connection, answering nothing.
func breakConn(w http.ResponseWriter, b Break) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // closes the connection all the same
	}
	if b == Reset {
		// Close the TCP connection under TLS directly: a TLS close would
		// first send its close_notify alert, which the client reads as EOF.
		if tc, ok := conn.(*tls.Conn); ok {
			conn = tc.NetConn()
		}
		if tcp, ok := conn.(*net.TCPConn); ok {
			tcp.SetLinger(0) // Close then sends RST instead of FIN
		}
	}
	conn.Close()
}

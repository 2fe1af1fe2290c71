package resiliencetest

import (
	"bytes"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Request is a record of a request that a [Server] or a [Transport]
// received, for a test's assertions: what the client sent, and what it got.
// It is a plain value: the records that Received returns are copies, which
// the caller may change or keep.
type Request struct {
	// N is the request's arrival number, from 1: it got the Nth fault of
	// the script.
	N int
	// Time is when the request arrived: when its body had been read. Inside
	// a testing/synctest bubble it is the bubble's time, so the gaps
	// between a client's retries are exact.
	Time time.Time

	Method string
	Path   string      // the URL's path
	Query  string      // the URL's raw query, without the '?'
	Header http.Header // the request's header, such as Idempotency-Key
	Body   []byte      // the request's body; nil when it had none

	// Fault is what the request got: its fault from the script, the
	// Random mix, or Default.
	Fault Fault
}

// script numbers the requests in arrival order, gives each its fault and
// keeps their records. The zero script answers every request with the zero
// Fault; it is safe for concurrent use.
type script struct {
	faults []Fault

	mu       sync.Mutex
	received []Request
}

// arrive numbers the request r, whose body has been read, and returns its
// record: the fault is faults[n-1], else random's pick for n, else def.
func (s *script) arrive(r *http.Request, body []byte, random *Mix, def Fault) Request {
	rec := Request{
		Time:   time.Now(),
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.RawQuery,
		Header: r.Header.Clone(),
		Body:   body,
	}
	if rec.Method == "" {
		rec.Method = http.MethodGet
	}
	s.mu.Lock()
	rec.N = len(s.received) + 1
	rec.Fault = s.fault(rec.N, random, def)
	s.received = append(s.received, rec)
	s.mu.Unlock()
	return rec
}

// fault returns the fault for the nth request.
func (s *script) fault(n int, random *Mix, def Fault) Fault {
	if n <= len(s.faults) {
		return s.faults[n-1]
	}
	if f, ok := random.pick(n); ok {
		return f
	}
	return def
}

// requests returns how many requests have arrived.
func (s *script) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.received)
}

// records returns a copy of the records.
func (s *script) records() []Request {
	s.mu.Lock()
	out := slices.Clone(s.received)
	s.mu.Unlock()
	for i := range out {
		out[i].Header = out[i].Header.Clone()
		out[i].Body = bytes.Clone(out[i].Body)
	}
	return out
}

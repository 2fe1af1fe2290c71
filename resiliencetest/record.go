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
	// Schedule, the Random mix, or Default.
	Fault Fault

	// Phase is the name of the Schedule's phase in force when the request
	// arrived, if its fault was the Schedule's to pick; else empty.
	Phase string
}

// script numbers the requests in arrival order, gives each its fault and
// keeps their records. The zero script answers every request with the zero
// Fault; it is safe for concurrent use.
type script struct {
	faults []Fault

	mu       sync.Mutex
	received []Request
	start    time.Time // when the first request arrived: the Schedule's time 0
}

// after is what gives faults to the requests after the script.
type after struct {
	schedule *Schedule // if set, its phase's Mix picks, in place of random
	random   *Mix
	def      Fault // when no Mix picks
}

// arrive numbers the request r, whose body has been read, and returns its
// record: the fault is faults[n-1], else the pick for n of the schedule's
// phase or of random, else the default.
func (s *script) arrive(r *http.Request, body []byte, a after) Request {
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
	if rec.N == 1 {
		s.start = rec.Time
	}
	rec.Fault, rec.Phase = s.fault(rec.N, rec.Time.Sub(s.start), a)
	s.received = append(s.received, rec)
	s.mu.Unlock()
	return rec
}

// fault returns the fault for the nth request, which arrived at elapsed
// since the first, and the name of the schedule's phase that picked it.
func (s *script) fault(n int, elapsed time.Duration, a after) (Fault, string) {
	if n <= len(s.faults) {
		return s.faults[n-1], ""
	}
	random, phase := a.random, ""
	if a.schedule != nil {
		p := a.schedule.PhaseAt(elapsed)
		random, phase = p.Mix, p.Name
	}
	if f, ok := random.pick(n); ok {
		return f, phase
	}
	return a.def, phase
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

package resiliencehttp

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/throttle"
)

// DefaultShedRetryAfter is the Retry-After of a [ShedConfig] whose
// RetryAfter is zero.
const DefaultShedRetryAfter = time.Second

// ShedConfig configures the middleware that [Shed] returns. At least one of
// Bulkhead, Adaptive and Throttle must be set, so the zero ShedConfig is not
// valid; every other zero field means its documented default. Shed copies
// what it needs: changing a ShedConfig afterwards changes nothing.
type ShedConfig struct {
	// Bulkhead, if set, bounds how many requests run in the handler at
	// once. A request that finds every slot taken waits for one as the
	// bulkhead's MaxWait and MaxQueue allow, then is shed. Its wait ends
	// early if the request's context is done (the client went away).
	Bulkhead *bulkhead.Bulkhead

	// Adaptive, if set, bounds how many requests run in the handler at
	// once, as Bulkhead does, to a limit that the limiter finds by itself
	// from the handler's answers (see package adaptive; its Gradient
	// algorithm is the one for a server). A request beyond the limit waits
	// for room as the limiter's MaxWait and MaxQueue allow, then is shed;
	// its wait ends early if the request's context is done.
	//
	// Each request the handler answers is reported to the limiter: its
	// latency, from its admission to the handler's return, and whether it
	// was dropped — a status that Classify sorts as a transient failure
	// (503 and the other 5xx but 501, by default), or a panic. A request
	// whose client went away (its context was canceled) teaches the
	// limiter nothing, whatever the handler answered; nor does a status
	// that Classify ignores.
	//
	// With the limiter's Priorities on, a request's priority is the
	// adaptive.Priority its context carries (adaptive.WithPriority), Normal
	// without one: set it in a middleware before Shed, from a header or
	// the route, as the example of Shed with priorities shows.
	//
	// The limiter's own Classifier sees a drop as an error marked with
	// resilience.Transient, and a permanent failure as one marked with
	// resilience.Permanent: a custom Classifier should leave the errors it
	// does not know to resilience.Classify.
	Adaptive *adaptive.Limiter

	// Throttle, if set, sheds requests with the adaptive probability that
	// the handler's recent answers call for: the more of them failed, the
	// more new requests are shed before they reach the handler. Each
	// request the handler answers is reported to it, as Classify sorts the
	// status; a request the handler panics on counts as a failure.
	//
	// The throttle's own Classifier sees a failure as an error marked with
	// resilience.Transient or resilience.Permanent: a custom Classifier
	// should leave the errors it does not know to resilience.Classify.
	Throttle *throttle.Throttle

	// RetryAfter is the Retry-After header of a shed request's answer,
	// rounded up to whole seconds. Zero means [DefaultShedRetryAfter], 1s;
	// negative turns it off: the answer has no Retry-After header.
	RetryAfter time.Duration

	// Rejected, if set, writes the answer to a shed request in place of the
	// default, a 503 with a short text body. It is called with the error that
	// shed the request, which matches bulkhead.ErrFull (a full bulkhead, or
	// the adaptive limit reached: then adaptive.ErrLimited too) or
	// throttle.ErrThrottled through errors.Is, or — when the request's context
	// ended its wait for room — wraps the context's cause. When it
	// is called the Retry-After header is already set (unless RetryAfter turns
	// it off); it may change it. The handler is never called for a shed
	// request. Like the errors, the header's value is shared between answers:
	// replace it, never modify it in place.
	Rejected func(w http.ResponseWriter, r *http.Request, err error)

	// Classify sorts the status the handler answered with, for the
	// throttle and the adaptive limiter: a success or a permanent failure
	// is a request the handler accepted, a transient failure one it could
	// not take (a drop, for the limiter), and an ignored status counts as
	// nothing. A handler that writes no status answers 200. Default
	// [ShedClassifyStatus]. Unused without a Throttle or an Adaptive
	// limiter.
	Classify func(status int) resilience.Class
}

// ShedClassifyStatus is the default [ShedConfig].Classify: 5xx statuses
// but 501 Not Implemented are transient failures — the server could not
// take the request —; 4xx statuses, 501 and statuses above 599 are
// permanent failures — the server processed the request, and its answer
// says nothing of overload —; and 1xx, 2xx and 3xx are successes.
func ShedClassifyStatus(status int) resilience.Class {
	switch {
	case status < 400:
		return resilience.ClassSuccess
	case status >= 500 && status <= 599 && status != http.StatusNotImplemented:
		return resilience.ClassTransient
	}
	return resilience.ClassPermanent
}

// Shed returns middleware that sheds load before it reaches a handler: a
// request the throttle, the adaptive limiter or the bulkhead of cfg turns
// away is answered at once with 503 Service Unavailable and a Retry-After
// header (or by cfg.Rejected), and the handler is not called. Every handler
// that the middleware wraps shares cfg's policies. Shed returns an error,
// prefixed "resiliencehttp:", if cfg has none of them. The middleware and
// the handlers it returns are safe for concurrent use; given a nil handler,
// it returns one that answers every request with 500 Internal Server Error
// rather than panicking.
//
// A request passes the throttle first, then the adaptive limiter, then the
// bulkhead. The throttle's decision is cheap and never waits, so a request
// it sheds neither takes room nor waits in a queue — with the bulkhead
// first, a request could wait for a slot only to be shed by a draw. The
// limiter measures the time from its admission to the handler's return, so
// a wait for a bulkhead slot counts in the latency it learns from, as
// queueing inside the handler would. And a request that a policy turns
// away after an outer one admitted it, or whose wait for room its context
// ends, counts as nothing for the outer ones (as a local rejection does in
// resilience.Compose(throttle, limiter, bulkhead)), so that they measure
// the handler's answers alone.
//
// The middleware writes only before it calls the handler: once the handler
// runs, its answer is the response, whatever the policies do meanwhile. A
// request whose context ends while it waits for room gets the 503 too,
// without the handler: usually the client has gone and the write goes
// nowhere, but a context ended by the server or by an outer middleware
// leaves a client that is owed an answer, and the handler returning without
// one would make net/http send an empty 200.
//
// When the handler panics, or calls runtime.Goexit, the middleware releases
// the request's room and reports a failure to the throttle and a drop to the
// adaptive limiter as the panic passes — it never recovers it, so the panic
// goes on unchanged, with its stack, to net/http's server, which logs it (or
// not, for http.ErrAbortHandler).
//
// To see the status the handler answers, for the throttle and the adaptive
// limiter, the middleware hands the handler a wrapper of its
// http.ResponseWriter, which it spares when it has neither. The wrapper
// keeps the optional interfaces working: it has Unwrap, so
// http.ResponseController reaches every method of the writer beneath
// (SetReadDeadline, SetWriteDeadline, EnableFullDuplex, ...), and it has
// Flush, Hijack, ReadFrom and WriteString itself, for code that asserts
// http.Flusher, http.Hijacker, io.ReaderFrom (so io.Copy to it still uses
// sendfile) or io.StringWriter. Its Flush and Hijack are there whether or
// not the writer beneath supports them; when it does not, Flush does nothing
// and Hijack returns an error matching http.ErrNotSupported, as through
// http.ResponseController. Wrappers are pooled: once the handler has
// returned, its wrapper serves another request, so a handler must not use
// its ResponseWriter after it returns — which net/http forbids anyway.
//
// A request the handler answered counts by its status, as cfg.Classify
// sorts it, except that after the client went away (the request's context
// was canceled) a failure counts as nothing for the throttle, and any
// answer as nothing for the adaptive limiter: the client's leaving says
// nothing about the handler. An admitted request allocates nothing in the
// middleware, and a shed request answered by the default writer allocates
// nothing either.
func Shed(cfg ShedConfig) (func(http.Handler) http.Handler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := shedder{
		bulkhead: cfg.Bulkhead,
		adaptive: cfg.Adaptive,
		throttle: cfg.Throttle,
		classify: cfg.Classify,
		rejected: cfg.Rejected,
	}
	if cfg.RetryAfter >= 0 {
		s.retryAfter = []string{shedSeconds(cmp.Or(cfg.RetryAfter, DefaultShedRetryAfter))}
	}
	if s.classify == nil {
		s.classify = ShedClassifyStatus
	}
	if s.rejected == nil {
		s.rejected = shedDefaultRejected
	}
	return func(next http.Handler) http.Handler {
		if next == nil {
			return shedNilHandler{}
		}
		return &shedHandler{shedder: s, next: next}
	}, nil
}

// MustShed is [Shed] for configurations known to be valid; it panics on an
// invalid one.
func MustShed(cfg ShedConfig) func(http.Handler) http.Handler {
	m, err := Shed(cfg)
	if err != nil {
		panic(err)
	}
	return m
}

// validate reports the first nonsense in c.
func (c *ShedConfig) validate() error {
	switch {
	case c.Bulkhead == nil && c.Adaptive == nil && c.Throttle == nil:
		return errors.New("resiliencehttp: ShedConfig has no Bulkhead, Adaptive or Throttle: nothing to shed with")
	}
	return nil
}

// shedSeconds returns d in whole seconds, rounded up, as Retry-After writes
// it.
func shedSeconds(d time.Duration) string {
	s := d / time.Second
	if d%time.Second != 0 {
		s++
	}
	return strconv.FormatInt(int64(s), 10)
}

// shedder is what a ShedConfig becomes.
type shedder struct {
	bulkhead   *bulkhead.Bulkhead
	adaptive   *adaptive.Limiter
	throttle   *throttle.Throttle
	classify   func(status int) resilience.Class
	rejected   func(http.ResponseWriter, *http.Request, error)
	retryAfter []string // the Retry-After header's value, shared by every answer; nil for none
}

// shedHandler is a handler behind the middleware.
type shedHandler struct {
	shedder
	next http.Handler
}

// Outcomes of a request that the handler answered with a failure, for the
// throttle and the adaptive limiter. They are shared, so a request
// allocates nothing.
var (
	errShedTransientStatus = resilience.Transient(errors.New("resiliencehttp: the handler answered with a status that counts as a transient failure"))
	errShedPermanentStatus = resilience.Permanent(errors.New("resiliencehttp: the handler answered with a status that counts as a permanent failure"))
	errShedIgnoredStatus   = errors.New("resiliencehttp: the handler answered with a status that counts as nothing")
)

// shedTickets are an admitted request's tickets, one per policy.
type shedTickets struct{ throttle, adaptive, bulkhead resilience.Ticket }

// ServeHTTP admits the request through the throttle, the adaptive limiter
// and the bulkhead, or sheds it.
func (h *shedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var t shedTickets
	var err error
	if h.throttle != nil {
		if t.throttle, err = h.throttle.Enter(ctx); err != nil {
			h.reject(w, r, err)
			return
		}
	}
	// A request that an inner policy turns away counts as nothing for the
	// outer ones, whatever the reason: the handler never saw it. (A wait
	// ended by a deadline would be a transient failure to a classifier.)
	if h.adaptive != nil {
		if t.adaptive, err = h.adaptive.Enter(ctx); err != nil {
			if h.throttle != nil {
				h.throttle.Exit(t.throttle, resilience.Outcome{Err: err, Canceled: true})
			}
			h.reject(w, r, err)
			return
		}
	}
	if h.bulkhead != nil {
		if t.bulkhead, err = h.bulkhead.Enter(ctx); err != nil {
			if h.adaptive != nil {
				h.adaptive.Exit(t.adaptive, resilience.Outcome{Err: err, Canceled: true})
			}
			if h.throttle != nil {
				h.throttle.Exit(t.throttle, resilience.Outcome{Err: err, Canceled: true})
			}
			h.reject(w, r, err)
			return
		}
	}
	h.serve(w, r, t)
}

// shedWriters are the wrappers the handlers get, reused once a handler has
// returned, so that an admitted request allocates nothing.
var shedWriters = sync.Pool{New: func() any { return new(shedWriter) }}

// serve runs the handler on an admitted request and reports how it ended,
// also when it panics: until the handler returns, the outcome says it
// panicked.
func (h *shedHandler) serve(w http.ResponseWriter, r *http.Request, t shedTickets) {
	o := resilience.Outcome{Panicked: true}
	defer h.exit(t, &o, r.Context())
	if h.throttle == nil && h.adaptive == nil {
		h.next.ServeHTTP(w, r) // nothing needs the status
		o.Panicked = false
		return
	}
	sw := shedWriters.Get().(*shedWriter)
	sw.ResponseWriter = w
	h.next.ServeHTTP(sw, r)
	status := sw.status
	// Back to the pool once the handler has returned (the wrapper of one
	// that panicked is left to the garbage collector).
	*sw = shedWriter{}
	shedWriters.Put(sw)
	o = h.outcome(status, r.Context())
}

// exit releases the request's room and reports its outcome to the
// policies, innermost first.
func (h *shedHandler) exit(t shedTickets, o *resilience.Outcome, ctx context.Context) {
	if h.bulkhead != nil {
		h.bulkhead.Exit(t.bulkhead, *o)
	}
	if h.adaptive != nil {
		h.adaptive.Exit(t.adaptive, adaptive.ServerOutcome(ctx, *o))
	}
	if h.throttle != nil {
		h.throttle.Exit(t.throttle, *o)
	}
}

// outcome turns the status a handler answered with into the outcome the
// policies are told.
func (h *shedHandler) outcome(status int, ctx context.Context) resilience.Outcome {
	if status == 0 {
		status = http.StatusOK // what net/http sends for a handler that wrote nothing
	}
	var o resilience.Outcome
	switch h.classify(status) {
	case resilience.ClassSuccess:
		return o
	case resilience.ClassTransient:
		o.Err = errShedTransientStatus
	case resilience.ClassPermanent:
		o.Err = errShedPermanentStatus
	default:
		return resilience.Outcome{Err: errShedIgnoredStatus, Canceled: true}
	}
	o.Canceled = ctx.Err() == context.Canceled
	return o
}

// reject answers a shed request.
func (h *shedHandler) reject(w http.ResponseWriter, r *http.Request, err error) {
	if h.retryAfter != nil {
		w.Header()["Retry-After"] = h.retryAfter
	}
	h.rejected(w, r, err)
}

// Header values and bodies of the default answer to a shed request, shared
// by every answer so that it allocates nothing.
var (
	shedContentType   = []string{"text/plain; charset=utf-8"}
	shedNoSniff       = []string{"nosniff"}
	shedBodyFull      = []byte("503 service unavailable: too many requests in progress\n")
	shedBodyThrottled = []byte("503 service unavailable: shedding load after recent failures\n")
	shedBodyGaveUp    = []byte("503 service unavailable: request ended while waiting\n")
)

// shedDefaultRejected writes the default answer to a shed request, as
// http.Error would: 503 and a short text body that says why.
func shedDefaultRejected(w http.ResponseWriter, _ *http.Request, err error) {
	body := shedBodyGaveUp
	switch {
	case errors.Is(err, bulkhead.ErrFull):
		body = shedBodyFull
	case errors.Is(err, throttle.ErrThrottled):
		body = shedBodyThrottled
	}
	h := w.Header()
	h.Del("Content-Length")
	h["Content-Type"] = shedContentType
	h["X-Content-Type-Options"] = shedNoSniff
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(body)
}

// shedNilHandler is what the middleware makes of a nil handler: a handler
// that answers every request with an error, rather than one that panics.
type shedNilHandler struct{}

func (shedNilHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "resiliencehttp: Shed: nil handler", http.StatusInternalServerError)
}

// shedWriter is the http.ResponseWriter the handler gets: it notes the
// status the handler answers with.
type shedWriter struct {
	http.ResponseWriter
	status int // the final status written, 0 until one is
}

// Unwrap returns the writer beneath, for http.ResponseController.
func (w *shedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// WriteHeader notes the first final status: informational ones (1xx but
// 101 Switching Protocols) may come before it, and net/http ignores any
// after it.
func (w *shedWriter) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
	if w.status == 0 && (code < 100 || code > 199 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
}

// wrote notes the 200 that writing without a status sends.
func (w *shedWriter) wrote() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
}

func (w *shedWriter) Write(p []byte) (int, error) {
	w.wrote()
	return w.ResponseWriter.Write(p)
}

// WriteString writes s without copying it when the writer beneath can.
func (w *shedWriter) WriteString(s string) (int, error) {
	w.wrote()
	if sw, ok := w.ResponseWriter.(io.StringWriter); ok {
		return sw.WriteString(s)
	}
	return w.ResponseWriter.Write([]byte(s))
}

// ReadFrom copies from src with the writer beneath's ReadFrom, such as
// net/http's, which uses sendfile, or else with io.Copy.
func (w *shedWriter) ReadFrom(src io.Reader) (int64, error) {
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		w.wrote() // net/http's ReadFrom writes the header even for no data
		return rf.ReadFrom(src)
	}
	return io.Copy(shedWriterOnly{w}, src)
}

// shedWriterOnly hides ReadFrom, so that io.Copy uses Write.
type shedWriterOnly struct{ io.Writer }

// FlushError flushes what the handler wrote, through
// http.ResponseController; a flush sends the header, so it notes the
// implicit 200.
func (w *shedWriter) FlushError() error {
	err := http.NewResponseController(w.ResponseWriter).Flush()
	if !errors.Is(err, http.ErrNotSupported) {
		w.wrote()
	}
	return err
}

// Flush implements http.Flusher: it is FlushError without the error.
func (w *shedWriter) Flush() { _ = w.FlushError() }

// Hijack implements http.Hijacker through http.ResponseController. A
// hijacked request's status is unknown; it counts as a 200.
func (w *shedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

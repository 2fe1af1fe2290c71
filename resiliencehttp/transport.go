package resiliencehttp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/internal/nilpolicy"
	"github.com/netresilience/resilience/internal/observe"
	"github.com/netresilience/resilience/internal/retrystep"
	"github.com/netresilience/resilience/pace"
	"github.com/netresilience/resilience/retry"
)

// Defaults of [Config]'s zero fields.
const (
	DefaultMaxBodyBuffer = 1 << 20  // 1 MiB
	DefaultMaxDrain      = 64 << 10 // 64 KiB
	DefaultMaxHosts      = 1024
)

// DefaultRetryStatuses are the statuses retried by default: they say the
// server, or one in front of it, could not take the request now.
var DefaultRetryStatuses = []int{
	http.StatusRequestTimeout,      // 408
	http.StatusTooManyRequests,     // 429
	http.StatusInternalServerError, // 500
	http.StatusBadGateway,          // 502
	http.StatusServiceUnavailable,  // 503
	http.StatusGatewayTimeout,      // 504
	StatusOverloaded,               // 529
}

// StatusOverloaded is the status 529 that Anthropic's API answers when it is
// overloaded: transient, like a 503, and in [DefaultRetryStatuses].
const StatusOverloaded = 529

// StackedRetryHeader is the header in which the client libraries generated
// by Stainless (openai-go, anthropic-sdk-go and others) number their own
// retries: "0" on a call's first request, "1" on the library's first retry,
// and so on. A value above zero tells the transport that the library retries
// on top of it (see resilience.Observer's StackedRetries).
const StackedRetryHeader = "X-Stainless-Retry-Count"

// DefaultReplayMethods are the methods whose requests are replayed by
// default: those that RFC 9110 (section 9.2.2) defines as idempotent, for
// which sending a request twice has the same effect on the server as sending
// it once — GET, HEAD, OPTIONS and TRACE, which change nothing, and PUT and
// DELETE.
var DefaultReplayMethods = []string{
	http.MethodGet,
	http.MethodHead,
	http.MethodOptions,
	http.MethodTrace,
	http.MethodPut,
	http.MethodDelete,
}

// Config configures a [Transport]. Each zero field means its documented
// default.
type Config struct {
	// Retry configures the retries, as for retry.New: attempts, backoff,
	// MaxRetryAfter (the cap on a server's Retry-After: a longer hint ends
	// the retries at once and hands back the response), a budget, an
	// observer.
	// Its Classifier, if set, classifies transport errors (not statuses);
	// default resilience.Classify.
	Retry retry.Config

	// Breaker, if set, gives each host (the request URL's Host, host and
	// port) a circuit breaker made from this config, named after the host.
	// A request to a host whose breaker is open fails with an error matching
	// breaker.ErrOpen without touching the network, and once an attempt's
	// failure opens it, the retries stop at once rather than wait for an
	// attempt it would reject: with the last response, or else a
	// *retry.Error whose Reason is retry.Rejected, which matches
	// breaker.ErrOpen. Its Classifier, if set, classifies transport errors.
	// Default: no breaker.
	//
	// The breaker hears how a response with a success status ended when its
	// body ends: read to its end, or closed by the caller, is a success; a
	// body that breaks midway (a stream of server-sent events cut short, a
	// connection closed before the last chunk, an HTTP/2 stream reset) is a
	// failure, the error the caller's Read returned — unless the request's
	// context was canceled, which counts as neither. So such a call lasts,
	// for the breaker's SlowCall, until its body ends. A half-open breaker's
	// probe is let go when its headers arrive (breaker.Permit.Release), so
	// that a long stream does not hold the breaker half-open nor outlast its
	// ProbeTimeout, and its body's outcome is recorded when it ends
	// (Breaker.Record). Keeping the outcome until then costs a small
	// allocation per response with a body.
	Breaker *breaker.Config

	// Limit, if set, gives each host (the request URL's Host) an adaptive
	// concurrency limit, an adaptive.Limiter made from a copy of this
	// config and named after the host, which bounds the attempts in flight
	// to the host and finds the bound from how the host answers. It works
	// per attempt, inside the retries and outside the breaker:
	//
	//   - Before each attempt, the attempt takes a permit of the host's
	//     limiter (Acquire, with the request's context, and so its
	//     priority: see adaptive.WithPriority). When the limit is reached
	//     it waits for room as the config's MaxWait and MaxQueue say, or,
	//     by default, is rejected at once. A rejected attempt is not sent:
	//     it fails with the limiter's *adaptive.Error, which matches
	//     adaptive.ErrLimited and bulkhead.ErrFull, and which the retries
	//     do not retry, whatever Retry's Classifier says. On a first
	//     attempt the caller gets that error itself; on a later one, the
	//     *retry.Error (Reason retry.NotRetryable) that wraps it, since the
	//     response of the attempt before was discarded when its retry was
	//     decided. Set MaxWait to make attempts beyond the limit queue
	//     rather than fail; the wait is not part of AttemptTimeout. A wait
	//     that the request's context ends fails with an error that wraps
	//     the context's cause. If the host's breaker then rejects the
	//     attempt, its permit is given back and the limiter learns nothing
	//     from it.
	//   - The permit is given back with the attempt's outcome. A transient
	//     failure is a drop, which cuts an AIMD limit: a status of
	//     RetryStatuses (429, 529, 503, ...), or a transport error that the
	//     config's Classify calls transient (default resilience.Classify:
	//     a reset, a timeout such as AttemptTimeout's, and, for a request
	//     that may be replayed, a connection dropped before an answer). A
	//     success, any other status (a 404 included), or a permanent error
	//     is not a drop. A failure after the caller canceled the request
	//     teaches the limiter nothing.
	//   - A response with a success status and a body keeps its permit
	//     until the body ends, where the breaker hears its outcome: at
	//     io.EOF or Close, not a drop; at a Read error (a stream broken
	//     midway), a drop whatever Classify says, unless the caller
	//     canceled the request. So a stream of server-sent events is one
	//     call in flight for as long as it streams; close every body, as
	//     net/http asks, or its permit is never given back.
	//   - The wait for a retry's backoff or a server's Retry-After, and
	//     the wait for a turn in the quota with Pace, hold no permit.
	//
	// The AIMD algorithm is the one for this: it reads the drops, the 429s
	// and 529s of an overloaded provider. The Gradient algorithm reads
	// latency, and would take a stream's length for the provider's latency.
	// For an LLM provider, &adaptive.Config{Initial: 8, Max: 64, AIMD:
	// adaptive.AIMDConfig{Backoff: 0.7}} starts at 8 calls in flight per
	// host, grows by one per round of calls that used at least half of the
	// limit, and falls by 30% per round of drops. The config's Observer, if
	// set, hears the limiter's events (resilience.KindAdaptive, with the
	// host as Policy), and then this Config's Observer does. Default: no
	// limit.
	Limit *adaptive.Config

	// MaxHosts bounds how many hosts' breakers and limiters are kept; past
	// it, those of the host met first are dropped (a call in flight under
	// a dropped limiter still gives its permit back to it, and the host's
	// next call starts a new one at Initial). Zero means [DefaultMaxHosts],
	// 1024; negative turns it off: every host's are kept, for a transport
	// that calls a known set of hosts.
	MaxHosts int

	// Pace, if set, paces the requests to each host (the request URL's
	// Host) to the quota that its answers report — the IETF's RateLimit
	// fields, OpenAI's x-ratelimit-* or Anthropic's anthropic-ratelimit-*
	// headers (see package pace) — through one pace.Pacer made from this
	// config: before each attempt, the transport waits for the attempt's
	// turn, so that what remains of the quota is spent evenly until its
	// reset rather than in a burst that ends in 429s; after each answer,
	// whatever its status, it hands the answer's headers back to the
	// pacer. A request's tokens are what its context says
	// (pace.WithTokens), or else the pacer's estimate. An attempt whose
	// turn is further off than the config's MaxWait, or not before the
	// request's deadline, is not sent: it fails at once with the pacer's
	// *pace.Error, which matches pace.ErrOverQuota and whose RetryAfter
	// says when its turn would come, and which a retry policy does not
	// retry; after a failed attempt, the retries stop at once when the
	// pacer would reject the next one. A wait that the request's context
	// ends returns an error that wraps the context's cause. The pacer's
	// events (resilience.KindPace, with the host as Policy: Admit with the
	// wait, Reject) go to its config's Observer and then to this Config's.
	// Default: no pacing.
	Pace *pace.Config

	// ReplayMethods are the methods whose requests may be sent more than
	// once. Default [DefaultReplayMethods]: the methods that RFC 9110
	// defines as idempotent, PUT and DELETE included. Narrow it for a server
	// whose PUT or DELETE is not idempotent in fact: []string{"GET",
	// "HEAD"} replays only those; an empty, non-nil list replays none. A
	// request with an empty Method is a GET. Names are matched exactly, as
	// HTTP methods are case-sensitive, and each must be a valid method name.
	// A request that may not be replayed is sent once, and its response or
	// error returned as it came.
	ReplayMethods []string

	// RetryNonIdempotent allows replaying requests whatever their method,
	// such as POST: LLM completion calls usually want it. A request with an
	// Idempotency-Key header, or whose context was marked with
	// [AllowRetry], is replayed whatever its method.
	RetryNonIdempotent bool

	// RetryStatuses are the statuses that are transient: retried, and
	// counted as failures by the breaker. Default [DefaultRetryStatuses]; an
	// empty, non-nil list makes no status transient. Any other 4xx status is
	// the client's mistake: never retried, and ignored by the breaker; any
	// other 5xx status (such as 501) is permanent: not retried, counted by
	// the breaker.
	RetryStatuses []int

	// MaxBodyBuffer is how much of a request body without GetBody is kept
	// in memory so that the request can be replayed. Such a body is not
	// read ahead: it streams to the server as the base transport reads it
	// (so a full-duplex exchange works as without the transport), and what
	// is sent is copied as it goes. An attempt that failed before the whole
	// body was sent is replayed with the copy and then the rest of the
	// body, never with a part of it. Once more than MaxBodyBuffer bytes
	// have been sent, the request cannot be replayed: a failed attempt's
	// response or error is returned as it came. Zero means
	// [DefaultMaxBodyBuffer], 1 MiB; negative turns it off: nothing is kept,
	// and a request whose body has no GetBody is sent once, as one that may
	// not be replayed.
	MaxBodyBuffer int64

	// MaxDrain is how much of a discarded response's body is read before
	// closing it, so that its connection can be reused. Zero means
	// [DefaultMaxDrain], 64 KiB; negative turns it off: a discarded body is
	// closed unread, which on HTTP/1 costs its connection.
	MaxDrain int64

	// AttemptTimeout, if set, gives each attempt its own deadline inside the
	// request's: an attempt that overruns it is transient. The deadline
	// covers reading the response body too; closing the body releases it.
	// A 101 Switching Protocols response is handed back as the base
	// transport gave it (net/http's Body is then an io.ReadWriteCloser), and
	// the deadline is lifted: the upgraded connection is the caller's.
	AttemptTimeout time.Duration

	// AttemptHeader, if set, names a header that tells the server which
	// attempt a request is: "1", "2", ... It must be a valid header name.
	AttemptHeader string

	// Observer, if set, receives the events of the retry policy (Kind
	// resilience.KindRetry) and of every host's breaker (KindBreaker,
	// with the host as Policy), after the Observer of Retry or Breaker, if
	// they have one (see resilience.Observers). A request that may be
	// replayed ends with a Success or a GiveUp event; when it is the
	// transport, not the retry policy, that stops replaying it — its body
	// outgrew MaxBodyBuffer, or GetBody failed — the GiveUp has Kind
	// resilience.KindTransport and says so in Reason. A request that may
	// not be replayed is sent once, and reports no retry events. Its
	// StackedRetries func hears, once per Transport, of a client library
	// that retries on top of it (see [StackedRetryHeader]). Default: none.
	Observer *resilience.Observer
}

// Transport is an http.RoundTripper that retries and guards the requests it
// sends through another. Make one with [NewTransport]; it is safe for
// concurrent use, as an http.RoundTripper must be. The zero Transport is not
// valid, and a nil *Transport never panics: a method that would run or admit a
// call refuses it, with an error matching resilience.ErrNilPolicy where it
// returns one, and the other methods do nothing and report zero values.
type Transport struct {
	base           http.RoundTripper
	retry          *retry.Policy
	classify       resilience.Classifier // transport errors
	breakerConfig  *breaker.Config
	retryAll       bool
	replayMethods  []string
	retryStatuses  []int
	maxBody        int64
	maxDrain       int64
	attemptTimeout time.Duration
	attemptHeader  string
	obs            *resilience.Observer // the retry policy's, for the transport's own events
	retryName      string
	pacer          *pace.Pacer
	stackedSeen    atomic.Bool // a StackedRetries event was sent
	limitConfig    *adaptive.Config

	mu       sync.RWMutex
	hosts    map[string]hostGuards // nil without Breaker and Limit
	made     []string              // hosts in the order their guards were made
	maxHosts int
}

// NewTransport returns a Transport that sends requests through base (nil
// means http.DefaultTransport), or an error if cfg makes no sense.
func NewTransport(base http.RoundTripper, cfg Config) (*Transport, error) {
	if base == nil {
		base = http.DefaultTransport
	}
	switch {
	case cfg.AttemptTimeout < 0:
		return nil, errors.New("resiliencehttp: AttemptTimeout is negative: " + cfg.AttemptTimeout.String())
	case cfg.AttemptHeader != "" && !isToken(cfg.AttemptHeader):
		return nil, errors.New("resiliencehttp: AttemptHeader is not a header name: " + strconv.Quote(cfg.AttemptHeader))
	}
	for _, m := range cfg.ReplayMethods {
		if !isToken(m) {
			return nil, errors.New("resiliencehttp: ReplayMethods holds " + strconv.Quote(m) + ", not a method name")
		}
	}
	for _, s := range cfg.RetryStatuses {
		if s < 100 || s > 999 {
			return nil, errors.New("resiliencehttp: RetryStatuses holds " + strconv.Itoa(s) + ", not a status code")
		}
	}
	t := &Transport{
		base:           base,
		classify:       cfg.Retry.Classifier,
		retryAll:       cfg.RetryNonIdempotent,
		replayMethods:  slices.Clone(cfg.ReplayMethods),
		retryStatuses:  slices.Clone(cfg.RetryStatuses),
		maxBody:        cmp.Or(cfg.MaxBodyBuffer, DefaultMaxBodyBuffer),
		maxDrain:       cmp.Or(cfg.MaxDrain, DefaultMaxDrain),
		attemptTimeout: cfg.AttemptTimeout,
		attemptHeader:  http.CanonicalHeaderKey(cfg.AttemptHeader),
		maxHosts:       cmp.Or(cfg.MaxHosts, DefaultMaxHosts),
	}
	if t.classify == nil {
		t.classify = resilience.Classify
	}
	if t.retryStatuses == nil {
		t.retryStatuses = DefaultRetryStatuses
	}
	if t.replayMethods == nil {
		t.replayMethods = DefaultReplayMethods
	}
	rc := cfg.Retry
	rc.Classifier = t.classOf
	rc.Observer = resilience.Observers(cfg.Retry.Observer, cfg.Observer)
	t.obs, t.retryName = rc.Observer, rc.Name
	p, err := retry.New(rc)
	if err != nil {
		return nil, errors.New("resiliencehttp: Retry: " + err.Error())
	}
	t.retry = p
	if cfg.Breaker != nil {
		bc := *cfg.Breaker
		bc.Observer = resilience.Observers(cfg.Breaker.Observer, cfg.Observer)
		userClassify := bc.Classifier
		if userClassify == nil {
			userClassify = resilience.Classify
		}
		bc.Classifier = func(err error) resilience.Class {
			if se, ok := findStatus(err); ok {
				return t.statusClass(se.StatusCode)
			}
			return userClassify(err)
		}
		if _, err := breaker.New(bc); err != nil { // check it once, here
			return nil, errors.New("resiliencehttp: Breaker: " + err.Error())
		}
		t.breakerConfig = &bc
	}
	if err := t.setLimit(cfg); err != nil {
		return nil, err
	}
	if t.breakerConfig != nil || t.limitConfig != nil {
		t.hosts = make(map[string]hostGuards)
	}
	if err := t.setPace(cfg); err != nil {
		return nil, err
	}
	return t, nil
}

// errNilTransport is the error of a request sent through a nil *Transport.
const errNilTransport = nilpolicy.Error("resiliencehttp: nil *Transport")

// isToken reports whether s is an HTTP token (RFC 9110, section 5.6.2), as
// a header name must be.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// StatusError is the failure that a response's status makes, as the retry
// policy and the breaker see it. A caller never receives one from the
// transport: when retries run out on a status, the response is returned.
type StatusError struct {
	StatusCode int
	Status     string // such as "503 Service Unavailable"
}

// Error returns "resiliencehttp: " and the status.
func (e *StatusError) Error() string { return "resiliencehttp: " + e.Status }

func findStatus(err error) (*StatusError, bool) {
	var se *StatusError
	ok := errors.As(err, &se)
	return se, ok
}

// statusClass classifies a response's status.
func (t *Transport) statusClass(code int) resilience.Class {
	switch {
	case slices.Contains(t.retryStatuses, code):
		return resilience.ClassTransient
	case code >= 500:
		return resilience.ClassPermanent
	case code >= 400:
		return resilience.ClassIgnored
	}
	return resilience.ClassSuccess
}

// classOf is the retry policy's classifier: statuses by statusClass,
// transport errors by the configured classifier.
func (t *Transport) classOf(err error) resilience.Class {
	if se, ok := findStatus(err); ok {
		return t.statusClass(se.StatusCode)
	}
	if t.limitConfig != nil && errors.Is(err, adaptive.ErrLimited) {
		return resilience.ClassIgnored // a limiter's rejection is never retried
	}
	return t.classify(err)
}

// CloseIdleConnections closes the idle connections of the base transport, if
// it has a CloseIdleConnections method, so that http.Client's method of the
// same name reaches through the wrapper.
func (t *Transport) CloseIdleConnections() {
	if t == nil {
		return
	}
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// allowRetryKey marks a context whose requests may be replayed.
type allowRetryKey struct{}

// AllowRetry returns a context whose requests the transport may replay
// whatever their method: for one POST that is safe to repeat, when
// Config.RetryNonIdempotent is not set.
func AllowRetry(ctx context.Context) context.Context {
	return context.WithValue(ctx, allowRetryKey{}, true)
}

// replayable reports whether req may be sent more than once.
func (t *Transport) replayable(req *http.Request) bool {
	if t.maxBody < 0 && req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false // no body is kept for a replay
	}
	if slices.Contains(t.replayMethods, cmp.Or(req.Method, http.MethodGet)) {
		return true
	}
	if t.retryAll || req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != "" {
		return true
	}
	v, _ := req.Context().Value(allowRetryKey{}).(bool)
	return v
}

// RoundTrip sends req, retrying and guarding it as configured. It follows the
// http.RoundTripper contract: it does not modify req, it closes req's body
// (or has the base transport close it), and it returns a response or an
// error, not both. When the retries run out on a status, the last response
// is returned with a nil error; on a transport error, an error that unwraps
// to the last one.
//
// For a request that may be replayed, these transport failures are transient
// whatever the classifier says: the connection closed before an answer
// (io.EOF, io.ErrUnexpectedEOF); and a failure before an answer on a
// connection that had carried requests before (the keep-alive race, which
// net/http retries itself only for GET, HEAD, OPTIONS, TRACE and requests
// with an idempotency key), unless writing the request failed through a
// fault of its own, such as a body shorter than its ContentLength. An HTTP/2
// stream that the server reset before answering is transient to the default
// classifier, resilience.Classify, as a reset connection is.
//
// A request whose context is already done is not sent: the error wraps
// context.Cause of it. A nil request, a nil URL, or a base transport that
// breaks the http.RoundTripper contract (no response and no error, or a
// response without a Body that promises content) make an error, not a panic;
// a response that comes with an error is closed and dropped. A GetBody that
// fails or returns no body ends the retries: the last response is returned,
// or an error that wraps GetBody's and the last attempt's.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case req == nil:
		return nil, errors.New("resiliencehttp: nil *http.Request")
	case t == nil:
		closeBody(req)
		return nil, errNilTransport
	case req.URL == nil:
		closeBody(req)
		return nil, errors.New("resiliencehttp: nil Request.URL")
	}
	if ctx := req.Context(); ctx.Err() != nil {
		closeBody(req)
		return nil, fmt.Errorf("resiliencehttp: request not sent: %w", context.Cause(ctx))
	}
	if t.obs != nil && t.obs.StackedRetries != nil && !t.stackedSeen.Load() {
		t.noticeStacked(req)
	}
	g := t.guardsFor(req.URL.Host)
	if !t.replayable(req) {
		return t.attempt(req, t.request(req, 1, req.Body, nil), g, false)
	}
	return t.retrying(req, g)
}

// noticeStacked sends the StackedRetries event, once per transport, if req
// is a client library's own retry: its StackedRetryHeader is above zero.
func (t *Transport) noticeStacked(req *http.Request) {
	v := req.Header.Get(StackedRetryHeader)
	if v == "" || v == "0" {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || !t.stackedSeen.CompareAndSwap(false, true) {
		return
	}
	observe.Call(t.obs.StackedRetries, resilience.Event{
		Type:    resilience.EventStackedRetries,
		Kind:    resilience.KindTransport,
		Policy:  t.retryName,
		Context: req.Context(),
		Time:    time.Now(),
		Attempt: n,
		Reason:  StackedRetryHeader + ": " + v,
	})
}

// retrying sends req, which may be replayed, until an attempt succeeds or
// the retry policy says stop.
func (t *Transport) retrying(req *http.Request, g hostGuards) (*http.Response, error) {
	var tee *replayBody // records a body without GetBody as it is sent
	body := req.Body    // the current attempt's body
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		tee = newReplayBody(req.Body, t.maxBody)
		defer tee.finish()
		body = tee.view()
	}
	plan, err := t.retry.BeginRetries()
	if err != nil {
		if body != nil {
			body.Close() // and finish closes the original
		}
		return nil, err
	}
	ctx := req.Context()
	var call retrystep.Call
	call.Begin(plan.Timed)
	if g.br != nil {
		call.Ahead = g.br // an open breaker ends the retries without a wait
	}
	if t.pacer != nil {
		call.Ahead = t.ahead(req, g.br) // and so does a pacer that would reject
	}
	decide := func(s retrystep.State) (time.Duration, error) {
		return t.retry.NextRetry(resilience.RetryState(s))
	}
	for n := 1; ; n++ {
		resp, err := t.attempt(req, t.request(req, n, body, tee), g, true)
		failure := err
		if err == nil {
			if t.statusClass(resp.StatusCode) == resilience.ClassSuccess {
				if plan.ReportSuccess {
					s := resilience.RetryState(call.State)
					s.Attempts, s.Err, s.Cause, s.Now, s.Context = n, nil, nil, time.Now(), ctx
					s.Rejection, s.RejectedUntil = nil, time.Time{}
					t.retry.Succeeded(s)
				}
				return resp, nil
			}
			failure = t.statusFailure(resp)
		}
		// A body without GetBody is taken for the next attempt before
		// anything is decided: if it outgrew MaxBodyBuffer (or failed), the
		// request cannot be sent again, and this attempt's outcome is the
		// call's, as it is for a request that may not be replayed.
		var next, prev *replayView
		if tee != nil {
			if next, prev = tee.next(); next == nil {
				t.gaveUp(ctx, n, failure, "request body not replayable")
				return resp, err
			}
		}
		call.Failed(ctx, failure)
		delay, stop := call.Decided(t.retry.NextRetry(resilience.RetryState(call.State)))
		if stop == nil && tee == nil {
			var rerr error
			if body, rerr = t.rewind(req); rerr != nil {
				// No body to send again: the last response, as it came, or
				// the failure to get the body and the attempt's.
				if resp != nil {
					t.gaveUp(ctx, n, failure, "GetBody failed")
					return resp, nil
				}
				err = fmt.Errorf("%w, after: %w", rerr, err)
				t.gaveUp(ctx, n, err, "GetBody failed")
				return nil, err
			}
		}
		if stop != nil {
			if next != nil {
				tee.unview(next, prev)
			}
			if resp != nil {
				return resp, nil // the last response, as it came
			}
			return nil, stop
		}
		if next != nil {
			body = next
		}
		t.discard(resp)
		if stop := call.Wait(ctx, delay, decide); stop != nil {
			if body != nil {
				body.Close() // never sent
			}
			return nil, stop
		}
	}
}

// gaveUp reports that the transport, not the retry policy, ended a call
// after n attempts, the last of which failed with err.
func (t *Transport) gaveUp(ctx context.Context, n int, err error, reason string) {
	if t.obs == nil || t.obs.GiveUp == nil {
		return
	}
	observe.Call(t.obs.GiveUp, resilience.Event{
		Type:    resilience.EventGiveUp,
		Kind:    resilience.KindTransport,
		Policy:  t.retryName,
		Context: ctx,
		Time:    time.Now(),
		Err:     err,
		Attempt: n,
		Reason:  reason,
	})
}

// rewind returns the body of another attempt of req, which has GetBody or no
// body: a GetBody that fails or returns nil ends the retries.
func (t *Transport) rewind(req *http.Request) (io.ReadCloser, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, nil
	}
	body, err := req.GetBody()
	switch {
	case err != nil:
		return nil, fmt.Errorf("resiliencehttp: GetBody: %w", err)
	case body == nil:
		return nil, errors.New("resiliencehttp: GetBody returned a nil body")
	}
	return body, nil
}

// statusFailure is the failure a response's status makes, with the server's
// hint attached.
func (t *Transport) statusFailure(resp *http.Response) error {
	var err error = &StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
	if d, ok := ParseRetryAfter(resp.Header, time.Now()); ok {
		err = resilience.WithRetryAfter(err, d)
	}
	return err
}

// request returns the request to send as attempt n of req, with body: req
// itself when nothing about it changes, else a shallow copy.
func (t *Transport) request(req *http.Request, n int, body io.ReadCloser, tee *replayBody) *http.Request {
	if n == 1 && tee == nil && t.attemptHeader == "" {
		return req
	}
	r := new(http.Request)
	*r = *req
	r.Body = body
	if tee != nil {
		// net/http rewinds a body itself when a connection was lost before
		// its request was answered, and when an HTTP/2 stream was refused.
		r.GetBody = tee.getBody
	}
	if t.attemptHeader != "" {
		r.Header = req.Header.Clone()
		if r.Header == nil {
			r.Header = make(http.Header)
		}
		r.Header.Set(t.attemptHeader, strconv.Itoa(n))
	}
	return r
}

// guarded sends r, one attempt of req, within the host's limit and through
// its breaker, if it has them: an attempt that the limiter or the breaker
// rejects is not sent, and they hear how a sent one ended. replay says
// whether req may be sent again; sent, whether r went out.
func (t *Transport) guarded(req, r *http.Request, g hostGuards, replay bool) (resp *http.Response, sent bool, err error) {
	if g.br == nil && g.lim == nil {
		resp, err = t.send(req, r, replay)
		return resp, true, err
	}
	var lp adaptive.Permit // the zero Permit, without a limiter: releasing it does nothing
	if g.lim != nil {
		if lp, err = g.lim.Acquire(req.Context()); err != nil {
			closeBody(r) // not sent
			return nil, false, err
		}
	}
	var bp breaker.Permit // likewise without a breaker
	if g.br != nil {
		if bp, err = g.br.Allow(); err != nil {
			lp.Release(resilience.Outcome{Canceled: true}) // not sent: it teaches nothing
			closeBody(r)
			return nil, false, err
		}
	}
	resp, err = t.send(req, r, replay)
	if err == nil && resp.Body != http.NoBody && resp.StatusCode != http.StatusSwitchingProtocols &&
		t.statusClass(resp.StatusCode) == resilience.ClassSuccess {
		// The outcome is the body's: a stream that breaks midway fails.
		var record *breaker.Breaker
		if bp.Probe() {
			// A half-open breaker's probe: its slot is freed now, so that a
			// long stream cannot hold the breaker half-open, nor outlast
			// ProbeTimeout and count as failed; the body's outcome is
			// recorded when it ends.
			bp.Release()
			record = g.br
		}
		if g.lim == nil {
			resp.Body = &outcomeBody{ReadCloser: resp.Body, permit: bp, req: req, record: record}
		} else {
			// The limiter's permit too, in a body of its own, so that a
			// transport without a limit pays nothing for it.
			resp.Body = &limitedBody{outcomeBody{ReadCloser: resp.Body, permit: bp, req: req, record: record}, lp}
		}
		return resp, true, nil
	}
	out := t.breakerOutcome(req, resp, err)
	bp.Done(out)
	lp.Release(limitOutcome(out))
	return resp, true, err
}

// outcomeBody reports the outcome of a response with a success status to
// the breaker when its body ends: a failure if a Read fails with an error
// other than io.EOF, else a success, at io.EOF or at Close, whichever comes
// first. The outcome goes to the permit, which counts only its first
// report; or, for a probe whose permit was released, to record, once.
type outcomeBody struct {
	io.ReadCloser
	permit   breaker.Permit
	req      *http.Request
	record   *breaker.Breaker // for a released probe: where the outcome is recorded
	recorded atomic.Bool
}

func (b *outcomeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if out, ended := b.ended(err); ended {
		b.report(out)
	}
	return n, err
}

func (b *outcomeBody) Close() error {
	err := b.ReadCloser.Close()
	b.report(nil) // nothing failed while the caller read; does nothing after a Read's report
	return err
}

// ended reports whether a Read's error err ends the body, and the outcome
// it makes: nil at io.EOF, context.Canceled if the caller canceled the
// request, else err.
func (b *outcomeBody) ended(err error) (outcome error, ended bool) {
	switch {
	case err == nil:
		return nil, false
	case err == io.EOF:
		return nil, true
	case b.req.Context().Err() == context.Canceled:
		return context.Canceled, true // the caller's own doing
	}
	return err, true
}

func (b *outcomeBody) report(err error) {
	switch {
	case b.record == nil:
		b.permit.Done(err)
	case b.recorded.CompareAndSwap(false, true):
		b.record.Record(err)
	}
}

// limitedBody is an outcomeBody that also holds the limiter's permit of its
// attempt, given back when the body ends: at io.EOF or Close, not a drop;
// at a Read error, a drop, unless the caller canceled the request.
type limitedBody struct {
	outcomeBody
	limit adaptive.Permit
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if out, ended := b.ended(err); ended {
		b.report(out)
		b.limit.Release(bodyOutcome(out))
	}
	return n, err
}

func (b *limitedBody) Close() error {
	err := b.ReadCloser.Close()
	b.report(nil)
	b.limit.Release(resilience.Outcome{}) // does nothing after a Read's release
	return err
}

// breakerOutcome is what an attempt's result tells the breaker: a failure
// after the caller canceled req is the caller's doing, and a response tells
// what its status says.
func (t *Transport) breakerOutcome(req *http.Request, resp *http.Response, err error) error {
	switch {
	case err == nil:
		return t.outcomeOf(resp)
	case req.Context().Err() == context.Canceled:
		return context.Canceled
	}
	return err
}

// send sends r, one attempt of req, through the base transport, under the
// attempt's own deadline if there is one. replay says whether req may be
// sent again, so that a connection dropped before an answer is transient.
func (t *Transport) send(req, r *http.Request, replay bool) (*http.Response, error) {
	r, cancel := t.withAttemptTimeout(req, r)
	var conn *connTrace
	if replay && !retriedByNetHTTP(r) {
		r, conn = traceConn(r)
	}
	sendBody(r)
	resp, err := t.base.RoundTrip(r)
	resp, err = t.checked(r, resp, err)
	if err != nil && replay {
		err = transientIfDropped(err, conn)
	}
	if cancel != nil {
		resp = releaseAttemptTimeout(resp, err, cancel)
	}
	return resp, err
}

// withAttemptTimeout returns r with the attempt's own deadline, inside
// req's, and the function that releases it; r itself and a nil function
// without AttemptTimeout.
func (t *Transport) withAttemptTimeout(req, r *http.Request) (*http.Request, context.CancelFunc) {
	if t.attemptTimeout <= 0 {
		return r, nil
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.attemptTimeout)
	return r.WithContext(ctx), cancel
}

// releaseAttemptTimeout ties the release of an attempt's deadline to the
// end of the attempt: at once after an error, or for a protocol upgrade,
// else when the response's body is closed, since the deadline covers reading
// it.
func releaseAttemptTimeout(resp *http.Response, err error, cancel context.CancelFunc) *http.Response {
	switch {
	case err != nil:
		cancel()
	case resp.StatusCode == http.StatusSwitchingProtocols:
		// An upgraded connection is the caller's, with no deadline of ours
		// on it (net/http no longer ties it to the request's context), and
		// its Body stays an io.ReadWriteCloser.
		cancel()
	default:
		resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	}
	return resp
}

// traceConn returns a copy of r that records, in the returned connTrace,
// the connection it goes out on.
func traceConn(r *http.Request) (*http.Request, *connTrace) {
	conn := new(connTrace)
	r = r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
		GotConn: conn.gotConn, WroteRequest: conn.wroteRequest}))
	return r, conn
}

// sendBody readies a replayed body for the attempt r that sends it: its
// reads give up when the attempt does.
func sendBody(r *http.Request) {
	if v, ok := r.Body.(*replayView); ok {
		v.b.send(v, r.Context())
	}
}

// transientIfDropped marks as transient the failure of an attempt of a
// request that may be replayed, when the server closed the connection
// before answering, or the attempt failed on a connection that had served
// before (the keep-alive race: the server closed it as idle while the
// request went out; net/http retries this itself only for the requests it
// deems replayable, and conn is nil for those).
func transientIfDropped(err error, conn *connTrace) error {
	if dropped(err) || conn.raced() {
		return resilience.Transient(err)
	}
	return err
}

// connTrace records whether an attempt went out on a connection that had
// carried requests before, and whether writing the request failed through
// a fault of its own (its body, or a length its body does not match) rather
// than the connection's.
type connTrace struct{ reused, ownFault atomic.Bool }

func (c *connTrace) gotConn(info httptrace.GotConnInfo) {
	if info.Reused {
		c.reused.Store(true)
	}
}

func (c *connTrace) wroteRequest(info httptrace.WroteRequestInfo) {
	var netErr net.Error
	if info.Err != nil && !errors.As(info.Err, &netErr) {
		c.ownFault.Store(true)
	}
}

// raced reports whether a failed attempt may have met the keep-alive race:
// it went out on a reused connection, and the request was not at fault.
func (c *connTrace) raced() bool {
	return c != nil && c.reused.Load() && !c.ownFault.Load()
}

// retriedByNetHTTP reports whether net/http's Transport would itself send r
// again on a fresh connection after the keep-alive race, as it does for the
// requests it deems replayable: a body it can rewind, and an idempotent
// method or an idempotency key.
func retriedByNetHTTP(r *http.Request) bool {
	if r.Body != nil && r.Body != http.NoBody && r.GetBody == nil {
		return false
	}
	switch r.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, key := r.Header["Idempotency-Key"]
	_, xkey := r.Header["X-Idempotency-Key"]
	return key || xkey
}

// checked holds the base transport to the http.RoundTripper contract, as
// http.Client does: a response or an error, never both and never neither, and
// a response with a Body.
func (t *Transport) checked(r *http.Request, resp *http.Response, err error) (*http.Response, error) {
	switch {
	case err != nil:
		if resp != nil && resp.Body != nil {
			resp.Body.Close() // a response and an error: the response is dropped, but not leaked
		}
		return nil, err
	case resp == nil:
		closeBody(r)
		return nil, fmt.Errorf("resiliencehttp: base RoundTripper %T returned a nil *Response with a nil error", t.base)
	case resp.Body == nil:
		if resp.ContentLength > 0 && r.Method != http.MethodHead {
			return nil, fmt.Errorf("resiliencehttp: base RoundTripper %T returned a *Response with content length %d but a nil Body", t.base, resp.ContentLength)
		}
		resp.Body = http.NoBody
	}
	return resp, nil
}

// dropped reports whether err says the server closed the connection before
// answering (io.EOF, io.ErrUnexpectedEOF): a bare io.EOF is permanent to
// resilience.Classify, but not here, where no answer came.
func dropped(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// outcomeOf is what a response tells the breaker: nil for success, or the
// status failure (which the breaker's classifier sorts).
func (t *Transport) outcomeOf(resp *http.Response) error {
	if t.statusClass(resp.StatusCode) == resilience.ClassSuccess {
		return nil
	}
	return &StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
}

// discard drains and closes a response the caller will not see, so that its
// connection can be reused.
func (t *Transport) discard(resp *http.Response) {
	if resp == nil {
		return
	}
	if t.maxDrain > 0 {
		io.CopyN(io.Discard, resp.Body, t.maxDrain)
	}
	resp.Body.Close()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// cancelBody releases an attempt's context when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

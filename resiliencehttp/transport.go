package resiliencehttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/internal/clock"
	"github.com/netresilience/resilience/internal/defaults"
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
}

// Config configures a [Transport]. Each zero field means its documented
// default.
type Config struct {
	// Retry configures the retries, as for retry.New: attempts, backoff,
	// MaxRetryAfter (the cap on a server's Retry-After: a longer hint ends
	// the retries at once and hands back the response), a budget, a hook.
	// Its Classifier, if set, classifies transport errors (not statuses);
	// default resilience.Classify.
	Retry retry.Config

	// Breaker, if set, gives each host (the request URL's Host, host and
	// port) a circuit breaker made from this config, named after the host.
	// A request to a host whose breaker is open fails with an error matching
	// breaker.ErrOpen without touching the network. Its Classifier, if set,
	// classifies transport errors. Default: no breaker.
	Breaker *breaker.Config

	// MaxHosts bounds how many hosts' breakers are kept; past it, the
	// breaker made first is dropped. Default 1024.
	MaxHosts int

	// RetryNonIdempotent allows replaying requests whose method is not
	// idempotent, such as POST: LLM completion calls usually want it. A
	// request with an Idempotency-Key header, or whose context was marked
	// with [AllowRetry], is replayed whatever its method.
	RetryNonIdempotent bool

	// RetryStatuses are the statuses that are transient: retried, and
	// counted as failures by the breaker. Default [DefaultRetryStatuses]. Any
	// other 4xx status is the client's mistake: never retried, and ignored by
	// the breaker; any other 5xx status (such as 501) is permanent: not
	// retried, counted by the breaker.
	RetryStatuses []int

	// MaxBodyBuffer is how much of a request body without GetBody is read
	// into memory so that it can be replayed; a longer body is sent once,
	// not retried. Default 1 MiB.
	MaxBodyBuffer int64

	// MaxDrain is how much of a discarded response's body is read before
	// closing it, so that its connection can be reused. Default 64 KiB.
	MaxDrain int64

	// AttemptTimeout, if set, gives each attempt its own deadline inside the
	// request's: an attempt that overruns it is transient. The deadline
	// covers reading the response body too; closing the body releases it.
	AttemptTimeout time.Duration

	// AttemptHeader, if set, names a header that tells the server which
	// attempt a request is: "1", "2", ...
	AttemptHeader string
}

// Transport is an http.RoundTripper that retries and guards the requests it
// sends through another. Make one with [NewTransport]; it is safe for
// concurrent use, as an http.RoundTripper must be.
type Transport struct {
	base          http.RoundTripper
	retry         *retry.Policy
	classify      resilience.Classifier // transport errors
	breakerConfig *breaker.Config
	retryAll      bool
	retryStatuses []int
	maxBody       int64
	maxDrain      int64
	attemptTimout time.Duration
	attemptHeader string

	mu       sync.RWMutex
	breakers map[string]*breaker.Breaker
	made     []string // hosts in the order their breakers were made
	maxHosts int
}

// NewTransport returns a Transport that sends requests through base (nil
// means http.DefaultTransport), or an error if cfg makes no sense.
func NewTransport(base http.RoundTripper, cfg Config) (*Transport, error) {
	if base == nil {
		base = http.DefaultTransport
	}
	switch {
	case cfg.MaxHosts < 0:
		return nil, errors.New("resiliencehttp: MaxHosts is negative: " + strconv.Itoa(cfg.MaxHosts))
	case cfg.MaxBodyBuffer < 0:
		return nil, errors.New("resiliencehttp: MaxBodyBuffer is negative: " + strconv.FormatInt(cfg.MaxBodyBuffer, 10))
	case cfg.MaxDrain < 0:
		return nil, errors.New("resiliencehttp: MaxDrain is negative: " + strconv.FormatInt(cfg.MaxDrain, 10))
	case cfg.AttemptTimeout < 0:
		return nil, errors.New("resiliencehttp: AttemptTimeout is negative: " + cfg.AttemptTimeout.String())
	}
	for _, s := range cfg.RetryStatuses {
		if s < 100 || s > 999 {
			return nil, errors.New("resiliencehttp: RetryStatuses holds " + strconv.Itoa(s) + ", not a status code")
		}
	}
	t := &Transport{
		base:          base,
		classify:      cfg.Retry.Classifier,
		retryAll:      cfg.RetryNonIdempotent,
		retryStatuses: slices.Clone(cfg.RetryStatuses),
		maxBody:       defaults.Or(cfg.MaxBodyBuffer, DefaultMaxBodyBuffer),
		maxDrain:      defaults.Or(cfg.MaxDrain, DefaultMaxDrain),
		attemptTimout: cfg.AttemptTimeout,
		attemptHeader: http.CanonicalHeaderKey(cfg.AttemptHeader),
		maxHosts:      defaults.Or(cfg.MaxHosts, DefaultMaxHosts),
	}
	if t.classify == nil {
		t.classify = resilience.Classify
	}
	if t.retryStatuses == nil {
		t.retryStatuses = DefaultRetryStatuses
	}
	rc := cfg.Retry
	rc.Classifier = t.classOf
	p, err := retry.New(rc)
	if err != nil {
		return nil, errors.New("resiliencehttp: Retry: " + err.Error())
	}
	t.retry = p
	if cfg.Breaker != nil {
		bc := *cfg.Breaker
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
		t.breakers = make(map[string]*breaker.Breaker)
	}
	return t, nil
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
	return t.classify(err)
}

// breakerFor returns the host's breaker, making it if needed; nil without a
// breaker config.
func (t *Transport) breakerFor(host string) *breaker.Breaker {
	if t.breakerConfig == nil {
		return nil
	}
	t.mu.RLock()
	b := t.breakers[host]
	t.mu.RUnlock()
	if b != nil {
		return b
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if b = t.breakers[host]; b != nil {
		return b
	}
	cfg := *t.breakerConfig
	cfg.Name = host
	b = breaker.MustNew(cfg) // validated in NewTransport
	if len(t.made) >= t.maxHosts {
		delete(t.breakers, t.made[0])
		t.made = t.made[1:]
	}
	t.breakers[host] = b
	t.made = append(t.made, host)
	return b
}

// Breaker returns the breaker of host (host and port, as in a URL's Host),
// or nil if it has none yet or the transport has no breakers: for metrics
// and manual control.
func (t *Transport) Breaker(host string) *breaker.Breaker {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.breakers[host]
}

// CloseIdleConnections closes the idle connections of the base transport, if
// it has a CloseIdleConnections method, so that http.Client's method of the
// same name reaches through the wrapper.
func (t *Transport) CloseIdleConnections() {
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
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	if t.retryAll || req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != "" {
		return true
	}
	v, _ := req.Context().Value(allowRetryKey{}).(bool)
	return v
}

// RoundTrip sends req, retrying and guarding it as configured. It follows the
// http.RoundTripper contract: it does not modify req, it closes req's body,
// and it returns a response or an error, not both. When the retries run out
// on a status, the last response is returned with a nil error; on a
// transport error, an error that unwraps to the last one.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t == nil {
		closeBody(req)
		return nil, errors.New("resiliencehttp: nil *Transport")
	}
	replay := t.replayable(req)
	body, err := t.prepareBody(req, &replay)
	if err != nil {
		return nil, err
	}
	br := t.breakerFor(req.URL.Host)
	if !replay {
		return t.attempt(req, br, 1, body, false)
	}
	if body.first != nil && body.again == nil {
		// A body with no way to make another: one attempt only.
		return t.attempt(req, br, 1, body, false)
	}

	ctx := req.Context()
	timed, err := t.retry.BeginRetries()
	if err != nil {
		if body.first != nil {
			body.first.Close()
		}
		return nil, err
	}
	var s resilience.RetryState
	if timed {
		s.Start = time.Now()
	}
	for n := 1; ; n++ {
		resp, err := t.attempt(req, br, n, body, true)
		failure := err
		if err == nil {
			if t.statusClass(resp.StatusCode) == resilience.ClassSuccess {
				return resp, nil
			}
			failure = t.statusFailure(resp)
		}
		s.Failed(ctx, n, failure)
		delay, stop := t.retry.NextRetry(s)
		if stop == nil && s.Cause != nil {
			stop = s.Cause
		}
		if stop != nil {
			if resp != nil {
				return resp, nil // the last response, as it came
			}
			return nil, stop
		}
		t.discard(resp)
		if s.Cause = clock.Sleep(ctx, delay); s.Cause != nil {
			s.Now = time.Now()
			if _, stop = t.retry.NextRetry(s); stop == nil {
				stop = s.Cause
			}
			return nil, stop
		}
		s.LastDelay = delay
	}
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

// attempt sends attempt n of req, through the host's breaker if there is
// one.
func (t *Transport) attempt(req *http.Request, br *breaker.Breaker, n int, body bodies, replay bool) (*http.Response, error) {
	var permit breaker.Permit
	if br != nil {
		var err error
		if permit, err = br.Allow(); err != nil {
			if n == 1 && body.first != nil {
				body.first.Close()
			}
			return nil, err
		}
	}
	r := req
	if n > 1 || body.changed || t.attemptHeader != "" || t.attemptTimout > 0 {
		r = t.clone(req, n)
		r.Body = body.first
		if n > 1 && body.again != nil {
			b, err := body.again()
			if err != nil {
				permit.Done(context.Canceled) // nothing was sent: count nothing
				return nil, err
			}
			r.Body = b
		}
	}
	var cancel context.CancelFunc
	if t.attemptTimout > 0 {
		var ctx context.Context
		ctx, cancel = context.WithTimeout(req.Context(), t.attemptTimout)
		r = r.WithContext(ctx)
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil && replay && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		// The server closed the connection before answering: for a request
		// that may be replayed, a transient failure.
		err = resilience.Transient(err)
	}
	if cancel != nil {
		if err != nil {
			cancel()
		} else {
			resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
		}
	}
	if br != nil {
		switch {
		case err != nil:
			if req.Context().Err() == context.Canceled {
				permit.Done(context.Canceled) // the caller's own doing
			} else {
				permit.Done(err)
			}
		default:
			permit.Done(t.outcomeOf(resp))
		}
	}
	return resp, err
}

// outcomeOf is what a response tells the breaker: nil for success, or the
// status failure (which the breaker's classifier sorts).
func (t *Transport) outcomeOf(resp *http.Response) error {
	if t.statusClass(resp.StatusCode) == resilience.ClassSuccess {
		return nil
	}
	return &StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
}

// clone returns a shallow copy of req for attempt n: headers are copied only
// when the attempt header must be set.
func (t *Transport) clone(req *http.Request, n int) *http.Request {
	r := new(http.Request)
	*r = *req
	if t.attemptHeader != "" {
		r.Header = req.Header.Clone()
		if r.Header == nil {
			r.Header = make(http.Header)
		}
		r.Header.Set(t.attemptHeader, strconv.Itoa(n))
	}
	return r
}

// bodies gives the body of each attempt.
type bodies struct {
	first   io.ReadCloser                 // the first attempt's: nil for none
	again   func() (io.ReadCloser, error) // the later attempts': nil if there are none
	changed bool                          // first is not req.Body, so the request must be copied
}

// prepareBody returns the bodies of req's attempts. A body without GetBody
// is buffered up to MaxBodyBuffer; a longer one makes the request not
// replayable (replay is set false), and is sent once as it is.
func (t *Transport) prepareBody(req *http.Request, replay *bool) (bodies, error) {
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		none := req.Body
		return bodies{first: none, again: func() (io.ReadCloser, error) { return none, nil }}, nil
	case req.GetBody != nil:
		return bodies{first: req.Body, again: req.GetBody}, nil
	case !*replay:
		return bodies{first: req.Body}, nil // sent once, as it is
	}
	data, err := io.ReadAll(io.LimitReader(req.Body, t.maxBody+1))
	if err != nil {
		req.Body.Close()
		return bodies{}, err
	}
	if int64(len(data)) > t.maxBody {
		// Too long to keep: send what was read and the rest, once.
		*replay = false
		rest := req.Body
		return bodies{first: struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(data), rest), rest}, changed: true}, nil
	}
	req.Body.Close()
	again := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	return bodies{first: io.NopCloser(bytes.NewReader(data)), again: again, changed: true}, nil
}

// discard drains and closes a response the caller will not see, so that its
// connection can be reused.
func (t *Transport) discard(resp *http.Response) {
	if resp == nil {
		return
	}
	io.CopyN(io.Discard, resp.Body, t.maxDrain)
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

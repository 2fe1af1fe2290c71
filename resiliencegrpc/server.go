package resiliencegrpc

import (
	"cmp"
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/internal/observe"
	"github.com/netresilience/resilience/throttle"
)

// DefaultServerPushback is the grpc-retry-pushback-ms trailer of a shed
// call's answer when [ServerConfig].Pushback is zero: one second, as
// resiliencehttp's Shed answers with Retry-After: 1.
const DefaultServerPushback = time.Second

// MaxServerPushback is the longest [ServerConfig].Pushback: the trailer
// holds a signed 32-bit count of milliseconds (gRFC A6).
const MaxServerPushback = math.MaxInt32 * time.Millisecond

// serverPushbackKey is the trailer that tells a client when to retry, in
// milliseconds (gRFC A6).
const serverPushbackKey = "grpc-retry-pushback-ms"

// ServerConfig configures the interceptors of a [Server], which shed load
// before it reaches a gRPC service's handlers. At least one of Bulkhead,
// Adaptive and Throttle must be set, so the zero ServerConfig is not valid;
// every other zero field means its documented default. NewServer copies what it needs:
// changing a ServerConfig afterwards changes nothing.
type ServerConfig struct {
	// Bulkhead, if set, bounds how many calls run in the handlers at once.
	// A call that finds every slot taken waits for one as the bulkhead's
	// MaxWait and MaxQueue allow, then is shed. Its wait ends early when the
	// call's context is done: the client canceled the call, its deadline
	// passed, or its connection closed. A stream holds its slot until its
	// handler returns, however long the stream lasts: exempt long-lived
	// streams (watches, subscriptions) through Skip, or give them a server
	// of their own.
	Bulkhead *bulkhead.Bulkhead

	// Adaptive, if set, bounds how many calls run in the handlers at once,
	// as Bulkhead does, to a limit that the limiter finds by itself from
	// the handlers' answers (see package adaptive; its Gradient algorithm
	// is the one for a server). A call beyond the limit waits for room as
	// the limiter's MaxWait and MaxQueue allow, then is shed; its wait ends
	// early when the call's context is done. A stream holds its room until
	// its handler returns, as with Bulkhead.
	//
	// Each call a handler answers is reported to the limiter: its latency,
	// from its admission to the handler's return, and whether it was
	// dropped — a code that Classify sorts as a transient failure
	// (UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, INTERNAL and
	// UNKNOWN, by default), or a panic. A call that its client canceled
	// (its context was canceled) teaches the limiter nothing, whatever the
	// handler answered; nor does a code that Classify ignores.
	//
	// With the limiter's Priorities on, a call's priority is the
	// adaptive.Priority its context carries (adaptive.WithPriority), Normal
	// without one: set it in an interceptor chained before the Server's,
	// from the call's metadata or its method — for a unary call by calling
	// the handler with the new context, for a stream by wrapping the
	// grpc.ServerStream so that its Context returns it.
	//
	// The limiter's own Classifier sees a drop as an error marked with
	// resilience.Transient, and a permanent failure as one marked with
	// resilience.Permanent: a custom Classifier should leave the errors it
	// does not know to resilience.Classify.
	Adaptive *adaptive.Limiter

	// Throttle, if set, sheds calls with the adaptive probability that the
	// handlers' recent answers call for: the more of them failed with a
	// code that means overload, the more new calls are shed before they
	// reach a handler. Each call a handler answers is reported to it, as
	// Classify sorts the answer's code; a call whose handler panics counts
	// as a failure.
	//
	// The throttle's own Classifier sees a failure as an error marked with
	// resilience.Transient or resilience.Permanent: a custom Classifier
	// should leave the errors it does not know to resilience.Classify.
	Throttle *throttle.Throttle

	// Code is the status code of a shed call's answer: codes.Unavailable
	// (the default, which the zero value, codes.OK, stands for) or
	// codes.ResourceExhausted. Clients retry UNAVAILABLE by default where
	// they retry at all; RESOURCE_EXHAUSTED also says the server is
	// overloaded, but many clients retry it only with a pushback. Any other
	// code is an error from NewServer.
	Code codes.Code

	// Pushback is the grpc-retry-pushback-ms trailer of a shed call's
	// answer, rounded up to whole milliseconds: a client that follows gRFC
	// A6 (grpc-go's own retries) waits exactly this long before it retries
	// the call, instead of its backoff. Zero means [DefaultServerPushback],
	// 1s; negative turns it off: the answer has no such trailer, and a
	// client retries after its own backoff. At most [MaxServerPushback].
	//
	// Every client shed at once comes back at once: the trailer is the same
	// for every answer. A server that sheds bursts of many calls may prefer
	// no trailer, so that its clients' jittered backoff spreads them out.
	Pushback time.Duration

	// Skip, if it reports true for a call's full method name, such as
	// "/grpc.health.v1.Health/Check", exempts the method: its calls reach
	// the handler untouched, take no room in the bulkhead or the adaptive
	// limiter and count nothing for any policy. It is called for every call, so it must be cheap and
	// safe for concurrent use. Default [SkipHealthAndReflection]; set
	// func(string) bool { return false } to shed every method.
	Skip func(fullMethod string) bool

	// Classify sorts the code a handler answered with, for the throttle
	// and the adaptive limiter: a success or a permanent failure is a call
	// the server accepted, a transient failure one it could not take (a
	// drop, for the limiter), and an ignored code counts as nothing. The code is the one the client gets: that of the status
	// the handler's error carries, codes.DeadlineExceeded or
	// codes.Canceled for a context's error, and codes.Unknown for any other
	// error. Default [ServerClassifyCode]. Unused without a Throttle or an
	// Adaptive limiter.
	Classify func(code codes.Code) resilience.Class

	// Observer, if set, receives a Reject event for every call shed by the
	// throttle, the adaptive limiter or the bulkhead, on the call's
	// goroutine before its answer is sent. The event's Kind is
	// resilience.KindServer, its Policy the call's full method name, its
	// Err the shed call's error (errors.Is matches bulkhead.ErrFull —
	// and adaptive.ErrLimited for the limiter's — or throttle.ErrThrottled,
	// and errors.As finds the policy's *Error), its Reason the policy's
	// reason ("no wait allowed", "queue full", "wait timed out" or
	// "throttled"), its Delay
	// the pushback sent (zero for none) and, for a throttle's rejection,
	// its Probability the rounded probability it was refused at. The
	// policies report their own events through the Observer of their own
	// Config, with their own Kind; a call whose wait for room its context
	// ended is not a rejection and reports nothing. Default: none.
	Observer *resilience.Observer
}

// SkipHealthAndReflection is the default [ServerConfig].Skip: it exempts
// the methods of the gRPC health service (grpc.health.v1.Health), whose
// answers a load balancer or an orchestrator must get under load too, and
// of server reflection (grpc.reflection.v1 and v1alpha).
func SkipHealthAndReflection(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(fullMethod, "/grpc.reflection.v1.ServerReflection/") ||
		strings.HasPrefix(fullMethod, "/grpc.reflection.v1alpha.ServerReflection/")
}

// ServerClassifyCode is the default [ServerConfig].Classify. The codes
// that say the server could not take the call — UNAVAILABLE,
// RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED (the handler did not answer in
// time), and INTERNAL and UNKNOWN, gRPC's 500 — are transient failures;
// CANCELED, the client's own doing, counts as nothing; OK is a success; and
// every other code is a permanent failure: the server processed the call
// (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, UNIMPLEMENTED, ABORTED
// ...), and its answer says nothing of overload.
func ServerClassifyCode(code codes.Code) resilience.Class {
	switch code {
	case codes.OK:
		return resilience.ClassSuccess
	case codes.Canceled:
		return resilience.ClassIgnored
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Internal, codes.Unknown:
		return resilience.ClassTransient
	}
	return resilience.ClassPermanent
}

// Server sheds load in front of a gRPC server's handlers: its interceptors
// answer a call that the throttle, the adaptive limiter or the bulkhead of
// its [ServerConfig] turns away at once, before the handler runs, with
// UNAVAILABLE (or RESOURCE_EXHAUSTED) and a grpc-retry-pushback-ms trailer.
// Make one with [NewServer] and install it with [Server.ServerOptions], or
// chain its interceptors yourself; every interceptor of one Server shares
// its policies. A Server is safe for concurrent use. A nil *Server's
// interceptors answer every call with INTERNAL rather than panicking.
//
// A call passes the throttle first, then the adaptive limiter, then the
// bulkhead. The throttle's decision is cheap and never waits, so a call it
// sheds neither takes room nor waits in a queue. The limiter measures the
// time from its admission to the handler's return, so a wait for a
// bulkhead slot counts in the latency it learns from, as queueing inside
// the handler would. A call that a policy turns away after an outer one
// admitted it, or whose wait for room its context ends, counts as nothing
// for the outer ones, which so measure the handlers' answers alone.
//
// A shed call's answer is Trailers-Only: the interceptor returns before
// the handler runs, so no response header or message has been sent, and
// the status goes out with the trailers in the stream's only HEADERS frame.
// That is what makes it retryable: grpc-go's clients retry only a
// Trailers-Only answer (gRFC A6 forbids retrying a call once response
// headers arrived). Interceptors chained before this Server's must not send
// headers either (grpc.SendHeader) for a shed call to stay retryable. The
// error the interceptor returns for it carries the status for grpc-go (it
// has a GRPCStatus method) and matches bulkhead.ErrFull or
// throttle.ErrThrottled (or adaptive.ErrLimited) through errors.Is, for
// interceptors chained before it. A call whose context ends while it waits
// for room gets DEADLINE_EXCEEDED or CANCELED, as grpc-go answers a handler
// that returns the context's error, and no pushback.
//
// When a handler panics, or calls runtime.Goexit, the interceptor releases
// the call's room and reports a failure to the throttle and a drop to the
// adaptive limiter as the panic passes; it never recovers it, so the panic goes on unchanged, to a
// recovering interceptor chained before it or to grpc-go, which lets it end
// the program.
//
// An admitted call, unary or stream, allocates nothing in the interceptor;
// a shed one allocates its error (and grpc-go, the trailer it sends).
type Server struct {
	bulkhead *bulkhead.Bulkhead
	adaptive *adaptive.Limiter
	throttle *throttle.Throttle
	skip     func(string) bool
	classify func(codes.Code) resilience.Class
	obs      *resilience.Observer
	code     codes.Code
	pushback time.Duration // zero when no trailer is sent
	trailer  metadata.MD   // the pushback trailer, shared by every answer; nil for none
	full     *status.Status
	shedding *status.Status
}

// NewServer returns a Server configured by cfg, or an error, prefixed
// "resiliencegrpc:", if cfg has no bulkhead, adaptive limiter or throttle, a Code
// other than UNAVAILABLE and RESOURCE_EXHAUSTED, or a Pushback above
// [MaxServerPushback].
func NewServer(cfg ServerConfig) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		bulkhead: cfg.Bulkhead,
		adaptive: cfg.Adaptive,
		throttle: cfg.Throttle,
		skip:     cfg.Skip,
		classify: cfg.Classify,
		obs:      cfg.Observer,
		code:     cmp.Or(cfg.Code, codes.Unavailable),
	}
	if s.skip == nil {
		s.skip = SkipHealthAndReflection
	}
	if s.classify == nil {
		s.classify = ServerClassifyCode
	}
	if cfg.Pushback >= 0 {
		d := cmp.Or(cfg.Pushback, DefaultServerPushback)
		ms := (d + time.Millisecond - 1) / time.Millisecond
		s.pushback = ms * time.Millisecond
		s.trailer = metadata.MD{serverPushbackKey: {strconv.FormatInt(int64(ms), 10)}}
	}
	s.full = status.New(s.code, "resiliencegrpc: server overloaded: too many calls in progress")
	s.shedding = status.New(s.code, "resiliencegrpc: server overloaded: shedding load after recent failures")
	return s, nil
}

// MustNewServer is [NewServer] for configurations known to be valid; it
// panics on an invalid one.
func MustNewServer(cfg ServerConfig) *Server {
	s, err := NewServer(cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// validate reports the first nonsense in c.
func (c *ServerConfig) validate() error {
	switch {
	case c.Bulkhead == nil && c.Adaptive == nil && c.Throttle == nil:
		return errors.New("resiliencegrpc: ServerConfig has no Bulkhead, Adaptive or Throttle: nothing to shed with")
	case c.Code != codes.OK && c.Code != codes.Unavailable && c.Code != codes.ResourceExhausted:
		return errors.New("resiliencegrpc: ServerConfig.Code is " + c.Code.String() + ": a shed call is answered with Unavailable or ResourceExhausted")
	case c.Pushback > MaxServerPushback:
		return errors.New("resiliencegrpc: ServerConfig.Pushback is " + c.Pushback.String() + ": above MaxServerPushback, " + MaxServerPushback.String())
	}
	return nil
}

// ServerOptions returns the options that install the Server's interceptors
// in a grpc.Server: grpc.ChainUnaryInterceptor and
// grpc.ChainStreamInterceptor, each with its interceptor. Give them to
// grpc.NewServer after the options of the interceptors that must see every
// call, shed or not (logging, metrics, panic recovery): chained
// interceptors run in the order they are given.
func (s *Server) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(s.StreamServerInterceptor()),
	}
}

// UnaryServerInterceptor returns the interceptor that sheds unary calls.
// The pushback trailer of a shed call is set with grpc.SetTrailer.
func (s *Server) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	if s == nil {
		return func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
			return nil, errNilServer
		}
	}
	return s.unary
}

// StreamServerInterceptor returns the interceptor that sheds streams. The
// pushback trailer of a shed stream is set with its SetTrailer.
func (s *Server) StreamServerInterceptor() grpc.StreamServerInterceptor {
	if s == nil {
		return func(any, grpc.ServerStream, *grpc.StreamServerInfo, grpc.StreamHandler) error {
			return errNilServer
		}
	}
	return s.stream
}

// errNilServer answers every call through a nil *Server.
var errNilServer = status.Error(codes.Internal, "resiliencegrpc: nil *Server")

// unary is the unary interceptor.
func (s *Server) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	if s.skip(info.FullMethod) {
		return handler(ctx, req)
	}
	t, err := s.enter(ctx, info.FullMethod)
	if err != nil {
		if s.trailer != nil && isShed(err) {
			_ = grpc.SetTrailer(ctx, s.trailer) // fails only without a stream in ctx: then there is nobody to tell
		}
		return nil, err
	}
	o := resilience.Outcome{Panicked: true}
	defer s.exit(ctx, t, &o)
	resp, err = handler(ctx, req)
	o = resilience.Outcome{Err: err}
	return resp, err
}

// stream is the stream interceptor.
func (s *Server) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	if s.skip(info.FullMethod) {
		return handler(srv, ss)
	}
	ctx := ss.Context()
	t, err := s.enter(ctx, info.FullMethod)
	if err != nil {
		if s.trailer != nil && isShed(err) {
			ss.SetTrailer(s.trailer)
		}
		return err
	}
	o := resilience.Outcome{Panicked: true}
	defer s.exit(ctx, t, &o)
	err = handler(srv, ss)
	o = resilience.Outcome{Err: err}
	return err
}

// serverTickets are an admitted call's tickets, one per policy.
type serverTickets struct{ throttle, adaptive, bulkhead resilience.Ticket }

// enter admits a call through the throttle, the adaptive limiter and the
// bulkhead, or returns the error that answers it.
func (s *Server) enter(ctx context.Context, method string) (t serverTickets, err error) {
	if s.throttle != nil {
		if t.throttle, err = s.throttle.Enter(ctx); err != nil {
			return t, s.shed(ctx, method, err)
		}
	}
	// A call that an inner policy turns away counts as nothing for the
	// outer ones, whatever the reason: the handler never saw it. (A wait
	// ended by a deadline would be a transient failure to a classifier.)
	if s.adaptive != nil {
		if t.adaptive, err = s.adaptive.Enter(ctx); err != nil {
			if s.throttle != nil {
				s.throttle.Exit(t.throttle, resilience.Outcome{Err: err, Canceled: true})
			}
			return t, s.shed(ctx, method, err)
		}
	}
	if s.bulkhead != nil {
		if t.bulkhead, err = s.bulkhead.Enter(ctx); err != nil {
			if s.adaptive != nil {
				s.adaptive.Exit(t.adaptive, resilience.Outcome{Err: err, Canceled: true})
			}
			if s.throttle != nil {
				s.throttle.Exit(t.throttle, resilience.Outcome{Err: err, Canceled: true})
			}
			return t, s.shed(ctx, method, err)
		}
	}
	return t, nil
}

// exit releases the call's room and reports its outcome to the policies,
// innermost first. Until the handler returns, o says it panicked.
func (s *Server) exit(ctx context.Context, t serverTickets, o *resilience.Outcome) {
	if s.bulkhead != nil {
		s.bulkhead.Exit(t.bulkhead, *o)
	}
	if s.adaptive == nil && s.throttle == nil {
		return
	}
	if !o.Panicked {
		*o = s.outcome(ctx, o.Err)
	}
	if s.adaptive != nil {
		s.adaptive.Exit(t.adaptive, adaptive.ServerOutcome(ctx, *o))
	}
	if s.throttle != nil {
		s.throttle.Exit(t.throttle, *o)
	}
}

// Outcomes of a call that a handler answered with a failure, for the
// throttle and the adaptive limiter. They are shared, so a call allocates
// nothing for them.
var (
	errServerTransientCode = resilience.Transient(errors.New("resiliencegrpc: the handler answered with a code that counts as a transient failure"))
	errServerPermanentCode = resilience.Permanent(errors.New("resiliencegrpc: the handler answered with a code that counts as a permanent failure"))
	errServerIgnoredCode   = errors.New("resiliencegrpc: the handler answered with a code that counts as nothing")
)

// outcome turns the error a handler returned into the outcome the policies
// are told: by the code the client gets, as Classify sorts it, except that
// a failure after the client canceled the call counts as nothing.
func (s *Server) outcome(ctx context.Context, err error) resilience.Outcome {
	var o resilience.Outcome
	switch s.classify(codeOf(err)) {
	case resilience.ClassSuccess:
		return o
	case resilience.ClassTransient:
		o.Err = errServerTransientCode
	case resilience.ClassPermanent:
		o.Err = errServerPermanentCode
	default:
		return resilience.Outcome{Err: errServerIgnoredCode, Canceled: true}
	}
	o.Canceled = ctx.Err() == context.Canceled
	return o
}

// codeOf returns the code of the status that grpc-go answers a handler's
// err with, without allocating for a status error of its own: the code of
// err's status, if it has one, DeadlineExceeded or Canceled for a
// context's error, and Unknown for any other.
func codeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	type grpcStatus interface{ GRPCStatus() *status.Status }
	gs, ok := err.(grpcStatus)
	if !ok {
		ok = errors.As(err, &gs)
	}
	if ok {
		if st := gs.GRPCStatus(); st != nil {
			return st.Code()
		}
		return codes.Unknown // grpc-go's answer to a nil status
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	}
	return codes.Unknown
}

// Answers to a call whose context ended its wait for room, as grpc-go
// would answer a handler that returned the context's error.
var (
	errServerWaitDeadline = status.Error(codes.DeadlineExceeded, "resiliencegrpc: the call's deadline passed while it waited for room")
	errServerWaitCanceled = status.Error(codes.Canceled, "resiliencegrpc: the call was canceled while it waited for room")
)

// shed returns the error that answers a call that rejection (a policy's
// error) kept from its handler, and reports it to the observer.
func (s *Server) shed(ctx context.Context, method string, rejection error) error {
	st := s.full
	var probability float64
	var reason string
	if te, ok := errors.AsType[*throttle.Error](rejection); ok {
		st, reason, probability = s.shedding, "throttled", te.Probability
	} else if be, ok := errors.AsType[*bulkhead.Error](rejection); ok {
		reason = be.Reason.String()
	} else if ae, ok := errors.AsType[*adaptive.Error](rejection); ok {
		reason = ae.Reason.String()
	} else {
		// The context ended the wait for room: no rejection.
		if errors.Is(rejection, context.DeadlineExceeded) {
			return errServerWaitDeadline
		}
		return errServerWaitCanceled
	}
	err := &shedError{status: st, err: rejection}
	if s.obs != nil && s.obs.Reject != nil {
		observe.Call(s.obs.Reject, resilience.Event{
			Type:        resilience.EventReject,
			Kind:        resilience.KindServer,
			Policy:      method,
			Context:     ctx,
			Time:        time.Now(),
			Err:         err,
			Reason:      reason,
			Delay:       s.pushback,
			Probability: probability,
		})
	}
	return err
}

// isShed reports whether err, which answers a call, is a rejection by a
// policy (rather than the end of a wait for a slot).
func isShed(err error) bool {
	_, ok := err.(*shedError)
	return ok
}

// shedError answers a shed call: grpc-go sends its status, and errors.Is
// and errors.As see the policy's rejection through it.
type shedError struct {
	status *status.Status
	err    error
}

// Error returns the status's message and the policy's rejection.
func (e *shedError) Error() string {
	return "rpc error: code = " + e.status.Code().String() + " desc = " + e.status.Message() + ": " + e.err.Error()
}

// GRPCStatus returns the status a client gets.
func (e *shedError) GRPCStatus() *status.Status { return e.status }

// Unwrap returns the policy's rejection.
func (e *shedError) Unwrap() error { return e.err }

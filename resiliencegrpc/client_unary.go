package resiliencegrpc

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/internal/observe"
	"github.com/netresilience/resilience/internal/retrystep"
)

// UnaryClientInterceptor returns the interceptor that retries, or hedges,
// and guards unary calls; [Client.DialOptions] installs it.
//
// A call is retried as its method's retry policy decides, after each
// failure that Codes calls transient, unless it committed: the server sent
// response headers before it failed (gRFC A6). Each retry carries the
// metadata [PreviousAttemptsHeader]. A server's pushback (the trailer
// [PushbackTrailer] or a google.rpc.RetryInfo detail) sets the wait before
// the next attempt exactly, and the backoff starts again from its base
// after it; a pushback that says not to retry ends the retries. The
// caller's reply is written only by the attempt that succeeds: it is reset
// after a failed attempt, so a failed call leaves it empty, and under
// hedging each attempt decodes into a reply of its own, merged into the
// caller's when it wins. An error handed back reports the last attempt's
// status through status.FromError and status.Code, or CANCELED or
// DEADLINE_EXCEEDED if the caller's context ended; one that a policy of this
// client caused wraps the policy's error too (a *retry.Error, an open
// breaker's rejection as a *[RejectedError]), for errors.Is and errors.As.
func (c *Client) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return c.unary
}

// unaryCall is one unary call through the client.
type unaryCall struct {
	c       *Client
	t       *target
	p       *policy
	method  string
	req     any
	cc      *grpc.ClientConn
	invoker grpc.UnaryInvoker
	opts    []grpc.CallOption
}

func (c *Client) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	switch {
	case c == nil:
		return errNilClient
	case invoker == nil:
		return errNilInvoker
	case reply == nil:
		// No codec decodes into nil: the call would reach the server,
		// fail here, and count against a healthy target's breaker.
		return errNilReply
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	}
	t, err := c.target(targetOf(cc))
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	p := &t.policies[c.policyIndex(method)]
	u := unaryCall{c: c, t: t, p: p, method: method, req: req, cc: cc, invoker: invoker, opts: opts}
	if p.hedge != nil {
		if m, ok := reply.(proto.Message); ok {
			h := new(unaryCall) // which the attempts share: u stays on the stack
			*h = u
			return h.hedged(ctx, m)
		}
	}
	return u.retried(ctx, reply)
}

// retried runs the call as its retry policy decides.
func (u *unaryCall) retried(ctx context.Context, reply any) error {
	r := u.p.retry
	plan, err := r.BeginRetries()
	if err != nil {
		return err
	}
	var call retrystep.Call
	call.Begin(plan.Timed)
	if u.t.breaker != nil {
		call.Ahead = u.t.breaker // an open breaker ends the retries without a wait
	}
	decide := func(s retrystep.State) (time.Duration, error) {
		return r.NextRetry(resilience.RetryState(s))
	}
	md := mdPool.Get().(*attemptMD)
	defer md.put()
	for n := 1; ; n++ {
		md.header, md.trailer = nil, nil
		err := u.attempt(ctx, n, reply, u.opts, md)
		if err == nil {
			if plan.ReportSuccess {
				s := resilience.RetryState(call.State)
				s.Attempts, s.Err, s.Cause, s.Now, s.Context = n, nil, nil, time.Now(), ctx
				s.Rejection, s.RejectedUntil = nil, time.Time{}
				r.Succeeded(s)
			}
			return nil
		}
		resetReply(reply)
		if md.header != nil {
			u.c.committed(ctx, u.t, u.p, n, err)
			return contextCode(ctx, err)
		}
		call.Failed(ctx, err)
		delay, stop := call.Decided(r.NextRetry(resilience.RetryState(call.State)))
		if stop == nil {
			stop = call.Wait(ctx, delay, decide)
		}
		if stop != nil {
			return contextCode(ctx, stop)
		}
	}
}

// attemptMD is what one attempt of a unary call learned besides its
// outcome.
type attemptMD struct {
	header, trailer metadata.MD
	peer            *peer.Peer        // set only when the caller asked for it
	opts            []grpc.CallOption // the attempt's options, reused
}

// mdPool holds attemptMDs for the calls that retry, so that a call that
// succeeds at once allocates nothing of its own: grpc-go is done with an
// attempt's options when the invoker returns.
var mdPool = sync.Pool{New: func() any { return new(attemptMD) }}

// put returns md to mdPool.
func (md *attemptMD) put() {
	clear(md.opts)
	*md = attemptMD{opts: md.opts[:0]}
	mdPool.Put(md)
}

// attempt runs attempt n of the call, decoding into reply, through the
// target's breaker: an attempt the breaker rejects is not sent. It returns
// the attempt's failure as the policies see it.
func (u *unaryCall) attempt(ctx context.Context, n int, reply any, opts []grpc.CallOption, md *attemptMD) error {
	var permit breaker.Permit
	if br := u.t.breaker; br != nil {
		var err error
		if permit, err = br.Allow(); err != nil {
			return &RejectedError{Code: codes.Unavailable, Err: err}
		}
	}
	actx, cancel := ctx, context.CancelFunc(nil)
	ours := false // the attempt's deadline is the attempt timeout's, not the caller's
	if d := u.p.attemptTimeout; d > 0 {
		callerDeadline, has := ctx.Deadline()
		ours = !has || time.Now().Add(d).Before(callerDeadline)
		actx, cancel = context.WithTimeoutCause(ctx, d, errAttemptTimeout)
	}
	if n > 1 {
		actx = metadata.AppendToOutgoingContext(actx, PreviousAttemptsHeader, strconv.Itoa(n-1))
	}
	md.opts = append(append(md.opts[:0], opts...), grpc.Header(&md.header), grpc.Trailer(&md.trailer))
	if md.peer != nil {
		md.opts = append(md.opts, grpc.Peer(md.peer))
	}
	err := u.invoker(actx, u.method, u.req, reply, u.cc, md.opts...)
	if err != nil {
		// The server may see the deadline, which the attempt carries, pass
		// before the client does.
		timedOut := ctx.Err() == nil && (context.Cause(actx) == errAttemptTimeout ||
			ours && status.Code(err) == codes.DeadlineExceeded)
		canceled := canceledBy(actx, err)
		err = failure(err, md.trailer, timedOut)
		if canceled {
			permit.Done(context.Canceled) // the caller's doing, or a hedge that lost
		} else {
			permit.Done(err)
		}
	} else {
		permit.Done(nil)
	}
	if cancel != nil {
		cancel()
	}
	return err
}

// hedged runs the call under its hedger: each attempt decodes into a reply
// of its own, and the winner's is merged into reply.
func (u *unaryCall) hedged(ctx context.Context, reply proto.Message) error {
	// The caller's Header, Trailer and Peer options would be written by
	// attempts running at once: each attempt gets its own, and the
	// winner's are handed on.
	opts := u.opts
	var hdrs, trls []*metadata.MD
	var peers []*peer.Peer
	for i, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption, grpc.TrailerCallOption, grpc.PeerCallOption:
			if hdrs == nil && trls == nil && peers == nil {
				opts = append([]grpc.CallOption(nil), u.opts[:i]...)
			}
			switch o := o.(type) {
			case grpc.HeaderCallOption:
				hdrs = append(hdrs, o.HeaderAddr)
			case grpc.TrailerCallOption:
				trls = append(trls, o.TrailerAddr)
			case grpc.PeerCallOption:
				peers = append(peers, o.PeerAddr)
			}
		default:
			if hdrs != nil || trls != nil || peers != nil {
				opts = append(opts, o)
			}
		}
	}
	type result struct {
		reply proto.Message
		md    *attemptMD
	}
	var n atomic.Int64
	v, err := hedge.DoRelease(ctx, u.p.hedge, func(actx context.Context) (result, error) {
		r := result{reply: reply.ProtoReflect().New().Interface(), md: new(attemptMD)}
		if peers != nil {
			r.md.peer = new(peer.Peer)
		}
		return r, u.attempt(actx, int(n.Add(1)), r.reply, opts, r.md)
	}, nil)
	if err != nil {
		proto.Reset(reply)
		return contextCode(ctx, err)
	}
	proto.Reset(reply)
	proto.Merge(reply, v.reply)
	for _, h := range hdrs {
		*h = v.md.header
	}
	for _, t := range trls {
		*t = v.md.trailer
	}
	for _, p := range peers {
		*p = *v.md.peer
	}
	return nil
}

// resetReply empties a reply that a failed attempt may have written.
func resetReply(reply any) {
	if m, ok := reply.(proto.Message); ok {
		proto.Reset(m)
	}
}

// committed reports that a call failed with err after attempt n committed
// it, so that no policy was asked whether to retry: the GiveUp event, and
// the failure to the target's token bucket.
func (c *Client) committed(ctx context.Context, t *target, p *policy, n int, err error) {
	if t.tokens != nil {
		t.tokens.Failed(c.classify(err, c.other), err)
	}
	if c.obs == nil || c.obs.GiveUp == nil {
		return
	}
	observe.Call(c.obs.GiveUp, resilience.Event{
		Type:    resilience.EventGiveUp,
		Kind:    resilience.KindTransport,
		Policy:  p.retry.Name(),
		Context: ctx,
		Time:    time.Now(),
		Err:     err,
		Attempt: n,
		Reason:  "committed",
	})
}

// contextCode returns err, the error a call ends with, as the caller sees
// it: if the caller's context has ended, with the context's code as its
// gRPC status.
func contextCode(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	st := status.FromContextError(ctx.Err())
	if cur, ok := grpcStatus(err); ok && cur.Code() == st.Code() {
		return err
	}
	return &codedError{code: st.Code(), err: err}
}

// codedError is an error with the gRPC code of the context that ended its
// call.
type codedError struct {
	code codes.Code
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }

func (e *codedError) Unwrap() error { return e.err }

func (e *codedError) GRPCStatus() *status.Status { return status.New(e.code, e.err.Error()) }

package resiliencegrpc

import (
	"context"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/internal/retrystep"
)

// StreamClientInterceptor returns the interceptor that retries and guards
// streaming calls; [Client.DialOptions] installs it. Streams are never
// hedged.
//
// A stream is retried, as its method's retry policy decides, only while it
// has not committed (gRFC A6): before its first response message, and
// before response headers that the caller read with Header or that came
// before its failure; and, for a stream the client sends on, while what it
// sent fits in Config.BufferLimit. What the caller sent (SendMsg, CloseSend)
// is kept and sent again, in order, on each new attempt; once a message has
// arrived, no attempt is ever made again, so the caller never receives a
// message twice. An attempt's failure is found by RecvMsg: a SendMsg on an
// attempt that has ended keeps the message for the next attempt and
// returns nil, unless the stream has committed, when it returns io.EOF as
// grpc-go's does. A Header call on an attempt that fails before sending
// headers returns no metadata and no error, as grpc-go's does: the failure
// and the retry come with RecvMsg. Each retry carries the metadata
// [PreviousAttemptsHeader].
//
// The target's breaker admits each attempt, and hears how it ended when it
// ends: for a committed stream, when RecvMsg returns its end or its error,
// or when the caller's context is canceled (which counts as neither
// success nor failure). A stream that is a half-open breaker's probe lets
// its probe slot go when it commits (breaker.Permit.Release), so that a
// long stream neither holds the breaker half-open nor outlasts its
// ProbeTimeout, and its outcome is recorded when it ends
// (Breaker.Record).
func (c *Client) StreamClientInterceptor() grpc.StreamClientInterceptor {
	return c.stream
}

func (c *Client) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	switch {
	case c == nil:
		return nil, errNilClient
	case streamer == nil || desc == nil:
		return nil, errNilStreamer
	case ctx.Err() != nil:
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	t, err := c.target(targetOf(cc))
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	p := &t.policies[c.policyIndex(method)]
	s := &clientStream{c: c, t: t, p: p, ctx: ctx, desc: desc, cc: cc, method: method, streamer: streamer, opts: opts,
		sendMu: make(chanMutex, 1)}
	s.plan, err = p.retry.BeginRetries()
	if err != nil {
		return nil, err
	}
	s.call.Begin(s.plan.Timed)
	if t.breaker != nil {
		s.call.Ahead = t.breaker
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

// clientStream is a stream through the client: the caller's view of the
// attempts it runs one after another.
type clientStream struct {
	c        *Client
	t        *target
	p        *policy
	ctx      context.Context // the caller's
	desc     *grpc.StreamDesc
	cc       *grpc.ClientConn
	method   string
	streamer grpc.Streamer
	opts     []grpc.CallOption
	plan     resilience.RetryPlan

	// sendMu serializes what is sent on the current attempt, the caller's
	// messages and a replay, and the change of attempt, which holds it from
	// the decision to the end of the replay. call is read and written only
	// under it. It is a channel, not a sync.Mutex, because it is held across
	// the retry's backoff: a goroutine waiting for it on a channel is
	// durably blocked, so that in a testing/synctest bubble the fake clock
	// moves on and the backoff ends, where waiting on a sync.Mutex would
	// hold the clock still, and the bubble in deadlock.
	sendMu chanMutex
	call   retrystep.Call

	mu        sync.Mutex
	cur       *streamAttempt // nil until the first attempt starts
	n         int            // attempts started
	committed bool
	sent      []any // the caller's messages, kept until the stream commits
	size      int   // their bytes
	closed    bool  // the caller called CloseSend
	done      bool  // the stream has ended, with final
	final     error // io.EOF for a success
}

// streamAttempt is one attempt of a stream.
type streamAttempt struct {
	cs      grpc.ClientStream
	ctx     context.Context
	cancel  context.CancelCauseFunc
	timer   *time.Timer // AttemptTimeout, until the stream commits
	permit  breaker.Permit
	broken  bool        // a send failed: the attempt has ended (under clientStream.mu)
	unwatch func() bool // stops watching the caller's context for the breaker
	// released is set when the attempt, a half-open breaker's probe, let
	// its permit go at its first response: its outcome goes to record,
	// the target's breaker.
	released atomic.Bool
	record   *breaker.Breaker
}

// timedOut reports whether AttemptTimeout ended the attempt while the
// caller's context was alive.
func (a *streamAttempt) timedOut(caller context.Context) bool {
	return caller.Err() == nil && context.Cause(a.ctx) == errAttemptTimeout
}

// end reports the outcome of the attempt to the breaker, and releases its
// context and timer. err is its failure as the policies see it.
func (a *streamAttempt) end(caller context.Context, err error) {
	if a.timer != nil {
		a.timer.Stop()
	}
	if a.unwatch != nil {
		a.unwatch()
	}
	if err != nil && !a.timedOut(caller) && canceledBy(a.ctx, err) {
		err = context.Canceled // the caller's doing: neither success nor failure
	}
	if a.released.Load() {
		a.record.Record(err)
	} else {
		a.permit.Done(err)
	}
	a.cancel(nil)
}

// release lets a half-open breaker's probe go when the stream commits, so
// that a long stream holds no probe slot, nor outlasts ProbeTimeout and
// counts as failed: its outcome is recorded when it ends.
func (a *streamAttempt) release() {
	if a.record == nil || !a.permit.Probe() || !a.released.CompareAndSwap(false, true) {
		return
	}
	a.permit.Release()
}

// start starts the first attempt, retrying as the policy decides if it
// cannot be started.
func (s *clientStream) start() error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	a, err := s.newAttempt()
	if err == nil {
		s.mu.Lock()
		s.cur = a
		s.mu.Unlock()
		return nil
	}
	return s.next(err)
}

// newAttempt starts an attempt and replays on it what the caller sent. It
// is called under sendMu. It returns the attempt's failure if it could not
// start.
func (s *clientStream) newAttempt() (*streamAttempt, error) {
	s.mu.Lock()
	s.n++
	n := s.n
	sent, closed := s.sent, s.closed
	s.mu.Unlock()
	a := &streamAttempt{}
	if br := s.t.breaker; br != nil {
		permit, err := br.Allow()
		if err != nil {
			return nil, &RejectedError{Code: codes.Unavailable, Err: err}
		}
		a.permit, a.record = permit, br
		// A caller that gives up on the stream without reading its end
		// must not hold the breaker's permit: it counts as neither.
		a.unwatch = context.AfterFunc(s.ctx, func() { permit.Done(context.Canceled) })
	}
	a.ctx, a.cancel = context.WithCancelCause(s.ctx)
	if d := s.p.attemptTimeout; d > 0 {
		a.timer = time.AfterFunc(d, func() { a.cancel(errAttemptTimeout) })
	}
	actx := a.ctx
	if n > 1 {
		actx = metadata.AppendToOutgoingContext(actx, PreviousAttemptsHeader, strconv.Itoa(n-1))
	}
	cs, err := s.streamer(actx, s.desc, s.cc, s.method, s.opts...)
	if err != nil {
		err = failure(err, nil, a.timedOut(s.ctx))
		a.end(s.ctx, err)
		return nil, err
	}
	a.cs = cs
	for _, m := range sent {
		if err := cs.SendMsg(m); err != nil {
			if err != io.EOF {
				err = failure(err, nil, a.timedOut(s.ctx))
				a.end(s.ctx, err)
				return nil, err
			}
			a.broken = true // its failure comes with RecvMsg
			break
		}
	}
	if closed && !a.broken {
		cs.CloseSend()
	}
	return a, nil
}

// next goes on after a failure of the stream's last attempt, while the
// stream has not committed: it asks the retry policy, waits, and starts
// attempts until one starts or the policy says stop. It is called under
// sendMu, and returns nil when a new attempt is current, or the error the
// stream ends with.
func (s *clientStream) next(fail error) error {
	r := s.p.retry
	decide := func(st retrystep.State) (time.Duration, error) {
		return r.NextRetry(resilience.RetryState(st))
	}
	for {
		s.call.Failed(s.ctx, fail)
		delay, stop := s.call.Decided(r.NextRetry(resilience.RetryState(s.call.State)))
		if stop == nil {
			stop = s.call.Wait(s.ctx, delay, decide)
		}
		if stop != nil {
			stop = contextCode(s.ctx, stop)
			s.mu.Lock()
			s.done, s.final, s.sent = true, stop, nil
			s.mu.Unlock()
			return stop
		}
		a, err := s.newAttempt()
		if err == nil {
			s.mu.Lock()
			s.cur = a
			s.mu.Unlock()
			return nil
		}
		fail = err
	}
}

// retry handles the failure err of attempt a, found by RecvMsg: it ends the
// stream if it has committed, or else goes on as the policy decides. It
// returns nil when the caller should go on with the current attempt.
func (s *clientStream) retry(a *streamAttempt, err error) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.mu.Lock()
	if s.done {
		final := s.final
		s.mu.Unlock()
		return final
	}
	if s.cur != a {
		s.mu.Unlock()
		return nil // another goroutine went on already
	}
	committed := s.committed
	s.mu.Unlock()
	hdr, _ := a.cs.Header() // the attempt has ended: at once
	fail := failure(err, a.cs.Trailer(), a.timedOut(s.ctx))
	a.end(s.ctx, fail)
	if committed || hdr != nil {
		return s.finish(fail, err)
	}
	return s.next(fail)
}

// finish ends the stream after its current attempt ended with err, the
// policies' view of it being fail (nil for a success, with err io.EOF or
// nil), and returns what the caller gets.
func (s *clientStream) finish(fail, err error) error {
	s.mu.Lock()
	if s.done {
		final := s.final
		s.mu.Unlock()
		return final
	}
	n := s.n
	s.done, s.committed, s.sent, s.size = true, true, nil, 0
	if fail == nil {
		s.final = io.EOF
	} else {
		s.final = contextCode(s.ctx, err)
	}
	final := s.final
	s.mu.Unlock()
	if fail == nil {
		if s.plan.ReportSuccess {
			st := resilience.RetryState(s.call.State)
			st.Attempts, st.Err, st.Cause, st.Now, st.Context = n, nil, nil, time.Now(), s.ctx
			st.Rejection, st.RejectedUntil = nil, time.Time{}
			s.p.retry.Succeeded(st)
		}
		if err == nil {
			return nil // the last message of a stream with one response
		}
		return io.EOF
	}
	s.c.committed(s.ctx, s.t, s.p, n, fail)
	return final
}

// commit marks the stream committed: no attempt will be made again.
func (s *clientStream) commit(a *streamAttempt) {
	s.mu.Lock()
	if !s.committed {
		s.committed, s.sent, s.size = true, nil, 0
	}
	s.mu.Unlock()
	if a.timer != nil {
		a.timer.Stop()
	}
	a.release()
}

// SendMsg sends m on the current attempt, and keeps it for a replay until
// the stream commits.
func (s *clientStream) SendMsg(m any) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return io.EOF
	}
	a := s.cur
	if !s.committed {
		size, ok := msgSize(m)
		switch {
		case !s.desc.ClientStreams: // the one request: always kept
		case !ok || s.c.bufferLimit < 0 || size > s.c.bufferLimit-s.size:
			s.committed, s.sent, s.size = true, nil, 0 // too much to replay
		}
		if !s.committed {
			s.sent = append(s.sent, m)
			s.size += size
		}
	}
	committed, broken := s.committed, a.broken
	s.mu.Unlock()
	if broken {
		if committed {
			return io.EOF // the attempt has ended: RecvMsg tells how
		}
		return nil // kept for the next attempt
	}
	err := a.cs.SendMsg(m)
	if err == io.EOF {
		s.mu.Lock()
		a.broken = true
		committed = s.committed
		s.mu.Unlock()
		if !committed {
			return nil
		}
	}
	return err
}

// CloseSend closes the sending side of the current attempt, and of every
// attempt after it.
func (s *clientStream) CloseSend() error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.mu.Lock()
	s.closed = true
	a, broken, done := s.cur, s.cur.broken, s.done
	s.mu.Unlock()
	if broken || done {
		return nil
	}
	return a.cs.CloseSend()
}

// RecvMsg receives the next message of the stream into m. While the stream
// has not committed, a failure of the current attempt starts the next one,
// as the retry policy decides, and RecvMsg goes on with it.
func (s *clientStream) RecvMsg(m any) error {
	for {
		s.mu.Lock()
		if s.done {
			final := s.final
			s.mu.Unlock()
			return final
		}
		a, committed := s.cur, s.committed
		s.mu.Unlock()
		err := a.cs.RecvMsg(m)
		switch {
		case err == nil:
			s.commit(a)
			if !s.desc.ServerStreams {
				a.end(s.ctx, nil)
				return s.finish(nil, nil)
			}
			return nil
		case err == io.EOF:
			a.end(s.ctx, nil)
			return s.finish(nil, io.EOF)
		case committed:
			fail := failure(err, a.cs.Trailer(), a.timedOut(s.ctx))
			a.end(s.ctx, fail)
			return s.finish(fail, err)
		}
		if err := s.retry(a, err); err != nil {
			return err
		}
	}
}

// Header returns the current attempt's response headers, waiting for them;
// headers that arrive commit the stream.
func (s *clientStream) Header() (metadata.MD, error) {
	s.mu.Lock()
	a := s.cur
	s.mu.Unlock()
	md, err := a.cs.Header()
	if md != nil {
		s.commit(a)
	}
	return md, err
}

// Trailer returns the current attempt's trailer.
func (s *clientStream) Trailer() metadata.MD {
	s.mu.Lock()
	a := s.cur
	s.mu.Unlock()
	return a.cs.Trailer()
}

// Context returns the current attempt's context.
func (s *clientStream) Context() context.Context {
	s.mu.Lock()
	a := s.cur
	s.mu.Unlock()
	return a.cs.Context()
}

// msgSize returns the size of m, a message sent, if it is known.
func msgSize(m any) (int, bool) {
	pm, ok := m.(proto.Message)
	if !ok {
		return 0, false
	}
	return proto.Size(pm), true
}

// chanMutex is a mutex on a channel of capacity 1: see clientStream.sendMu.
type chanMutex chan struct{}

func (m chanMutex) Lock()   { m <- struct{}{} }
func (m chanMutex) Unlock() { <-m }

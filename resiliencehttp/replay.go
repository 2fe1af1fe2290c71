package resiliencehttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
)

// replayBody makes a request body without GetBody replayable without reading
// it ahead: it records the bytes as the base transport reads them, up to a
// limit, and gives each attempt a view of the body that reads first what was
// recorded and then goes on reading the original body, recording as it goes.
// So a body streams as it would through the bare transport (nothing is read
// before the request is sent), and an attempt that failed after the base
// transport read only part of the body is replayed with the whole body: the
// recorded part, then the rest of the original.
//
// Once the body has outgrown the limit it can no longer be replayed: no new
// view is made, and only the latest attempt's view may read on.
//
// The original body is read by one read at a time, on a goroutine of its own
// that lives as long as that read, and a view waits for the read to end, for
// its own Close, or for its attempt's context to be done, whichever comes
// first: so the context always wins, even over a body that stalls (net/http's
// HTTP/1 transport waits for a stalled body's Read before it returns), and a
// later attempt does not read the body from under an earlier one that was
// given up. net/http reads and closes request bodies on goroutines of its
// own, and may go on reading after RoundTrip returned, so a replayBody is safe
// for concurrent use.
//
// The original body is closed once: when it has been read to its end (or
// failed), or when the transport has made its last attempt and that
// attempt's view is closed, was never sent, or its context is done. That
// Close may run while a read of the body is under way, as it may in net/http,
// and is what ends a read that stalls.
type replayBody struct {
	src   io.ReadCloser
	limit int64

	mu       sync.Mutex
	data     []byte          // recorded bytes, from stream offset base on
	base     int64           // stream offset of data[0]: 0 until the body outgrew the limit
	pos      int64           // bytes read from src so far
	over     bool            // the body outgrew the limit: it cannot be replayed
	err      error           // what src's last read returned once it failed or ended (io.EOF)
	readDone chan struct{}   // while a read of src is under way: closed when it ends
	scratch  []byte          // the buffer of the reads of src once it outgrew the limit
	live     *replayView     // the latest attempt's view
	ctx      context.Context // the latest attempt's context, for the views net/http makes through GetBody
	finished bool            // the transport will make no further attempt
	srcDone  bool            // src was closed, or is being closed
}

// replayView is one attempt's view of a replayBody.
type replayView struct {
	b      *replayBody
	ctx    context.Context // the attempt's; nil until it is sent
	off    int64           // stream offset of the next byte this view returns
	closed bool            // Close was called
	done   chan struct{}   // closed by Close, to wake a Read that waits
}

// chunkSize is the most one read of the original body asks for, and
// minRead the least room that a read into the copy is given.
const (
	chunkSize = 32 << 10
	minRead   = 4 << 10
)

var (
	// errBodyTaken is what a view reads once the body outgrew the limit and a
	// later attempt's view is the one that may read on.
	errBodyTaken = errors.New("resiliencehttp: request body read by an attempt that was given up")
	// errNotReplayable is what the transport's GetBody reports for a body
	// that cannot be sent again.
	errNotReplayable = errors.New("resiliencehttp: request body cannot be sent again: it outgrew MaxBodyBuffer or failed")
)

func newReplayBody(src io.ReadCloser, limit int64) *replayBody {
	return &replayBody{src: src, limit: limit}
}

// view returns a view for the next attempt, from the body's first byte, and
// makes it the live one; or nil if the body cannot be replayed: it outgrew
// the limit, or reading it failed.
func (b *replayBody) view() *replayView {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.viewLocked()
}

func (b *replayBody) viewLocked() *replayView {
	if b.over || (b.err != nil && b.err != io.EOF) || b.srcDone && b.err == nil {
		return nil
	}
	v := &replayView{b: b, ctx: b.ctx, done: make(chan struct{})}
	b.live = v
	return v
}

// next returns a view for the next attempt, as view does, and the view that
// was live until then, for unview.
func (b *replayBody) next() (next, prev *replayView) {
	b.mu.Lock()
	defer b.mu.Unlock()
	prev = b.live
	return b.viewLocked(), prev
}

// send records that v is sent under ctx.
func (b *replayBody) send(v *replayView, ctx context.Context) {
	b.mu.Lock()
	v.ctx, b.ctx = ctx, ctx
	b.mu.Unlock()
}

// getBody is an http.Request's GetBody: it lets the base transport rewind
// the body itself (net/http does on a connection that was lost before its
// request was answered, and on an HTTP/2 stream the server refused).
func (b *replayBody) getBody() (io.ReadCloser, error) {
	if v := b.view(); v != nil {
		return v, nil
	}
	return nil, errNotReplayable
}

// unview gives up v, a view that next made for an attempt that will not be
// made: prev, the view live before it, is live again (its attempt's request
// may still be streaming, as a full-duplex one does).
func (b *replayBody) unview(v, prev *replayView) {
	b.mu.Lock()
	if b.live == v {
		b.live = prev
	}
	v.closeLocked()
	b.mu.Unlock()
}

// finish records that the transport makes no further attempt, and closes the
// original body if nothing will read it again.
func (b *replayBody) finish() {
	b.mu.Lock()
	b.finished = true
	closeSrc := b.shouldCloseLocked()
	b.mu.Unlock()
	if closeSrc {
		b.src.Close()
	}
}

// shouldCloseLocked reports whether src must be closed now — no attempt
// will follow, and the last one's view is closed, was never sent, or its
// context is done — and if so marks it closed, so that one caller closes it.
func (b *replayBody) shouldCloseLocked() bool {
	if b.srcDone || !b.finished {
		return false
	}
	if v := b.live; v != nil && !v.closed && v.ctx != nil && v.ctx.Err() == nil {
		return false
	}
	b.srcDone = true
	return true
}

// trimLocked drops the recorded bytes that no view will read again, once
// the body has outgrown the limit: those the live view has read.
func (b *replayBody) trimLocked() {
	if !b.over {
		return
	}
	keep := b.pos // no view needs bytes before this offset...
	if v := b.live; v != nil && !v.closed && v.off < keep {
		keep = v.off // ...unless the live view is behind
	}
	switch {
	case keep <= b.base:
	case keep >= b.base+int64(len(b.data)):
		b.data, b.base = nil, keep
	default:
		b.data, b.base = b.data[keep-b.base:], keep
	}
}

// Read reads the recorded bytes from the view's offset on, then the original
// body.
func (v *replayView) Read(p []byte) (int, error) {
	b := v.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		switch {
		case v.closed:
			return 0, http.ErrBodyReadAfterClose
		case b.over && b.live != v, v.off < b.base:
			// (Bytes are dropped only once the live view read them; the
			// second test guards against ever sending a short body.)
			return 0, errBodyTaken
		case len(p) == 0:
			return 0, nil
		}
		if end := b.base + int64(len(b.data)); v.off < end {
			n := copy(p, b.data[v.off-b.base:])
			v.off += int64(n)
			b.trimLocked()
			return n, nil
		}
		if b.err != nil {
			return 0, b.err
		}
		if b.readDone == nil {
			b.readDone = make(chan struct{})
			buf, inPlace := b.bufferLocked(len(p))
			go b.fill(buf, inPlace)
		}
		wait := b.readDone
		var ctxDone <-chan struct{}
		if v.ctx != nil {
			ctxDone = v.ctx.Done()
		}
		b.mu.Unlock()
		select {
		case <-wait:
		case <-v.done:
		case <-ctxDone:
			b.mu.Lock()
			return 0, context.Cause(v.ctx)
		}
		b.mu.Lock()
	}
}

// bufferLocked returns the buffer of the next read of the original body,
// for a view that asked for want bytes: no more than that, so that the body
// is read as the base transport reads it and no further. While the body may
// be replayed, the buffer is the room at the end of the copy (inPlace), so
// that what is read is kept without copying it: a read may be shorter than
// asked, to fill the room there is before the copy grows (twice as large),
// and the copy never grows past the limit and a byte. After, it is a
// scratch buffer.
func (b *replayBody) bufferLocked(want int) (buf []byte, inPlace bool) {
	n := min(want, chunkSize)
	if !b.over {
		// Not over: the copy holds the whole stream so far (base is 0).
		n = int(min(int64(n), b.limit-b.pos+1))
		if room := cap(b.data) - len(b.data); room < min(n, minRead) {
			grown := make([]byte, len(b.data), min(max(2*len(b.data), len(b.data)+n), int(b.limit)+1))
			copy(grown, b.data)
			b.data = grown
		}
		n = min(n, cap(b.data)-len(b.data))
		return b.data[len(b.data) : len(b.data)+n], true
	}
	if len(b.scratch) < n {
		b.scratch = make([]byte, n)
	}
	return b.scratch[:n], false
}

// fill reads the original body once into buf, records what it read, and
// wakes the views that wait for it.
func (b *replayBody) fill(buf []byte, inPlace bool) {
	n, err := b.src.Read(buf)
	if n < 0 || n > len(buf) {
		n, err = 0, errors.New("resiliencehttp: request body's Read returned an impossible count")
	}
	b.mu.Lock()
	b.record(buf, n, inPlace)
	closeSrc := false
	if err != nil {
		// The body is spent: close it now, as net/http would, and before
		// the views that wait learn it.
		b.err = err
		closeSrc, b.srcDone = !b.srcDone, true
	}
	b.mu.Unlock()
	if closeSrc {
		b.src.Close()
	}
	b.mu.Lock()
	close(b.readDone)
	b.readDone = nil
	closeSrc = b.shouldCloseLocked() // the last attempt may have ended during the read
	b.mu.Unlock()
	if closeSrc {
		b.src.Close()
	}
}

// record records the n bytes of buf read from the original body; inPlace
// says buf is the end of the copy already.
func (b *replayBody) record(buf []byte, n int, inPlace bool) {
	if n == 0 {
		return
	}
	if b.pos+int64(n) > b.limit {
		b.over = true
	}
	// Kept while replayable, and past the limit for the live view, until
	// it has read them.
	switch keep := !b.over || (b.live != nil && !b.live.closed); {
	case !keep:
		b.data, b.base = nil, b.pos+int64(n)
	case inPlace:
		b.data = b.data[:len(b.data)+n]
	default:
		b.data = append(b.data, buf[:n]...)
	}
	b.pos += int64(n)
	b.trimLocked()
}

// Close closes the view; the original body is closed when it is no longer
// needed (see replayBody).
func (v *replayView) Close() error {
	b := v.b
	b.mu.Lock()
	v.closeLocked()
	b.trimLocked()
	closeSrc := b.shouldCloseLocked()
	b.mu.Unlock()
	if closeSrc {
		return b.src.Close()
	}
	return nil
}

func (v *replayView) closeLocked() {
	if !v.closed {
		v.closed = true
		close(v.done)
	}
}

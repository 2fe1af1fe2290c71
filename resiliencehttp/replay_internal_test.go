package resiliencehttp

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// chunky returns its bytes a few at a time, as a pipe fed by small writes
// does.
type chunky struct {
	data []byte
	step int
}

func (c *chunky) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.step)], c.data)
	c.data = c.data[n:]
	return n, nil
}

// The copy of a streamed body holds no more than the limit and a byte while
// the body may be replayed, and only what the live view has yet to read once
// it may not; every view reads the whole body, from its first byte.
func TestReplayBodyMemoryIsBounded(t *testing.T) {
	const limit = 1000
	for _, size := range []int{0, 1, limit - 1, limit, limit + 1, 10 * limit} {
		for _, step := range []int{1, 7, 300, 5000} {
			if step*limit < size {
				continue // a long body in tiny reads: slow under the race detector, and nothing new
			}
			orig := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
			b := newReplayBody(io.NopCloser(&chunky{data: orig, step: step}), limit)
			v := b.view()
			b.send(v, context.Background())
			// The first attempt reads part of the body, as one that fails.
			part := make([]byte, min(size, limit/2))
			if _, err := io.ReadFull(v, part); err != nil {
				t.Fatal(err)
			}
			v.Close()
			next, _ := b.next()
			if next == nil {
				t.Fatalf("size %d, step %d: not replayable after %d bytes", size, step, len(part))
			}
			b.send(next, context.Background())
			var got []byte
			buf := make([]byte, 32<<10)
			sawOver := false
			for {
				n, err := next.Read(buf)
				got = append(got, buf[:n]...)
				b.mu.Lock()
				held, over, kept := cap(b.data), b.over, len(b.data)
				b.mu.Unlock()
				if !over && held > limit+1 {
					t.Fatalf("size %d, step %d: the copy holds %d bytes, above the limit", size, step, held)
				}
				// Past the limit, the copy keeps only what the live view has
				// yet to read: nothing, once a read returned, since the body
				// is read no further than the view asks.
				if over && kept != 0 {
					t.Fatalf("size %d, step %d: past the limit the copy holds %d bytes the view has read", size, step, kept)
				}
				sawOver = sawOver || over
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if sawOver != (size > limit) {
				t.Fatalf("size %d, step %d: outgrew the limit: %v", size, step, sawOver)
			}
			if !bytes.Equal(got, orig) {
				t.Fatalf("size %d, step %d: the replay read %d bytes, want the %d of the body", size, step, len(got), size)
			}
			if again, _ := b.next(); (again != nil) != (size <= limit) {
				t.Fatalf("size %d, step %d: replayable again: %v", size, step, again != nil)
			}
			next.Close()
			b.finish()
		}
	}
}

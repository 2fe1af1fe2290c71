package breaker

import "time"

// Bounds of the sliding window's buckets.
const (
	minBucket  = int64(100 * time.Millisecond)
	maxBuckets = 600
	minBuckets = 10
)

// window counts calls, failures and slow calls over a sliding time window,
// in a ring of fixed-width buckets with running totals: recording is O(1)
// (amortized: a bucket is cleared at most once per turn of the ring) and
// memory is fixed at construction. It is not safe for concurrent use; the
// breaker guards it with its mutex.
type window struct {
	width   int64 // nanoseconds per bucket
	buckets []bucket
	head    int64 // number of the newest bucket: time / width
	started bool

	calls, failures, slow uint64 // totals over the live buckets
}

type bucket struct {
	calls, failures, slow uint64
}

func newWindow(length time.Duration) *window {
	n := int64(length) / minBucket
	n = min(max(n, minBuckets), maxBuckets)
	width := (int64(length) + n - 1) / n
	return &window{width: max(width, 1), buckets: make([]bucket, n)}
}

// advance moves the window so that its newest bucket holds now, clearing the
// buckets it passes over. A time before the newest bucket counts in it.
func (w *window) advance(now int64) *bucket {
	e := floorDiv(now, w.width)
	n := int64(len(w.buckets))
	switch {
	case !w.started:
		w.started, w.head = true, e
	case e > w.head:
		if e-w.head >= n {
			w.reset()
			w.started, w.head = true, e
			break
		}
		for w.head < e {
			w.head++
			b := &w.buckets[mod(w.head, n)]
			w.calls -= b.calls
			w.failures -= b.failures
			w.slow -= b.slow
			*b = bucket{}
		}
	}
	return &w.buckets[mod(w.head, n)]
}

// record counts one call that ended at now.
func (w *window) record(now int64, failed, slow bool) {
	b := w.advance(now)
	b.calls++
	w.calls++
	if failed {
		b.failures++
		w.failures++
	}
	if slow {
		b.slow++
		w.slow++
	}
}

// totals returns the counts over the window that ends at now.
func (w *window) totals(now int64) (calls, failures, slow uint64) {
	w.advance(now)
	return w.calls, w.failures, w.slow
}

// reset empties the window.
func (w *window) reset() {
	clear(w.buckets)
	w.calls, w.failures, w.slow = 0, 0, 0
	w.started = false
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func mod(a, n int64) int64 {
	m := a % n
	if m < 0 {
		m += n
	}
	return m
}

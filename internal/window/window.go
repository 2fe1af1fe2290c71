// Package window counts events over a sliding time window in fixed memory,
// for the policies that decide on recent history: the breaker's failure
// rates, the retry budget, the adaptive throttle.
package window

import "time"

// Bounds of the sliding window's buckets.
const (
	minBucket  = int64(100 * time.Millisecond)
	maxBuckets = 600
	minBuckets = 10
)

// Counts are the counts of up to three kinds of event; what each means is
// the user's to say (calls, failures, slow calls; requests, accepts).
type Counts [3]uint64

// Window counts events over a sliding time window, in a ring of
// fixed-width buckets with running totals: recording is O(1) (amortized: a
// bucket is cleared at most once per turn of the ring) and memory is fixed
// at construction — at most 600 buckets, each at least 100ms wide, with 10
// buckets for windows under a second. Times are nanoseconds on any clock
// that only moves forward (a time before the newest bucket counts in it).
// A Window is not safe for concurrent use; its user guards it.
type Window struct {
	width   int64 // nanoseconds per bucket
	buckets []Counts
	head    int64 // number of the newest bucket: (time − origin) / width
	origin  int64 // the time of the first event: buckets are aligned to it
	started bool
	totals  Counts // over the live buckets
}

// New returns an empty window of the given length, which must be positive.
func New(length time.Duration) *Window {
	n := int64(length) / minBucket
	n = min(max(n, minBuckets), maxBuckets)
	width := (int64(length) + n - 1) / n
	return &Window{width: max(width, 1), buckets: make([]Counts, n)}
}

// Buckets returns the number of buckets and their width.
func (w *Window) Buckets() (n int, width time.Duration) {
	return len(w.buckets), time.Duration(w.width)
}

// advance moves the window so that its newest bucket holds now, clearing the
// buckets it passes over. A time before the newest bucket counts in it.
//
// The buckets are aligned to the first event after New or Reset, not to the
// clock's zero, so that a window driven on virtual time (a simulator's) counts
// the same whatever the policy's clock reads: only differences of times
// matter.
func (w *Window) advance(now int64) *Counts {
	if !w.started {
		w.started, w.origin, w.head = true, now, 0
		return &w.buckets[0]
	}
	e := floorDiv(now-w.origin, w.width)
	n := int64(len(w.buckets))
	switch {
	case e > w.head:
		if e-w.head >= n {
			w.Reset()
			w.started, w.head = true, e
			break
		}
		for w.head < e {
			w.head++
			b := &w.buckets[mod(w.head, n)]
			for i := range b {
				w.totals[i] -= b[i]
			}
			*b = Counts{}
		}
	}
	return &w.buckets[mod(w.head, n)]
}

// Add counts c at time now.
func (w *Window) Add(now int64, c Counts) {
	b := w.advance(now)
	b[0], b[1], b[2] = b[0]+c[0], b[1]+c[1], b[2]+c[2]
	w.totals[0], w.totals[1], w.totals[2] = w.totals[0]+c[0], w.totals[1]+c[1], w.totals[2]+c[2]
}

// Totals returns the counts over the window that ends at now.
func (w *Window) Totals(now int64) Counts {
	w.advance(now)
	return w.totals
}

// Reset empties the window.
func (w *Window) Reset() {
	clear(w.buckets)
	w.totals = Counts{}
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

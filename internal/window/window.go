// Package window counts events over a sliding time window in fixed memory,
// for the policies that decide on recent history: the breaker's failure
// rates, the retry budget, the adaptive throttle.
package window

import (
	"math"
	"time"

	"github.com/netresilience/resilience/internal/clock"
)

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
	head    int   // index in buckets of the newest bucket
	start   int64 // when the newest bucket begins: the first event's time plus whole widths
	started bool
	totals  Counts // over the live buckets
}

// New returns an empty window of the given length, which must be positive.
func New(length time.Duration) *Window {
	n := int64(length) / minBucket
	n = min(max(n, minBuckets), maxBuckets)
	width := int64(length) / n // rounded up below, without overflow
	if int64(length)%n != 0 {
		width++
	}
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
// matter, however far apart (see clock.Steps).
func (w *Window) advance(now int64) *Counts {
	if !w.started {
		w.started, w.start, w.head = true, now, 0
		return &w.buckets[0]
	}
	steps, start := clock.Steps(w.start, now, w.width)
	if steps == 0 { // a time before the newest bucket counts in it
		return &w.buckets[w.head]
	}
	w.start = start
	n := len(w.buckets)
	if steps >= uint64(n) {
		clear(w.buckets)
		w.totals = Counts{}
		return &w.buckets[w.head]
	}
	for range steps {
		w.head = (w.head + 1) % n
		b := &w.buckets[w.head]
		for i := range b {
			w.totals[i] -= b[i]
		}
		*b = Counts{}
	}
	return &w.buckets[w.head]
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

// NewestEnd returns when the newest bucket ends: the first time at which
// the window moves on, and counts can leave it. It is math.MaxInt64 if that
// is beyond int64, and meaningless before the first event.
func (w *Window) NewestEnd() int64 {
	if w.start > math.MaxInt64-w.width {
		return math.MaxInt64
	}
	return w.start + w.width
}

// Reset empties the window.
func (w *Window) Reset() {
	clear(w.buckets)
	w.totals = Counts{}
	w.started = false
}

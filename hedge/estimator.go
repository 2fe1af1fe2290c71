package hedge

import (
	"math"
	"math/bits"

	"github.com/netresilience/resilience/internal/clock"
)

// The estimator is a histogram of latencies in nanoseconds with logarithmic
// buckets: values below 16ns have a bucket each, and every power of two above
// is split into 8 equal buckets, so a bucket spans at most 1/8 of its lower
// bound and its midpoint is within 1/16 (6.25%) of any value in it. It keeps
// two halves of the window and forgets the older one as time passes, so its
// memory is constant (2 × 488 counters) whatever the call rate.
const (
	subBits    = 3
	subBuckets = 1 << subBits
	exact      = 2 * subBuckets // values below this have their own bucket
	numBuckets = (63-subBits)*subBuckets + 2*subBuckets
)

// bucketOf returns the bucket of a latency in nanoseconds.
func bucketOf(v int64) int {
	if v < exact {
		return int(max(v, 0))
	}
	shift := bits.Len64(uint64(v)) - 1 - subBits // >= 1
	return shift*subBuckets + int(v>>shift)
}

// bucketValue returns the midpoint of bucket i, the estimator's answer for
// any latency in it.
func bucketValue(i int) int64 {
	if i < exact {
		return int64(i)
	}
	shift := i/subBuckets - 1
	m := int64(i%subBuckets + subBuckets)
	return m<<shift + (1<<shift)/2
}

// estimator estimates a percentile of the latencies of a sliding window. It
// is not safe for concurrent use; the Hedger locks around it.
type estimator struct {
	half    int64 // length of a half, in clock nanoseconds
	cur     int   // the half being filled
	start   int64 // when the current half began
	started bool  // start is set: the halves are aligned to the first call
	total   int   // samples in both halves
	counts  [2]int
	buckets [2][numBuckets]uint32
}

// advance forgets the halves that have left the window at now.
//
// The halves are aligned to the first call, not to the clock's zero, so that
// only differences of times matter (a simulator's virtual time gives the same
// estimates whatever the hedger's clock reads).
func (e *estimator) advance(now int64) {
	if !e.started {
		e.started, e.start = true, now
		return
	}
	steps, start := clock.Steps(e.start, now, e.half)
	if steps == 0 {
		return // a time before the current half counts in it
	}
	if steps >= 2 {
		e.buckets = [2][numBuckets]uint32{}
		e.counts = [2]int{}
		e.total = 0
	} else {
		e.cur ^= 1
		e.total -= e.counts[e.cur]
		e.counts[e.cur] = 0
		e.buckets[e.cur] = [numBuckets]uint32{}
	}
	e.start = start
}

// observe records a latency at now.
func (e *estimator) observe(now, latency int64) {
	e.advance(now)
	e.buckets[e.cur][bucketOf(latency)]++
	e.counts[e.cur]++
	e.total++
}

// percentile returns the estimated p-th percentile at now and the number of
// samples it rests on.
func (e *estimator) percentile(now int64, p float64) (int64, int) {
	e.advance(now)
	if e.total == 0 {
		return 0, 0
	}
	// The rank of the percentile among the samples, 1-based: the smallest
	// value at or below which a share p of the samples lie.
	rank := int(math.Ceil(p*float64(e.total) - 1e-9))
	rank = min(max(rank, 1), e.total)
	seen := 0
	for i := range numBuckets {
		seen += int(e.buckets[0][i]) + int(e.buckets[1][i])
		if seen >= rank {
			return bucketValue(i), e.total
		}
	}
	return bucketValue(numBuckets - 1), e.total
}

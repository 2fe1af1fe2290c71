package window

import (
	"encoding/binary"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/netresilience/resilience/internal/fuzzprog"
)

// FuzzWindow checks the window against a reference written from its doc
// comment, in exact integers (math/big), for any length and any times, however
// far apart:
//
//   - New makes 10 to 600 buckets of a positive width that together cover at
//     least the length, and by less than one nanosecond per bucket more
//     (the width is the length's share, rounded up), with no overflow;
//   - an event counts in the bucket of its time, numbered from the first
//     event's time in widths, or in the newest bucket if its time is before
//     that one; Totals counts the events of the newest bucket and of the n−1
//     buckets before it, where the newest bucket holds the latest time seen;
//   - NewestEnd is when the newest bucket ends, saturating at MaxInt64.
//
// The input is the length in nanoseconds and a program: 9 bytes per step, a
// kind (what to do, and whether the time is absolute or a step from the last
// time) and 8 bytes of time.
func FuzzWindow(f *testing.F) {
	step := func(kind byte, x int64) []byte { return fuzzprog.Step(kind, x) }
	prog := fuzzprog.Prog
	ms := int64(time.Millisecond)
	// kind: bit 0, a step from the last time; bits 1-2, the operation (0 or
	// 1 Add, 2 Totals, 3 Reset); bits 3-4, the first count of an Add.
	// The regression seeds in testdata/fuzz/FuzzWindow use the same kinds.
	const add, addStep, totals, totalsStep, reset = 8, 9, 4, 5, 6
	f.Add(int64(time.Second), prog(step(add, 0), step(addStep, 50*ms), step(add, 450*ms), step(totals, 999*ms), step(totals, 1000*ms)))
	f.Add(int64(time.Second), prog(step(add, -1050*ms), step(add, -950*ms), step(totals, -51*ms), step(totals, -50*ms)))
	f.Add(int64(time.Second), prog(step(add, math.MaxInt64-int64(time.Second)), step(addStep, 400), step(totalsStep, 3000), step(reset, 0), step(add, math.MaxInt64), step(totalsStep, -5)))
	f.Add(int64(0), prog(step(add, 5)))
	f.Add(int64(-5), prog(step(add, 5)))

	f.Fuzz(func(t *testing.T, length int64, program []byte) {
		if length <= 0 {
			return // New's documented domain is a positive length
		}
		if len(program) > 9*200 {
			program = program[:9*200]
		}
		w := New(time.Duration(length))
		n, width := w.Buckets()
		if n < minBuckets || n > maxBuckets || width <= 0 {
			t.Fatalf("New(%d): %d buckets of %d ns", length, n, width)
		}
		cover := new(big.Int).Mul(big.NewInt(int64(n)), big.NewInt(int64(width)))
		if cover.Cmp(big.NewInt(length)) < 0 || new(big.Int).Sub(cover, big.NewInt(length)).Cmp(big.NewInt(int64(n))) >= 0 {
			t.Fatalf("New(%d): %d buckets of %d ns cover %v ns, not the length rounded up to whole buckets", length, n, width, cover)
		}

		ref := reference{n: int64(n), width: big.NewInt(int64(width))}
		last := int64(0)
		for i := 0; i+9 <= len(program); i += 9 {
			kind := program[i]
			x := int64(binary.LittleEndian.Uint64(program[i+1:]))
			now := x
			if kind&1 != 0 {
				// A step from the last time, scaled to the window: up to a
				// few lengths either way, saturating at the ends of int64.
				delta := new(big.Int).Mul(big.NewInt(int64(int16(x))), big.NewInt(max(int64(width)/4, 1)))
				now = saturate(delta.Add(delta, big.NewInt(last)))
			}
			last = now
			switch kind >> 1 & 3 {
			case 0, 1:
				c := Counts{uint64(kind>>3) & 3, uint64(x>>16) & 1, uint64(x>>17) & 1}
				w.Add(now, c)
				ref.add(now, c)
			case 2:
				got, want := w.Totals(now), ref.totals(now)
				if got != want {
					t.Fatalf("step %d: Totals(%d) = %v, want %v (window of %d buckets of %d ns)", i/9, now, got, want, n, width)
				}
				end := new(big.Int).Add(ref.head, big.NewInt(1))
				end.Mul(end, ref.width).Add(end, ref.origin)
				if got := w.NewestEnd(); got != saturate(end) {
					t.Fatalf("step %d: NewestEnd() = %d after Totals(%d), want %v", i/9, got, now, end)
				}
			case 3:
				w.Reset()
				ref = reference{n: ref.n, width: ref.width}
			}
		}
	})
}

// reference is the window as its doc comment describes it, in exact
// integers.
type reference struct {
	n       int64
	width   *big.Int
	started bool
	origin  *big.Int // the first event's time
	head    *big.Int // the number of the newest bucket
	events  []refEvent
}

type refEvent struct {
	bucket *big.Int
	c      Counts
}

// advance brings the newest bucket up to now's and returns its number.
func (r *reference) advance(now int64) *big.Int {
	if !r.started {
		r.started, r.origin, r.head = true, big.NewInt(now), big.NewInt(0)
	}
	d := new(big.Int).Sub(big.NewInt(now), r.origin)
	k := new(big.Int).Div(d, r.width) // Euclidean: rounds down for a positive width
	if k.Cmp(r.head) > 0 {
		r.head = k
	}
	return r.head
}

func (r *reference) add(now int64, c Counts) {
	r.events = append(r.events, refEvent{new(big.Int).Set(r.advance(now)), c})
}

func (r *reference) totals(now int64) Counts {
	head := r.advance(now)
	oldest := new(big.Int).Sub(head, big.NewInt(r.n-1))
	var t Counts
	for _, e := range r.events {
		if e.bucket.Cmp(oldest) >= 0 {
			for i := range t {
				t[i] += e.c[i]
			}
		}
	}
	return t
}

// saturate converts x to an int64, saturating at the ends.
func saturate(x *big.Int) int64 {
	switch {
	case x.Cmp(big.NewInt(math.MaxInt64)) > 0:
		return math.MaxInt64
	case x.Cmp(big.NewInt(math.MinInt64)) < 0:
		return math.MinInt64
	}
	return x.Int64()
}

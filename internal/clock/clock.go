// Package clock is the policies' own clock: nanoseconds since the policy was
// made, on the monotonic clock, with conversions to and from time.Time for
// the decisions that take the time as an argument, and a sampled reading for
// hot paths, since on some machines reading the clock costs more than the
// rest of a call.
package clock

import (
	"context"
	"math"
	"sync/atomic"
	"time"
)

// sampleEvery is how often Sampled reads the clock.
const sampleEvery = 8

// Clock is a policy's clock. Make one with New; it is safe for concurrent
// use.
type Clock struct {
	base    time.Time
	samples atomic.Uint32
	last    atomic.Int64
}

// New returns a clock that starts now.
func New() *Clock { return &Clock{base: time.Now()} }

// Now reads the clock.
func (c *Clock) Now() int64 { return int64(time.Since(c.base)) }

// Sampled reads the clock on every eighth call and returns the last reading
// in between. Use it where a reading a little in the past does no harm: a
// count that lands in the previous bucket of a window.
func (c *Clock) Sampled() int64 {
	if c.samples.Add(1)%sampleEvery != 1 {
		return c.last.Load()
	}
	n := c.Now()
	c.last.Store(n)
	return n
}

// From converts a time to the clock's reading at that time.
func (c *Clock) From(t time.Time) int64 { return int64(t.Sub(c.base)) }

// Time converts a reading back to a time.
func (c *Clock) Time(n int64) time.Time { return c.base.Add(time.Duration(n)) }

// Sleep waits for d, or until ctx is done, and then returns context.Cause of
// ctx: nil when the wait ran its course with ctx still alive, so that the
// caller may start its next attempt without checking ctx again. A d of zero
// or less does not wait, but still reports a done ctx.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		if ctx.Err() != nil { // both were ready, and select chose the timer
			return context.Cause(ctx)
		}
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Elapsed returns to − from, saturated at the ends of int64: readings given
// to the decisions' At methods may lie anywhere, and more than 2^63ns apart.
func Elapsed(from, to int64) int64 {
	d := to - from
	if (to >= from) != (d >= 0) { // overflowed
		if to >= from {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return d
}

// Steps returns how many whole widths lie from start to now, none if now is
// before start, and start moved on by that many: the start of the step that
// holds now. It is exact however far apart the readings are (any two lie
// less than 2^64ns apart, so their difference fits a uint64), for the
// windows that move on in steps from their first event. width must be
// positive.
func Steps(start, now, width int64) (n uint64, moved int64) {
	if now < start {
		return 0, start
	}
	n = (uint64(now) - uint64(start)) / uint64(width)
	return n, int64(uint64(start) + n*uint64(width)) // at most now: no overflow
}

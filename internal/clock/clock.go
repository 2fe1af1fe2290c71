// Package clock is the policies' own clock: nanoseconds since the policy was
// made, on the monotonic clock, with conversions to and from time.Time for
// the decisions that take the time as an argument, and a sampled reading for
// hot paths, since on some machines reading the clock costs more than the
// rest of a call.
package clock

import (
	"context"
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
// ctx: nil when the wait ran its course. A d of zero or less does not wait,
// but still reports a done ctx.
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
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

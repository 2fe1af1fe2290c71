package ratelimit

// A span is a time on the limiter's clock, or a length of time, to a
// fraction of a nanosecond: ns + frac/den, with 0 ≤ frac < den, where den is
// the limiter's reduced Limit. A token refills in num/den nanoseconds, so a
// cost of n tokens is exactly n·num/den: no rounding, and so no drift however
// many calls pass. Nanoseconds are whole only where a call meets the clock:
// a call goes at the first whole nanosecond at which its tokens are there.
//
// Every span the limiter keeps lies within ±2^62ns (about 146 years) — times
// are clamped to ±2^61ns of the limiter's creation, and spans added to them
// are at most maxSpan — so sums and differences of two cannot overflow.
type span struct {
	ns   int64
	frac uint64
}

// add returns a+b for fractions of denominator den.
func (a span) add(b span, den uint64) span {
	s := span{a.ns + b.ns, a.frac + b.frac}
	if s.frac >= den {
		s.frac -= den
		s.ns++
	}
	return s
}

// sub returns a-b for fractions of denominator den.
func (a span) sub(b span, den uint64) span {
	s := span{a.ns - b.ns, a.frac - b.frac}
	if a.frac < b.frac {
		s.frac += den // wraps back into [0, den)
		s.ns--
	}
	return s
}

// less reports whether a < b.
func (a span) less(b span) bool {
	return a.ns < b.ns || a.ns == b.ns && a.frac < b.frac
}

// ceil returns a rounded up to a whole nanosecond.
func (a span) ceil() int64 {
	if a.frac > 0 {
		return a.ns + 1
	}
	return a.ns
}

// float returns a as a float, in nanoseconds.
func (a span) float(den uint64) float64 {
	return float64(a.ns) + float64(a.frac)/float64(den)
}

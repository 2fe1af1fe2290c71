package resiliencehttp

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseRetryAfter reads a server's hint of how long to wait from the header
// h, at the time now: first retry-after-ms (milliseconds, possibly
// fractional, as some LLM providers send), then Retry-After in either of its
// forms — a number of seconds, or an HTTP date. A date in the past means no
// wait. ok is false when neither header is present or well formed: a
// malformed hint is ignored, not an error. A hint too long to represent is
// reported as the longest duration, so that a cap rejects it.
func ParseRetryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && !math.IsInf(ms, 0) {
			return durationOf(ms, float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil { // too many digits for an int64
			return math.MaxInt64, true
		}
		return durationOf(float64(secs), float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// durationOf returns n units as a Duration, saturating at the longest one.
func durationOf(n, unit float64) time.Duration {
	x := n * unit
	if !(x < math.MaxInt64) {
		return math.MaxInt64
	}
	return time.Duration(x)
}

// isDigits reports whether s is a non-empty run of ASCII digits: the
// delay-seconds form of Retry-After, which allows no sign, point or space.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

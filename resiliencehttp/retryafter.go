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
//
// retry-after-ms must be ASCII digits, optionally followed by a point and
// more digits ("250", "1500.5"); anything else — a sign, an exponent, a
// digit separator, hexadecimal, "Inf", "NaN" — makes it malformed, and
// Retry-After is read instead. Fractions of a millisecond are kept to the
// nanosecond (further digits are dropped). Retry-After's seconds must be
// ASCII digits alone, as RFC 9110 says.
func ParseRetryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	if d, ok := parseMillis(strings.TrimSpace(h.Get("Retry-After-Ms"))); ok {
		return d, true
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		return scaled(v, time.Second), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// parseMillis reads retry-after-ms: digits, optionally a point and digits.
func parseMillis(v string) (time.Duration, bool) {
	whole, frac, dot := strings.Cut(v, ".")
	if !isDigits(whole) || (dot && !isDigits(frac)) {
		return 0, false
	}
	d := scaled(whole, time.Millisecond)
	// The fraction, to the nanosecond: its first six digits.
	var ns time.Duration
	unit := time.Millisecond
	for i := 0; i < len(frac) && unit > 1; i++ {
		unit /= 10
		ns += time.Duration(frac[i]-'0') * unit
	}
	if d > math.MaxInt64-ns {
		return math.MaxInt64, true
	}
	return d + ns, true
}

// scaled returns the run of ASCII digits s, as a count of unit, saturating
// at the longest Duration.
func scaled(s string, unit time.Duration) time.Duration {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > uint64(math.MaxInt64/unit) { // too many digits, or too long a wait
		return math.MaxInt64
	}
	return time.Duration(n) * unit
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

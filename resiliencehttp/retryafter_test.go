package resiliencehttp_test

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/netresilience/resilience/resiliencehttp"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	for _, tc := range []struct {
		header, value string
		want          time.Duration
		ok            bool
	}{
		{"Retry-After", "0", 0, true},
		{"Retry-After", "120", 2 * time.Minute, true},
		{"Retry-After", " 7 ", 7 * time.Second, true},
		{"Retry-After", date(90 * time.Second), 90 * time.Second, true},
		{"Retry-After", date(-time.Hour), 0, true}, // a date in the past: no wait
		{"Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT", 0, true},
		{"Retry-After", "Sunday, 06-Nov-94 08:49:37 GMT", 0, true}, // RFC 850 form
		{"Retry-After", "99999999999999999999999", math.MaxInt64, true},
		{"Retry-After", "9223372037", math.MaxInt64, true}, // seconds beyond a Duration
		{"Retry-After", "-5", 0, false},
		{"Retry-After", "+5", 0, false},
		{"Retry-After", "1.5", 0, false},
		{"Retry-After", "soon", 0, false},
		{"Retry-After", "", 0, false},
		{"Retry-After-Ms", "250", 250 * time.Millisecond, true},
		{"Retry-After-Ms", "0.5", 500 * time.Microsecond, true},
		{"Retry-After-Ms", "-1", 0, false},
		{"Retry-After-Ms", "NaN", 0, false},
		{"Retry-After-Ms", "Inf", 0, false},
		{"Retry-After-Ms", "1e300", math.MaxInt64, true},
	} {
		h := http.Header{}
		h.Set(tc.header, tc.value)
		d, ok := resiliencehttp.ParseRetryAfter(h, now)
		if d != tc.want || ok != tc.ok {
			t.Errorf("%s: %q → %v, %v; want %v, %v", tc.header, tc.value, d, ok, tc.want, tc.ok)
		}
	}
	// retry-after-ms comes first; a malformed one falls back to Retry-After.
	h := http.Header{"Retry-After": {"3"}, "Retry-After-Ms": {"1500"}}
	if d, _ := resiliencehttp.ParseRetryAfter(h, now); d != 1500*time.Millisecond {
		t.Errorf("both headers: %v, want retry-after-ms's 1.5s", d)
	}
	h.Set("Retry-After-Ms", "x")
	if d, _ := resiliencehttp.ParseRetryAfter(h, now); d != 3*time.Second {
		t.Errorf("malformed retry-after-ms: %v, want Retry-After's 3s", d)
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "-1", "1.5", "Sun, 06 Nov 1994 08:49:37 GMT", "99999999999999999999", "NaN", "1e309", " 7", ""} {
		f.Add(s, s)
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, seconds, ms string) {
		h := http.Header{}
		h.Set("Retry-After", seconds)
		h.Set("Retry-After-Ms", ms)
		d, ok := resiliencehttp.ParseRetryAfter(h, now)
		if d < 0 {
			t.Fatalf("%q / %q → negative %v", seconds, ms, d)
		}
		if !ok && d != 0 {
			t.Fatalf("%q / %q → %v with ok false", seconds, ms, d)
		}
		if again, ok2 := resiliencehttp.ParseRetryAfter(h, now); again != d || ok2 != ok {
			t.Fatalf("not deterministic: %v, %v then %v, %v", d, ok, again, ok2)
		}
	})
}

package resiliencehttp_test

import (
	"math"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
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
		{"Retry-After-Ms", "1500.5", 1500*time.Millisecond + 500*time.Microsecond, true},
		{"Retry-After-Ms", "0.0000019", 1 * time.Nanosecond, true}, // below a nanosecond: dropped
		{"Retry-After-Ms", "007", 7 * time.Millisecond, true},
		{"Retry-After-Ms", " 30 ", 30 * time.Millisecond, true},
		{"Retry-After-Ms", "9223372036854", 9223372036854 * time.Millisecond, true},
		{"Retry-After-Ms", "9223372036855", math.MaxInt64, true}, // beyond a Duration
		{"Retry-After-Ms", "9223372036854.775807", math.MaxInt64, true},
		{"Retry-After-Ms", "99999999999999999999999", math.MaxInt64, true},
		// Go's number syntax is not retry-after-ms's: only digits, and at
		// most one point between digits.
		{"Retry-After-Ms", "-1", 0, false},
		{"Retry-After-Ms", "+5", 0, false},
		{"Retry-After-Ms", "-0", 0, false},
		{"Retry-After-Ms", "NaN", 0, false},
		{"Retry-After-Ms", "Inf", 0, false},
		{"Retry-After-Ms", "infinity", 0, false},
		{"Retry-After-Ms", "1_000", 0, false},
		{"Retry-After-Ms", "1_0.5", 0, false},
		{"Retry-After-Ms", "0x10", 0, false},
		{"Retry-After-Ms", "0x1p4", 0, false},
		{"Retry-After-Ms", "1e3", 0, false},
		{"Retry-After-Ms", "1e300", 0, false},
		{"Retry-After-Ms", "1.", 0, false},
		{"Retry-After-Ms", ".5", 0, false},
		{"Retry-After-Ms", "1.2.3", 0, false},
		{"Retry-After-Ms", "1 000", 0, false},
		{"Retry-After-Ms", "\u0661\u0662", 0, false}, // Arabic-Indic digits
		{"Retry-After-Ms", "\uff11", 0, false},       // a fullwidth 1
		{"Retry-After-Ms", ".", 0, false},
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

// FuzzParseRetryAfter fuzzes both headers and both forms of Retry-After,
// with properties: no panic, never negative, nothing with ok false,
// deterministic; retry-after-ms, when well formed, decides alone and gives
// its value (saturated at the longest Duration); when malformed, it is as if
// absent; Retry-After's digits give their value in seconds, and its dates
// their distance from now, never below zero. The seed corpus runs in the test
// command; go test -fuzz FuzzParseRetryAfter explores further.
func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, s := range [][2]string{
		{"0", ""}, {"120", "250"}, {"-1", "-1"}, {"1.5", "1.5"},
		{"Sun, 06 Nov 1994 08:49:37 GMT", "1_000"},
		{now.Add(time.Hour).Format(http.TimeFormat), "0x10"},
		{"Sunday, 06-Nov-94 08:49:37 GMT", "1e3"},
		{"Sun Nov  6 08:49:37 1994", "Inf"},
		{"99999999999999999999", "NaN"}, {"9223372037", "9223372036854.775808"},
		{"1e309", "1."}, {" 7", ".5"}, {"", "0.000001"}, {"+5", " 12 "}, {"\u0661", "\u0661"},
	} {
		f.Add(s[0], s[1])
	}
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
		alone := http.Header{}
		alone.Set("Retry-After", seconds)
		dAlone, okAlone := resiliencehttp.ParseRetryAfter(alone, now)

		// retry-after-ms: digits, then at most one point and digits.
		m := strings.TrimSpace(h.Get("Retry-After-Ms"))
		if whole, frac, dot := strings.Cut(m, "."); digitsOnly(whole) && (!dot || digitsOnly(frac)) {
			want := millis(whole, frac)
			if !ok || d != want {
				t.Fatalf("retry-after-ms %q → %v, %v; want %v", ms, d, ok, want)
			}
		} else if d != dAlone || ok != okAlone {
			t.Fatalf("malformed retry-after-ms %q → %v, %v; want Retry-After's own %v, %v", ms, d, ok, dAlone, okAlone)
		}

		// Retry-After alone: digits are seconds, a date is the time to it.
		v := strings.TrimSpace(alone.Get("Retry-After"))
		switch date, err := http.ParseTime(v); {
		case digitsOnly(v):
			want := time.Duration(math.MaxInt64)
			if n, err := strconv.ParseUint(v, 10, 64); err == nil && n <= math.MaxInt64/uint64(time.Second) {
				want = time.Duration(n) * time.Second
			}
			if !okAlone || dAlone != want {
				t.Fatalf("Retry-After %q → %v, %v; want %v", seconds, dAlone, okAlone, want)
			}
		case err == nil:
			if want := max(date.Sub(now), 0); !okAlone || dAlone != want {
				t.Fatalf("Retry-After %q → %v, %v; want %v", seconds, dAlone, okAlone, want)
			}
		case okAlone:
			t.Fatalf("Retry-After %q, neither digits nor a date → %v, ok", seconds, dAlone)
		}
	})
}

// digitsOnly reports whether s is a non-empty run of ASCII digits.
func digitsOnly(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// millis is the duration of whole.frac milliseconds, computed apart from
// the parser's own way: in big integers, truncated to the nanosecond, and
// saturated.
func millis(whole, frac string) time.Duration {
	frac = (frac + "000000")[:6]
	n, _ := new(big.Int).SetString(whole+frac, 10)
	if !n.IsInt64() {
		return math.MaxInt64
	}
	return time.Duration(n.Int64())
}

// FuzzTransportHonoursHints sends a request whose first answer is a 503 with
// fuzzed Retry-After and retry-after-ms headers, on virtual time: the wait
// before the second attempt is the longer of the backoff and the hint, never
// above MaxRetryAfter, and a hint beyond it hands back the 503 at once.
func FuzzTransportHonoursHints(f *testing.F) {
	for _, s := range [][2]string{
		{"2", ""}, {"", "250"}, {"3600", ""}, {"", "1_000"}, {"5", "1e3"}, {"", "30000.5"}, {"", "29999.9999999"},
		{"Sat, 01 Jan 2000 00:00:07 GMT", ""}, {"Fri, 31 Dec 1999 23:00:00 GMT", "x"}, {"99999999999999999999", ""},
		{"soon", "soon"}, {"0", "0"},
	} {
		f.Add(s[0], s[1])
	}
	const limit = 30 * time.Second
	const backoffDelay = 100 * time.Millisecond
	f.Fuzz(func(t *testing.T, seconds, ms string) {
		synctest.Test(t, func(t *testing.T) {
			hints := http.Header{}
			hints.Set("Retry-After", seconds)
			hints.Set("Retry-After-Ms", ms)
			var times []time.Time
			base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				times = append(times, time.Now())
				resp := answer(r, 200)
				if len(times) == 1 {
					resp = answer(r, 503)
					resp.Header = hints.Clone()
				}
				return resp, nil
			})
			c, _ := newClient(t, base, resiliencehttp.Config{Retry: retry.Config{
				MaxAttempts: 2, Backoff: backoff.Constant(backoffDelay), MaxRetryAfter: limit}})
			hint, ok := resiliencehttp.ParseRetryAfter(hints, time.Now())
			resp, err := c.Get("http://api.example/")
			if err != nil {
				t.Fatal(err)
			}
			read(t, resp)
			if ok && hint > limit {
				if resp.StatusCode != 503 || len(times) != 1 {
					t.Fatalf("hint %v beyond the cap: got %d after %d attempts; want the 503 at once", hint, resp.StatusCode, len(times))
				}
				return
			}
			if resp.StatusCode != 200 || len(times) != 2 {
				t.Fatalf("got %d after %d attempts, want a retry's 200", resp.StatusCode, len(times))
			}
			want := backoffDelay
			if ok {
				want = max(want, hint)
			}
			if gap := times[1].Sub(times[0]); gap != want || gap > limit {
				t.Fatalf("waited %v with hint %v, %v; want %v, never above %v", gap, hint, ok, want, limit)
			}
		})
	})
}

package pace_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/netresilience/resilience/pace"
)

func header(kv ...string) http.Header {
	h := make(http.Header)
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func known(limit, remaining int64, reset time.Duration) pace.Limit {
	return pace.Limit{Limit: limit, Remaining: remaining, Reset: reset, Known: true}
}

func TestParse(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		h       http.Header
		want    pace.Quota
		wantErr string // a part of the error, "" for none
	}{
		{"nothing", header(), pace.Quota{}, ""},
		{"OpenAI", header(
			"x-ratelimit-limit-requests", "60",
			"x-ratelimit-limit-tokens", "150000",
			"x-ratelimit-remaining-requests", "59",
			"x-ratelimit-remaining-tokens", "149984",
			"x-ratelimit-reset-requests", "1s",
			"x-ratelimit-reset-tokens", "6m0s",
		), pace.Quota{Requests: known(60, 59, time.Second), Tokens: known(150000, 149984, 6*time.Minute)}, ""},
		{"OpenAI durations", header(
			"x-ratelimit-remaining-requests", "5", "x-ratelimit-reset-requests", "1m30.5s",
			"x-ratelimit-remaining-tokens", "5", "x-ratelimit-reset-tokens", "20ms",
		), pace.Quota{Requests: known(0, 5, 90500*time.Millisecond), Tokens: known(0, 5, 20*time.Millisecond)}, ""},
		{"OpenAI without a reset", header("x-ratelimit-remaining-requests", "5"), pace.Quota{}, ""},
		{"OpenAI junk", header(
			"x-ratelimit-remaining-requests", "-5", "x-ratelimit-reset-requests", "1s",
			"x-ratelimit-remaining-tokens", "5", "x-ratelimit-reset-tokens", "soon",
		), pace.Quota{}, `X-Ratelimit-Reset-Tokens: not a duration: "soon"`},
		{"OpenAI absurd", header(
			"x-ratelimit-remaining-requests", "99999999999999999999999", "x-ratelimit-reset-requests", "9999999h",
		), pace.Quota{Requests: known(0, 1<<53, pace.MaxReset)}, ""},
		{"Anthropic", header(
			"anthropic-ratelimit-requests-limit", "50",
			"anthropic-ratelimit-requests-remaining", "49",
			"anthropic-ratelimit-requests-reset", "2026-03-01T10:00:01Z",
			"anthropic-ratelimit-tokens-limit", "30000",
			"anthropic-ratelimit-tokens-remaining", "29000",
			"anthropic-ratelimit-tokens-reset", "2026-03-01T10:00:02.5Z",
		), pace.Quota{Requests: known(50, 49, time.Second), Tokens: known(30000, 29000, 2500*time.Millisecond)}, ""},
		{"Anthropic input and output tokens: the smaller share", header(
			"anthropic-ratelimit-input-tokens-limit", "40000",
			"anthropic-ratelimit-input-tokens-remaining", "30000",
			"anthropic-ratelimit-input-tokens-reset", "2026-03-01T10:00:10Z",
			"anthropic-ratelimit-output-tokens-limit", "8000",
			"anthropic-ratelimit-output-tokens-remaining", "2000",
			"anthropic-ratelimit-output-tokens-reset", "2026-03-01T10:00:20Z",
		), pace.Quota{Tokens: known(8000, 2000, 20*time.Second)}, ""},
		{"Anthropic reset in the past", header(
			"anthropic-ratelimit-requests-remaining", "0",
			"anthropic-ratelimit-requests-reset", "2026-03-01T09:59:00Z",
		), pace.Quota{Requests: known(0, 0, 0)}, ""},
		{"Anthropic with a server clock 1h behind: counted from Date", header(
			"Date", "Sun, 01 Mar 2026 09:00:00 GMT",
			"anthropic-ratelimit-requests-remaining", "3",
			"anthropic-ratelimit-requests-reset", "2026-03-01T09:00:30Z",
		), pace.Quota{Requests: known(0, 3, 30*time.Second)}, ""},
		{"Anthropic with a Date within a second: counted from now", header(
			"Date", "Sun, 01 Mar 2026 09:59:59 GMT",
			"anthropic-ratelimit-requests-remaining", "3",
			"anthropic-ratelimit-requests-reset", "2026-03-01T10:00:30Z",
		), pace.Quota{Requests: known(0, 3, 30*time.Second)}, ""},
		{"Anthropic junk", header(
			"anthropic-ratelimit-requests-remaining", "3",
			"anthropic-ratelimit-requests-reset", "in 30 seconds",
		), pace.Quota{}, "not an RFC 3339 time"},
		{"IETF", header(
			"RateLimit-Policy", `"permin";q=100;w=60, "tok";q=10000;qu="tokens";w=60`,
			"RateLimit", `"permin";r=50;t=30, "tok";r=4000;t=30`,
		), pace.Quota{Requests: known(100, 50, 30*time.Second), Tokens: known(10000, 4000, 30*time.Second)}, ""},
		{"IETF without a policy: requests", header("RateLimit", `"default";r=50;t=30`),
			pace.Quota{Requests: known(0, 50, 30*time.Second)}, ""},
		{"IETF: the slowest of several, over field lines", header(
			"RateLimit-Policy", `"burst";q=100;w=60`,
			"RateLimit-Policy", `"daily";q=1000;w=86400`,
			"RateLimit", `"burst";r=90;t=30`,
			"RateLimit", `"daily";r=100;t=80000`,
		), pace.Quota{Requests: known(1000, 100, 80000*time.Second)}, ""},
		{"IETF: the window when no reset is said", header(
			"RateLimit-Policy", `"p";q=10;w=60;pk=:cHsdsRa894==:`, "RateLimit", `"p";r=5;pk=:cHsdsRa894==:;acme-x=?1`,
		), pace.Quota{Requests: known(10, 5, time.Minute)}, ""},
		{"IETF: no reset at all", header("RateLimit", `"default";r=999`), pace.Quota{}, ""},
		{"IETF: another unit", header(
			"RateLimit-Policy", `"b";q=65535;qu="content-bytes";w=10`, "RateLimit", `"b";r=100;t=5`,
		), pace.Quota{}, ""},
		{"IETF junk", header("RateLimit", `"default";r=-1;t=30`), pace.Quota{}, "RateLimit: a malformed item"},
		{"IETF not a list", header("RateLimit", `"default";r=5;t=30,`), pace.Quota{}, "a trailing comma"},
		{"IETF token name", header("RateLimit", `default;r=5;t=30`), pace.Quota{}, "a malformed item"},
		{"older drafts are not read", header(
			"RateLimit-Limit", "100", "RateLimit-Remaining", "0", "RateLimit-Reset", "1700000000",
		), pace.Quota{}, ""},
		{"IETF before OpenAI", header(
			"RateLimit", `"default";r=1;t=2`,
			"x-ratelimit-remaining-requests", "5", "x-ratelimit-reset-requests", "1s",
			"x-ratelimit-remaining-tokens", "7", "x-ratelimit-reset-tokens", "1s",
		), pace.Quota{Requests: known(0, 1, 2*time.Second), Tokens: known(0, 7, time.Second)}, ""},
	} {
		q, err := pace.Parse(tc.h, now)
		if q != tc.want {
			t.Errorf("%s: Parse = %+v, want %+v", tc.name, q, tc.want)
		}
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: error %v, want none", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "pace: ")):
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.wantErr)
		}
	}
	if q, err := pace.Parse(nil, now); q != (pace.Quota{}) || err != nil {
		t.Errorf("Parse(nil) = %v, %v", q, err)
	}
	if q, err := pace.Parse(http.Header(nil), now); q != (pace.Quota{}) || err != nil {
		t.Errorf("Parse(nil) = %v, %v", q, err)
	}
}

func TestParseDurations(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration // -1: malformed
	}{
		{"0", 0}, {"0s", 0}, {"1s", time.Second}, {"6m0s", 6 * time.Minute}, {"20ms", 20 * time.Millisecond},
		{"1m30.5s", 90*time.Second + 500*time.Millisecond}, {"7.66s", 7660 * time.Millisecond},
		{"1h2m3s", time.Hour + 2*time.Minute + 3*time.Second}, {"1.5ms", 1500 * time.Microsecond},
		{"3us", 3 * time.Microsecond}, {"3µs", 3 * time.Microsecond}, {"12ns", 12}, {".5s", 500 * time.Millisecond},
		{"25h", pace.MaxReset}, {"99999999999999999999999h", pace.MaxReset},
		{"", -1}, {"1", -1}, {"s", -1}, {"-1s", -1}, {"+1s", -1}, {"1 s", -1}, {" 1s", 1000000000},
		{"1s1m", -1}, {"1s1s", -1}, {"1.s", -1}, {"1e3s", -1}, {"1d", -1}, {"1S", -1}, {"1us1µs", -1},
		{"Inf", -1}, {"NaN", -1}, {"0x10s", -1}, {"1_000s", -1},
	} {
		h := header("X-Ratelimit-Remaining-Requests", "1", "X-Ratelimit-Reset-Requests", tc.in)
		q, err := pace.Parse(h, t0)
		switch {
		case tc.want < 0 && (q.Requests.Known || err == nil):
			t.Errorf("%q: %+v, %v; want it refused", tc.in, q.Requests, err)
		case tc.want >= 0 && (!q.Requests.Known || q.Requests.Reset != tc.want || err != nil):
			t.Errorf("%q: %+v, %v; want %v", tc.in, q.Requests, err, tc.want)
		}
	}
}

// Parsing well-formed fields of each family allocates nothing.
func TestParseAllocatesNothing(t *testing.T) {
	for _, h := range []http.Header{
		header("x-ratelimit-limit-requests", "60", "x-ratelimit-remaining-requests", "59", "x-ratelimit-reset-requests", "1s",
			"x-ratelimit-limit-tokens", "150000", "x-ratelimit-remaining-tokens", "149984", "x-ratelimit-reset-tokens", "6m0s"),
		header("anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "49",
			"anthropic-ratelimit-requests-reset", "2026-03-01T10:00:01Z"),
		header("RateLimit-Policy", `"permin";q=100;w=60, "tok";q=10000;qu="tokens";w=60`,
			"RateLimit", `"permin";r=50;t=30, "tok";r=4000;t=30`),
	} {
		if n := testing.AllocsPerRun(100, func() {
			if _, err := pace.Parse(h, t0); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("Parse of %v: %v allocations, want 0", h, n)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1s", "6m0s", "1m30.5s", `"a";r=1;t=2`, `"a";q=1;qu="tokens";w=3`, "2026-03-01T10:00:01Z", "12", ":ab=:", "?1", "@12", `%"x"`} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		h := header(
			"RateLimit", a, "RateLimit-Policy", b,
			"X-Ratelimit-Remaining-Requests", b, "X-Ratelimit-Reset-Requests", a,
			"X-Ratelimit-Remaining-Tokens", a, "X-Ratelimit-Reset-Tokens", b,
			"Anthropic-Ratelimit-Requests-Remaining", a, "Anthropic-Ratelimit-Requests-Reset", b,
		)
		q, _ := pace.Parse(h, t0)
		for _, l := range []pace.Limit{q.Requests, q.Tokens} {
			if l.Known && (l.Reset < 0 || l.Reset > pace.MaxReset || l.Remaining < 0 || l.Remaining > 1<<53 || l.Limit < 0 || l.Limit > 1<<53) {
				t.Fatalf("out of bounds: %+v", l)
			}
		}
		// A duration read from OpenAI's header is the one Go reads, capped.
		if d, ok := parseReset(a); ok {
			want, err := time.ParseDuration(a)
			if err != nil || min(want, pace.MaxReset) != d {
				t.Fatalf("reset %q read as %v; time.ParseDuration says %v, %v", a, d, want, err)
			}
		}
	})
}

func parseReset(s string) (time.Duration, bool) {
	h := header("X-Ratelimit-Remaining-Requests", "1", "X-Ratelimit-Reset-Requests", s)
	q, _ := pace.Parse(h, t0)
	if strings.TrimSpace(s) != s {
		return 0, false
	}
	return q.Requests.Reset, q.Requests.Known
}

package resiliencetest_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/netresilience/resilience/resiliencetest"
)

// outcome is what a client saw of one request: a status, or "reset".
func outcome(t *testing.T, tr *resiliencetest.Transport) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, apiURL, nil)
	resp, err := tr.RoundTrip(req)
	if errors.Is(err, errConnReset) {
		return "reset"
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Status
}

func TestMixFrequencies(t *testing.T) {
	const n = 10_000
	chances := []resiliencetest.Chance{
		{Probability: 0.2, Fault: resiliencetest.Status(503)},
		{Probability: 0.05, Fault: resiliencetest.Fault{Break: resiliencetest.Reset}},
		{Probability: 0.1, Fault: resiliencetest.RetryAfter(429, "1")},
		{Probability: 0, Fault: resiliencetest.Status(418)},
	}
	want := map[string]float64{
		"503 Service Unavailable": 0.2,
		"reset":                   0.05,
		"429 Too Many Requests":   0.1,
		"418 I'm a teapot":        0,
		"200 OK":                  0.65, // the rest: Default
	}
	for _, seed := range []uint64{0, 1, 42} {
		tr := resiliencetest.NewTransport()
		tr.Random = resiliencetest.MustNewMix(seed, chances...)
		counts := map[string]int{}
		for range n {
			counts[outcome(t, tr)]++
		}
		for o, p := range want {
			// Each count is binomial(n, p): within 5 standard deviations,
			// which a fair picker misses once in 1.7 million.
			tolerance := 5 * math.Sqrt(n*p*(1-p))
			if got := float64(counts[o]); math.Abs(got-n*p) > tolerance {
				t.Errorf("seed %d: %q %v times in %d; want %v ± %.0f", seed, o, got, n, n*p, tolerance)
			}
		}
		if len(counts) > len(want)-1 {
			t.Errorf("seed %d: outcomes %v", seed, counts)
		}
	}
}

func TestMixDeterministic(t *testing.T) {
	chances := []resiliencetest.Chance{
		{Probability: 0.3, Fault: resiliencetest.Status(503)},
		{Probability: 0.3, Fault: resiliencetest.Status(502)},
	}
	run := func(seed uint64, script ...resiliencetest.Fault) []string {
		tr := resiliencetest.NewTransport(script...)
		tr.Random = resiliencetest.MustNewMix(seed, chances...)
		tr.Default = resiliencetest.Status(500)
		var out []string
		for range 200 {
			out = append(out, outcome(t, tr))
		}
		return out
	}
	a, b, other := run(9), run(9), run(10)
	if !slicesEqual(a, b) {
		t.Errorf("the same seed gave different picks:\n%v\n%v", a, b)
	}
	if slicesEqual(a, other) {
		t.Errorf("seeds 9 and 10 gave the same picks")
	}
	// A script comes first, and the picks go on by arrival number.
	scripted := run(9, resiliencetest.OK("a"), resiliencetest.OK("b"))
	if scripted[0] != "200 OK" || scripted[1] != "200 OK" || !slicesEqual(scripted[2:], a[2:]) {
		t.Errorf("with a script of 2: %v; want 200, 200, then the picks for requests 3 on: %v", scripted[:6], a[:6])
	}
}

func TestMixCertainties(t *testing.T) {
	always := resiliencetest.NewTransport()
	always.Random = resiliencetest.MustNewMix(3, resiliencetest.Chance{Probability: 1, Fault: resiliencetest.Status(503)})
	never := resiliencetest.NewTransport()
	never.Random = &resiliencetest.Mix{}
	for range 1000 {
		if o := outcome(t, always); o != "503 Service Unavailable" {
			t.Fatalf("probability 1 gave %q", o)
		}
		if o := outcome(t, never); o != "200 OK" {
			t.Fatalf("the zero Mix gave %q", o)
		}
	}
}

func TestNewMixErrors(t *testing.T) {
	c := func(p float64) resiliencetest.Chance { return resiliencetest.Chance{Probability: p} }
	for _, tc := range []struct {
		chances []resiliencetest.Chance
		want    string
	}{
		{[]resiliencetest.Chance{c(-0.1)}, "resiliencetest: chance 0 has probability -0.1, not in [0, 1]"},
		{[]resiliencetest.Chance{c(0.5), c(1.5)}, "resiliencetest: chance 1 has probability 1.5, not in [0, 1]"},
		{[]resiliencetest.Chance{c(math.NaN())}, "resiliencetest: chance 0 has probability NaN, not in [0, 1]"},
		{[]resiliencetest.Chance{c(math.Inf(1))}, "resiliencetest: chance 0 has probability +Inf, not in [0, 1]"},
		{[]resiliencetest.Chance{c(0.6), c(0.6)}, "resiliencetest: probabilities add up to 1.2, more than 1"},
		{[]resiliencetest.Chance{c(0.5), c(0.5), c(0.001)}, "resiliencetest: probabilities add up to 1.001, more than 1"},
		{[]resiliencetest.Chance{{Probability: 0.1, Fault: resiliencetest.Fault{Delay: -time.Second}}},
			"resiliencetest: chance 0: Delay is negative: -1s"},
	} {
		m, err := resiliencetest.NewMix(1, tc.chances...)
		if m != nil || err == nil || err.Error() != tc.want {
			t.Errorf("NewMix(%v) = %v, %v; want %q", tc.chances, m, err, tc.want)
		}
	}
	for _, ok := range [][]resiliencetest.Chance{
		nil,
		{c(0.1), c(0.2), c(0.7)}, // adds up to 1.0000000000000002 in floating point
		{c(0.7), c(0.2), c(0.1)},
		{c(0), c(1)},
	} {
		if _, err := resiliencetest.NewMix(1, ok...); err != nil {
			t.Errorf("NewMix(%v): %v", ok, err)
		}
	}
}

func TestMustNewMixPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustNewMix did not panic on a probability above 1")
		}
	}()
	resiliencetest.MustNewMix(1, resiliencetest.Chance{Probability: 2})
}

func TestStrings(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{resiliencetest.Answer.String(), "answer"},
		{resiliencetest.Reset.String(), "reset"},
		{resiliencetest.Close.String(), "close"},
		{resiliencetest.Hang.String(), "hang"},
		{resiliencetest.Truncate.String(), "truncate"},
		{resiliencetest.Break(7).String(), "Break(7)"},
		{resiliencetest.Fault{}.String(), "normal answer"},
		{resiliencetest.Status(503).String(), "503"},
		{resiliencetest.OK("x").String(), "200"},
		{resiliencetest.Fault{Body: "x"}.String(), "200"},
		{resiliencetest.RetryAfter(429, "2").String(), "429 with Retry-After"},
		{resiliencetest.Fault{Status: 503, Delay: 2 * time.Second}.String(), "503 after 2s"},
		{resiliencetest.Fault{Break: resiliencetest.Reset, Delay: time.Second}.String(), "reset after 1s"},
		{resiliencetest.Fault{Break: resiliencetest.Hang}.String(), "hang"},
		{resiliencetest.Fault{Body: "x", SlowBody: time.Millisecond, Break: resiliencetest.Truncate}.String(), "200, a byte every 1ms, truncated"},
		{resiliencetest.Fault{Header: http.Header{"b": nil, "A": nil}}.String(), "normal answer with A, B"},
		{resiliencetest.Fault{Break: 9}.String(), "normal answer, Break(9)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q; want %q", c.got, c.want)
		}
	}
}

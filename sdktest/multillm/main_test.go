package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/netresilience/resilience/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestMultiLLM runs the program against its two loopback providers, through
// the real client libraries, and checks the counts: every call is answered,
// A answers until it goes down, its breaker then opens and stops A's
// traffic, and B answers the rest; no library retries on top of a
// transport.
func TestMultiLLM(t *testing.T) {
	for _, sc := range []scenario{
		defaultScenario,
		{calls: 20, aHealthy: 2, attempts: 3, threshold: 2, listings: 1, quotaB: 2},
		{calls: 5, aHealthy: 10, attempts: 2, threshold: 3, quotaB: 1}, // A never goes down; no listings
	} {
		var out bytes.Buffer
		r, err := run(&out, sc)
		if err != nil {
			t.Fatal(err)
		}
		text := out.String()
		wantA := min(sc.calls, sc.aHealthy)
		if r.failed != 0 || r.byA != wantA || r.byA+r.byB != sc.calls {
			t.Errorf("%+v: %d by A, %d by B, %d failed; want %d by A, the rest by B, none failed\n%s",
				sc, r.byA, r.byB, r.failed, wantA, text)
		}
		if r.bRefused != 0 {
			t.Errorf("%+v: B refused %d requests for its quota; want none: the calls are paced to it\n%s", sc, r.bRefused, text)
		}
		if r.bRequests != r.byB {
			t.Errorf("%+v: B received %d requests for %d fallbacks", sc, r.bRequests, r.byB)
		}
		if sc.calls > sc.aHealthy {
			// A's breaker opens after threshold failed requests, and no
			// request reaches A after that.
			if r.aRequests != sc.aHealthy+sc.threshold {
				t.Errorf("%+v: A received %d requests, want %d healthy + %d until its breaker opened\n%s",
					sc, r.aRequests, sc.aHealthy, sc.threshold, text)
			}
			// Only the first ceil(threshold/attempts) fallbacks can have
			// reached A; the later ones are the breaker's rejections.
			if reached := (sc.threshold + sc.attempts - 1) / sc.attempts; r.aRejected == 0 || r.aRejected < r.byB-reached {
				t.Errorf("%+v: %d calls fell back on an open breaker, of %d fallbacks", sc, r.aRejected, r.byB)
			}
		} else if r.aRequests != sc.calls || r.aRejected != 0 {
			t.Errorf("%+v: A received %d requests, %d rejected; want %d, 0", sc, r.aRequests, r.aRejected, sc.calls)
		}
		lines := 0
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, "call ") {
				lines++
			}
		}
		if lines != sc.calls {
			t.Errorf("%+v: %d call lines, want %d\n%s", sc, lines, sc.calls, text)
		}
		// Hedged listings: all succeed; the first needs a hedge, since A's
		// first models request never answers; every request that reached
		// A is a listing's first attempt or a hedge.
		if r.listed != sc.listings {
			t.Errorf("%+v: %d of %d listings succeeded\n%s", sc, r.listed, sc.listings, text)
		}
		if sc.listings > 0 && (r.hedges < 1 || r.listingRequests < sc.listings+1 || r.listingRequests > sc.listings+r.hedges) {
			t.Errorf("%+v: %d hedges, %d models requests for %d listings\n%s", sc, r.hedges, r.listingRequests, sc.listings, text)
		}
		if sc.listings == 0 && (r.hedges != 0 || r.listingRequests != 0) {
			t.Errorf("%+v: %d hedges, %d models requests without listings", sc, r.hedges, r.listingRequests)
		}
		if r.stacked != 0 {
			t.Errorf("%+v: %d stacked-retries events; want none, with the libraries' retries off", sc, r.stacked)
		}
		if !strings.Contains(text, "summary:") {
			t.Errorf("no summary:\n%s", text)
		}
	}
}

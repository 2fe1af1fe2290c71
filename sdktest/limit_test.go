package sdktest

import (
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/sdktest/internal/fakellm"
)

// The transport's per-host adaptive limit under both SDKs' streamed
// completions: a 529 before the stream begins is a drop, which cuts the
// limit, and is retried; the whole stream then gives its permit back when
// the SDK has read it, and teaches nothing more at one call in flight; a
// stream broken midway is a drop, which cuts the limit again.
func TestLimitUnderTheSDK(t *testing.T) {
	for _, s := range sdks {
		t.Run(s.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := &fakellm.Provider{Name: "fake"}
				fake.Script(fakellm.Step{Status: 529}, fakellm.Step{}, fakellm.Step{BreakAfter: 1})
				var seen events
				cfg := transportConfig(&seen)
				cfg.Limit = &adaptive.Config{Initial: 8, Max: 64, AIMD: adaptive.AIMDConfig{Backoff: 0.5}}
				rt := newTransport(t, serve(t, fake, false), cfg)
				const prompt = "one two three"
				text, err := s.stream(context.Background(), rt, prompt)
				if err != nil || text != "fake says: "+prompt {
					t.Fatalf("stream after a 529: %q, %v; want the whole answer", text, err)
				}
				lim := rt.Limiter("llm.test")
				if l, n := lim.Limit(), lim.InFlight(); l != 4 || n != 0 {
					t.Fatalf("after a 529 and a whole stream: limit %d, %d in flight; want the limit halved to 4, none in flight", l, n)
				}
				if _, err := s.stream(context.Background(), rt, prompt); err == nil || errors.Is(err, io.EOF) {
					t.Fatalf("broken stream: %v; want an error", err)
				}
				if l, n := lim.Limit(), lim.InFlight(); l != 2 || n != 0 {
					t.Fatalf("after a broken stream: limit %d, %d in flight; want the limit halved to 2, none in flight", l, n)
				}
				var admits int
				for _, e := range seen.of(resilience.EventAdmit) {
					if e.Kind == resilience.KindAdaptive && e.Policy == "llm.test" {
						admits++
					}
				}
				if n := len(fake.Requests()); admits != 3 || n != 3 {
					t.Fatalf("%d admissions by the limit for %d requests; want 3 of each", admits, n)
				}
			})
		})
	}
}

package sdktest

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/sdktest/internal/fakellm"
)

// statusOf returns the status of an SDK's API error, or 0.
func statusOf(err error) int {
	var oe *openai.Error
	if errors.As(err, &oe) {
		return oe.StatusCode
	}
	var ae *anthropic.Error
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

// A provider that fails once, as providers do, and then answers: the
// transport retries under the SDK (whose own retries are off), waiting what
// the server's hint says — Retry-After in seconds, or retry-after-ms — or
// else its backoff; 529, Anthropic's "overloaded", is retried by default.
// The SDK sees the answer, and the provider exactly two requests, each
// numbered 0 by the SDK: the transport's replays are not the SDK's retries.
func TestTransientFailuresRetriedUnderTheSDK(t *testing.T) {
	cases := []struct {
		name string
		step fakellm.Step
		wait time.Duration
	}{
		{"429 Retry-After seconds", fakellm.Step{Status: 429, Header: map[string]string{"Retry-After": "2"}}, 2 * time.Second},
		{"429 retry-after-ms", fakellm.Step{Status: 429, Header: map[string]string{"Retry-After-Ms": "250"}}, 250 * time.Millisecond},
		{"529 overloaded", fakellm.Step{Status: 529}, backoffStep},
		{"503", fakellm.Step{Status: 503}, backoffStep},
	}
	for _, s := range sdks {
		for _, c := range cases {
			t.Run(s.name+"/"+c.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					fake := &fakellm.Provider{Name: "fake"}
					fake.Script(c.step)
					var seen events
					rt := newTransport(t, serve(t, fake, false), transportConfig(&seen))
					start := time.Now()
					text, err := s.complete(context.Background(), rt, sdkRetriesOff, "hello there")
					took := time.Since(start)
					if err != nil || text != "fake says: hello there" {
						t.Fatalf("completion = %q, %v; want the answer after one retry", text, err)
					}
					if took != c.wait {
						t.Errorf("the call took %v; want %v, the wait before the retry", took, c.wait)
					}
					if got := retryCounts(fake); !slices.Equal(got, []string{"0", "0"}) {
						t.Errorf("the provider saw requests with %s %q; want two, both \"0\"", resiliencehttp.StackedRetryHeader, got)
					}
					if n := len(seen.of(resilience.EventStackedRetries)); n != 0 {
						t.Errorf("%d stacked-retries events with the SDK's retries off; want 0", n)
					}
				})
			})
		}
	}
}

// A provider that stays down: the transport makes its 4 attempts, then
// hands the last answer to the SDK, which reports the provider's status.
func TestRetriesRunOutWithTheProvidersError(t *testing.T) {
	for _, s := range sdks {
		t.Run(s.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := &fakellm.Provider{Name: "fake"}
				fake.Then(fakellm.Step{Status: 529})
				var seen events
				rt := newTransport(t, serve(t, fake, false), transportConfig(&seen))
				_, err := s.complete(context.Background(), rt, sdkRetriesOff, "hi")
				if statusOf(err) != 529 || len(fake.Requests()) != 4 {
					t.Fatalf("completion: %v after %d requests; want the SDK's 529 error after 4", err, len(fake.Requests()))
				}
			})
		})
	}
}

// With the SDK's own retries left on (2, its default), each of its
// attempts makes a full round of the transport's: 12 requests for one call
// against a provider that stays down. The observer hears it once per
// transport, however many calls do it, with the SDK's retry count.
func TestStackedRetriesAreObservedOnce(t *testing.T) {
	for _, s := range sdks {
		t.Run(s.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := &fakellm.Provider{Name: "fake"}
				fake.Then(fakellm.Step{Status: 503})
				var seen events
				rt := newTransport(t, serve(t, fake, false), transportConfig(&seen))
				for call := 1; call <= 2; call++ {
					_, err := s.complete(context.Background(), rt, sdkRetriesOn, "hi")
					if statusOf(err) != 503 {
						t.Fatalf("call %d: %v; want the SDK's 503 error", call, err)
					}
					if n := len(fake.Requests()); n != 12*call {
						t.Fatalf("after call %d the provider saw %d requests; want %d: 3 SDK attempts of 4 transport attempts each", call, n, 12*call)
					}
				}
				want := strings.Split("0 0 0 0 1 1 1 1 2 2 2 2", " ")
				if got := retryCounts(fake)[:12]; !slices.Equal(got, want) {
					t.Errorf("retry counts %q; want %q", got, want)
				}
				ev := seen.of(resilience.EventStackedRetries)
				if len(ev) != 1 {
					t.Fatalf("%d stacked-retries events for 2 calls with stacked retries; want 1", len(ev))
				}
				if e := ev[0]; e.Kind != resilience.KindTransport || e.Attempt != 1 || e.Reason != resiliencehttp.StackedRetryHeader+": 1" {
					t.Errorf("event %+v; want the transport's, for the SDK's first retry", e)
				}
			})
		})
	}
}

// Once the provider's breaker is open, a call through the SDK with its
// retries off is rejected at once: no request, no wait, and an error that
// matches breaker.ErrOpen. With the SDK's retries on, the same rejection
// costs the SDK's backoff (over a second): the delay users saw.
func TestOpenBreakerRejectsAtOnce(t *testing.T) {
	for _, s := range sdks {
		t.Run(s.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := &fakellm.Provider{Name: "fake"}
				fake.Then(fakellm.Step{Status: 503})
				var seen events
				cfg := transportConfig(&seen)
				cfg.Breaker = &breaker.Config{FailureThreshold: 4, RecoveryTimeout: time.Hour}
				rt := newTransport(t, serve(t, fake, false), cfg)
				if _, err := s.complete(context.Background(), rt, sdkRetriesOff, "hi"); statusOf(err) != 503 {
					t.Fatalf("first call: %v; want the SDK's 503 error", err)
				}
				if s := rt.Breaker("llm.test").State(); s != breaker.Open || len(fake.Requests()) != 4 {
					t.Fatalf("after 4 failed requests (%d) the breaker is %v; want open", len(fake.Requests()), s)
				}
				start := time.Now()
				_, err := s.complete(context.Background(), rt, sdkRetriesOff, "hi")
				if took := time.Since(start); !errors.Is(err, breaker.ErrOpen) || took != 0 || len(fake.Requests()) != 4 {
					t.Fatalf("call with the breaker open: %v after %v and %d requests; want breaker.ErrOpen at once, no request",
						err, took, len(fake.Requests()))
				}
				start = time.Now()
				_, err = s.complete(context.Background(), rt, sdkRetriesOn, "hi")
				if took := time.Since(start); !errors.Is(err, breaker.ErrOpen) || took < time.Second || len(fake.Requests()) != 4 {
					t.Fatalf("with the SDK's retries on: %v after %v and %d requests; want breaker.ErrOpen after the SDK's backoff",
						err, took, len(fake.Requests()))
				}
				if n := len(seen.of(resilience.EventStackedRetries)); n != 1 {
					t.Errorf("%d stacked-retries events; want 1, for the SDK's retries of the rejection", n)
				}
			})
		})
	}
}

// A streamed completion that breaks midway, over HTTP/1.1 (the connection
// closes before the last chunk) and HTTP/2 (the stream is reset), on the
// in-memory network and on real loopback servers (HTTP/2 over TLS there):
// the SDK's stream ends with an error, never a short answer taken for a
// whole one; the request is not replayed once the stream has begun; and
// the break counts as a failure for the provider's breaker. A stream that
// fails before its first byte (a 503) is retried, and streams whole.
func TestBrokenStreamIsAnError(t *testing.T) {
	for _, s := range sdks {
		for _, h2 := range []bool{false, true} {
			proto := map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2]
			t.Run(s.name+"/"+proto+"/in memory", func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					fake := &fakellm.Provider{Name: "fake"}
					brokenStreams(t, s, fake, serve(t, fake, h2), fakeURL)
				})
			})
			t.Run(s.name+"/"+proto+"/loopback", func(t *testing.T) {
				fake := &fakellm.Provider{Name: "fake"}
				srv := httptest.NewUnstartedServer(fake)
				srv.Config.ErrorLog = log.New(io.Discard, "", 0)
				if h2 {
					srv.EnableHTTP2 = true
					srv.StartTLS()
				} else {
					srv.Start()
				}
				defer srv.Close()
				base := srv.Client().Transport.(*http.Transport).Clone()
				defer base.CloseIdleConnections()
				brokenStreams(t, s, fake, base, srv.URL)
			})
		}
	}
}

// brokenStreams runs TestBrokenStreamIsAnError's streams through s against
// fake, which base reaches at url.
func brokenStreams(t *testing.T, s sdk, fake *fakellm.Provider, base http.RoundTripper, url string) {
	fake.Script(fakellm.Step{Status: 503}, fakellm.Step{}, fakellm.Step{BreakAfter: 2}, fakellm.Step{BreakAfter: 1})
	var seen events
	cfg := transportConfig(&seen)
	cfg.Breaker = &breaker.Config{FailureThreshold: 2, RecoveryTimeout: time.Hour}
	rt := newTransport(t, base, cfg)
	host := strings.TrimPrefix(strings.TrimPrefix(url, "https://"), "http://")
	const prompt = "one two three four"
	text, err := s.streamAt(context.Background(), rt, url, prompt)
	if err != nil || text != "fake says: "+prompt {
		t.Fatalf("stream after a 503: %q, %v; want the whole answer", text, err)
	}
	if n := len(fake.Requests()); n != 2 {
		t.Fatalf("the provider saw %d requests; want 2: the 503 and its retry", n)
	}
	for i, want := range []string{"fake says: ", "fake "} {
		text, err = s.streamAt(context.Background(), rt, url, prompt)
		if err == nil || errors.Is(err, io.EOF) {
			t.Fatalf("broken stream %d: %q, %v; want an error", i+1, text, err)
		}
		if text != want {
			t.Errorf("broken stream %d delivered %q before its error; want %q, the deltas sent", i+1, text, want)
		}
		if n := len(fake.Requests()); n != 3+i {
			t.Fatalf("the provider saw %d requests; want %d: a stream that began is not replayed", n, 3+i)
		}
		// The success before reset the count: the first break leaves the
		// breaker (threshold 2) closed, the second opens it.
		if st, want := rt.Breaker(host).State(), []breaker.State{breaker.Closed, breaker.Open}[i]; st != want {
			t.Fatalf("after broken stream %d the breaker is %v; want %v", i+1, st, want)
		}
	}
	start := time.Now()
	_, err = s.streamAt(context.Background(), rt, url, prompt)
	// On the loopback servers, the wall clock: a bound far above the
	// microseconds a rejection takes, far below any backoff.
	if took := time.Since(start); !errors.Is(err, breaker.ErrOpen) || len(fake.Requests()) != 4 || took > 50*time.Millisecond {
		t.Fatalf("next stream: %v after %v; want breaker.ErrOpen at once and no request", err, took)
	}
}

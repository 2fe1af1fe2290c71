// Command multillm is the original design's MultiLLMService on the real
// client libraries: completions go to provider A, an OpenAI-style API called
// with openai-go, and fall back to provider B, an Anthropic-style API called
// with anthropic-sdk-go, when A fails or when A's circuit breaker is open,
// without waiting for A.
//
// Both providers are fakes that the program starts itself on 127.0.0.1 and
// that answer as the providers do (package internal/fakellm), so it runs
// anywhere with nothing but Go. Each client is built over its own
// resiliencehttp transport, with a retry policy and a circuit breaker, and
// with the library's own retries turned off (option.WithMaxRetries(0)):
// otherwise each of the library's attempts would make a full round of the
// transport's, and the library would wait its own backoff after every
// rejection of the open breaker. The completion POST is replayed because
// RetryNonIdempotent is set. Midway through the run provider A goes down
// (503): its first failures are retried and fall back to B, then its
// breaker opens and the remaining calls go to B at once, without touching
// A. Provider B enforces a small quota of requests, which it reports in
// Anthropic's anthropic-ratelimit-* headers, as A would in OpenAI's; each
// transport paces its requests to what the answers report (Config.Pace),
// so that the calls that fall back to B are spread over its quota rather
// than refused with 429.
//
// Before the completions, the program lists provider A's models with hedged
// calls of openai-go's Models.List (package hedge): a listing is read-only,
// so when an answer is late a second request is sent and the first answer
// wins. A's first models request hangs, so the first listing is answered by
// its hedge.
//
// Usage, from the repository's root:
//
//	go run ./sdktest/multillm
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/fallback"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/pace"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/resiliencetest"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/sdktest/internal/fakellm"
)

func main() {
	if _, err := run(os.Stdout, defaultScenario); err != nil {
		fmt.Fprintln(os.Stderr, "multillm:", err)
		os.Exit(1)
	}
}

// scenario is the run: how many completions, and how many requests provider
// A answers before it goes down.
type scenario struct {
	calls     int
	aHealthy  int // provider A answers this many completion requests, then fails with 503
	attempts  int // attempts per call, the first included
	threshold int // failures in a row that open a provider's breaker
	listings  int // hedged listings of provider A's models, made first
	quotaB    int // provider B's quota: requests per 100ms
}

// quotaWindow is the window of provider B's quota.
const quotaWindow = 100 * time.Millisecond

var defaultScenario = scenario{calls: 12, aHealthy: 4, attempts: 2, threshold: 3, listings: 3, quotaB: 3}

// report counts what happened to the calls.
type report struct {
	byA, byB, failed int
	aRejected        int // calls that fell back on a rejection by A's open breaker
	aRequests        int // completion requests that reached provider A
	bRequests        int // completion requests that reached provider B
	bRefused         int // requests that provider B refused for its quota

	listed          int // model listings that succeeded
	hedges          int // hedged requests sent for them
	listingRequests int // models requests that reached provider A
	stacked         int // stacked-retries events: a library retrying on top of a transport
}

// newTransport returns a provider's transport over base: its own retry
// policy and breaker (named after the provider), completions replayed, and
// the stacked-retries event counted.
func newTransport(name string, base http.RoundTripper, sc scenario, stacked *atomic.Int64) (*resiliencehttp.Transport, error) {
	return resiliencehttp.NewTransport(base, resiliencehttp.Config{
		// Fast, so that the run takes a moment.
		Retry: retry.Config{Name: name, MaxAttempts: sc.attempts, Backoff: backoff.Constant(5 * time.Millisecond)},
		Breaker: &breaker.Config{
			FailureThreshold: sc.threshold,
			RecoveryTimeout:  time.Minute, // longer than the run: A stays open
		},
		RetryNonIdempotent: true,           // a completion POST is safe to repeat
		Pace:               &pace.Config{}, // to the quota the answers report
		Observer: &resilience.Observer{StackedRetries: func(e resilience.Event) {
			stacked.Add(1)
			fmt.Fprintf(os.Stderr, "multillm: %s's client library retries on top of the transport (%s): set option.WithMaxRetries(0)\n", name, e.Reason)
		}},
	})
}

// run starts the two providers, makes sc.calls completions, prints a line
// per call and a summary to w, and returns the counts.
func run(w io.Writer, sc scenario) (report, error) {
	// Provider A answers aHealthy completions, then is down: 503 for the
	// rest. Provider B stays up.
	fakeA := &fakellm.Provider{Name: "A", SlowListings: 1}
	for range sc.aHealthy {
		fakeA.Script(fakellm.Step{})
	}
	fakeA.Then(fakellm.Step{Status: http.StatusServiceUnavailable})
	fakeB := &fakellm.Provider{Name: "B", Quota: &fakellm.Quota{Requests: sc.quotaB, Window: quotaWindow}}
	srvA := resiliencetest.NewUnstartedServer()
	srvA.Handler = fakeA
	srvA.Start()
	defer srvA.Close()
	srvB := resiliencetest.NewUnstartedServer()
	srvB.Handler = fakeB
	srvB.Start()
	defer srvB.Close()

	base := &http.Transport{}
	defer base.CloseIdleConnections()
	var stacked atomic.Int64
	ta, err := newTransport("A", base, sc, &stacked)
	if err != nil {
		return report{}, err
	}
	tb, err := newTransport("B", base, sc, &stacked)
	if err != nil {
		return report{}, err
	}
	a := openai.NewClient(
		option.WithHTTPClient(&http.Client{Transport: ta}),
		option.WithMaxRetries(0), // the transport retries
		option.WithBaseURL(srvA.URL+"/v1/"),
		option.WithAPIKey("fake-key"),
	)
	b := anthropic.NewClient(
		aoption.WithHTTPClient(&http.Client{Transport: tb}),
		aoption.WithMaxRetries(0), // the transport retries
		aoption.WithBaseURL(srvB.URL),
		aoption.WithAPIKey("fake-key"),
	)
	completeA := func(ctx context.Context, prompt string) (string, error) {
		res, err := a.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    openai.ChatModelGPT4oMini,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
		})
		if err != nil {
			return "", err
		}
		return res.Choices[0].Message.Content, nil
	}
	completeB := func(ctx context.Context, prompt string) (string, error) {
		res, err := b.Messages.New(ctx, anthropic.MessageNewParams{
			Model:     "claude-fake",
			MaxTokens: 256,
			Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(prompt))},
		})
		if err != nil {
			return "", err
		}
		var text string
		for _, block := range res.Content {
			text += block.Text
		}
		return text, nil
	}
	fb, err := fallback.New(fallback.Config{Name: "llm"})
	if err != nil {
		return report{}, err
	}

	ctx := context.Background()
	var t report

	// Hedged listings: a second request when the first has no answer after
	// 50ms; the loser's request is canceled.
	var hedges atomic.Int64
	h, err := hedge.New(hedge.Config{
		Name:     "models",
		Delay:    50 * time.Millisecond,
		Observer: &resilience.Observer{Hedge: func(resilience.Event) { hedges.Add(1) }},
	})
	if err != nil {
		return report{}, err
	}
	listModels := func(ctx context.Context) ([]string, error) {
		page, err := a.Models.List(ctx)
		if err != nil {
			return nil, err
		}
		var ids []string
		for _, m := range page.Data {
			ids = append(ids, m.ID)
		}
		return ids, nil
	}
	for i := 1; i <= sc.listings; i++ {
		before := hedges.Load()
		// A bound on the listing, so that a run cannot hang if no hedge
		// is ever sent.
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		models, err := hedge.Do(lctx, h, listModels)
		cancel()
		sent := hedges.Load() - before
		if err != nil {
			fmt.Fprintf(w, "models %d: failed: %v\n", i, err)
			continue
		}
		t.listed++
		fmt.Fprintf(w, "models %d: %v (hedges sent: %d)\n", i, models, sent)
	}
	t.hedges = int(hedges.Load())
	t.listingRequests = fakeA.Listings()
	if sc.listings > 0 {
		fmt.Fprintln(w)
	}

	for i := 1; i <= sc.calls; i++ {
		prompt := fmt.Sprintf("prompt %d", i)
		var aErr error
		reply, err := fallback.Do(ctx, fb,
			func(ctx context.Context) (string, error) { return completeA(ctx, prompt) },
			func(ctx context.Context, err error) (string, error) {
				aErr = err
				return completeB(ctx, prompt)
			})
		switch {
		case err != nil:
			t.failed++
			fmt.Fprintf(w, "call %2d: failed: %v\n", i, err)
		case aErr == nil:
			t.byA++
			fmt.Fprintf(w, "call %2d: %-14s %s\n", i, "A ok", reply)
		case errors.Is(aErr, breaker.ErrOpen):
			t.aRejected++
			t.byB++
			fmt.Fprintf(w, "call %2d: %-14s %s\n", i, "A open -> B", reply)
		default:
			t.byB++
			fmt.Fprintf(w, "call %2d: %-14s %s  (A: %s)\n", i, "A failed -> B", reply, summary(aErr))
		}
	}
	t.stacked = int(stacked.Load())
	fmt.Fprintf(w, "\nsummary: %d calls: %d answered by A, %d by B (%d without trying A: breaker open), %d failed\n",
		sc.calls, t.byA, t.byB, t.aRejected, t.failed)
	t.aRequests, t.bRequests, t.bRefused = len(fakeA.Requests()), len(fakeB.Requests()), fakeB.Refused()
	fmt.Fprintf(w, "completion requests: A received %d, B received %d\n", t.aRequests, t.bRequests)
	fmt.Fprintf(w, "B's quota of %d requests per %v: %d requests refused (the transport paced the calls to it)\n",
		sc.quotaB, quotaWindow, t.bRefused)
	fmt.Fprintf(w, "model listings: %d of %d, with %d hedged requests; A received %d models requests\n",
		t.listed, sc.listings, t.hedges, t.listingRequests)
	return t, nil
}

// summary is a short form of a provider's error: its status, if the
// library reported one.
func summary(err error) string {
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		return fmt.Sprintf("%d %s", apiErr.StatusCode, http.StatusText(apiErr.StatusCode))
	}
	return err.Error()
}

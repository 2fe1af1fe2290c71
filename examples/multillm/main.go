// Command multillm is the original design's MultiLLMService: completions go
// to provider A, and fall back to provider B when A fails or when A's
// circuit breaker is open, without waiting for A.
//
// Both providers are fake HTTP servers on 127.0.0.1 that the program starts
// itself (package resiliencetest). Each is called through its own
// resiliencehttp transport, with a retry policy and a circuit breaker; the
// completion POST is replayed because RetryNonIdempotent is set. Midway
// through the run provider A goes down: its first failures are retried and
// fall back to B, then its breaker opens and the remaining calls go to B at
// once, without touching A.
//
// Before the completions, the program lists provider A's models with hedged
// GETs (package hedge): GET /v1/models is read-only, so when an answer is
// late a second request is sent and the first answer wins. A's first models
// request hangs, so the first listing is answered by its hedge.
//
// Usage:
//
//	go run ./examples/multillm
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/fallback"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/resiliencetest"
	"github.com/netresilience/resilience/retry"
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
	aHealthy  int // provider A answers this many requests, then fails with 503
	attempts  int // attempts per call, the first included
	threshold int // failures in a row that open a provider's breaker
	listings  int // hedged GET /v1/models calls to provider A, made first
}

var defaultScenario = scenario{calls: 12, aHealthy: 4, attempts: 2, threshold: 3, listings: 3}

// provider is one LLM API: a name, a base URL, and a client whose transport
// retries and breaks the circuit.
type provider struct {
	name   string
	url    string
	client *http.Client
}

// errStatus is a provider's answer with a failing status, after retries.
type errStatus struct {
	provider string
	status   int
}

func (e *errStatus) Error() string {
	return fmt.Sprintf("%s answered %d %s", e.provider, e.status, http.StatusText(e.status))
}

// complete posts a prompt to the provider's completion endpoint.
func (p *provider) complete(ctx context.Context, prompt string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/v1/completions", strings.NewReader(prompt))
	if err != nil {
		return "", err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		err := &errStatus{p.name, resp.StatusCode}
		if resp.StatusCode >= 500 {
			return "", resilience.Transient(err)
		}
		return "", resilience.Permanent(err)
	}
	return string(body), nil
}

// llm plays a provider: POST /v1/completions answers its first healthy
// requests (all of them when healthy is negative) and then fails with 503:
// the provider is down; GET /v1/models lists two models, except that the
// first such request hangs until the client gives up on it.
type llm struct {
	name        string
	healthy     int64
	completions atomic.Int64 // completion requests received
	listings    atomic.Int64 // models requests received
}

func (p *llm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/completions":
		if n := p.completions.Add(1); p.healthy >= 0 && n > p.healthy {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		prompt, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s completes %q", p.name, prompt)
	case "/v1/models":
		if p.listings.Add(1) == 1 {
			<-r.Context().Done() // a slow replica: the hedge answers instead
			return
		}
		fmt.Fprintf(w, "%s-large %s-small", strings.ToLower(p.name), strings.ToLower(p.name))
	default:
		http.NotFound(w, r)
	}
}

// models lists the provider's models.
func (p *provider) models(ctx context.Context) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/v1/models", nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resilience.Transient(&errStatus{p.name, resp.StatusCode})
	}
	return strings.Fields(string(body)), nil
}

// newProvider returns a provider calling url through its own retry policy
// and breaker over base.
func newProvider(name, url string, base http.RoundTripper, sc scenario) (*provider, error) {
	t, err := resiliencehttp.NewTransport(base, resiliencehttp.Config{
		Retry: retryPolicy(sc),
		Breaker: &breaker.Config{
			Name:             name,
			FailureThreshold: sc.threshold,
			RecoveryTimeout:  time.Minute, // longer than the run: A stays open
		},
		RetryNonIdempotent: true, // a completion POST is safe to repeat
	})
	if err != nil {
		return nil, err
	}
	return &provider{name: name, url: url, client: &http.Client{Transport: t}}, nil
}

// report counts what happened to the calls.
type report struct {
	byA, byB, failed int
	aRejected        int // calls that fell back on a rejection by A's open breaker
	aRequests        int // completion requests that reached provider A
	bRequests        int // completion requests that reached provider B

	listed          int // model listings that succeeded
	hedges          int // hedged GETs sent for them
	listingRequests int // models requests that reached provider A
}

// run starts the two providers, makes sc.calls completions, prints a line
// per call and a summary to w, and returns the counts.
func run(w io.Writer, sc scenario) (report, error) {
	// Provider A answers aHealthy completions, then is down: 503 for the
	// rest. Provider B stays up.
	llmA, llmB := &llm{name: "A", healthy: int64(sc.aHealthy)}, &llm{name: "B", healthy: -1}
	srvA := resiliencetest.NewUnstartedServer()
	srvA.Handler = llmA
	srvA.Start()
	defer srvA.Close()
	srvB := resiliencetest.NewUnstartedServer()
	srvB.Handler = llmB
	srvB.Start()
	defer srvB.Close()

	base := &http.Transport{}
	defer base.CloseIdleConnections()
	a, err := newProvider("A", srvA.URL, base, sc)
	if err != nil {
		return report{}, err
	}
	b, err := newProvider("B", srvB.URL, base, sc)
	if err != nil {
		return report{}, err
	}
	fb, err := fallback.New(fallback.Config{Name: "llm"})
	if err != nil {
		return report{}, err
	}

	ctx := context.Background()
	var t report

	// Hedged GETs: a second request when the first has no answer after
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
	for i := 1; i <= sc.listings; i++ {
		before := hedges.Load()
		// A bound on the listing, so that a run cannot hang if no hedge
		// is ever sent.
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		models, err := hedge.Do(lctx, h, a.models)
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
	t.listingRequests = int(llmA.listings.Load())
	if sc.listings > 0 {
		fmt.Fprintln(w)
	}

	for i := 1; i <= sc.calls; i++ {
		prompt := fmt.Sprintf("prompt %d", i)
		var aErr error
		reply, err := fallback.Do(ctx, fb,
			func(ctx context.Context) (string, error) { return a.complete(ctx, prompt) },
			func(ctx context.Context, err error) (string, error) {
				aErr = err
				return b.complete(ctx, prompt)
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
			fmt.Fprintf(w, "call %2d: %-14s %s  (A: %v)\n", i, "A failed -> B", reply, aErr)
		}
	}
	fmt.Fprintf(w, "\nsummary: %d calls: %d answered by A, %d by B (%d without trying A: breaker open), %d failed\n",
		sc.calls, t.byA, t.byB, t.aRejected, t.failed)
	t.aRequests, t.bRequests = int(llmA.completions.Load()), int(llmB.completions.Load())
	fmt.Fprintf(w, "completion requests: A received %d, B received %d\n", t.aRequests, t.bRequests)
	fmt.Fprintf(w, "model listings: %d of %d, with %d hedged GETs; A received %d models requests\n",
		t.listed, sc.listings, t.hedges, t.listingRequests)
	return t, nil
}

// retryPolicy is the retry policy of each provider's transport: fast, so that the
// run takes a moment.
func retryPolicy(sc scenario) retry.Config {
	return retry.Config{MaxAttempts: sc.attempts, Backoff: backoff.Constant(5 * time.Millisecond)}
}

// Command stack runs calls through every load-safety policy of the library,
// composed in the recommended order:
//
//	rate limit → bulkhead → retry with budget → circuit breaker → per-attempt timeout
//
// against a local HTTP server that fails some requests, hangs on others and
// goes down for a while, and prints what each policy did.
//
// Usage:
//
//	go run ./examples/stack
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/ratelimit"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/timeout"
)

func main() {
	if err := run(os.Stdout, defaultScenario); err != nil {
		fmt.Fprintln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
}

// scenario is the load and the server's behaviour.
type scenario struct {
	clients, callsEach int
	hang               time.Duration // how long a hanging request takes
	attemptTimeout     time.Duration
	downFrom, downTo   int64 // requests in [downFrom, downTo) all fail: an outage
}

var defaultScenario = scenario{
	clients: 16, callsEach: 25,
	hang:           300 * time.Millisecond,
	attemptTimeout: 100 * time.Millisecond,
	downFrom:       300, downTo: 400,
}

// server fails every fifth request with 503, makes every thirteenth hang, and
// fails every request of the outage.
type server struct {
	sc       scenario
	requests atomic.Int64
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.requests.Add(1)
	switch {
	case n >= s.sc.downFrom && n < s.sc.downTo:
		http.Error(w, "down", http.StatusServiceUnavailable)
	case n%13 == 0:
		select {
		case <-time.After(s.sc.hang):
		case <-r.Context().Done():
		}
		io.WriteString(w, "slow")
	case n%5 == 0:
		http.Error(w, "busy", http.StatusServiceUnavailable)
	default:
		io.WriteString(w, "ok")
	}
}

// waits counts the calls that waited in the rate limiter and the bulkhead.
type waits struct{ limiter, bulkhead atomic.Int64 }

// observer returns one observer for both policies: the events say which
// kind of policy sent them.
func (w *waits) observer() *resilience.Observer {
	return &resilience.Observer{Admit: func(e resilience.Event) {
		if e.Delay == 0 {
			return // admitted at once
		}
		switch e.Kind {
		case resilience.KindRateLimit:
			w.limiter.Add(1)
		case resilience.KindBulkhead:
			w.bulkhead.Add(1)
		}
	}}
}

// stack builds the policies in the recommended order, outermost first.
func stack(sc scenario, w *waits) (resilience.Policy, *budget.Budget, *breaker.Breaker, error) {
	obs := w.observer()
	limit, err := ratelimit.New(ratelimit.Config{
		Name: "quota", Limit: 400, Burst: 10, MaxWait: 100 * time.Millisecond, Observer: obs,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	bh, err := bulkhead.New(bulkhead.Config{
		Name: "pool", MaxConcurrent: 6, MaxWait: 50 * time.Millisecond, Observer: obs,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	bu, err := budget.New(budget.Config{Name: "retries", Ratio: 0.2, MinPerSecond: 5})
	if err != nil {
		return nil, nil, nil, err
	}
	re, err := retry.New(retry.Config{
		MaxAttempts: 3,
		Backoff:     backoff.Exponential{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		Budget:      bu,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	br, err := breaker.New(breaker.Config{Name: "api", FailureThreshold: 10, RecoveryTimeout: 100 * time.Millisecond})
	if err != nil {
		return nil, nil, nil, err
	}
	to, err := timeout.New(timeout.Config{Name: "attempt", Timeout: sc.attemptTimeout})
	if err != nil {
		return nil, nil, nil, err
	}
	return resilience.Compose(limit, bh, re, br, to), bu, br, nil
}

// tally counts how calls ended.
type tally struct {
	mu     sync.Mutex
	counts map[string]int
}

func (t *tally) add(err error) {
	var re *retry.Error
	kind := "succeeded"
	switch {
	case err == nil:
	case errors.Is(err, ratelimit.ErrLimited):
		kind = "rejected by the rate limit"
	case errors.Is(err, bulkhead.ErrFull):
		kind = "rejected by the bulkhead"
	case errors.Is(err, breaker.ErrOpen):
		kind = "rejected by the open breaker"
	case errors.Is(err, budget.ErrExhausted):
		kind = "failed: retry budget spent"
	case errors.As(err, &re) && re.Reason == retry.Exhausted:
		kind = "failed: attempts exhausted"
	default:
		kind = "failed: " + resilience.Classify(err).String()
	}
	t.mu.Lock()
	t.counts[kind]++
	t.mu.Unlock()
}

func run(out io.Writer, sc scenario) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &server{sc: sc}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	url := "http://" + ln.Addr().String() + "/"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()

	var w waits
	p, bu, br, err := stack(sc, &w)
	if err != nil {
		return err
	}
	call := func(ctx context.Context) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return "", err
		}
		if resp.StatusCode >= 500 {
			return "", resilience.Transient(errors.New(resp.Status))
		}
		return string(body), nil
	}

	fmt.Fprintf(out, "%d clients × %d calls through: rate limit → bulkhead → retry with budget → breaker → %v per attempt\n",
		sc.clients, sc.callsEach, sc.attemptTimeout)
	t := &tally{counts: map[string]int{}}
	start := time.Now()
	var wg sync.WaitGroup
	for range sc.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range sc.callsEach {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err := resilience.Do(ctx, p, call)
				cancel()
				t.add(err)
			}
		}()
	}
	wg.Wait()
	calls := sc.clients * sc.callsEach
	fmt.Fprintf(out, "%d calls in %v; the server saw %d requests (%.2f per call)\n",
		calls, time.Since(start).Round(10*time.Millisecond), srv.requests.Load(), float64(srv.requests.Load())/float64(calls))
	for _, kind := range []string{
		"succeeded", "failed: attempts exhausted", "failed: retry budget spent",
		"rejected by the open breaker", "rejected by the bulkhead", "rejected by the rate limit",
	} {
		fmt.Fprintf(out, "  %-30s %d\n", kind, t.counts[kind])
		delete(t.counts, kind)
	}
	for kind, n := range t.counts {
		fmt.Fprintf(out, "  %-30s %d\n", kind, n)
	}
	fmt.Fprintf(out, "rate limit: %d calls waited for tokens; bulkhead: %d calls waited for a slot\n", w.limiter.Load(), w.bulkhead.Load())
	s := br.Snapshot()
	fmt.Fprintf(out, "breaker: opened %d times, rejected %d calls, now %v\n", s.Opened, s.Rejected, s.State)
	b := bu.Snapshot()
	fmt.Fprintf(out, "retry budget: %d retries refused\n", b.Exhausted)
	return nil
}

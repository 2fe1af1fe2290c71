// Command resilience shows the library at work.
//
// With no arguments, or with "sim", it runs the simulator: simulated clients
// call a simulated upstream on virtual time through the library's own
// decisions, in built-in scenarios — a full outage, a brown-out, an
// overload, a heavy latency tail, a thundering herd — or in scenarios read
// from JSON files, and it prints how each policy configuration did and
// writes an HTML report with charts.
//
// "demo" starts a flaky HTTP server on a loopback port, calls it through a
// retry policy in a few situations — 503s that pass, a connection reset, a
// 429 with Retry-After, a 404, a service that stays down — and prints what
// happened on every attempt; then it calls the service that stays down
// through a circuit breaker, which opens and fails the later calls fast.
//
// Usage:
//
//	go run ./cmd/resilience [sim [flags] [scenario ...]]
//	go run ./cmd/resilience demo
//	go run ./cmd/resilience sim -help
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/retry"
)

func main() {
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: resilience [sim [flags] [scenario ...] | demo]\n\n"+
			"sim (the default): compare policies in simulated outages, overloads and latency tails (sim -help)\n"+
			"demo: retry calls against a flaky local HTTP server and print every attempt\n")
	}
	flag.Parse()
	switch cmd := flag.Arg(0); cmd {
	case "", "sim":
		var args []string
		if flag.NArg() > 0 {
			args = flag.Args()[1:]
		}
		os.Exit(simMain(args, os.Stdout, os.Stderr))
	case "demo":
		if err := demo(os.Stdout, defaultSettings); err != nil {
			fmt.Fprintln(os.Stderr, "resilience:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "resilience: unknown command %q\n", cmd)
		flag.Usage()
		os.Exit(2)
	}
}

// A case is one situation the demo server plays out on its own path.
type demoCase struct {
	path, story string
	// answer writes the response to request number n (1-based) on this path,
	// or returns false to reset the connection instead.
	answer func(w http.ResponseWriter, n int) bool
}

// settings are the demo's waits: the real ones, or none in tests.
type settings struct {
	backoff    backoff.Exponential
	retryAfter int // seconds, in the 429 answer
}

var defaultSettings = settings{
	backoff:    backoff.Exponential{Base: 50 * time.Millisecond, Multiplier: 2, Max: time.Second},
	retryAfter: 1,
}

// cases returns the situations the server plays.
func cases(set settings) []demoCase {
	return []demoCase{
		{"/flaky", "fails twice with 503, then answers", func(w http.ResponseWriter, n int) bool {
			if n <= 2 {
				http.Error(w, "overloaded", http.StatusServiceUnavailable)
				return true
			}
			io.WriteString(w, "hello")
			return true
		}},
		{"/reset", "resets the connection once, then answers", func(w http.ResponseWriter, n int) bool {
			if n == 1 {
				return false
			}
			io.WriteString(w, "hello again")
			return true
		}},
		{"/ratelimited", "answers 429 with Retry-After: " + strconv.Itoa(set.retryAfter) + ", then answers", func(w http.ResponseWriter, n int) bool {
			if n == 1 {
				w.Header().Set("Retry-After", strconv.Itoa(set.retryAfter))
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return true
			}
			io.WriteString(w, "worth the wait")
			return true
		}},
		{"/missing", "answers 404: a permanent error, never retried", func(w http.ResponseWriter, n int) bool {
			http.NotFound(w, nil)
			return true
		}},
		{"/down", "stays down with 503", func(w http.ResponseWriter, n int) bool {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return true
		}},
	}
}

// flakyServer plays the cases, counting requests per path.
type flakyServer struct {
	cases []demoCase
	mu    sync.Mutex
	count map[string]int
}

// ServeHTTP answers as the request's case says.
func (s *flakyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.count[r.URL.Path]++
	n := s.count[r.URL.Path]
	s.mu.Unlock()
	for _, c := range s.cases {
		if c.path != r.URL.Path {
			continue
		}
		if !c.answer(w, n) {
			resetConnection(w)
		}
		return
	}
	http.NotFound(w, r)
}

// resetConnection closes the request's connection with a TCP reset.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot reset", http.StatusInternalServerError)
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}

func demo(out io.Writer, set settings) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cases := cases(set)
	srv := &http.Server{Handler: &flakyServer{cases: cases, count: map[string]int{}}, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	// A new connection per request, so that the reset reaches the caller
	// instead of being retried inside net/http on another pooled connection.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	strategy := set.backoff
	fmt.Fprintf(out, "resilience demo: calls to a flaky HTTP server on %s\n", ln.Addr())
	fmt.Fprintf(out, "policy: 4 attempts, backoff from %v doubling to %v with full jitter, Retry-After honoured up to 5s\n",
		strategy.Base, strategy.Max)

	for _, c := range cases {
		fmt.Fprintf(out, "\nGET %s — %s\n", c.path, c.story)
		p, err := retry.New(retry.Config{
			MaxAttempts:   4,
			Backoff:       strategy,
			MaxRetryAfter: 5 * time.Second,
			Observer: &resilience.Observer{Retry: func(e resilience.Event) {
				fmt.Fprintf(out, "    retrying in %v\n", e.Delay.Round(time.Millisecond))
			}},
		})
		if err != nil {
			return err
		}
		attempt := 0
		start := time.Now()
		body, err := retry.Do(context.Background(), p, func(ctx context.Context) (string, error) {
			attempt++
			body, err := get(ctx, client, base+c.path)
			if err != nil {
				fmt.Fprintf(out, "  attempt %d: %v (%v)\n", attempt, err, resilience.Classify(err))
			} else {
				fmt.Fprintf(out, "  attempt %d: 200 OK %q\n", attempt, body)
			}
			return body, err
		})
		took := time.Since(start).Round(10 * time.Millisecond)
		if err != nil {
			fmt.Fprintf(out, "  result: failed after %d attempt(s) in %v: %v\n", attempt, took, err)
		} else {
			fmt.Fprintf(out, "  result: %q after %d attempt(s) in %v\n", body, attempt, took)
		}
	}
	return breakerDemo(out, client, base+"/down")
}

// breakerDemo calls a service that stays down through a circuit breaker,
// without retries: after three failures in a row the breaker opens and the
// calls after that fail fast, without reaching the server.
func breakerDemo(out io.Writer, client *http.Client, url string) error {
	b, err := breaker.New(breaker.Config{
		Name:             "down-service",
		FailureThreshold: 3,
		RecoveryTimeout:  30 * time.Second,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nGET /down through a circuit breaker — opens after 3 failures in a row, probes again after 30s\n")
	reached := 0
	for call := 1; call <= 5; call++ {
		_, err := breaker.Do(context.Background(), b, func(ctx context.Context) (string, error) {
			reached++
			return get(ctx, client, url)
		})
		var open *breaker.Error
		if errors.As(err, &open) {
			fmt.Fprintf(out, "  call %d: rejected at once, %v; probe allowed in %v\n", call, err, open.RetryAfter().Round(time.Second))
		} else {
			fmt.Fprintf(out, "  call %d: %v; breaker %v\n", call, err, b.State())
		}
	}
	fmt.Fprintf(out, "  result: %d of 5 calls reached the server\n", reached)
	return nil
}

// statusError is an HTTP answer other than 200.
type statusError struct {
	status string
}

// Error returns the status line, such as "503 Service Unavailable".
func (e *statusError) Error() string { return e.status }

// get fetches url and classifies the outcome: transport errors are left to
// the default classifier, 429 and 5xx answers are transient (with the
// server's Retry-After in seconds as a hint), other answers permanent.
func get(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", shorten(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode == http.StatusOK {
		return string(body), nil
	}
	err = &statusError{resp.Status}
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 {
		return "", resilience.Permanent(err)
	}
	err = resilience.Transient(err)
	if secs, perr := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); perr == nil && secs >= 0 {
		err = resilience.WithRetryAfter(err, time.Duration(secs)*time.Second)
	}
	return "", err
}

// shorten drops the method and URL that *url.Error puts in front of a
// transport error, keeping the chain.
func shorten(err error) error {
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr
	}
	return err
}

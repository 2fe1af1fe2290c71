package resiliencehttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/pace"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
)

// quotaServer enforces a quota of requests and tokens per fixed window, as
// an LLM provider does: a request is charged its tokens (which it states in
// X-Test-Tokens, as a provider reads max_tokens) when it arrives, or refused
// with 429 if they are not left; either way the answer, written after the
// server's latency, says what remains in the style of one provider.
type quotaServer struct {
	style              string // "openai", "anthropic" or "ietf"
	window             time.Duration
	reqLimit, tokLimit int64
	latency            time.Duration
	start              time.Time

	mu       sync.Mutex
	win      int64 // the current window's number
	reqUsed  int64 // in the current window
	tokUsed  int64
	accepted []int64 // requests accepted per window
	tokens   []int64 // tokens accepted per window
	refused  int
}

func newQuotaServer(style string) *quotaServer {
	return &quotaServer{style: style, window: time.Minute, reqLimit: 300, tokLimit: 30000, latency: 200 * time.Millisecond, start: time.Now()}
}

// rollLocked moves to the window that holds now, and returns its end.
func (s *quotaServer) rollLocked(now time.Time) time.Time {
	w := int64(now.Sub(s.start) / s.window)
	if w != s.win {
		s.win, s.reqUsed, s.tokUsed = w, 0, 0
	}
	for int64(len(s.accepted)) <= w {
		s.accepted = append(s.accepted, 0)
		s.tokens = append(s.tokens, 0)
	}
	return s.start.Add(time.Duration(w+1) * s.window)
}

func (s *quotaServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	cost, _ := strconv.ParseInt(r.Header.Get("X-Test-Tokens"), 10, 64)
	s.mu.Lock()
	s.rollLocked(time.Now())
	ok := s.reqUsed < s.reqLimit && s.tokUsed+cost <= s.tokLimit
	if ok {
		s.reqUsed++
		s.tokUsed += cost
		s.accepted[s.win]++
		s.tokens[s.win] += cost
	} else {
		s.refused++
	}
	s.mu.Unlock()
	time.Sleep(s.latency)

	s.mu.Lock()
	now := time.Now()
	end := s.rollLocked(now)
	reqLeft, tokLeft := s.reqLimit-s.reqUsed, s.tokLimit-s.tokUsed
	s.mu.Unlock()
	h := w.Header()
	reset := end.Sub(now)
	switch s.style {
	case "openai":
		h.Set("x-ratelimit-limit-requests", strconv.FormatInt(s.reqLimit, 10))
		h.Set("x-ratelimit-limit-tokens", strconv.FormatInt(s.tokLimit, 10))
		h.Set("x-ratelimit-remaining-requests", strconv.FormatInt(reqLeft, 10))
		h.Set("x-ratelimit-remaining-tokens", strconv.FormatInt(tokLeft, 10))
		h.Set("x-ratelimit-reset-requests", reset.String())
		h.Set("x-ratelimit-reset-tokens", reset.String())
	case "anthropic":
		at := end.UTC().Format(time.RFC3339Nano)
		h.Set("anthropic-ratelimit-requests-limit", strconv.FormatInt(s.reqLimit, 10))
		h.Set("anthropic-ratelimit-requests-remaining", strconv.FormatInt(reqLeft, 10))
		h.Set("anthropic-ratelimit-requests-reset", at)
		h.Set("anthropic-ratelimit-tokens-limit", strconv.FormatInt(s.tokLimit, 10))
		h.Set("anthropic-ratelimit-tokens-remaining", strconv.FormatInt(tokLeft, 10))
		h.Set("anthropic-ratelimit-tokens-reset", at)
	case "ietf":
		secs := int64(math.Ceil(reset.Seconds())) // whole seconds, rounded up
		w := int64(s.window / time.Second)
		h.Set("RateLimit-Policy", fmt.Sprintf(`"req";q=%d;w=%d, "tok";q=%d;qu="tokens";w=%d`, s.reqLimit, w, s.tokLimit, w))
		h.Set("RateLimit", fmt.Sprintf(`"req";r=%d;t=%d, "tok";r=%d;t=%d`, reqLeft, secs, tokLeft, secs))
	}
	if !ok {
		h.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(reset.Seconds())), 10))
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	fmt.Fprintf(w, `{"usage":{"total_tokens":%d}}`, cost)
}

// paceRun is what a run of clients against a quotaServer measured.
type paceRun struct {
	sent, refused int     // requests that reached the server, and those it refused
	use           float64 // the mean over the windows of the larger share of the quota used
	waits         int     // Admit events with a wait
}

// runQuotaClients runs 8 clients through one transport against a
// quotaServer of the style for windows whole windows, and measures.
func runQuotaClients(t *testing.T, style string, windows int, cfg resiliencehttp.Config) paceRun {
	t.Helper()
	var run paceRun
	synctest.Test(t, func(t *testing.T) {
		srv := newQuotaServer(style)
		base := serveInMemory(t, srv, false)
		var mu sync.Mutex
		cfg.Observer = &resilience.Observer{Admit: func(e resilience.Event) {
			if e.Kind != resilience.KindPace || e.Policy != "llm.example" {
				t.Errorf("Admit event %+v", e)
			}
			if e.Delay > 0 {
				mu.Lock()
				run.waits++
				mu.Unlock()
			}
		}}
		rt, err := resiliencehttp.NewTransport(base, cfg)
		if err != nil {
			t.Fatal(err)
		}
		c := &http.Client{Transport: rt}
		ctx, cancel := context.WithDeadline(context.Background(), srv.start.Add(time.Duration(windows)*srv.window))
		defer cancel()
		var wg sync.WaitGroup
		for client := range 8 {
			wg.Go(func() {
				for i := 0; ; i++ {
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://llm.example/v1/chat/completions", http.NoBody)
					// 50 to 150 tokens, 100 on average.
					req.Header.Set("X-Test-Tokens", strconv.Itoa(50+(client*37+i*61)%101))
					resp, err := c.Do(req)
					if err != nil {
						if !errors.Is(err, pace.ErrOverQuota) && ctx.Err() == nil {
							t.Errorf("client %d: %v", client, err)
						}
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
		time.Sleep(srv.latency) // for the server to finish the requests cut short by the deadline
		srv.mu.Lock()
		defer srv.mu.Unlock()
		run.refused = srv.refused
		run.sent = srv.refused
		for w := range windows {
			run.sent += int(srv.accepted[w])
			run.use += max(float64(srv.accepted[w])/float64(srv.reqLimit), float64(srv.tokens[w])/float64(srv.tokLimit))
		}
		run.use /= float64(windows)
	})
	return run
}

// TestPacingToTheQuota is the proof that pacing works: 8 clients, through
// one transport, call a server that enforces 300 requests and 30000 tokens
// a minute (100 tokens a request on average, so both bind), for 5 minutes,
// with a latency of 200ms, so that they could send 8 times the quota. Paced
// by the quota that the server's answers report — in OpenAI's, Anthropic's
// or the IETF's headers — at most 1% of the requests may be refused, and at
// least 95% of the quota must be used. Retrying on 429 alone, the baseline
// (the same with any of the three styles, since it reads none of their
// headers, only Retry-After), sends many more requests, most of them
// refused.
//
// It runs on virtual time, over an in-memory network (a real net/http
// client and server over net.Pipe, in a synctest bubble): the five minutes
// take a few seconds, and the figures are the same on every run, whatever
// the machine's load, where a loopback run of that length would be slow and
// its timing at the windows' ends at the mercy of the scheduler.
func TestPacingToTheQuota(t *testing.T) {
	const windows = 5
	retries := retry.Config{MaxAttempts: 3}
	alone := runQuotaClients(t, "openai", windows, resiliencehttp.Config{Retry: retries, RetryNonIdempotent: true})
	t.Logf("retrying alone: %4d requests sent, %4d refused (%.2f%%), %.1f%% of the quota used",
		alone.sent, alone.refused, 100*float64(alone.refused)/float64(alone.sent), 100*alone.use)
	for _, style := range []string{"openai", "anthropic", "ietf"} {
		paced := runQuotaClients(t, style, windows, resiliencehttp.Config{Retry: retries, RetryNonIdempotent: true, Pace: &pace.Config{}})
		t.Logf("%-9s paced: %4d requests sent, %4d refused (%.2f%%), %.1f%% of the quota used, %d waits", style,
			paced.sent, paced.refused, 100*float64(paced.refused)/float64(paced.sent), 100*paced.use, paced.waits)
		if float64(paced.refused) > 0.01*float64(paced.sent) {
			t.Errorf("%s: paced, %d of %d requests refused; want at most 1%%", style, paced.refused, paced.sent)
		}
		if paced.use < 0.95 {
			t.Errorf("%s: paced, %.1f%% of the quota used; want at least 95%%", style, 100*paced.use)
		}
		if paced.waits == 0 {
			t.Errorf("%s: paced, no request waited for its turn", style)
		}
		if alone.refused <= 10*max(paced.refused, 1) {
			t.Errorf("%s: retrying alone, %d refused; paced, %d: pacing should refuse far fewer", style, alone.refused, paced.refused)
		}
	}
}

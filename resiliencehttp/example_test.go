package resiliencehttp_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/resiliencetest"
	"github.com/netresilience/resilience/retry"
)

// An OpenAI-style chat completion: a JSON POST that is safe to repeat,
// against a provider that first answers 429 with a Retry-After header.
func ExampleNewTransport() {
	provider := resiliencetest.NewServer(resiliencetest.RetryAfter(http.StatusTooManyRequests, "0"))
	provider.Default = resiliencetest.OK(`{"choices":[{"message":{"content":"Hello!"}}]}`)
	defer provider.Close()

	t, err := resiliencehttp.NewTransport(http.DefaultTransport, resiliencehttp.Config{
		Retry: retry.Config{
			MaxAttempts:   4,
			Backoff:       backoff.Exponential{Base: time.Millisecond}, // short, for the example
			MaxRetryAfter: 30 * time.Second,                            // a longer hint returns the 429 at once
		},
		Breaker:            &breaker.Config{},
		RetryNonIdempotent: true,
		AttemptHeader:      "X-Attempt",
	})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: t}

	body, _ := json.Marshal(map[string]any{
		"model":    "some-model",
		"messages": []map[string]string{{"role": "user", "content": "Say hello"}},
	})
	resp, err := client.Post(provider.URL+"/v1/chat/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, string(reply))

	for _, r := range provider.Received() {
		answer := "200"
		if ra := r.Fault.Header.Get("Retry-After"); ra != "" {
			answer = fmt.Sprint(r.Fault.Status, " with Retry-After: ", ra)
		}
		fmt.Printf("attempt %s: %s %s, same body: %v, got %s\n",
			r.Header.Get("X-Attempt"), r.Method, r.Path, bytes.Equal(r.Body, body), answer)
	}
	// Output:
	// 200 OK {"choices":[{"message":{"content":"Hello!"}}]}
	// attempt 1: POST /v1/chat/completions, same body: true, got 429 with Retry-After: 0
	// attempt 2: POST /v1/chat/completions, same body: true, got 200
}

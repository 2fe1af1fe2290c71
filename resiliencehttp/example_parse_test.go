package resiliencehttp_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/resiliencetest"
	"github.com/netresilience/resilience/retry"
)

func ExampleParseRetryAfter() {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, h := range []http.Header{
		{"Retry-After": {"120"}},
		{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}},
		{"Retry-After-Ms": {"250"}},
		{"Retry-After": {"soon"}},
	} {
		fmt.Println(resiliencehttp.ParseRetryAfter(h, now))
	}
	// Output:
	// 2m0s true
	// 1m30s true
	// 250ms true
	// 0s false
}

func ExampleAllowRetry() {
	// One POST that is safe to repeat, without allowing every POST.
	busy := resiliencetest.Status(http.StatusServiceUnavailable)
	service := resiliencetest.NewTransport(busy, busy) // two 503s, then 200s
	t, _ := resiliencehttp.NewTransport(service, resiliencehttp.Config{
		Retry: retry.Config{Backoff: backoff.Constant(0)},
	})
	client := &http.Client{Transport: t}

	req, _ := http.NewRequest(http.MethodPost, "http://api.example/v1/jobs", nil)
	resp, _ := client.Do(req)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, "after", service.Requests(), "attempt")

	req, _ = http.NewRequest(http.MethodPost, "http://api.example/v1/jobs", nil)
	req = req.WithContext(resiliencehttp.AllowRetry(req.Context()))
	resp, _ = client.Do(req)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, "after", service.Requests()-1, "attempts")
	// Output:
	// 503 after 1 attempt
	// 200 after 2 attempts
}

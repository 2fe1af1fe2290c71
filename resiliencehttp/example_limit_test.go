package resiliencehttp_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
)

// A provider that is overloaded for two requests: each 429 cuts the host's
// limit by 30%. The answer that follows does not raise it: the limit grows
// only with calls that fill at least half of it, and here one call at a
// time is in flight.
func ExampleConfig_limit() {
	var n atomic.Int64
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, `{"choices":[]}`)
	}))
	defer provider.Close()

	t, err := resiliencehttp.NewTransport(nil, resiliencehttp.Config{
		Retry: retry.Config{MaxAttempts: 1}, // each answer comes back, for the example
		Limit: &adaptive.Config{Initial: 8, Max: 64, MaxWait: time.Minute,
			AIMD: adaptive.AIMDConfig{Backoff: 0.7}},
	})
	if err != nil {
		panic(err)
	}
	defer t.CloseIdleConnections()
	client := &http.Client{Transport: t}
	limiter := func() *adaptive.Limiter { return t.Limiter(strings.TrimPrefix(provider.URL, "http://")) }

	for range 3 {
		resp, err := client.Get(provider.URL + "/v1/models")
		if err != nil {
			panic(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close() // gives the permit back
		fmt.Println(resp.Status, "- limit", limiter().Limit(), "- in flight", limiter().InFlight())
	}
	// Output:
	// 429 Too Many Requests - limit 5 - in flight 0
	// 429 Too Many Requests - limit 3 - in flight 0
	// 200 OK - limit 3 - in flight 0
}

package resiliencehttp_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/pace"
	"github.com/netresilience/resilience/resiliencehttp"
)

// A provider whose answer says the client's requests are spent for the
// next hour: the transport does not send the next request, which would only
// be refused with 429, and says when it could go.
func ExampleConfig_pace() {
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ratelimit-limit-requests", "500")
		w.Header().Set("x-ratelimit-remaining-requests", "0")
		w.Header().Set("x-ratelimit-reset-requests", "1h0m0s")
		fmt.Fprint(w, `{"choices":[]}`)
	}))
	defer provider.Close()

	t, err := resiliencehttp.NewTransport(nil, resiliencehttp.Config{
		Pace: &pace.Config{MaxWait: time.Minute}, // wait for a turn up to a minute
	})
	if err != nil {
		panic(err)
	}
	defer t.CloseIdleConnections()
	client := &http.Client{Transport: t}

	for range 2 {
		resp, err := client.Get(provider.URL + "/v1/models")
		if err != nil {
			d, _ := resilience.RetryAfter(err)
			fmt.Println("over the quota:", errors.Is(err, pace.ErrOverQuota), "- next turn in about", d.Round(time.Minute))
			continue
		}
		resp.Body.Close()
		fmt.Println(resp.Status)
	}
	// Output:
	// 200 OK
	// over the quota: true - next turn in about 1h0m0s
}

package pace_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/netresilience/resilience/pace"
)

// A pacer fed with OpenAI's headers: 5 requests remain until the reset in
// 10s, so the calls go 2s apart; a sixth waits for the reset.
func Example() {
	p, err := pace.New(pace.Config{Name: "openai"})
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

	answer := http.Header{}
	answer.Set("x-ratelimit-limit-requests", "60")
	answer.Set("x-ratelimit-remaining-requests", "5")
	answer.Set("x-ratelimit-reset-requests", "10s")
	q, err := pace.Parse(answer, now)
	if err != nil {
		panic(err)
	}
	p.UpdateAt("api.openai.com", q, now)

	for range 6 {
		r, err := p.ReserveAt("api.openai.com", 0, now, time.Time{})
		if err != nil {
			panic(err)
		}
		fmt.Println("wait", r.Delay())
		// ... wait, send the call, and hand its answer's Quota to r.Done.
	}
	// Output:
	// wait 0s
	// wait 2s
	// wait 4s
	// wait 6s
	// wait 8s
	// wait 10s
}

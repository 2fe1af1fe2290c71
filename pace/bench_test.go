package pace_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/netresilience/resilience/pace"
)

// BenchmarkReserveDone is a paced call's cost in the pacer: its turn and its
// answer.
func BenchmarkReserveDone(b *testing.B) {
	p, _ := pace.New(pace.Config{})
	q := pace.Quota{Requests: pace.Limit{Limit: 1 << 50, Remaining: 1 << 50, Reset: time.Minute, Known: true}}
	p.Update("h", q)
	b.ReportAllocs()
	for b.Loop() {
		r, err := p.Reserve("h", 0, time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		r.Done(q)
	}
}

// BenchmarkParse reads OpenAI's six headers.
func BenchmarkParse(b *testing.B) {
	h := http.Header{}
	h.Set("x-ratelimit-limit-requests", "60")
	h.Set("x-ratelimit-limit-tokens", "150000")
	h.Set("x-ratelimit-remaining-requests", "59")
	h.Set("x-ratelimit-remaining-tokens", "149984")
	h.Set("x-ratelimit-reset-requests", "1s")
	h.Set("x-ratelimit-reset-tokens", "6m0s")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pace.Parse(h, now); err != nil {
			b.Fatal(err)
		}
	}
}

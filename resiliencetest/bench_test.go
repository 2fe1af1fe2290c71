package resiliencetest_test

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/netresilience/resilience/resiliencetest"
)

// transports hands out Transports, a new one every 4096 requests, so that
// the records a Transport keeps do not grow with b.N.
type transports struct {
	n  atomic.Int64
	tr atomic.Pointer[resiliencetest.Transport]
}

func (ts *transports) next() *resiliencetest.Transport {
	if ts.n.Add(1)%4096 == 1 {
		ts.tr.Store(resiliencetest.NewTransport())
	}
	return ts.tr.Load()
}

// roundTrip sends req through tr and reads and closes the body.
func roundTrip(b *testing.B, tr *resiliencetest.Transport, req *http.Request) {
	resp, err := tr.RoundTrip(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func BenchmarkTransport(b *testing.B) {
	req, _ := http.NewRequest(http.MethodGet, apiURL, nil)
	req.Header.Set("Idempotency-Key", "k")
	b.Run("ok", func(b *testing.B) {
		b.ReportAllocs()
		var ts transports
		for b.Loop() {
			roundTrip(b, ts.next(), req)
		}
	})
	b.Run("ok/parallel", func(b *testing.B) {
		b.ReportAllocs()
		var ts transports
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				roundTrip(b, ts.next(), req)
			}
		})
	})
}

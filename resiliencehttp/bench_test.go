package resiliencehttp_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencehttp"
)

// BenchmarkGET compares a successful GET to a loopback server through a bare
// http.Transport with the same GET through the resilient transport, with and
// without a breaker and an adaptive limit per host.
func BenchmarkGET(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	retrying := func(cfg resiliencehttp.Config) func(http.RoundTripper) http.RoundTripper {
		return func(base http.RoundTripper) http.RoundTripper {
			rt, err := resiliencehttp.NewTransport(base, cfg)
			if err != nil {
				b.Fatal(err)
			}
			return rt
		}
	}
	for _, bc := range []struct {
		name string
		wrap func(http.RoundTripper) http.RoundTripper
	}{
		{"bare", func(base http.RoundTripper) http.RoundTripper { return base }},
		{"retry", retrying(resiliencehttp.Config{})},
		{"retry+breaker", retrying(resiliencehttp.Config{Breaker: &breaker.Config{}})},
		{"retry+limit", retrying(resiliencehttp.Config{Limit: &adaptive.Config{}})},
		{"retry+breaker+limit", retrying(resiliencehttp.Config{Breaker: &breaker.Config{}, Limit: &adaptive.Config{}})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			base := &http.Transport{}
			defer base.CloseIdleConnections()
			c := &http.Client{Transport: bc.wrap(base)}
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

// BenchmarkPUTStreamedBody sends a 16 KiB body without GetBody, which the
// transport copies as it streams so that it could be replayed, through a
// bare http.Transport and through the resilient one.
func BenchmarkPUTStreamedBody(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer srv.Close()
	payload := bytes.Repeat([]byte("x"), 16<<10)
	for _, bc := range []struct {
		name string
		wrap func(http.RoundTripper) http.RoundTripper
	}{
		{"bare", func(base http.RoundTripper) http.RoundTripper { return base }},
		{"retry", func(base http.RoundTripper) http.RoundTripper {
			rt, err := resiliencehttp.NewTransport(base, resiliencehttp.Config{})
			if err != nil {
				b.Fatal(err)
			}
			return rt
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			base := &http.Transport{}
			defer base.CloseIdleConnections()
			c := &http.Client{Transport: bc.wrap(base)}
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodPut, srv.URL, onlyReader{bytes.NewReader(payload)})
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

// BenchmarkOverhead is the transport's own cost for a successful GET whose
// answer has a small body, over a base transport that answers at once
// without a network, with each per-host guard: what a breaker and an
// adaptive limit add to the retries.
func BenchmarkOverhead(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  resiliencehttp.Config
	}{
		{"retry", resiliencehttp.Config{}},
		{"retry+breaker", resiliencehttp.Config{Breaker: &breaker.Config{}}},
		{"retry+limit", resiliencehttp.Config{Limit: &adaptive.Config{}}},
		{"retry+breaker+limit", resiliencehttp.Config{Breaker: &breaker.Config{}, Limit: &adaptive.Config{}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body := &rewound{}
			resp := &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{}, Body: body}
			base := roundTripFunc(func(*http.Request) (*http.Response, error) {
				body.Reset("ok")
				resp.Body = body // the transport may have wrapped the last one's
				return resp, nil
			})
			rt, err := resiliencehttp.NewTransport(base, bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, "http://api.example/", nil)
			b.ReportAllocs()
			for b.Loop() {
				got, err := rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, got.Body)
				got.Body.Close()
			}
		})
	}
}

// rewound is a response body that a benchmark fills again for each request.
type rewound struct{ strings.Reader }

func (r *rewound) Close() error { return nil }

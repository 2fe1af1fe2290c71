package resiliencehttp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencehttp"
)

// BenchmarkGET compares a successful GET to a loopback server through a bare
// http.Transport with the same GET through the resilient transport, with and
// without a breaker per host.
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

package resiliencehttp_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencehttp"
)

func TestMaxHostsOff(t *testing.T) {
	const hosts = resiliencehttp.DefaultMaxHosts + 10
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) { return answer(r, 200), nil })
	c, rt := newClient(t, base, resiliencehttp.Config{Breaker: &breaker.Config{}, MaxHosts: -1})
	for i := range hosts {
		resp, err := c.Get(fmt.Sprintf("http://host%d.example/", i))
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
	}
	for i := range hosts {
		if host := fmt.Sprintf("host%d.example", i); rt.Breaker(host) == nil {
			t.Fatalf("the breaker of %s, made %d hosts ago, was dropped from a registry without a bound", host, hosts-i)
		}
	}
}

func TestMaxBodyBufferOff(t *testing.T) {
	c, _ := newClient(t, nil, resiliencehttp.Config{Retry: fast, MaxBodyBuffer: -1})

	// A body without GetBody: nothing is kept, so the request is sent once.
	srv := newScripted(t, status(503), status(200))
	req, _ := http.NewRequest(http.MethodPut, srv.URL, onlyReader{strings.NewReader("0123456789")})
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	read(t, resp)
	if resp.StatusCode != 503 || srv.requests() != 1 || srv.bodies[0] != "0123456789" {
		t.Fatalf("got %d after %d requests; want the 503 of the only attempt, with the whole body", resp.StatusCode, srv.requests())
	}

	// A body with GetBody needs no copy: it is replayed as before.
	srv = newScripted(t, status(503), status(200))
	req, _ = http.NewRequest(http.MethodPut, srv.URL, strings.NewReader("0123456789"))
	if resp, err = c.Do(req); err != nil {
		t.Fatal(err)
	}
	read(t, resp)
	if resp.StatusCode != 200 || fmt.Sprint(srv.bodies) != "[0123456789 0123456789]" {
		t.Fatalf("got %d, bodies %q; want the body replayed through GetBody", resp.StatusCode, srv.bodies)
	}
}

// countingBody is a response body of n bytes that counts what is read of
// it.
type countingBody struct {
	left, read int
	closed     bool
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), b.left)
	b.left -= n
	b.read += n
	return n, nil
}

func (b *countingBody) Close() error { b.closed = true; return nil }

func TestMaxDrainOff(t *testing.T) {
	for _, tc := range []struct {
		maxDrain int64
		want     int
	}{
		{0, resiliencehttp.DefaultMaxDrain},
		{100, 100},
		{-1, 0},
	} {
		discarded := &countingBody{left: 1 << 20}
		calls := 0
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			calls++
			resp := answer(r, 200)
			if calls == 1 {
				resp = answer(r, 503)
				resp.Body = discarded
			}
			return resp, nil
		})
		c, _ := newClient(t, base, resiliencehttp.Config{Retry: fast, MaxDrain: tc.maxDrain})
		resp, err := c.Get("http://api.example/")
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
		if discarded.read != tc.want || !discarded.closed {
			t.Errorf("MaxDrain %d: %d bytes of the discarded body read, closed %v; want %d read, closed", tc.maxDrain, discarded.read, discarded.closed, tc.want)
		}
	}
}

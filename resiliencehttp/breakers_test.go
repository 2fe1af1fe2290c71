package resiliencehttp_test

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
)

func TestBreakers(t *testing.T) {
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) { return answer(r, 200), nil })
	c, rt := newClient(t, base, resiliencehttp.Config{Breaker: &breaker.Config{}, MaxHosts: 2})
	if n := len(rt.Breakers()); n != 0 {
		t.Fatalf("%d breakers before any request", n)
	}
	for i := range 3 {
		resp, err := c.Get(fmt.Sprintf("http://host%d.example/", i))
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
	}
	got := rt.Breakers()
	if hosts := slices.Sorted(maps.Keys(got)); !slices.Equal(hosts, []string{"host1.example", "host2.example"}) {
		t.Fatalf("Breakers has %v, want the 2 hosts kept", hosts)
	}
	for host, b := range got {
		if b != rt.Breaker(host) || b.Name() != host {
			t.Errorf("Breakers()[%s] is not the host's breaker", host)
		}
	}
	delete(got, "host1.example") // the caller's copy
	if rt.Breaker("host1.example") == nil || len(rt.Breakers()) != 2 {
		t.Error("changing the returned map changed the transport's")
	}

	_, none := newClient(t, base, resiliencehttp.Config{Retry: retry.Config{MaxAttempts: 1}})
	var nilTransport *resiliencehttp.Transport
	if none.Breakers() != nil || nilTransport.Breakers() != nil {
		t.Error("Breakers of a transport without breakers, or of a nil one, is not nil")
	}
}

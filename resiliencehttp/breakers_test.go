package resiliencehttp_test

import (
	"strings"
	"testing"

	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
)

func TestBreakersListsEveryHostSorted(t *testing.T) {
	a := newScripted(t, status(503))
	b := newScripted(t, status(200))
	c, rt := newClient(t, nil, resiliencehttp.Config{
		Retry:   retry.Config{MaxAttempts: 1},
		Breaker: &breaker.Config{FailureThreshold: 1},
	})
	for range rt.Breakers {
		t.Fatal("a transport that has sent nothing has no breakers to list")
	}
	for _, u := range []string{a.URL, b.URL} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
	}
	var hosts []string
	for host, br := range rt.Breakers {
		if br != rt.Breaker(host) {
			t.Errorf("Breakers gave %q a breaker that Breaker(%q) does not return", host, host)
		}
		hosts = append(hosts, host)
	}
	want := []string{strings.TrimPrefix(a.URL, "http://"), strings.TrimPrefix(b.URL, "http://")}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	if strings.Join(hosts, " ") != strings.Join(want, " ") {
		t.Fatalf("Breakers listed %q, want %q", hosts, want)
	}
	for range rt.Breakers {
		break // stopping early must not panic
	}
	var nilTransport *resiliencehttp.Transport
	for range nilTransport.Breakers {
		t.Fatal("a nil transport listed a breaker")
	}
}

package resiliencehttp_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
)

// eventLog records events as short lines.
type eventLog struct {
	mu     sync.Mutex
	lines  []string
	events []resilience.Event
}

func (l *eventLog) observer(prefix string) *resilience.Observer {
	return resilience.ObserveAll(func(e resilience.Event) {
		s := fmt.Sprintf("%s%v %v %s", prefix, e.Kind, e.Type, e.Policy)
		switch e.Type {
		case resilience.EventStateChange:
			s += " " + e.From + ">" + e.To
		case resilience.EventReject, resilience.EventGiveUp:
			s += fmt.Sprintf(" %d (%s)", e.Attempt, e.Reason)
		default:
			s += fmt.Sprintf(" %d", e.Attempt)
		}
		l.mu.Lock()
		l.lines = append(l.lines, s)
		l.events = append(l.events, e)
		l.mu.Unlock()
	})
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func TestObserverReachesRetriesAndBreakers(t *testing.T) {
	srv := newScripted(t, status(503), status(200), status(503))
	host := strings.TrimPrefix(srv.URL, "http://")
	var log eventLog
	cfg := resiliencehttp.Config{
		Retry:    retry.Config{Name: "api", MaxAttempts: 2, Backoff: fast.Backoff, Observer: log.observer("retry config: ")},
		Breaker:  &breaker.Config{FailureThreshold: 2},
		Observer: log.observer(""),
	}
	c, _ := newClient(t, nil, cfg)
	for range 2 {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
	}
	// 503, 200: a success after a retry. 503, 503: the breaker opens on the
	// second failure, the retries are exhausted. Then the open breaker
	// rejects the third request's first attempt, which is not retried.
	want := strings.Join([]string{
		"retry config: retry retry api 1",
		"retry retry api 1",
		"retry config: retry success api 2",
		"retry success api 2",
		"retry config: retry retry api 1",
		"retry retry api 1",
		"breaker state-change " + host + " closed>open",
		"retry config: retry give-up api 2 (attempts exhausted)",
		"retry give-up api 2 (attempts exhausted)",
		"breaker reject " + host + " 0 (open)",
	}, "\n")
	_, err := c.Get(srv.URL)
	if !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("Get = %v, want the open breaker's rejection", err)
	}
	if got := log.String(); !strings.HasPrefix(got+"\n", want+"\n") {
		t.Fatalf("events\n%s\nwant\n%s\n(then the third request's)", got, want)
	}
}

func TestObserverHearsTheTransportGiveUp(t *testing.T) {
	base := &counting{answerWith: func(r *http.Request, n int) (*http.Response, error) {
		r.Body.Close()
		return answer(r, 503), nil
	}}
	var log eventLog
	c, _ := newClient(t, base, resiliencehttp.Config{Retry: fast, Observer: log.observer("")})
	req, _ := http.NewRequest(http.MethodPut, "http://api.example/", strings.NewReader("payload"))
	req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("file gone") }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	read(t, resp)
	if got, want := log.String(), "retry retry  1\ntransport give-up  1 (GetBody failed)"; got != want {
		t.Fatalf("events\n%s\nwant\n%s", got, want)
	}
	if e := log.events[1]; e.Context != req.Context() || e.Err == nil {
		t.Errorf("give-up event %+v: want the request's context and the 503 as Err", e)
	}
}

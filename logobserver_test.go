package resilience_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/retry"
)

type requestIDKey struct{}

// ctxHandler adds the request id it finds in a record's context, to show
// that the context reaches the handler.
type ctxHandler struct{ slog.Handler }

func (h ctxHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// records decodes the JSON lines of buf.
func records(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestLogObserver(t *testing.T) {
	synctest.Test(t, testLogObserver) // the retry's delay passes on a virtual clock
}

func testLogObserver(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(ctxHandler{slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})})
	obs := resilience.LogObserver(logger, resilience.LogConfig{})

	b := breaker.MustNew(breaker.Config{Name: "db", FailureThreshold: 2, Observer: obs})
	p := retry.MustNew(retry.Config{
		Name:        "db-retry",
		MaxAttempts: 2,
		Backoff:     backoff.Constant(time.Millisecond),
		Observer:    obs,
	})
	ctx := context.WithValue(context.Background(), requestIDKey{}, "req-42")

	// A call that succeeds at once logs nothing.
	if err := resilience.Run(ctx, resilience.Compose(p, b), func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Fatalf("a successful call logged: %s", buf.String())
	}
	// A call that fails twice: a retry, the breaker opens, a give-up.
	fail := errors.New("connection refused")
	resilience.Run(ctx, resilience.Compose(p, b), func(context.Context) error { return resilience.Transient(fail) })
	// A call the open breaker rejects.
	b.Allow()

	recs := records(t, &buf)
	type want struct {
		level, event, kind, policy string
		check                      func(map[string]any) string
	}
	wants := []want{
		{"DEBUG", "retry", "retry", "db-retry", func(m map[string]any) string {
			if m["attempt"] != 1.0 || m["delay"] != float64(time.Millisecond) || !strings.Contains(fmt.Sprint(m["error"]), "connection refused") {
				return "attempt, delay or error"
			}
			if m["request_id"] != "req-42" {
				return "request_id from the context"
			}
			return ""
		}},
		{"WARN", "state-change", "breaker", "db", func(m map[string]any) string {
			if m["from"] != "closed" || m["to"] != "open" || m["attempt"] != 1.0 {
				return "from, to or generation"
			}
			return ""
		}},
		{"WARN", "give-up", "retry", "db-retry", func(m map[string]any) string {
			if m["reason"] != "attempts exhausted" || m["attempt"] != 2.0 || m["error"] == nil {
				return "reason, attempts or error"
			}
			if m["request_id"] != "req-42" {
				return "request_id from the context"
			}
			return ""
		}},
		{"DEBUG", "reject", "breaker", "db", func(m map[string]any) string {
			if m["reason"] != "open" || m["error"] == nil {
				return "reason or error"
			}
			if _, ok := m["request_id"]; ok {
				return "a request id, for an event of no call"
			}
			return ""
		}},
	}
	if len(recs) != len(wants) {
		t.Fatalf("got %d records, want %d:\n%s", len(recs), len(wants), buf.String())
	}
	for i, w := range wants {
		m := recs[i]
		if m["level"] != w.level || m["event"] != w.event || m["kind"] != w.kind || m["policy"] != w.policy {
			t.Errorf("record %d = %v, want level %s, event %s, kind %s, policy %s", i, m, w.level, w.event, w.kind, w.policy)
			continue
		}
		if !strings.HasPrefix(fmt.Sprint(m["msg"]), "resilience: ") {
			t.Errorf("record %d: message %q", i, m["msg"])
		}
		if what := w.check(m); what != "" {
			t.Errorf("record %d = %v: wrong %s", i, m, what)
		}
	}
}

func TestLogObserverLevels(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil)) // Info and above
	obs := resilience.LogObserver(logger, resilience.LogConfig{
		Level: func(e resilience.Event) (slog.Level, bool) {
			switch e.Type {
			case resilience.EventReject:
				return slog.LevelError, true
			case resilience.EventGiveUp:
				return 0, false
			}
			return resilience.DefaultLogLevel(e)
		},
	})
	ctx := context.Background()
	obs.Reject(resilience.Event{Type: resilience.EventReject, Kind: resilience.KindBulkhead, Policy: "pool", Context: ctx, Reason: "queue full"})
	obs.GiveUp(resilience.Event{Type: resilience.EventGiveUp, Kind: resilience.KindRetry, Context: ctx})
	obs.Retry(resilience.Event{Type: resilience.EventRetry, Kind: resilience.KindRetry, Context: ctx}) // Debug: disabled
	obs.StateChange(resilience.Event{Type: resilience.EventStateChange, Kind: resilience.KindBreaker, Context: ctx, From: "open", To: "half-open"})
	obs.Lost(resilience.Event{Type: resilience.EventLost, Kind: resilience.KindReconnect, Policy: "broker", Context: ctx, Delay: time.Minute, Err: errors.New("EOF")})
	recs := records(t, &buf)
	if len(recs) != 3 {
		t.Fatalf("got %d records, want 3:\n%s", len(recs), buf.String())
	}
	if recs[2]["level"] != "WARN" || recs[2]["kind"] != "reconnect" || recs[2]["msg"] != "resilience: connection lost" || recs[2]["error"] != "EOF" {
		t.Errorf("lost connection logged as %v", recs[2])
	}
	if recs[0]["level"] != "ERROR" || recs[0]["reason"] != "queue full" || recs[0]["kind"] != "bulkhead" {
		t.Errorf("reject logged as %v", recs[0])
	}
	if recs[1]["level"] != "INFO" || recs[1]["to"] != "half-open" {
		t.Errorf("state change logged as %v", recs[1])
	}
	if obs.Success != nil || obs.Admit != nil {
		t.Error("the observer asks for Success or Admit events")
	}
	if resilience.LogObserver(nil, resilience.LogConfig{}) != nil {
		t.Error("LogObserver(nil) is not nil")
	}
}

func TestDefaultLogLevel(t *testing.T) {
	for _, c := range []struct {
		e     resilience.Event
		level slog.Level
		log   bool
	}{
		{resilience.Event{Type: resilience.EventRetry}, slog.LevelDebug, true},
		{resilience.Event{Type: resilience.EventSuccess}, 0, false},
		{resilience.Event{Type: resilience.EventAdmit}, 0, false},
		{resilience.Event{Type: resilience.EventGiveUp}, slog.LevelWarn, true},
		{resilience.Event{Type: resilience.EventStateChange, To: "open"}, slog.LevelWarn, true},
		{resilience.Event{Type: resilience.EventStateChange, To: "closed"}, slog.LevelInfo, true},
		{resilience.Event{Type: resilience.EventReject}, slog.LevelDebug, true},
		{resilience.Event{Type: resilience.EventFallback}, slog.LevelInfo, true},
		{resilience.Event{Type: resilience.EventAbandonedReturn, Reason: "panicked"}, slog.LevelError, true},
		{resilience.Event{Type: resilience.EventAbandonedReturn}, slog.LevelDebug, true},
		{resilience.Event{Type: resilience.EventLost}, slog.LevelWarn, true},
		{resilience.Event{Type: resilience.EventConnected}, slog.LevelInfo, true},
		{resilience.Event{Type: resilience.EventDialFailed}, slog.LevelInfo, true},
		{resilience.Event{Type: resilience.EventStackedRetries}, slog.LevelWarn, true},
		{resilience.Event{Type: resilience.EventType(200)}, slog.LevelDebug, true},
	} {
		if level, log := resilience.DefaultLogLevel(c.e); level != c.level || log != c.log {
			t.Errorf("DefaultLogLevel(%v) = %v, %v; want %v, %v", c.e.Type, level, log, c.level, c.log)
		}
	}
}

func TestLogObserverUnknownType(t *testing.T) {
	var buf bytes.Buffer
	obs := resilience.LogObserver(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), resilience.LogConfig{})
	obs.Retry(resilience.Event{Type: resilience.EventType(200), Kind: resilience.Kind(99)}) // nil Context too
	recs := records(t, &buf)
	if len(recs) != 1 || recs[0]["event"] != "EventType(200)" || recs[0]["kind"] != "Kind(99)" {
		t.Fatalf("logged %s", buf.String())
	}
}

func TestLogObserverDisabledAllocs(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	obs := resilience.LogObserver(logger, resilience.LogConfig{})
	e := resilience.Event{
		Type: resilience.EventRetry, Kind: resilience.KindRetry, Policy: "p", Context: context.Background(),
		Err: errors.New("boom"), Attempt: 1, Delay: time.Second,
	}
	if n := testing.AllocsPerRun(1000, func() { obs.Retry(e) }); n != 0 {
		t.Errorf("a disabled event allocates %v times", n)
	}
	if buf.Len() != 0 {
		t.Errorf("a disabled event was logged: %s", buf.String())
	}
}

func ExampleLogObserver() {
	// A JSON logger without times, so that the output is stable.
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
	b := breaker.MustNew(breaker.Config{
		Name:             "payments",
		FailureThreshold: 1,
		Observer:         resilience.LogObserver(logger, resilience.LogConfig{}),
	})
	breaker.Run(context.Background(), b, func(context.Context) error {
		return resilience.Transient(errors.New("connection refused"))
	})
	// Output:
	// {"level":"WARN","msg":"resilience: breaker changed state","policy":"payments","kind":"breaker","event":"state-change","attempt":1,"from":"closed","to":"open"}
}

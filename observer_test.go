package resilience_test

import (
	"strings"
	"testing"

	"github.com/netresilience/resilience"
)

func TestKindAndEventTypeNames(t *testing.T) {
	kinds := map[resilience.Kind]string{
		resilience.KindRetry: "retry", resilience.KindBreaker: "breaker", resilience.KindBudget: "budget",
		resilience.KindBulkhead: "bulkhead", resilience.KindRateLimit: "ratelimit", resilience.KindThrottle: "throttle",
		resilience.KindTimeout: "timeout", resilience.KindHedge: "hedge", resilience.KindFallback: "fallback",
		resilience.KindTransport: "transport", resilience.KindReconnect: "reconnect", resilience.KindPace: "pace", resilience.KindServer: "server", resilience.KindFleet: "fleet", resilience.KindAdaptive: "adaptive", 0: "Kind(0)", 200: "Kind(200)",
	}
	for k, want := range kinds {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
	types := map[resilience.EventType]string{
		resilience.EventRetry: "retry", resilience.EventSuccess: "success", resilience.EventGiveUp: "give-up",
		resilience.EventStateChange: "state-change", resilience.EventReject: "reject", resilience.EventAdmit: "admit",
		resilience.EventTimeout: "timeout", resilience.EventAbandonedReturn: "abandoned-return",
		resilience.EventHedge: "hedge", resilience.EventFallback: "fallback", resilience.EventConnected: "connected",
		resilience.EventLost: "lost", resilience.EventDialFailed: "dial-failed", resilience.EventStackedRetries: "stacked-retries",
		0: "EventType(0)", 99: "EventType(99)",
	}
	for ty, want := range types {
		if got := ty.String(); got != want {
			t.Errorf("EventType(%d).String() = %q, want %q", ty, got, want)
		}
	}
}

// fieldsOf returns the Observer's funcs, indexed by the event type each
// receives.
func fieldsOf(o *resilience.Observer) map[resilience.EventType]func(resilience.Event) {
	return map[resilience.EventType]func(resilience.Event){
		resilience.EventRetry: o.Retry, resilience.EventSuccess: o.Success, resilience.EventGiveUp: o.GiveUp,
		resilience.EventStateChange: o.StateChange, resilience.EventReject: o.Reject, resilience.EventAdmit: o.Admit,
		resilience.EventTimeout: o.Timeout, resilience.EventAbandonedReturn: o.AbandonedReturn,
		resilience.EventHedge: o.Hedge, resilience.EventFallback: o.Fallback,
		resilience.EventConnected: o.Connected, resilience.EventLost: o.Lost, resilience.EventDialFailed: o.DialFailed,
		resilience.EventStackedRetries: o.StackedRetries,
	}
}

func TestObserversJoinsInOrder(t *testing.T) {
	var log strings.Builder
	note := func(s string) func(resilience.Event) {
		return func(e resilience.Event) { log.WriteString(s + ":" + e.Type.String() + " ") }
	}
	a := &resilience.Observer{Retry: note("a"), Reject: note("a")}
	b := &resilience.Observer{Retry: note("b"), Success: note("b")}
	c := &resilience.Observer{Retry: func(resilience.Event) { panic("c") }}
	d := &resilience.Observer{Retry: note("d")}
	j := resilience.Observers(nil, a, b, nil, c, d)
	for ty, f := range fieldsOf(j) {
		if f == nil {
			continue
		}
		f(resilience.Event{Type: ty})
	}
	// The order of a map's range is random: check each field's calls.
	got := log.String()
	for _, want := range []string{"a:retry b:retry d:retry ", "a:reject ", "b:success "} {
		if !strings.Contains(got, want) {
			t.Errorf("calls %q lack %q", got, want)
		}
	}
	for ty, f := range fieldsOf(j) {
		switch ty {
		case resilience.EventRetry, resilience.EventReject, resilience.EventSuccess:
			if f == nil {
				t.Errorf("joined field for %v is nil", ty)
			}
		default:
			if f != nil {
				t.Errorf("joined field for %v is set, though no observer has it", ty)
			}
		}
	}
}

func TestObserversOfNoneOrOne(t *testing.T) {
	a := &resilience.Observer{}
	if got := resilience.Observers(); got != nil {
		t.Errorf("Observers() = %p, want nil", got)
	}
	if got := resilience.Observers(nil, nil); got != nil {
		t.Errorf("Observers(nil, nil) = %p, want nil", got)
	}
	if got := resilience.Observers(nil, a, nil); got != a {
		t.Errorf("Observers(nil, a, nil) = %p, want a (%p)", got, a)
	}
}

func TestObserveAll(t *testing.T) {
	if resilience.ObserveAll(nil) != nil {
		t.Error("ObserveAll(nil) is not nil")
	}
	var got []resilience.EventType
	o := resilience.ObserveAll(func(e resilience.Event) { got = append(got, e.Type) })
	for ty, f := range fieldsOf(o) {
		if f == nil {
			t.Fatalf("ObserveAll left the field for %v nil", ty)
		}
		f(resilience.Event{Type: ty})
	}
	if len(got) != len(fieldsOf(o)) {
		t.Errorf("%d events reached f, want %d", len(got), len(fieldsOf(o)))
	}
}

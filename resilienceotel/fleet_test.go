package resilienceotel_test

import (
	"context"
	"errors"
	"testing"

	"github.com/netresilience/resilience"
)

// TestFleetModeChanges checks that the StateChange events of a fleet policy
// (module resilienceredis: Kind fleet, From and To "fleet" and "local")
// count by the mode entered, and never as breaker transitions, while the
// events of the fleet breaker's own breaker (Kind breaker) still do.
func TestFleetModeChanges(t *testing.T) {
	tel, reader := newTelemetry(t)
	obs := tel.Observer()
	change := func(kind resilience.Kind, from, to string, err error) {
		obs.StateChange(resilience.Event{Type: resilience.EventStateChange, Kind: kind, Policy: "payments",
			Context: context.Background(), From: from, To: to, Err: err})
	}
	down := errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	change(resilience.KindFleet, "fleet", "local", down)
	change(resilience.KindFleet, "local", "fleet", nil)
	change(resilience.KindFleet, "fleet", "local", down)
	change(resilience.KindBreaker, "closed", "open", nil)
	compare(t, collected(t, reader), map[string]map[string]string{
		"resilience.fleet.mode_changes": {
			"resilience.fleet.mode=local,resilience.policy.name=payments": "2",
			"resilience.fleet.mode=fleet,resilience.policy.name=payments": "1",
		},
		"resilience.breaker.transitions": {
			"resilience.breaker.from_state=closed,resilience.breaker.to_state=open,resilience.policy.name=payments": "1",
		},
	})
}

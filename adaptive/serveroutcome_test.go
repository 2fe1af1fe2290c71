package adaptive_test

import (
	"context"
	"errors"
	"testing"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
)

func TestServerOutcome(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	failed := resilience.Outcome{Err: resilience.Transient(errors.New("503"))}
	if o := adaptive.ServerOutcome(bg, resilience.Outcome{Panicked: true}); o.Panicked || resilience.Classify(o.Err) != resilience.ClassTransient {
		t.Errorf("a panic: %+v, want a transient failure (a drop)", o)
	}
	if o := adaptive.ServerOutcome(canceled, failed); !o.Canceled {
		t.Errorf("a failure for a client that went away: %+v, want Canceled", o)
	}
	if o := adaptive.ServerOutcome(bg, failed); o != failed {
		t.Errorf("a failure: %+v, want it unchanged", o)
	}
}

package sim_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/netresilience/resilience/sim"
)

// withinBounds is what a team promises of its configuration: in a full
// outage it multiplies the upstream's load by at most 1.2, and its clients
// see the recovery within 5s.
func withinBounds(p *sim.PolicyResult) error {
	switch {
	case p.TroubleAmplification > 1.2:
		return fmt.Errorf("%s: ×%.2f upstream calls per request during the outage; want at most ×1.2", p.Name, p.TroubleAmplification)
	case !p.Recovered || p.Recovery > 5*time.Second:
		return fmt.Errorf("%s: recovered %v after the outage (recovered: %v); want within 5s", p.Name, p.Recovery, p.Recovered)
	}
	return nil
}

// TestOutageWithinBounds is the test a team writes to hold its production
// settings — three attempts, a 10% retry budget, a breaker that opens on
// five failures in a row and probes every 2s — to withinBounds, so that CI
// catches the change that breaks them. The same assertion fails retries
// without a budget, which triple the load: it can fail.
func TestOutageWithinBounds(t *testing.T) {
	res, err := sim.Run(outage())
	if err != nil {
		t.Fatal(err)
	}
	production, naive := res.Policy("retry+budget+breaker"), res.Policy("retry")
	if err := withinBounds(production); err != nil {
		t.Error(err)
	}
	if err := withinBounds(naive); err == nil {
		t.Errorf("retries without a budget (×%.2f during the outage) pass the bounds", naive.TroubleAmplification)
	} else {
		t.Logf("as it should, the naive configuration fails: %v", err)
	}
}

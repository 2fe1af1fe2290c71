package sim

import (
	"testing"
	"time"
)

// fleetRow is what TestFleetOutage shows of a policy.
type fleetRow struct {
	calls             int           // upstream calls during the outage
	first, most, last time.Duration // from the outage's start until the first, 90% and every replica's breaker was open
	probes            int           // probes during the outage
	afterHeal         int           // probes after it
}

// fleetMeasures reads a fleetRow from p's series, whose breakers' shares
// are sampled at the end of every bucket.
func fleetMeasures(res *Result, p *PolicyResult, from, to time.Duration) fleetRow {
	var row fleetRow
	row.calls, _ = during(res, p, from, to)
	row.first, row.most, row.last = -1, -1, -1
	first := int(from / res.Bucket)
	for i := first; i < int(to/res.Bucket); i++ {
		pt := p.Series[i]
		t := time.Duration(i+1)*res.Bucket - from
		if row.first < 0 && pt.Open > 0 {
			row.first = t
		}
		if row.most < 0 && pt.Open >= 0.9 {
			row.most = t
		}
		if row.last < 0 && pt.Open+pt.HalfOpen >= 1 {
			row.last = t
		}
		row.probes += pt.Probes
	}
	for _, pt := range p.Series[int(to/res.Bucket):] {
		row.afterHeal += pt.Probes
	}
	return row
}

func fmtSince(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.String()
}

// TestFleetOutage compares, on the fleet-outage scenario, the replicas'
// own breakers with one fleet breaker of the same breaker.Config, and logs
// the table the README shows.
func TestFleetOutage(t *testing.T) {
	res := runBuiltin(t, "fleet-outage")
	w := res.Scenario.Upstream.Windows[0]
	from, to := time.Duration(w.From), time.Duration(w.To)
	rows := map[string]fleetRow{}
	t.Logf("%-15s %8s %8s %8s %8s %8s %7s %9s", "policy", "calls", "first", "90%", "all", "success", "probes", "openings")
	for i := range res.Policies {
		p := &res.Policies[i]
		row := fleetMeasures(res, p, from, to)
		rows[p.Name] = row
		t.Logf("%-15s %8d %8s %8s %8s %7.2f%% %7d %9d", p.Name, row.calls, fmtSince(row.first), fmtSince(row.most),
			fmtSince(row.last), 100*p.SuccessRatio, row.probes+row.afterHeal, p.FleetOpened)
	}
}

// TestFleetOutageFacts holds the fleet breaker to what it promises on the
// fleet-outage scenario: every replica stops calling no later than the
// local breakers' first, far fewer upstream calls during the outage, and
// exactly one probe per round of recovery, fleet-wide.
func TestFleetOutageFacts(t *testing.T) {
	res := runBuiltin(t, "fleet-outage")
	w := res.Scenario.Upstream.Windows[0]
	from, to := time.Duration(w.From), time.Duration(w.To)
	local, fleet := policy(t, res, "local breakers"), policy(t, res, "fleet breaker")
	lr, fr := fleetMeasures(res, local, from, to), fleetMeasures(res, fleet, from, to)
	clients := res.Scenario.Load.Clients
	switch {
	case fr.last < 0 || lr.last < 0:
		t.Fatalf("not every replica opened: local %v, fleet %v", lr.last, fr.last)
	case fr.last > lr.first+res.Bucket:
		t.Errorf("the fleet's last replica opened %v into the outage; want by the local breakers' first, %v, and a bucket", fr.last, lr.first)
	case fr.last >= lr.last:
		t.Errorf("the fleet's last replica opened %v into the outage, the local breakers' %v; want sooner", fr.last, lr.last)
	}
	if 3*fr.calls > 2*lr.calls {
		t.Errorf("upstream calls during the outage: fleet %d, local %d; want at most two thirds", fr.calls, lr.calls)
	}
	// Each opening of the fleet is one round, with one probe; the last
	// round's probe, after the heal, closes it.
	if fleet.FleetOpened == 0 || fr.probes+fr.afterHeal != fleet.FleetOpened {
		t.Errorf("fleet: %d probes in the outage and %d after it, for %d openings; want one per opening", fr.probes, fr.afterHeal, fleet.FleetOpened)
	}
	if fr.afterHeal != 1 {
		t.Errorf("fleet: %d probes after the heal; want the one that closes it", fr.afterHeal)
	}
	// The local breakers probe each for itself: a round is every replica's.
	if lr.probes < clients*(fleet.FleetOpened-1) {
		t.Errorf("local breakers: %d probes during the outage; want one per replica and round, %d at least", lr.probes, clients*(fleet.FleetOpened-1))
	}
}

// TestFleetQuorum has one replica of ten lose its network to a healthy
// upstream: with Quorum 1 its own breaker's opening opens the whole fleet,
// which stops calling a service that is up; with Quorum 2 the fleet stays
// closed and only that replica's breaker opens.
func TestFleetQuorum(t *testing.T) {
	s := &Scenario{
		Name:       "one bad replica",
		Duration:   Duration(40 * time.Second),
		Resolution: Duration(100 * time.Millisecond),
		Upstream:   Upstream{Windows: []Window{{From: Duration(10 * time.Second), To: Duration(40 * time.Second), Down: true, Clients: 1}}},
		Load:       Load{Rate: 20, Clients: 10},
	}
	for _, q := range []int{1, 2} {
		s.Policies = append(s.Policies, Policy{Name: "quorum " + string(rune('0'+q)), Breaker: fleetBreaker(), Fleet: &FleetConfig{Quorum: q}})
	}
	res, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	maxOpen := func(p *PolicyResult) float64 {
		m := 0.0
		for _, pt := range p.Series {
			m = max(m, pt.Open)
		}
		return m
	}
	one, two := policy(t, res, "quorum 1"), policy(t, res, "quorum 2")
	t.Logf("quorum 1: %d openings, at most %.0f%% of replicas open, %.1f%% success; quorum 2: %d, %.0f%%, %.1f%%",
		one.FleetOpened, 100*maxOpen(one), 100*one.SuccessRatio, two.FleetOpened, 100*maxOpen(two), 100*two.SuccessRatio)
	if one.FleetOpened == 0 || maxOpen(one) < 1 {
		t.Errorf("quorum 1: %d openings, at most %.0f%% open; want the bad replica to open the fleet", one.FleetOpened, 100*maxOpen(one))
	}
	if two.FleetOpened != 0 || maxOpen(two) > 0.1+1e-9 || maxOpen(two) == 0 {
		t.Errorf("quorum 2: %d openings, at most %.0f%% open; want only the bad replica's own breaker open", two.FleetOpened, 100*maxOpen(two))
	}
}

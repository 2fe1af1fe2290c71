package sim

import (
	"strings"
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
	for _, name := range []string{"fleet-outage", "fleet-trickle"} {
		t.Run(name, func(t *testing.T) { logFleetTable(t, runBuiltin(t, name)) })
	}
}

// logFleetTable logs the fleet table of a fleet scenario's result.
func logFleetTable(t *testing.T, res *Result) {
	w := res.Scenario.Upstream.Windows[0]
	from, to := time.Duration(w.From), time.Duration(w.To)
	t.Logf("%-15s %8s %8s %8s %8s %8s %7s %9s", "policy", "calls", "first", "90%", "all", "success", "probes", "openings")
	for i := range res.Policies {
		p := &res.Policies[i]
		row := fleetMeasures(res, p, from, to)
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

// TestFleetBadConfig checks that Check refuses a Fleet that makes no
// sense, naming the field.
func TestFleetBadConfig(t *testing.T) {
	for _, tc := range []struct {
		fleet   FleetConfig
		breaker *BreakerConfig
		want    string
	}{
		{FleetConfig{}, &BreakerConfig{}, "Fleet needs a Breaker with a FailureRate"},
		{FleetConfig{}, nil, "Fleet needs a Breaker with a FailureRate"},
		{FleetConfig{Interval: Duration(time.Microsecond)}, fleetBreaker(), "Fleet.Interval must be at least 1ms"},
		{FleetConfig{Interval: -1}, fleetBreaker(), "Fleet.Interval"},
		{FleetConfig{RoundTrip: Duration(600 * time.Millisecond)}, fleetBreaker(), "Fleet.RoundTrip must be in [0, Interval/2]"},
		{FleetConfig{Quorum: 11}, fleetBreaker(), "Fleet.Quorum must be in [0, Load.Clients] (10)"},
		{FleetConfig{Quorum: -1}, fleetBreaker(), "Fleet.Quorum"},
		{FleetConfig{ProbeTTL: -1}, fleetBreaker(), "Fleet.ProbeTTL must not be negative"},
	} {
		f := tc.fleet
		s := &Scenario{Name: "bad", Duration: Duration(time.Minute), Load: Load{Rate: 10, Clients: 10},
			Policies: []Policy{{Name: "p", Breaker: tc.breaker, Fleet: &f}}}
		if err := s.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v; want an error with %q", tc.fleet, err, tc.want)
		}
	}
	s := &Scenario{Name: "bad", Duration: Duration(time.Minute), Load: Load{Rate: 10, Clients: 10},
		Upstream: Upstream{Windows: []Window{{To: Duration(time.Second), Down: true, Clients: 11}}}, Policies: []Policy{{Name: "p"}}}
	if err := s.Check(); err == nil || !strings.Contains(err.Error(), "Upstream.Windows[0].Clients must be in [0, Load.Clients]") {
		t.Errorf("a window for 11 of 10 clients: got %v", err)
	}
	s.Upstream.Windows[0].Clients = 10
	s.Policies = []Policy{{Name: "p", Breaker: fleetBreaker(), Fleet: &FleetConfig{Interval: Duration(time.Millisecond)}}}
	s.Load.Clients = 10_000
	s.Duration = Duration(24 * time.Hour)
	if err := s.Check(); err == nil || !strings.Contains(err.Error(), "syncs, above the limit") {
		t.Errorf("10,000 replicas syncing every 1ms for a day: got %v", err)
	}
}

// TestFleetRoundTrip checks that the fleet's opening reaches the other
// replicas one RoundTrip after the replica that opened it: in between,
// only that one is open.
func TestFleetRoundTrip(t *testing.T) {
	s, _ := Builtin("fleet-outage")
	s.Duration = Duration(80 * time.Second)
	s.Resolution = Duration(10 * time.Millisecond)
	s.Policies = s.Policies[1:]
	s.Policies[0].Fleet.RoundTrip = Duration(200 * time.Millisecond)
	res, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	p := &res.Policies[0]
	one := 1 / float64(s.Load.Clients)
	first, all := -1, -1
	for i, pt := range p.Series {
		if first < 0 && pt.Open > 0 {
			first = i
			if pt.Open > one+1e-9 {
				t.Errorf("%.0f%% open at the first opening; want one replica", 100*pt.Open)
			}
		}
		if first >= 0 && pt.Open >= 1 {
			all = i
			break
		}
	}
	// The opening falls somewhere in bucket first; it reaches the others
	// 20 buckets later, within that bucket's span.
	if first < 0 || all-first < 19 || all-first > 21 {
		t.Errorf("one replica open in bucket %d, all in bucket %d; want 20 buckets (200ms) apart", first, all)
	}
}

// TestFleetTrickle: on the fleet-trickle scenario no replica sees enough
// calls for its own breaker to judge, so only the fleet breaker opens; it
// opens every replica within seconds and cuts the outage's upstream calls
// by far.
func TestFleetTrickle(t *testing.T) {
	res := runBuiltin(t, "fleet-trickle")
	w := res.Scenario.Upstream.Windows[0]
	from, to := time.Duration(w.From), time.Duration(w.To)
	local, fleet := policy(t, res, "local breakers"), policy(t, res, "fleet breaker")
	lr, fr := fleetMeasures(res, local, from, to), fleetMeasures(res, fleet, from, to)
	if lr.first >= 0 {
		t.Errorf("a local breaker opened %v into the outage; with 5 calls a window none can", lr.first)
	}
	if fr.last < 0 || fr.last > 10*time.Second {
		t.Errorf("the fleet's last replica opened %v into the outage; want within the 10s window", fr.last)
	}
	if 5*fr.calls > lr.calls {
		t.Errorf("upstream calls during the outage: fleet %d, local %d; want at most a fifth", fr.calls, lr.calls)
	}
}

package sim

import (
	"cmp"
	"math/rand/v2"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
)

// Defaults of a FleetConfig's zero fields.
const (
	defaultFleetInterval  = time.Second
	defaultFleetRoundTrip = time.Millisecond
	minFleetInterval      = time.Millisecond
)

// fleetState is what a replica's fleet breaker does with its local breaker.
type fleetState uint8

const (
	fleetClosed  fleetState = iota // local decisions only
	fleetOpen                      // held open by the fleet
	fleetProbing                   // this replica holds the fleet's single probe
)

// Messages of the fleet's channel, in event.sub of an evFleetMsg.
const (
	msgOpen uint8 = iota
	msgClosed
)

// replica is one client's part of a fleet breaker.
type replica struct {
	state    fleetState
	closedAt int64 // the last close of the fleet this replica has heard of
	// Its window as last published.
	pubAt             int64
	calls, failures   int
	published, counts bool // counts: in the fleet's sums (published at or after the last close)
}

// stateChange is a change of a replica's local breaker, seen by its
// observer and handled by the fleet right after, as the fleet breaker's
// loop goroutine handles the local breaker's events.
type stateChange struct {
	client   int32
	from, to string
}

// fleet is the shared state of one policy's fleet breaker: what the
// replicas keep in Redis, and each replica's own.
type fleet struct {
	interval, roundTrip, probeTTL, recovery int64
	quorum                                  int
	rate                                    float64
	minCalls                                int

	reps []replica
	// The open key: until when the fleet is open, and when the key expires
	// (an Interval after that); hasOpen is false when there is none.
	hasOpen            bool
	openUntil, openExp int64
	// The probe key: the replica holding it, -1 for none, and its expiry.
	prober   int32
	probeExp int64
	// The sums of the published windows that count: calls, failures, and
	// the replicas that reported failures.
	calls, failures, reporting int
	closedAt                   int64 // when the fleet last closed

	changes []stateChange
}

// newFleet makes the fleet of p for n replicas, whose local breakers have
// the config d (with its defaults).
func newFleet(c *FleetConfig, d breaker.Config, n int) *fleet {
	f := &fleet{
		interval:  int64(c.interval()),
		roundTrip: int64(cmp.Or(time.Duration(c.RoundTrip), defaultFleetRoundTrip)),
		quorum:    max(c.Quorum, 1),
		recovery:  int64(d.RecoveryTimeout),
		rate:      d.FailureRate,
		minCalls:  max(d.MinCalls, 0),
		reps:      make([]replica, n),
		prober:    -1,
	}
	f.probeTTL = int64(c.ProbeTTL)
	if f.probeTTL == 0 {
		if d.ProbeTimeout > 0 {
			f.probeTTL = int64(d.ProbeTimeout) + 2*f.interval
		} else {
			f.probeTTL = int64(time.Minute) + 2*f.interval
		}
	}
	return f
}

func (c *FleetConfig) interval() time.Duration {
	return cmp.Or(time.Duration(c.Interval), defaultFleetInterval)
}

// observer returns the observer of client i's local breaker: it queues
// the breaker's changes of state for the fleet.
func (f *fleet) observer(i int) *resilience.Observer {
	return &resilience.Observer{StateChange: func(e resilience.Event) {
		f.changes = append(f.changes, stateChange{client: int32(i), from: e.From, to: e.To})
	}}
}

// startSyncs schedules every replica's first sync, each at its own phase
// in the first Interval, drawn from a stream of its own so that the other
// draws of the run stay as they are without a fleet.
func (r *run) startSyncs(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x666c6565))
	for i := range r.fleet.reps {
		if t := rng.Int64N(r.fleet.interval); t < r.horizon {
			r.q.push(event{at: t, kind: evSync, req: int32(i)})
		}
	}
}

// sync is replica i's round with Redis at now: it publishes its window,
// reads the fleet's, and opens, holds open or probes as the fleet breaker's
// tick does.
func (r *run) sync(i int32, now int64) {
	f := r.fleet
	if next := now + f.interval; next < r.horizon {
		r.q.push(event{at: next, kind: evSync, req: i})
	}
	b := r.clients[i].breaker
	snap := b.SnapshotAt(at(now))
	rep := &f.reps[i]
	// Publish: the replica's window replaces the one it published before.
	if rep.counts {
		f.calls -= rep.calls
		f.failures -= rep.failures
		if rep.failures > 0 {
			f.reporting--
		}
	}
	rep.pubAt, rep.calls, rep.failures, rep.published, rep.counts = now, snap.Calls, snap.Failures, true, true
	f.calls += rep.calls
	f.failures += rep.failures
	if rep.failures > 0 {
		f.reporting++
	}
	var until int64
	if f.hasOpen && now < f.openExp {
		until = f.openUntil
	}
	switch rep.state {
	case fleetClosed:
		switch {
		case until > now:
			r.holdOpen(i, now) // opened while this replica was not listening
		case until == 0 && f.calls > 0 && f.calls >= f.minCalls &&
			float64(f.failures) >= f.rate*float64(f.calls) && f.reporting >= f.quorum:
			r.openFleet(i, now)
		}
	case fleetOpen:
		if until > now {
			return
		}
		// The fleet's open time is over: race for the single probe.
		if f.prober < 0 || now >= f.probeExp {
			f.prober, f.probeExp = i, now+f.probeTTL
			rep.state = fleetProbing
			t := at(now)
			b.ResetAt(t)
			b.TripAt(t.Add(-time.Duration(f.recovery))) // half-open at the next call
		}
	case fleetProbing:
		if f.prober != i || now >= f.probeExp {
			r.holdOpen(i, now) // the probe outlived its key: wait like the others
		}
	}
}

// holdOpen holds replica i's local breaker open for the fleet.
func (r *run) holdOpen(i int32, now int64) {
	r.fleet.reps[i].state = fleetOpen
	r.clients[i].breaker.ForceOpenAt(at(now))
}

// openFleet opens the fleet for the recovery timeout from replica i, and
// tells the others, who hear it a round trip later.
func (r *run) openFleet(i int32, now int64) {
	f := r.fleet
	f.hasOpen, f.openUntil, f.openExp = true, now+f.recovery, now+f.recovery+f.interval
	f.prober = -1
	r.holdOpen(i, now)
	r.fleetOpened++
	r.q.push(event{at: now + f.roundTrip, kind: evFleetMsg, req: i, sub: msgOpen})
}

// closeFleet closes the fleet after replica i's probe succeeded, and tells
// the others.
func (r *run) closeFleet(i int32, now int64) {
	f := r.fleet
	f.reps[i].state = fleetClosed
	f.reps[i].closedAt = now
	f.hasOpen, f.prober = false, -1
	// Windows published before the close no longer count.
	f.closedAt = now
	f.calls, f.failures, f.reporting = 0, 0, 0
	for k := range f.reps {
		rep := &f.reps[k]
		rep.counts = rep.published && rep.pubAt >= now
		if rep.counts {
			f.calls += rep.calls
			f.failures += rep.failures
			if rep.failures > 0 {
				f.reporting++
			}
		}
	}
	r.q.push(event{at: now + f.roundTrip, kind: evFleetMsg, req: i, sub: msgClosed, start: now})
}

// deliver hands a message of replica from to every other replica at now.
func (r *run) deliver(e *event) {
	f := r.fleet
	for k := range f.reps {
		if int32(k) == e.req {
			continue
		}
		rep := &f.reps[k]
		switch e.sub {
		case msgOpen:
			if rep.state != fleetOpen {
				r.holdOpen(int32(k), e.at)
			}
		case msgClosed:
			rep.closedAt = e.start
			if rep.state != fleetClosed {
				rep.state = fleetClosed
				r.clients[k].breaker.ResetAt(at(e.at))
			}
		}
	}
}

// react handles the changes of the local breakers queued by their
// observers, at now, as the fleet breaker's onChange does.
func (r *run) react(now int64) {
	f := r.fleet
	for len(f.changes) > 0 {
		c := f.changes[0]
		f.changes = f.changes[1:]
		rep := &f.reps[c.client]
		switch {
		case rep.state == fleetProbing && c.from == "half-open" && c.to == "closed":
			r.closeFleet(c.client, now)
		case rep.state == fleetProbing && c.from == "half-open" && c.to == "open":
			r.openFleet(c.client, now)
		case rep.state == fleetClosed && c.from == "closed" && c.to == "open" && f.quorum <= 1:
			if r.clients[c.client].breaker.SnapshotAt(at(now)).Forced {
				continue
			}
			r.openFleet(c.client, now)
		}
	}
	f.changes = f.changes[:0]
}

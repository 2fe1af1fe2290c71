package breaker

import (
	"time"

	"github.com/netresilience/resilience/internal/window"
)

// Config returns the configuration the breaker runs with: the Config given
// to New or to the latest Reconfigure, as given, zero fields and all.
// Config().WithDefaults() gives the values in effect.
func (b *Breaker) Config() Config {
	if b == nil {
		return Config{}
	}
	return b.cf.Load().cfg
}

// Reconfigure changes the breaker's configuration to cfg now, keeping its
// state where it still means something; see [Breaker.ReconfigureAt].
func (b *Breaker) Reconfigure(cfg Config) error {
	if b == nil {
		return errNilBreaker
	}
	return b.reconfigure(b.nanos(), cfg)
}

// ReconfigureAt changes the breaker's configuration to cfg at the time now.
// cfg is validated as [New] validates it, with the same errors; an invalid
// cfg changes nothing. Every field takes effect with the next decision but
// Seed, which only New reads. Calls in flight report into the breaker as
// usual and are judged by the new configuration.
//
// What carries over: the state (closed, open, half-open, forced open) and
// its generation, so no StateChange is reported for the change itself; the
// failures in a row; the sliding window's counts; the probes in flight;
// and the counts of Snapshot. In detail:
//
//   - An open breaker stays open until the time set when it opened: a new
//     RecoveryTimeout or MaxRecoveryTimeout applies from the next opening.
//   - A closed breaker whose failures in a row reach the new
//     FailureThreshold, or whose window's counts meet a new FailureRate or
//     SlowCallRate, opens at once, as it would have at the last failure
//     under cfg: the counts are what happened, and cfg says how many is too
//     many.
//   - A window of the same length keeps its buckets. A window of a new
//     length starts from the old one's totals, counted as of now (they
//     leave it together, one new Window later), rather than empty: its
//     buckets cannot be cut to the new width, and an empty window would
//     forget a failure rate that is still going on, and need MinCalls new
//     calls before it could open. Without a Window the counts are dropped.
//   - A half-open breaker keeps its probes in flight; with fewer
//     HalfOpenProbes it admits no more until fewer are in flight, and
//     closes at once if as many probes have already succeeded.
//   - A change of Shadow takes effect with the next call: turning it off
//     makes an open breaker reject from then on.
//   - A call admitted before slow-call detection was turned on is never
//     counted as slow.
func (b *Breaker) ReconfigureAt(now time.Time, cfg Config) error {
	if b == nil {
		return errNilBreaker
	}
	return b.reconfigure(b.fromTime(now), cfg)
}

func (b *Breaker) reconfigure(now int64, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	b.mu.Lock()
	old := b.cf.Load()
	timedSince := now
	if old.timed {
		timedSince = old.timedSince
	}
	cf := newSettings(cfg, timedSince)
	switch {
	case cf.window == 0:
		b.win = nil
	case b.win == nil:
		b.win = window.New(cf.window)
	case cf.window != old.window:
		tot := b.win.Totals(now)
		b.win = window.New(cf.window)
		if tot != (window.Counts{}) {
			b.win.Add(now, tot)
		}
	}
	w := b.word.Load()
	switch {
	case len(b.slots) < cf.probes:
		b.slots = append(b.slots, make([]probeSlot, cf.probes-len(b.slots))...)
	case len(b.slots) > cf.probes && stateOf(w) != HalfOpen:
		b.slots = make([]probeSlot, cf.probes) // no probe in flight
	}
	if cf.name != old.name && stateOf(w) == Open {
		e := *b.openErr.Load()
		e.Name = cf.name
		b.openErr.Store(&e)
	}
	if cf.obs == nil || cf.obs.StateChange == nil {
		b.events = b.events[:0:0] // nobody to tell of the changes queued
		b.queued.Store(false)
	}
	b.cf.Store(cf)
	switch stateOf(w) {
	case Closed:
		trip := countOf(w) >= cf.threshold
		if b.win != nil {
			trip = trip || b.rateTripped(cf, now, true, true)
		}
		if trip {
			b.failedTries = 0
			b.setLocked(Open, now)
		}
	case HalfOpen:
		if b.successes > 0 && b.successes >= cf.probes {
			b.setLocked(Closed, now)
		}
	}
	b.mu.Unlock()
	b.dispatch()
	return nil
}

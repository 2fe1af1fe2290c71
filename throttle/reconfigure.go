package throttle

import (
	"time"

	"github.com/netresilience/resilience/internal/window"
)

// Config returns the configuration the throttle runs with: the Config given
// to New or to the latest Reconfigure, as given, zero fields and all.
// Config().WithDefaults() gives the values in effect.
func (t *Throttle) Config() Config {
	if t == nil {
		return Config{}
	}
	return t.cf.Load().cfg
}

// Reconfigure changes the throttle's configuration to cfg now, keeping its
// window's counts; see [Throttle.ReconfigureAt].
func (t *Throttle) Reconfigure(cfg Config) error {
	if t == nil {
		return errNilThrottle
	}
	return t.reconfigure(t.clock.Now(), cfg)
}

// ReconfigureAt changes the throttle's configuration to cfg at the time
// now. cfg is validated as [New] validates it, with the same errors; an
// invalid cfg changes nothing. Every field takes effect with the next
// decision but Seed, which only New reads.
//
// The window's requests and accepts carry over, and the new K,
// MinRequests and MaxRejectProbability apply to them at once: the
// probability is what the new formula gives for the traffic already seen.
// A window of the same length keeps its buckets; one of a new length
// starts from the old one's totals, counted as of now (they leave it
// together, one new Window later), since buckets cannot be cut to a new
// width and an empty window would forget an overload still going on. The
// counts of Snapshot carry over.
func (t *Throttle) ReconfigureAt(now time.Time, cfg Config) error {
	if t == nil {
		return errNilThrottle
	}
	return t.reconfigure(t.clock.From(now), cfg)
}

func (t *Throttle) reconfigure(now int64, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	cf := newSettings(cfg)
	t.mu.Lock()
	defer t.mu.Unlock()
	if cf.window != t.cf.Load().window {
		tot := t.win.Totals(now)
		t.win = window.New(cf.window)
		if tot != (window.Counts{}) {
			t.win.Add(now, tot)
		}
	}
	t.cf.Store(cf)
	t.probabilityLocked(now) // the new formula may raise it from 0
	return nil
}

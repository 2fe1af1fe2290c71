package budget

import (
	"time"

	"github.com/netresilience/resilience/internal/nilpolicy"
	"github.com/netresilience/resilience/internal/window"
)

// Config returns the configuration the budget runs with: the Config given
// to New or to the latest Reconfigure, as given, zero fields and all.
// Config().WithDefaults() gives the values in effect.
func (b *Budget) Config() Config {
	if b == nil {
		return Config{}
	}
	return b.cf.Load().cfg
}

// Reconfigure changes the budget's configuration to cfg now, keeping its
// balance and counts; see [Budget.ReconfigureAt].
func (b *Budget) Reconfigure(cfg Config) error {
	if b == nil {
		return errNilBudget
	}
	return b.reconfigure(b.clock.Now(), cfg)
}

// ReconfigureAt changes the budget's configuration to cfg at the time now.
// cfg is validated as [New] validates it, with the same errors; an invalid
// cfg changes nothing. Every field takes effect with the next deposit or
// withdrawal.
//
// The balance carries over: the retries saved so far stay saved, and are
// capped, at the next withdrawal, by what the window allows under the new
// Ratio and MinPerSecond; from now on, calls and time earn retries at the
// new rates. The window's calls and retries carry over too: a window of the
// same length keeps its buckets; one of a new length starts from the old
// one's totals, counted as of now (they leave it together, one new Window
// later), since buckets cannot be cut to a new width and an empty window
// would forget the retries just spent. The counts of Snapshot carry over.
func (b *Budget) ReconfigureAt(now time.Time, cfg Config) error {
	if b == nil {
		return errNilBudget
	}
	return b.reconfigure(b.clock.From(now), cfg)
}

func (b *Budget) reconfigure(now int64, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	cf := newSettings(cfg)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked(now) // what was earned so far, at the old rates
	if cf.window != b.cf.Load().window {
		tot := b.win.Totals(now)
		b.win = window.New(cf.window)
		if tot != (window.Counts{}) {
			b.win.Add(now, tot)
		}
	}
	b.cf.Store(cf)
	return nil
}

// errNilBudget is the error of Reconfigure on a nil *Budget.
const errNilBudget = nilpolicy.Error("budget: nil *Budget")

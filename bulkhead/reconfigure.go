package bulkhead

// Config returns the configuration the bulkhead runs with: the Config given
// to New or to the latest Reconfigure, as given, zero fields and all.
// Config().WithDefaults() gives the values in effect.
func (b *Bulkhead) Config() Config {
	if b == nil {
		return Config{}
	}
	return b.cf.Load().cfg
}

// Reconfigure changes the bulkhead's configuration to cfg. cfg is validated
// as [New] validates it, with the same errors; an invalid cfg changes
// nothing. Every field takes effect with the next call. The calls in flight
// and the callers waiting carry over, as do the counts of Snapshot:
//
//   - A limit raised above the calls in flight hands the new slots at once
//     to the callers waiting, first come first served.
//   - A limit lowered below the calls in flight cuts no call: they run to
//     their end, and new calls wait (or are rejected) until fewer than the
//     new limit are in flight; a slot released meanwhile is not handed on.
//   - A MaxQueue lowered below the callers waiting sends none of them
//     away: new callers are rejected until fewer wait.
//   - Callers already waiting keep the MaxWait they began with.
//   - Turning Shadow on admits every caller waiting at once; turning it
//     off lets the calls in flight beyond the limit run to their end.
func (b *Bulkhead) Reconfigure(cfg Config) error {
	if b == nil {
		return errNilBulkhead
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	cf := newSettings(cfg)
	b.mu.Lock()
	b.cf.Store(cf)
	// Hand the slots the change frees to the callers waiting. While
	// anybody waits, only holders of mu change the state word.
	for b.head != nil {
		s := b.state.Load()
		if s&inFlightMask >= cf.limit && !cf.shadow {
			break
		}
		w := b.head
		b.unlink(w)
		b.state.Add(lessWaiting + 1) // one waiting fewer, one more in flight
		w.granted = true
		close(w.ready)
	}
	b.mu.Unlock()
	return nil
}

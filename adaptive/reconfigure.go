package adaptive

// Reconfigure changes the limiter's configuration to cfg. cfg is validated
// as [New] validates it, with the same errors; an invalid cfg changes
// nothing. Every field takes effect with the next call, and what the
// limiter has learned carries over:
//
//   - The limit stays where it is, moved into the new [Min, Max] if it
//     lies outside; Initial is not used. A limit raised above the calls in
//     flight admits the callers waiting at once, highest priority first.
//   - A limit lowered below the calls in flight cuts no call: they run to
//     their end, and new calls wait (or are rejected) until fewer are in
//     flight than the new limit.
//   - With the same Algorithm, its state carries over: the AIMD's last
//     cut; the Gradient's baseline, open window and probe schedule, judged
//     from then on with the new parameters. A new Algorithm starts from
//     the limit alone, as a new limiter started at it would.
//   - Callers already waiting keep their place and the MaxWait they began
//     with; a MaxQueue lowered below them sends none away.
//   - Turning Shadow on admits every caller waiting at once; turning it
//     off enforces the limit the shadow limiter found, from the next call.
//   - The counts of Snapshot carry over.
//
// The way to roll a limit out: run it with Shadow, watch the limit it
// finds and what it would have rejected, then Reconfigure it with Shadow
// off.
func (l *Limiter) Reconfigure(cfg Config) error {
	if l == nil {
		return errNilLimiter
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	s := newSettings(cfg)
	l.mu.Lock()
	l.cf.Store(s)
	l.d.reconfigure(cfg.WithDefaults())
	l.settle(l.clock.Now()) // unlocks
	return nil
}

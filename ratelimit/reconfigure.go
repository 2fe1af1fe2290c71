package ratelimit

import (
	"math/big"
	"time"
)

// Config returns the configuration the limiter runs with: the Config given
// to New or to the latest Reconfigure, as given, zero fields and all.
// Config().WithDefaults() gives the values in effect.
func (l *Limiter) Config() Config {
	if l == nil {
		return Config{}
	}
	return l.cf.Load().cfg
}

// Reconfigure changes the limiter's configuration to cfg now, keeping its
// tokens; see [Limiter.ReconfigureAt].
func (l *Limiter) Reconfigure(cfg Config) error {
	if l == nil {
		return errNilLimiter
	}
	return l.reconfigure(l.nanos(), cfg)
}

// ReconfigureAt changes the limiter's configuration to cfg at the time now.
// cfg is validated as [New] validates it, with the same errors; an invalid
// cfg changes nothing. Every field takes effect with the next call.
//
// The bucket keeps its tokens: it holds after the change what it held
// before, capped at the new Burst, and refills at the new rate from then on.
// A debt — the tokens of calls waiting for them, which make the count
// negative — carries over as a debt of as many tokens, repaid at the new
// rate. Calls already waiting keep the time they were given. A reservation
// made before a change of Limit, Per or Burst gives nothing back on
// Cancel: its tokens were counted at the old rate. The counts of Snapshot
// carry over.
func (l *Limiter) ReconfigureAt(now time.Time, cfg Config) error {
	if l == nil {
		return errNilLimiter
	}
	return l.reconfigure(l.fromTime(now), cfg)
}

func (l *Limiter) reconfigure(now int64, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.cf.Load()
	cf := newSettings(l, cfg)
	if cf.num != old.num || cf.den != old.den || cf.burst != old.burst {
		l.tat = rebucket(old, cf, l.tat, now)
		// Reservations made before hold spans of the old rate: none may be
		// given back (see refund).
		l.head = 0
		l.refunds++
		l.dirtyUntil = max(l.dirtyUntil, l.lastAt)
	}
	l.kept = nil // errors that name the old settings
	l.cf.Store(cf)
	return nil
}

// rebucket returns the bucket's tat under the settings cf for a bucket whose
// tat is tat under old, at now: the tokens it holds now carried over, capped
// at cf's burst; a debt carried over whole, but to no more than maxSpan of
// refill. It runs only on a change of rate, so it computes in exact
// rationals, which allocate.
func rebucket(old, cf *settings, tat span, now int64) span {
	// The tokens missing from old's full bucket: (tat - now)/costOne.
	var missing big.Rat
	if !tat.less(span{ns: now}) {
		d := tat.sub(span{ns: now}, old.den)
		num := new(big.Int).Mul(big.NewInt(d.ns), new(big.Int).SetUint64(old.den))
		num.Add(num, new(big.Int).SetUint64(d.frac))
		// d in ns is num/old.den; a token takes old.num/old.den ns.
		missing.SetFrac(num, new(big.Int).SetUint64(old.num))
	}
	// Those missing from the new bucket: as many, plus the new room.
	missing.Add(&missing, big.NewRat(int64(cf.burst)-int64(old.burst), 1))
	if missing.Sign() <= 0 {
		return full // as many tokens as the new bucket holds, or more
	}
	// Their refill time at the new rate, cf.num/cf.den ns a token, as
	// ns + frac/cf.den.
	t := new(big.Rat).Mul(&missing, new(big.Rat).SetFrac(new(big.Int).SetUint64(cf.num), new(big.Int).SetUint64(cf.den)))
	if t.Cmp(big.NewRat(maxSpan, 1)) > 0 {
		t.SetInt64(maxSpan)
	}
	scaled := new(big.Int).Mul(t.Num(), new(big.Int).SetUint64(cf.den))
	scaled.Quo(scaled, t.Denom()) // ⌊t·den⌋, in 1/den ns
	q, r := new(big.Int).QuoRem(scaled, new(big.Int).SetUint64(cf.den), new(big.Int))
	return span{ns: now, frac: 0}.add(span{ns: q.Int64(), frac: r.Uint64()}, cf.den)
}

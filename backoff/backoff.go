package backoff

import (
	"errors"
	"math"
	"strconv"
	"time"
)

// Strategy decides how long to wait after a failure. Implementations must be
// safe for concurrent use and must return a delay of at least zero.
type Strategy interface {
	// Delay returns the wait after failure number n (n ≥ 1; a value below 1
	// is taken as 1). prev is the wait returned for failure n-1, zero for
	// the first. u is a random number drawn uniformly from [0, 1); jitter
	// draws from it, and the same arguments always give the same delay.
	Delay(n int, prev time.Duration, u float64) time.Duration
}

// Jitter names how [Exponential] spreads its delays so that many clients
// that failed together do not retry together. The zero value is
// [FullJitter]: jitter is on unless asked off.
type Jitter uint8

const (
	// FullJitter waits a uniformly random time in [0, d), where d is the
	// capped exponential delay:
	//
	//	delay = u·d
	//
	// It spreads retries the most and, across a fleet, makes the fewest
	// calls.
	FullJitter Jitter = iota
	// EqualJitter keeps half of d and spreads the other half:
	//
	//	delay = d/2 + u·d/2
	//
	// so that no wait is shorter than half the exponential.
	EqualJitter
	// DecorrelatedJitter grows from the previous delay rather than from the
	// attempt number:
	//
	//	delay = Base + u·(min(Max, 3·max(prev, Base)) − Base)
	//
	// Unlike the original formula, min(Max, random(Base, 3·prev)), the cap
	// bounds the range before the draw, so delays at the cap stay spread
	// over [Base, Max) instead of collapsing onto Max. Multiplier is not
	// used.
	DecorrelatedJitter
	// NoJitter waits exactly d, the same for every client: deterministic,
	// for tests and for callers that jitter elsewhere.
	NoJitter
)

// String returns the mode's name, such as "full".
func (j Jitter) String() string {
	switch j {
	case FullJitter:
		return "full"
	case EqualJitter:
		return "equal"
	case DecorrelatedJitter:
		return "decorrelated"
	case NoJitter:
		return "none"
	}
	return "Jitter(" + strconv.Itoa(int(j)) + ")"
}

// Defaults of [Exponential]'s zero fields.
const (
	DefaultBase       = 100 * time.Millisecond
	DefaultMultiplier = 2.0
	DefaultMax        = 10 * time.Second
)

// Exponential is exponential backoff with jitter. Before jitter, the delay
// after failure n is
//
//	d = min(Max, Base·Multiplier^(n−1))
//
// and Jitter spreads it as its mode says. A zero field takes its default
// (Base 100ms, or Max if that is less; Multiplier 2; Max 10s; FullJitter),
// so Exponential{} is a sound strategy. [Exponential.Validate] reports nonsense (negative
// durations, a multiplier below 1, a base above the cap); retry.New calls it.
//
// Delay computes in floating point and caps before converting back, so no
// attempt number, however large, overflows or gives a negative delay.
type Exponential struct {
	Base       time.Duration // first delay; default 100ms, or Max if less
	Multiplier float64       // growth per failure, at least 1; default 2
	Max        time.Duration // cap on every delay; default 10s
	Jitter     Jitter        // default FullJitter
}

// Validate reports an error if e's fields make no sense.
func (e Exponential) Validate() error {
	switch {
	case e.Base < 0:
		return errors.New("backoff: Exponential.Base is negative: " + e.Base.String())
	case e.Max < 0:
		return errors.New("backoff: Exponential.Max is negative: " + e.Max.String())
	case e.Multiplier != 0 && !(e.Multiplier >= 1) || math.IsInf(e.Multiplier, 0):
		return errors.New("backoff: Exponential.Multiplier must be a finite number of at least 1, not " +
			strconv.FormatFloat(e.Multiplier, 'g', -1, 64))
	case e.Jitter > NoJitter:
		return errors.New("backoff: unknown " + e.Jitter.String())
	}
	if base, max := e.values(); base > max {
		return errors.New("backoff: Exponential.Base " + base.String() + " is above Max " + max.String())
	}
	return nil
}

// values returns Base and Max with their defaults. The default Base is
// lowered to Max when Max is set below it.
func (e Exponential) values() (base, max time.Duration) {
	base, max = e.Base, e.Max
	if max == 0 {
		max = DefaultMax
	}
	if base == 0 {
		base = min(DefaultBase, max)
	}
	return base, max
}

// Delay returns the wait after failure n, as the type's doc comment says.
// Fields that Validate would reject are clamped to sense: negative durations
// to zero, a multiplier below 1 to 1.
func (e Exponential) Delay(n int, prev time.Duration, u float64) time.Duration {
	base, max := e.values()
	base, max = nonNegative(base), nonNegative(max)
	if base > max {
		base = max
	}
	u = unit(u)
	switch e.Jitter {
	case DecorrelatedJitter:
		upper := math.Min(float64(max), 3*math.Max(float64(prev), float64(base)))
		return clamp(float64(base)+u*(upper-float64(base)), max)
	case EqualJitter:
		d := float64(e.raw(n, base, max))
		return clamp(d/2+u*d/2, max)
	case NoJitter:
		return e.raw(n, base, max)
	default:
		return clamp(u*float64(e.raw(n, base, max)), max)
	}
}

// raw is the capped exponential before jitter.
func (e Exponential) raw(n int, base, max time.Duration) time.Duration {
	if n < 1 {
		n = 1
	}
	m := e.Multiplier
	if m == 0 {
		m = DefaultMultiplier
	}
	if !(m >= 1) || math.IsInf(m, 0) {
		m = 1
	}
	if base == 0 {
		return 0 // and not 0·Inf, a NaN, once the power overflows
	}
	return clamp(float64(base)*math.Pow(m, float64(n-1)), max)
}

// clamp converts x to a Duration in [0, max]. A NaN or anything at or above
// max gives max, so the conversion cannot overflow.
func clamp(x float64, max time.Duration) time.Duration {
	if !(x < float64(max)) {
		return max
	}
	if x <= 0 {
		return 0
	}
	return time.Duration(x)
}

// unit maps u into [0, 1).
func unit(u float64) float64 {
	if !(u > 0) {
		return 0
	}
	if u >= 1 {
		return math.Nextafter(1, 0)
	}
	return u
}

func nonNegative(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}

// Constant returns a strategy that waits d after every failure, with no
// jitter. A negative d is taken as zero.
func Constant(d time.Duration) Strategy {
	return constant(nonNegative(d))
}

type constant time.Duration

func (c constant) Delay(int, time.Duration, float64) time.Duration { return time.Duration(c) }

package breaker

import (
	"cmp"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/netresilience/resilience"
)

// Defaults of [Config]'s zero fields.
const (
	DefaultFailureThreshold = 5
	DefaultRecoveryTimeout  = 30 * time.Second
	DefaultHalfOpenProbes   = 1
	DefaultProbeTimeout     = time.Minute
	DefaultMinCalls         = 10
)

// maxCount is the largest FailureThreshold: the consecutive-failure count
// shares a word with the state and the generation.
const maxCount = 1<<countBits - 1

// maxProbes bounds HalfOpenProbes.
const maxProbes = 1<<slotBits - 1

// Config configures a [Breaker]. Each zero field means its documented
// default, so Config{} is the original design's breaker: it opens after 5
// failures in a row, probes with one call after 30s, and closes when the
// probe succeeds.
type Config struct {
	// Name names the breaker in its errors, events and snapshots.
	Name string

	// FailureThreshold is how many failures in a row open the breaker (the
	// original design's failure_threshold), at most 16,777,215 (2^24−1).
	// Successes reset the count; ignored outcomes leave it alone. Zero means
	// [DefaultFailureThreshold], 5; negative turns it off: failures in a row
	// alone never open the breaker, which then needs a FailureRate or a
	// SlowCallRate.
	FailureThreshold int

	// RecoveryTimeout is how long the breaker stays open before it admits a
	// probe (the original design's recovery_timeout). Default 30s.
	RecoveryTimeout time.Duration

	// MaxRecoveryTimeout, if set, lets the open time grow: after each failed
	// probe in a row it doubles, with jitter, up to this cap (delays spread
	// over [d/2, d), never below RecoveryTimeout). Default: no growth.
	MaxRecoveryTimeout time.Duration

	// HalfOpenProbes is how many calls the half-open breaker admits at once;
	// it closes when that many have succeeded. Default 1, at most 65,535.
	HalfOpenProbes int

	// ProbeTimeout is how long a half-open probe may go without reporting
	// before it is counted as failed, so that a permit that is never
	// returned cannot hold the breaker half-open. Zero means
	// [DefaultProbeTimeout], 1 minute; negative turns it off: a probe may
	// take as long as it takes, for calls that last longer than any bound
	// (streams), whose permits are sure to be reported.
	ProbeTimeout time.Duration

	// Window, FailureRate, SlowCall, SlowCallRate and MinCalls add
	// conditions on a sliding time window of length Window: the breaker
	// also opens when, with at least MinCalls calls in the window, failures
	// make up FailureRate or more of them, or calls that took longer than
	// SlowCall make up SlowCallRate or more. Rates are in (0, 1]; zero turns
	// a condition off. A rate needs a Window. For MinCalls, zero means
	// [DefaultMinCalls], 10; negative turns it off: the rates count from the
	// first call.
	//
	// The window keeps at most 600 buckets, each at least 100ms wide (10
	// buckets for windows under a second), so its memory does not grow with
	// the call rate and each call costs O(1). Do and Run read the clock for
	// every failure but only for every eighth success, reusing the last
	// reading in between (on some machines a clock read costs more than the
	// rest of the call): after a quiet spell up to seven successes may count
	// in a bucket that has already left the window. The forms that take the
	// time, AllowAt and DoneAt, are exact.
	Window       time.Duration
	FailureRate  float64
	SlowCall     time.Duration
	SlowCallRate float64
	MinCalls     int

	// Classifier decides what counts: transient and permanent failures count
	// as failures, ignored outcomes count as neither. Default
	// resilience.Classify. The caller's own cancellation is always ignored,
	// and a panic is always a failure.
	Classifier resilience.Classifier

	// Observer, if set, receives the breaker's events, with Kind
	// resilience.KindBreaker. StateChange comes after every change of
	// state, in the order the changes happened, outside the breaker's lock
	// (so it may call any method of the breaker), on the goroutine that
	// made the change or on one that made a later change; Attempt is the
	// new state's generation and Time when the change happened. Reject
	// comes for every call the breaker rejects, on the caller's goroutine,
	// with the rejection (an *Error) as Err, Reason "open" or "half-open
	// full", and the time until a probe is allowed as Delay. Default: none.
	Observer *resilience.Observer

	// Seed seeds the jitter of growing open times; zero picks a random
	// seed. Set it for reproducible simulations. Only New reads it:
	// Reconfigure keeps the breaker's random numbers going.
	Seed uint64

	// Shadow, if set, makes the breaker decide and report as usual but
	// admit every call: see the package documentation's "Shadow mode". A
	// change of Shadow through [Breaker.Reconfigure] takes effect with the
	// next call, so turning a breaker on after watching it is a live
	// change.
	Shadow bool
}

// validate reports the first nonsense in c.
func (c *Config) validate() error {
	neg := func(name string, d time.Duration) error {
		return errors.New("breaker: " + name + " is negative: " + d.String())
	}
	count := func(name string, n int) error {
		return errors.New("breaker: " + name + " is negative: " + strconv.Itoa(n))
	}
	rate := func(name string, r float64) error {
		if r < 0 || r > 1 || math.IsNaN(r) {
			return errors.New("breaker: " + name + " must be in (0, 1], or 0 for off; not " + strconv.FormatFloat(r, 'g', -1, 64))
		}
		return nil
	}
	switch {
	case c.FailureThreshold > maxCount:
		return errors.New("breaker: FailureThreshold is above " + strconv.Itoa(maxCount))
	case c.HalfOpenProbes < 0:
		return count("HalfOpenProbes", c.HalfOpenProbes)
	case c.HalfOpenProbes > maxProbes:
		return errors.New("breaker: HalfOpenProbes is above " + strconv.Itoa(maxProbes))
	case c.RecoveryTimeout < 0:
		return neg("RecoveryTimeout", c.RecoveryTimeout)
	case c.MaxRecoveryTimeout < 0:
		return neg("MaxRecoveryTimeout", c.MaxRecoveryTimeout)
	case c.Window < 0:
		return neg("Window", c.Window)
	case c.SlowCall < 0:
		return neg("SlowCall", c.SlowCall)
	}
	if err := rate("FailureRate", c.FailureRate); err != nil {
		return err
	}
	if err := rate("SlowCallRate", c.SlowCallRate); err != nil {
		return err
	}
	rates := c.FailureRate > 0 || c.SlowCallRate > 0
	switch {
	case rates && c.Window == 0:
		return errors.New("breaker: FailureRate and SlowCallRate need a Window")
	case c.Window > 0 && !rates:
		return errors.New("breaker: Window is set but neither FailureRate nor SlowCallRate is")
	case c.SlowCallRate > 0 && c.SlowCall == 0:
		return errors.New("breaker: SlowCallRate needs SlowCall, the duration above which a call is slow")
	case c.SlowCall > 0 && c.SlowCallRate == 0:
		return errors.New("breaker: SlowCall is set but SlowCallRate is not")
	case c.MinCalls != 0 && !rates:
		return errors.New("breaker: MinCalls is set but neither FailureRate nor SlowCallRate is")
	case c.FailureThreshold < 0 && !rates:
		return errors.New("breaker: FailureThreshold is off but neither FailureRate nor SlowCallRate is set: the breaker would never open")
	}
	if c.MaxRecoveryTimeout != 0 {
		recovery := c.RecoveryTimeout
		if recovery == 0 {
			recovery = DefaultRecoveryTimeout
		}
		if c.MaxRecoveryTimeout < recovery {
			return errors.New("breaker: MaxRecoveryTimeout " + c.MaxRecoveryTimeout.String() +
				" is below RecoveryTimeout " + recovery.String())
		}
	}
	return nil
}

// settings is a Config as the breaker uses it, defaults filled in: made by
// New and by Reconfigure, then read-only.
type settings struct {
	cfg          Config // as given
	name         string
	threshold    uint64
	recovery     int64 // nanoseconds
	maxRecovery  int64
	probeTimeout int64 // 0: off
	probes       int
	slowCall     int64
	failureRate  float64
	slowRate     float64
	minCalls     uint64
	window       time.Duration // 0: no window
	classify     resilience.Classifier
	obs          *resilience.Observer
	windowed     bool  // a window is kept
	timed        bool  // calls are timed (slow-call detection)
	timedSince   int64 // tickets issued before are not timed
	lockFree     bool  // closed-state successes need no lock: !windowed && !timed
	shadow       bool
	fullErr      *Error // returned by half-open rejections
}

// newSettings returns the settings of a valid cfg; timedSince is when
// slow-call detection began, if cfg turns it on.
func newSettings(cfg Config, timedSince int64) *settings {
	s := &settings{
		cfg:          cfg,
		name:         cfg.Name,
		threshold:    uint64(cmp.Or(cfg.FailureThreshold, DefaultFailureThreshold)),
		recovery:     int64(cmp.Or(cfg.RecoveryTimeout, DefaultRecoveryTimeout)),
		maxRecovery:  int64(cfg.MaxRecoveryTimeout),
		probeTimeout: int64(cmp.Or(cfg.ProbeTimeout, DefaultProbeTimeout)),
		probes:       cmp.Or(cfg.HalfOpenProbes, DefaultHalfOpenProbes),
		slowCall:     int64(cfg.SlowCall),
		failureRate:  cfg.FailureRate,
		slowRate:     cfg.SlowCallRate,
		window:       cfg.Window,
		obs:          cfg.Observer,
		timedSince:   timedSince,
		shadow:       cfg.Shadow,
		fullErr:      &Error{Name: cfg.Name, State: HalfOpen},
	}
	s.classify = cfg.Classifier
	if s.classify == nil {
		s.classify = resilience.Classify
	}
	if cfg.FailureThreshold < 0 {
		s.threshold = math.MaxUint64 // off: no count of failures reaches it
	}
	if cfg.ProbeTimeout < 0 {
		s.probeTimeout = 0 // off
	}
	if cfg.Window > 0 {
		s.windowed = true
		s.minCalls = uint64(max(cmp.Or(cfg.MinCalls, DefaultMinCalls), 0)) // off: no minimum
	}
	s.timed = s.slowCall > 0
	s.lockFree = !s.windowed && !s.timed
	return s
}

// WithDefaults returns c with each zero field that has a default set to it:
// the values a breaker made from c uses. Fields turned off (negative) stay
// as they are, as do those whose zero means none (MaxRecoveryTimeout,
// Window and what goes with it, Observer, Seed).
func (c Config) WithDefaults() Config {
	c.FailureThreshold = cmp.Or(c.FailureThreshold, DefaultFailureThreshold)
	c.RecoveryTimeout = cmp.Or(c.RecoveryTimeout, DefaultRecoveryTimeout)
	c.HalfOpenProbes = cmp.Or(c.HalfOpenProbes, DefaultHalfOpenProbes)
	c.ProbeTimeout = cmp.Or(c.ProbeTimeout, DefaultProbeTimeout)
	if c.Window > 0 {
		c.MinCalls = cmp.Or(c.MinCalls, DefaultMinCalls)
	}
	if c.Classifier == nil {
		c.Classifier = resilience.Classify
	}
	return c
}

package throttle

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
	// DefaultK is the SRE book's multiplier: the client keeps sending until
	// the backend receives about twice what it accepts.
	DefaultK = 2
	// DefaultWindow is the SRE book's history of two minutes.
	DefaultWindow = 2 * time.Minute
	// DefaultMinRequests is how many requests the window must hold before
	// the throttle rejects anything.
	DefaultMinRequests = 10
)

// MaxWindow is the longest Window: a throttle that remembers a day cannot
// react to an overload in time, and longer windows would overflow the
// arithmetic on times.
const MaxWindow = 24 * time.Hour

// Config configures a [Throttle]. Each zero field means its documented
// default, so Config{} is the SRE book's throttle: K = 2 over a sliding
// window of two minutes, with no rejection until the window holds 10
// requests. New copies what it needs; changing a Config afterwards changes
// nothing.
type Config struct {
	// Name names the throttle in its errors, events and snapshots.
	Name string

	// K is the multiplier of the formula
	//
	//	p = max(0, (requests − K·accepts) / (requests + 1))
	//
	// the client sends until the backend receives about K times what it
	// accepts, and rejects the rest locally. Lower is more aggressive: K = 1
	// rejects as soon as any request in the window failed; larger K lets
	// more doomed requests through but reacts later. Default 2. K must be
	// at least 1: below it, a healthy backend that accepts everything would
	// be throttled.
	K float64

	// Window is how long requests and accepts are remembered. Default 2m,
	// at most [MaxWindow]. The longer it is, the steadier the probability,
	// and the longer the throttle takes to forget an overload once the
	// backend has recovered.
	//
	// The window keeps at most 600 buckets, each at least 100ms wide (10
	// buckets for windows under a second), so its memory does not grow with
	// the call rate. Do and Run read the clock for every failure and for
	// every decision that may reject, but only for every eighth success,
	// reusing the last reading in between (on some machines a clock read
	// costs more than the rest of the call). So after a quiet spell up to
	// seven successes may be counted in a bucket that has already left the
	// window, and up to seven calls may be admitted at once, on the last
	// reading, though old accepts leaving the window have since raised the
	// probability from 0. No call is rejected on an old reading. The forms
	// that take the time, AllowAt and DoneAt, are exact.
	Window time.Duration

	// MinRequests is how many requests the window must hold before the
	// throttle rejects any: below it the probability is 0. Local rejections
	// count as requests, so once the throttle rejects, its own rejections
	// keep it above the minimum. Zero means [DefaultMinRequests], 10;
	// negative turns it off, which gives the book's formula alone: it
	// rejects half the calls after a single failure.
	MinRequests int

	// MaxRejectProbability, if set, caps the rejection probability, in
	// (0, 1]. Default: no cap but the formula's own, which stays below 1 —
	// when the backend accepts nothing, the client still sends about one
	// request per Window, enough to notice its recovery. A cap such as 0.9
	// notices a recovery sooner at the price of sending a tenth of the
	// demand to a backend that is down.
	MaxRejectProbability float64

	// Classifier decides what the backend accepted: successes and what it
	// calls permanent failures are accepts (the backend processed the
	// request; a 400 says nothing of overload), transient failures are not
	// (the backend could not take the request), and ignored outcomes count
	// as nothing, neither request nor accept. Default resilience.Classify.
	// The caller's own cancellation is always ignored, and a panic is always
	// a request that was not accepted.
	Classifier resilience.Classifier

	// Observer, if set, receives a Reject event, with Kind
	// resilience.KindThrottle and Reason "throttled", after every local
	// rejection, outside the throttle's lock (so it may call any method of
	// the throttle), on the goroutine of the rejected call: its Probability
	// is the exact rejection probability the call was refused at, its Err
	// the rejection (an *Error), and its Time when, on the throttle's
	// clock. Default: none.
	Observer *resilience.Observer

	// Seed, if not zero, seeds the random numbers that Do, Run, Allow and
	// Enter draw to decide, so that a simulation that makes the same calls in
	// the same order gets the same rejections. Zero draws from
	// math/rand/v2's generator. AllowAt takes its random number as an
	// argument and draws none. Only New reads it: Reconfigure keeps the
	// throttle's random numbers going.
	Seed uint64

	// Shadow, if set, makes the throttle decide and report as usual but
	// admit every call: see the package documentation's "Shadow mode". A
	// change of Shadow through [Throttle.Reconfigure] takes effect with the
	// next call.
	Shadow bool
}

// validate reports the first nonsense in c.
func (c *Config) validate() error {
	switch {
	case c.K != 0 && !(c.K >= 1) || math.IsInf(c.K, 1):
		return errors.New("throttle: K must be at least 1 and finite, or 0 for the default 2; not " + formatFloat(c.K))
	case c.Window < 0:
		return errors.New("throttle: Window is negative: " + c.Window.String())
	case c.Window > MaxWindow:
		return errors.New("throttle: Window " + c.Window.String() + " is above " + MaxWindow.String())
	case c.MaxRejectProbability < 0 || c.MaxRejectProbability > 1 || math.IsNaN(c.MaxRejectProbability):
		return errors.New("throttle: MaxRejectProbability must be in (0, 1], or 0 for no cap; not " + formatFloat(c.MaxRejectProbability))
	}
	return nil
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// settings is a Config as the throttle uses it, defaults filled in: made by
// New and by Reconfigure, then read-only.
type settings struct {
	cfg         Config // as given
	name        string
	k           float64
	minRequests uint64
	maxP        float64
	window      time.Duration
	classify    resilience.Classifier
	obs         *resilience.Observer
	shadow      bool
	errs        []Error
}

// newSettings returns the settings of a valid cfg.
func newSettings(cfg Config) *settings {
	s := &settings{
		cfg:         cfg,
		name:        cfg.Name,
		k:           cmp.Or(cfg.K, DefaultK),
		minRequests: uint64(max(cmp.Or(cfg.MinRequests, DefaultMinRequests), 0)), // negative: off
		maxP:        cmp.Or(cfg.MaxRejectProbability, 1),
		window:      cmp.Or(cfg.Window, DefaultWindow),
		classify:    cfg.Classifier,
		obs:         cfg.Observer,
		shadow:      cfg.Shadow,
		errs:        newErrors(cfg.Name),
	}
	if s.classify == nil {
		s.classify = resilience.Classify
	}
	return s
}

// WithDefaults returns c with each zero field that has a default set to it:
// the values a throttle made from c uses. MinRequests stays negative if it
// is turned off; MaxRejectProbability and Seed stay zero.
func (c Config) WithDefaults() Config {
	c.K = cmp.Or(c.K, DefaultK)
	c.Window = cmp.Or(c.Window, DefaultWindow)
	c.MinRequests = cmp.Or(c.MinRequests, DefaultMinRequests)
	if c.Classifier == nil {
		c.Classifier = resilience.Classify
	}
	return c
}

package adaptive

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/netresilience/resilience"
)

// Algorithm names the rule that moves a [Limiter]'s limit. The zero
// Algorithm is [AIMD].
type Algorithm uint8

const (
	// AIMD raises the limit by a step for every round of calls that used
	// it and cuts it by a factor when a call is dropped: a transient failure
	// (a timeout, a reset, a 503) or, with [AIMDConfig].Timeout set, a call
	// slower than that. It reads failures, not latency: the choice for a
	// client in front of a service that says when it is overloaded.
	AIMD Algorithm = iota
	// Gradient compares the latency of short windows with a baseline of
	// the latency without load, and sets the limit to what the ratio says
	// the service can take: the choice for a server, or for a client of a
	// service that slows down before it fails. See the package
	// documentation for its formulas and what keeps its baseline from
	// drifting.
	Gradient
)

// String returns "aimd" or "gradient".
func (a Algorithm) String() string {
	switch a {
	case AIMD:
		return "aimd"
	case Gradient:
		return "gradient"
	}
	return "Algorithm(" + strconv.Itoa(int(a)) + ")"
}

// MarshalText returns the algorithm's name, "aimd" or "gradient", so that
// a Snapshot or Config in JSON names it; an unknown algorithm is an error.
func (a Algorithm) MarshalText() ([]byte, error) {
	if a > Gradient {
		return nil, errors.New("adaptive: unknown " + a.String())
	}
	return []byte(a.String()), nil
}

// UnmarshalText sets a from its name, "aimd" or "gradient".
func (a *Algorithm) UnmarshalText(text []byte) error {
	switch string(text) {
	case "aimd":
		*a = AIMD
	case "gradient":
		*a = Gradient
	default:
		return errors.New("adaptive: unknown algorithm " + strconv.Quote(string(text)) + ": want aimd or gradient")
	}
	return nil
}

// Defaults of a [Config].
const (
	DefaultInitial = 20   // Config.Initial
	DefaultMin     = 1    // Config.Min
	DefaultMax     = 1000 // Config.Max

	DefaultIncrease = 1.0 // AIMDConfig.Increase
	DefaultBackoff  = 0.9 // AIMDConfig.Backoff

	DefaultWindow         = 100 * time.Millisecond // GradientConfig.Window
	DefaultWindowSamples  = 250                    // GradientConfig.WindowSamples
	DefaultMinSamples     = 10                     // GradientConfig.MinSamples
	DefaultTolerance      = 1.2                    // GradientConfig.Tolerance
	DefaultSmoothing      = 0.5                    // GradientConfig.Smoothing
	DefaultBaselinePeriod = 10 * time.Second       // GradientConfig.BaselinePeriod
)

// maxLimit is the largest Max: far above any concurrency a process runs,
// and exact as a float64.
const maxLimit = 1 << 30

// Config configures a [Limiter]. Each zero field means its documented
// default, so Config{} is an AIMD limiter that starts at 20 calls, moves
// between 1 and 1000, and rejects at once when the limit is reached. New
// copies what it needs: changing a Config after New has no effect.
type Config struct {
	// Name names the limiter in its errors, events and snapshots.
	Name string

	// Algorithm is the rule that moves the limit. Default [AIMD].
	Algorithm Algorithm

	// Initial is the limit the limiter starts at. Default
	// [DefaultInitial], 20, or Min or Max if 20 lies outside them. Choose
	// one the service surely takes: the Gradient algorithm's first
	// baseline comes from the first window.
	Initial int

	// Min and Max bound the limit: it never leaves [Min, Max]. Defaults
	// [DefaultMin], 1, and [DefaultMax], 1000 (or Initial or Min, if
	// larger).
	Min, Max int

	// AIMD tunes the AIMD algorithm; it is ignored by the others.
	AIMD AIMDConfig

	// Gradient tunes the Gradient algorithm; it is ignored by the others.
	Gradient GradientConfig

	// Classify sorts the errors of calls, as Exit and Permit.Release report
	// them: a transient error counts as a drop, the sign of overload; a
	// permanent one as a normal answer, whose latency counts; an ignored
	// one (a local rejection by a policy inside this one) not at all.
	// Default resilience.Classify. A call that panicked, or whose caller's
	// context was canceled, counts not at all either.
	Classify resilience.Classifier

	// MaxWait is how long a call may wait for room when the limit is
	// reached. Zero, the default, means no waiting: such a call is
	// rejected at once. A wait also ends when the caller's context is done.
	MaxWait time.Duration

	// MaxQueue is how many callers may wait at once; a caller that finds
	// the queue full is rejected at once. It needs MaxWait. Zero means the
	// limit at the time of the call; negative means no bound (up to 2^30).
	MaxQueue int

	// Priorities turns on shedding by priority: a call of priority p (see
	// [WithPriority]) is admitted only while fewer than Limit × Shares[p]
	// calls are in flight, so that near the limit the lower priorities are
	// refused first. Without it every call may fill the whole limit.
	Priorities bool

	// Shares is, for each [Priority] from [Low] (index 0) to [Critical]
	// (index 3), the share of the limit that calls of that priority may
	// fill. It needs Priorities. Zeros take the defaults 0.5, 0.75, 0.9
	// and 1; each share must lie in (0, 1] and none may be above the next.
	Shares [NumPriorities]float64

	// Observer, if set, receives the limiter's events, with Kind
	// resilience.KindAdaptive, on the caller's goroutine and outside the
	// limiter's lock: Admit for every admitted call, with how long it
	// waited as Delay; Reject for every rejected call, with the rejection
	// (an *Error) as Err, its Reason's String as Reason and how long it
	// waited as Delay; StateChange when the limit has changed, at most
	// once a second of the limiter's time (with the first call that ends
	// after that second), with the old and new limits as From and To and
	// the new one as Attempt, and Shadow set if the limiter is in shadow
	// mode. Default: none.
	Observer *resilience.Observer

	// Shadow, if set, makes the limiter learn its limit and report what it
	// would have rejected, but admit every call at once, never blocking
	// nor queueing: a way to watch the limit it finds before enforcing it.
	// A call it would have rejected at once comes as a Reject event with
	// Shadow set and counts in Snapshot.ShadowRejected; one that would
	// have waited is admitted without a report. A Gradient limiter's
	// probes cap nothing in shadow mode, so its baseline is measured only
	// when the load leaves half the limit free.
	Shadow bool
}

// AIMDConfig tunes the [AIMD] algorithm. Zero fields mean their defaults.
type AIMDConfig struct {
	// Increase is how much the limit grows over one round of calls that
	// used it (a round is as many calls as the limit): each such call adds
	// Increase/limit. Default [DefaultIncrease], 1.
	Increase float64

	// Backoff is the factor that a drop multiplies the limit by, in (0, 1).
	// Default [DefaultBackoff], 0.9.
	Backoff float64

	// Timeout, if positive, makes a call slower than it count as a drop,
	// whatever it returned. Default 0: only transient failures are drops.
	Timeout time.Duration
}

// GradientConfig tunes the [Gradient] algorithm. Zero fields mean their
// defaults.
type GradientConfig struct {
	// Window is the shortest span of one window of samples, unless
	// WindowSamples come first. Default [DefaultWindow], 100ms.
	Window time.Duration

	// WindowSamples closes a window as soon as it holds that many samples,
	// even before Window has passed. Default [DefaultWindowSamples], 250.
	WindowSamples int

	// MinSamples is the fewest samples a window is judged on (a window
	// with fewer stays open past Window), and the fewest uncongested calls
	// the baseline is taken from. Default [DefaultMinSamples], 10, or
	// WindowSamples if smaller.
	MinSamples int

	// Tolerance is how many times the baseline a window's mean latency may
	// reach before the limit comes down, in [1, 2): the limit settles near
	// Tolerance times the service's capacity. Default
	// [DefaultTolerance], 1.2.
	Tolerance float64

	// Smoothing is the weight, in (0, 1], of each window's new limit
	// against the old one. Default [DefaultSmoothing], 0.5.
	Smoothing float64

	// BaselinePeriod is how often the baseline is taken afresh from
	// calls admitted with the limiter at most half full, and how often,
	// if there were too few, the limiter probes for such calls. Default
	// [DefaultBaselinePeriod], 10s; at least Window.
	BaselinePeriod time.Duration
}

// WithDefaults returns c with each zero field that has a default set to it:
// the values a limiter made from c uses.
func (c Config) WithDefaults() Config {
	if c.Min == 0 {
		c.Min = DefaultMin
	}
	if c.Max == 0 {
		c.Max = max(DefaultMax, c.Initial, c.Min)
	}
	if c.Initial == 0 {
		c.Initial = min(max(DefaultInitial, c.Min), c.Max)
	}
	if c.Classify == nil {
		c.Classify = resilience.Classify
	}
	if c.Priorities {
		for p, d := range defaultShares {
			if c.Shares[p] == 0 {
				c.Shares[p] = d
			}
		}
	}
	a := &c.AIMD
	if a.Increase == 0 {
		a.Increase = DefaultIncrease
	}
	if a.Backoff == 0 {
		a.Backoff = DefaultBackoff
	}
	g := &c.Gradient
	if g.Window == 0 {
		g.Window = DefaultWindow
	}
	if g.WindowSamples == 0 {
		g.WindowSamples = DefaultWindowSamples
	}
	if g.MinSamples == 0 {
		g.MinSamples = min(DefaultMinSamples, g.WindowSamples)
	}
	if g.Tolerance == 0 {
		g.Tolerance = DefaultTolerance
	}
	if g.Smoothing == 0 {
		g.Smoothing = DefaultSmoothing
	}
	if g.BaselinePeriod == 0 {
		g.BaselinePeriod = max(DefaultBaselinePeriod, g.Window)
	}
	return c
}

// defaultShares are the Shares of a Config with Priorities and no Shares.
var defaultShares = [NumPriorities]float64{0.5, 0.75, 0.9, 1}

// validate reports the first nonsense in c.
func (c *Config) validate() error {
	bad := func(msg string) error { return errors.New("adaptive: " + msg) }
	itoa := strconv.Itoa
	ftoa := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	switch {
	case c.Algorithm > Gradient:
		return bad("unknown Algorithm " + c.Algorithm.String())
	case c.Initial < 0, c.Min < 0, c.Max < 0:
		return bad("Initial, Min and Max must not be negative: " + itoa(c.Initial) + ", " + itoa(c.Min) + ", " + itoa(c.Max))
	case c.Max > maxLimit, c.Initial > maxLimit, c.Min > maxLimit:
		return bad("Initial, Min and Max must be at most " + itoa(maxLimit))
	case c.MaxWait < 0:
		return bad("MaxWait is negative: " + c.MaxWait.String())
	case c.MaxQueue > maxLimit:
		return bad("MaxQueue is above " + itoa(maxLimit) + ": " + itoa(c.MaxQueue))
	case c.MaxQueue != 0 && c.MaxWait == 0:
		return bad("MaxQueue is set but MaxWait is not: with no wait allowed, nobody queues")
	}
	d := c.WithDefaults()
	switch {
	case d.Min > d.Max:
		return bad("Min " + itoa(d.Min) + " is above Max " + itoa(d.Max))
	case d.Initial < d.Min || d.Initial > d.Max:
		return bad("Initial " + itoa(d.Initial) + " is outside [Min, Max] = [" + itoa(d.Min) + ", " + itoa(d.Max) + "]")
	}
	if !c.Priorities && c.Shares != ([NumPriorities]float64{}) {
		return bad("Shares is set but Priorities is not")
	}
	for p := range d.Shares {
		if !c.Priorities {
			break
		}
		s := d.Shares[p]
		if !(s > 0 && s <= 1) {
			return bad("Shares[" + itoa(p) + "] must lie in (0, 1]: " + ftoa(s))
		}
		if p > 0 && s < d.Shares[p-1] {
			return bad("Shares[" + itoa(p) + "] is below Shares[" + itoa(p-1) + "]: a higher priority must not get a smaller share")
		}
	}
	a := d.AIMD
	switch {
	case !(a.Increase > 0) || math.IsInf(a.Increase, 0):
		return bad("AIMD.Increase must be positive and finite: " + ftoa(a.Increase))
	case !(a.Backoff > 0 && a.Backoff < 1):
		return bad("AIMD.Backoff must lie in (0, 1): " + ftoa(a.Backoff))
	case a.Timeout < 0:
		return bad("AIMD.Timeout is negative: " + a.Timeout.String())
	}
	g := d.Gradient
	switch {
	case g.Window < 0:
		return bad("Gradient.Window is negative: " + g.Window.String())
	case g.WindowSamples < 0 || g.MinSamples < 0:
		return bad("Gradient.WindowSamples and MinSamples must not be negative")
	case g.MinSamples > g.WindowSamples:
		return bad("Gradient.MinSamples " + itoa(g.MinSamples) + " is above WindowSamples " + itoa(g.WindowSamples))
	case !(g.Tolerance >= 1 && g.Tolerance < 2):
		return bad("Gradient.Tolerance must lie in [1, 2): " + ftoa(g.Tolerance))
	case !(g.Smoothing > 0 && g.Smoothing <= 1):
		return bad("Gradient.Smoothing must lie in (0, 1]: " + ftoa(g.Smoothing))
	case g.BaselinePeriod < 0:
		return bad("Gradient.BaselinePeriod is negative: " + g.BaselinePeriod.String())
	case g.BaselinePeriod < g.Window:
		return bad("Gradient.BaselinePeriod " + g.BaselinePeriod.String() + " is shorter than Window " + g.Window.String())
	}
	return nil
}

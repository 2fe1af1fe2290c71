package budget

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/internal/clock"
	"github.com/netresilience/resilience/internal/observe"
	"github.com/netresilience/resilience/internal/window"
)

// Defaults of [Config]'s zero fields.
const (
	DefaultRatio        = 0.1
	DefaultMinPerSecond = 10.0
	DefaultWindow       = 10 * time.Second
)

// ErrExhausted matches the error of a retry policy that stopped because its
// budget was spent:
//
//	if errors.Is(err, budget.ErrExhausted) { ... }
var ErrExhausted = errors.New("budget: retry budget exhausted")

// Config configures a [Budget]. Each zero field means its documented
// default, so Config{} lets retries spend 10% of the calls of the last 10s,
// or 10 retries a second, whichever allows more; Config{MinPerSecond: -1}
// lets them spend 10% of the calls and nothing more.
type Config struct {
	// Name names the budget in its events and snapshots.
	Name string
	// Ratio is the share of recent calls that retries may add, in (0, 1].
	// Zero means [DefaultRatio], 0.1; negative turns it off: retries are
	// allowed at MinPerSecond alone, however many calls there are.
	Ratio float64
	// MinPerSecond is the floor: retries a second that are allowed however
	// little traffic there is. Zero means [DefaultMinPerSecond], 10;
	// negative turns it off: retries are allowed by Ratio alone. However
	// large it is, or Ratio's share, the budget holds at most a billion
	// retries. Ratio and MinPerSecond cannot both be off.
	MinPerSecond float64
	// Window is how long a call or a retry counts. Default 10s.
	Window time.Duration
	// Shadow, if set, makes the budget count and report the retries it
	// would have refused but allow them: see the package documentation's
	// "Shadow mode". A change of Shadow through [Budget.Reconfigure] takes
	// effect with the next retry.
	Shadow bool
	// Observer, if set, receives a Reject event, with Kind
	// resilience.KindBudget, Reason "exhausted" and ErrExhausted as Err,
	// for every retry or hedge the budget refuses, on the goroutine that
	// asked and outside the budget's lock. The policy that asked reports
	// the refusal too (a retry policy's GiveUp, a hedger's Reject), with
	// the call's context; this event has none. Default: none.
	Observer *resilience.Observer
}

// Budget is a retry budget. Make one with [New]; share it between the
// policies that call one service. It is safe for concurrent use. The zero
// Budget is not valid; a nil *Budget allows every retry and counts nothing.
type Budget struct {
	clock *clock.Clock // set by New, then read-only

	// cf is what the Config says, as the budget uses it: replaced whole,
	// under mu, by Reconfigure.
	cf atomic.Pointer[settings]

	pending   atomic.Uint64 // deposits not yet in the window
	exhausted atomic.Uint64 // withdrawals refused since New
	shadowed  atomic.Uint64 // withdrawals a shadow budget would have refused

	mu  sync.Mutex
	win *window.Window // Counts[0]: deposits, Counts[1]: withdrawals
	// tokens are the retries allowed now, in units (a billionth of a
	// retry, so that sums are exact): they accrue with deposits and time,
	// and never exceed what the window still allows.
	tokens  int64
	last    int64 // when tokens last accrued
	started bool  // last is set

	deposited uint64 // deposits moved into the window since New
	withdrawn uint64 // withdrawals allowed (and counted) since New
	granted   bool   // a grant is set: it alone decides withdrawals
	grant     int64  // retries the grant still allows
}

// unit is one retry, counted in tokens.
const unit = 1_000_000_000

// maxUnits bounds token counts far below overflow: a billion retries.
const maxUnits = 1e9 * unit

// flushEvery is how many deposits wait in the atomic counter before one of
// them takes the lock and moves them into the window.
const flushEvery = 8

// settings is a Config as the budget uses it, defaults filled in: made by
// New and by Reconfigure, then read-only.
type settings struct {
	cfg       Config // as given
	name      string
	ratio     float64
	floor     float64 // retries allowed per window by MinPerSecond
	perSecond float64 // MinPerSecond
	perCall   int64   // Ratio, in units
	window    time.Duration
	obs       *resilience.Observer
	shadow    bool
}

// validate reports the first nonsense in c.
func (cfg *Config) validate() error {
	switch {
	case math.IsNaN(cfg.Ratio) || cfg.Ratio > 1:
		return errors.New("budget: Ratio must be in (0, 1], 0 for the default or negative for none; not " + strconv.FormatFloat(cfg.Ratio, 'g', -1, 64))
	case math.IsNaN(cfg.MinPerSecond) || math.IsInf(cfg.MinPerSecond, 1):
		return errors.New("budget: MinPerSecond must be finite, 0 for the default or negative for none; not " + strconv.FormatFloat(cfg.MinPerSecond, 'g', -1, 64))
	case cfg.Ratio < 0 && cfg.MinPerSecond < 0:
		return errors.New("budget: Ratio and MinPerSecond are both off: the budget would allow no retry")
	case cfg.Window < 0:
		return errors.New("budget: Window is negative: " + cfg.Window.String())
	}
	return nil
}

// newSettings returns the settings of a valid cfg.
func newSettings(cfg Config) *settings {
	ratio, perSecond, length := cfg.Ratio, cfg.MinPerSecond, cfg.Window
	switch {
	case ratio == 0:
		ratio = DefaultRatio
	case ratio < 0:
		ratio = 0 // off
	}
	switch {
	case perSecond == 0:
		perSecond = DefaultMinPerSecond
	case perSecond < 0:
		perSecond = 0 // off
	}
	if length == 0 {
		length = DefaultWindow
	}
	return &settings{
		cfg:       cfg,
		name:      cfg.Name,
		ratio:     ratio,
		floor:     perSecond * length.Seconds(),
		perSecond: perSecond,
		perCall:   int64(math.Round(ratio * unit)),
		window:    length,
		obs:       cfg.Observer,
		shadow:    cfg.Shadow,
	}
}

// WithDefaults returns c with each zero field that has a default set to it:
// the values a budget made from c uses. Fields turned off (negative) stay
// as they are.
func (c Config) WithDefaults() Config {
	if c.Ratio == 0 {
		c.Ratio = DefaultRatio
	}
	if c.MinPerSecond == 0 {
		c.MinPerSecond = DefaultMinPerSecond
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	return c
}

// New returns a Budget configured by cfg, or an error if a field makes no
// sense.
func New(cfg Config) (*Budget, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cf := newSettings(cfg)
	b := &Budget{
		clock:  clock.New(),
		win:    window.New(cf.window),
		tokens: toUnits(cf.floor),
	}
	b.cf.Store(cf)
	return b, nil
}

// MustNew is [New] for configurations known to be valid; it panics on an
// invalid one.
func MustNew(cfg Config) *Budget {
	b, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return b
}

// Deposit counts one call (a first attempt) now.
func (b *Budget) Deposit() {
	if b == nil {
		return
	}
	if b.pending.Add(1)%flushEvery != 0 {
		return
	}
	b.mu.Lock()
	b.flushLocked(b.clock.Now())
	b.mu.Unlock()
}

// DepositAt counts one call at the time now, for virtual time.
func (b *Budget) DepositAt(now time.Time) {
	if b == nil {
		return
	}
	n := b.clock.From(now)
	b.mu.Lock()
	b.accrueLocked(n, b.pending.Swap(0)+1)
	b.mu.Unlock()
}

// Withdraw asks to spend one retry now, and spends it if the budget allows.
func (b *Budget) Withdraw() bool {
	if b == nil {
		return true
	}
	return b.withdraw(b.clock.Now())
}

// WithdrawAt is [Budget.Withdraw] at the time now, for virtual time.
func (b *Budget) WithdrawAt(now time.Time) bool {
	if b == nil {
		return true
	}
	return b.withdraw(b.clock.From(now))
}

func (b *Budget) withdraw(now int64) bool {
	b.mu.Lock()
	cf := b.cf.Load()
	ok := b.withdrawLocked(cf, now)
	b.mu.Unlock()
	if !ok && cf.obs != nil && cf.obs.Reject != nil {
		observe.Call(cf.obs.Reject, resilience.Event{
			Type:    resilience.EventReject,
			Kind:    resilience.KindBudget,
			Policy:  cf.name,
			Context: context.Background(),
			Time:    b.clock.Time(now),
			Err:     ErrExhausted,
			Reason:  "exhausted",
			Shadow:  cf.shadow,
		})
	}
	return ok || cf.shadow
}

func (b *Budget) withdrawLocked(cf *settings, now int64) bool {
	b.flushLocked(now)
	var ok bool
	if b.granted {
		ok = b.grant > 0
		if ok {
			b.grant--
		}
	} else {
		b.tokens = b.capLocked(now)
		ok = b.tokens >= unit
		if ok {
			b.tokens -= unit
		}
	}
	if !ok {
		if cf.shadow {
			b.shadowed.Add(1)
		} else {
			b.exhausted.Add(1)
		}
		return false
	}
	b.withdrawn++
	b.win.Add(now, window.Counts{0, 1, 0})
	return true
}

// flushLocked moves the pending deposits into the window at now, and
// brings the tokens up to now.
func (b *Budget) flushLocked(now int64) {
	b.accrueLocked(now, b.pending.Swap(0))
}

// accrueLocked counts n deposits at now and brings the tokens up to now:
// Ratio of a retry for each deposit, or MinPerSecond for the time since the
// last accrual, whichever gives more. So retries are allowed as calls come
// in, evenly, rather than all at once when earlier retries leave the window.
// The cap, what the window still allows, is applied when a retry asks
// (capLocked), which keeps deposits cheap: every ask under a long outage
// applies it, so the tokens cannot pile up while the window is full.
func (b *Budget) accrueLocked(now int64, n uint64) {
	if n > 0 {
		b.win.Add(now, window.Counts{n, 0, 0})
		b.deposited += n
	}
	var elapsed int64
	if b.started && now > b.last {
		elapsed = clock.Elapsed(b.last, now)
	}
	if !b.started || now > b.last {
		b.started, b.last = true, now
	}
	// MinPerSecond retries a second is MinPerSecond units a nanosecond.
	cf := b.cf.Load()
	add := int64(min(n, 1<<32)) * cf.perCall
	if elapsed > 0 {
		add = max(add, toUnits(cf.perSecond*float64(elapsed)/unit))
	}
	b.tokens = min(b.tokens+add, maxUnits)
}

// capLocked returns the tokens, capped at what the window allows at now.
func (b *Budget) capLocked(now int64) int64 {
	return min(b.tokens, max(b.windowLocked(now), 0))
}

// windowLocked is how many retries the window still allows, in units: Ratio
// of its deposits, or the floor, whichever is more, less its withdrawals.
func (b *Budget) windowLocked(now int64) int64 {
	t := b.win.Totals(now)
	cf := b.cf.Load()
	return toUnits(max(cf.ratio*float64(t[0]), cf.floor)) - toUnits(float64(t[1]))
}

// toUnits converts a number of retries to units, rounded, and at most
// maxUnits.
func toUnits(retries float64) int64 {
	return int64(math.Round(min(retries, maxUnits/unit) * unit))
}

// Snapshot is a budget's counts at one moment, for metrics: a plain value,
// whose zero value is the snapshot of a nil *Budget.
type Snapshot struct {
	Name      string  // the budget's name
	Calls     int     // deposits in the window
	Retries   int     // withdrawals in the window
	Balance   float64 // retries allowed now (the tokens); below 1, none
	Exhausted uint64  // retries refused since New
	Ratio     float64 // the share of recent calls that retries may add
	Floor     float64 // retries per window allowed whatever the traffic

	// Shadow says the budget is in shadow mode, and ShadowExhausted counts
	// the retries it would have refused in shadow mode since New, and
	// allowed.
	Shadow          bool
	ShadowExhausted uint64
}

// Snapshot returns the budget's counts now.
func (b *Budget) Snapshot() Snapshot {
	if b == nil {
		return Snapshot{}
	}
	return b.snapshot(b.clock.Now())
}

// SnapshotAt is [Budget.Snapshot] at the time now, for virtual time.
func (b *Budget) SnapshotAt(now time.Time) Snapshot {
	if b == nil {
		return Snapshot{}
	}
	return b.snapshot(b.clock.From(now))
}

func (b *Budget) snapshot(now int64) Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked(now)
	t := b.win.Totals(now)
	cf := b.cf.Load()
	return Snapshot{
		Name:            cf.name,
		Calls:           int(t[0]),
		Retries:         int(t[1]),
		Balance:         float64(b.capLocked(now)) / unit,
		Exhausted:       b.exhausted.Load(),
		Ratio:           cf.ratio,
		Floor:           cf.floor,
		Shadow:          cf.shadow,
		ShadowExhausted: b.shadowed.Load(),
	}
}

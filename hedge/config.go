package hedge

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/budget"
)

// Defaults of [Config]'s zero fields.
const (
	DefaultPercentile   = 0.95
	DefaultInitialDelay = 100 * time.Millisecond
	DefaultMinSamples   = 20
	DefaultWindow       = 10 * time.Second
	DefaultMaxHedges    = 1
)

// maxHedgesLimit bounds MaxHedges: more parallel copies of one call than this
// is a load multiplier, not a hedge.
const maxHedgesLimit = 16

// Config configures a [Hedger]. Each zero field means its documented default,
// so Config{} hedges each call once, after the 95th percentile of the
// latencies of the last 10s (100ms until 20 calls are known), with no budget.
// A Config is a plain value; New copies what it needs.
type Config struct {
	// Name names the hedger in its events and snapshots.
	Name string

	// Delay, if set, is a fixed delay before each hedge; zero makes the delay
	// adaptive: the Percentile of recent latencies.
	Delay time.Duration

	// Percentile is the percentile of recent latencies that an adaptive delay
	// waits for, in (0, 1). Default 0.95. Only with Delay zero.
	Percentile float64

	// InitialDelay is the adaptive delay until MinSamples latencies are in
	// the window. Default 100ms. Only with Delay zero.
	InitialDelay time.Duration

	// MinSamples is how many latencies the window needs before the adaptive
	// delay follows them. Only with Delay zero. Zero means
	// [DefaultMinSamples], 20; negative turns it off: the delay follows the
	// latencies from the first one, and InitialDelay serves only until then.
	MinSamples int

	// Window is how long a latency counts: the estimate covers between
	// Window/2 and Window of the most recent calls. Default 10s. Only with
	// Delay zero.
	Window time.Duration

	// MaxHedges is the most extra attempts of one call, each started a delay
	// after the one before, at most 16. Zero means [DefaultMaxHedges], 1;
	// negative turns it off: no call is hedged, and the hedger only measures
	// latencies (Delay still reports the delay it would use), so that
	// hedging can be switched off by configuration without taking the
	// hedger out of a composition.
	MaxHedges int

	// Budget, if set, must allow each hedge (Budget.WithdrawAt); a refused
	// hedge is not started and ends the hedging of that call, which goes on
	// with the attempts already running. Share it with retry.Config.Budget so
	// that hedges and retries together stay within one ratio.
	Budget *budget.Budget

	// Deposit makes the hedger count each call in Budget (Budget.Deposit).
	// Leave it false when a retry policy around the hedger has the same
	// Budget, since the retry policy already counts each call; set it when
	// no retry policy shares the budget.
	Deposit bool

	// Failures, if set, makes the hedger follow gRFC A6's rules when an
	// attempt fails, by the class it gives the attempt's error (see
	// [Hedger.AfterFailure]): a transient failure sends the next hedge at
	// once, and those after it a delay apart; a server's pushback
	// (resilience.Pushback) of d sends it d after the failure instead, and a
	// pushback that asks for no retry (d < 0) ends the hedging, while the
	// attempts running go on; a permanent failure is fatal: the other
	// attempts are canceled and the call returns it at once; an ignored one
	// (the caller's own cancellation) changes nothing. Nil keeps the default
	// rule, which suits most callers: a failure starts no hedge early, since
	// hedges are for slow calls and retries for failed ones, and a failure
	// of the first attempt ends the hedging of its call. resilience.Classify
	// is the usual choice, or the classifier of the retry policy around the
	// hedger.
	Failures resilience.Classifier

	// Tokens, if set, is gRFC A6's throttling: each hedge must be allowed
	// by it (Tokens.Allow: more than half its tokens left) as well as by
	// Budget; the first attempt of a call always goes. The outcome of each
	// attempt is counted in it: a success gives back a fraction of a token
	// (Tokens.Success), and a transient failure, or one whose server asked
	// for no retry, takes a token (Tokens.Failure), by the class that
	// Failures gives, or resilience.Classify without it. Attempts that the
	// hedger canceled, and those that end after the caller's context, are
	// not counted. Use one bucket per server, shared with the retry
	// policies of that server's other calls (retry.Config.Tokens), as gRPC
	// clients do, where a call is either retried or hedged; a retry policy
	// around this hedger with the same bucket counts each hedged call once
	// more, by its outcome. Default: none.
	Tokens *budget.Tokens

	// Observer, if set, receives the hedger's events, with Kind
	// resilience.KindHedge, on the goroutine that runs the hedge, outside
	// any lock of the hedger, before the hedge's attempt: Hedge when hedge
	// number Attempt starts, with the hedge delay as Delay (hedge n starts
	// n delays after the call began, unless Failures brought it forward or
	// a pushback moved it); Reject when Budget refuses one, with Reason
	// "budget exhausted", or Tokens does, with Reason "throttled", both
	// with budget.ErrExhausted as Err. Default: none.
	Observer *resilience.Observer
}

// validate reports the first nonsense in c.
func (c *Config) validate() error {
	neg := func(name string, d time.Duration) error {
		return errors.New("hedge: " + name + " is negative: " + d.String())
	}
	switch {
	case c.Delay < 0:
		return neg("Delay", c.Delay)
	case c.InitialDelay < 0:
		return neg("InitialDelay", c.InitialDelay)
	case c.Window < 0:
		return neg("Window", c.Window)
	case c.MaxHedges > maxHedgesLimit:
		return errors.New("hedge: MaxHedges is above " + strconv.Itoa(maxHedgesLimit) + ": " + strconv.Itoa(c.MaxHedges))
	case c.Percentile < 0 || c.Percentile >= 1 || math.IsNaN(c.Percentile):
		return errors.New("hedge: Percentile must be in (0, 1), or 0 for the default; not " + strconv.FormatFloat(c.Percentile, 'g', -1, 64))
	case c.Delay > 0 && (c.Percentile != 0 || c.InitialDelay != 0 || c.MinSamples != 0 || c.Window != 0):
		return errors.New("hedge: Delay is fixed, so Percentile, InitialDelay, MinSamples and Window, which tune the adaptive delay, must be zero")
	case c.Deposit && c.Budget == nil:
		return errors.New("hedge: Deposit is set but Budget is nil")
	}
	return nil
}

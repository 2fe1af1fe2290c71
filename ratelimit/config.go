package ratelimit

import (
	"cmp"
	"errors"
	"math/bits"
	"strconv"
	"time"

	"github.com/netresilience/resilience"
)

// DefaultPer is the period of a [Config] whose Per is zero: Limit is then
// tokens per second.
const DefaultPer = time.Second

// maxSpan bounds the limiter's spans of time: the time to refill a full
// bucket, the longest wait, and the longest reservation (2^60ns, about 36
// years). With times clamped to twice that on either side of the limiter's
// creation, no sum or difference of them can overflow.
const maxSpan = 1 << 60

// Config configures a [Limiter]: a bucket of Burst tokens, refilled
// continuously at Limit tokens per Per. Limit is required; every other zero
// field means its documented default, so Config{Limit: 10} lets 10 calls
// through at once and then one every 100ms, and rejects the calls that find
// no token.
type Config struct {
	// Name names the limiter in its errors, events and snapshots.
	Name string

	// Limit is how many tokens the bucket gains per Per, continuously: with
	// Limit 100 and Per one minute, one token every 600ms. It is required: a
	// limiter without a rate is a mistake, not a default. A call costs one
	// token unless its context says otherwise for this limiter
	// ([Limiter.WithCost]); an LLM client can set Limit to its quota of model
	// tokens per minute and make each call cost its tokens.
	Limit int

	// Per is the period of Limit. Default [DefaultPer], one second.
	Per time.Duration

	// Burst is how many tokens the bucket holds: how many calls (of cost
	// one) go at once after a quiet spell, and the largest cost a call may
	// have. Default: Limit, so that any call within the quota can go.
	//
	// Over any span of time t, at most Burst + Limit·t/Per tokens are
	// spent. With the default Burst that is up to twice Limit in the first
	// Per after a quiet spell; set Burst to 1 to pace calls of cost one
	// evenly, one every Per/Limit.
	Burst int

	// MaxWait is how long a call through [Limiter.Enter], [Limiter.Wait],
	// [Do] or [Run] may wait for its tokens. Zero, the default, means no
	// waiting: a call that finds too few tokens is rejected at once. A call
	// whose tokens would come later than MaxWait, or no earlier than its
	// context's deadline, is rejected at once, without waiting and without
	// spending tokens; a wait also ends when the caller's context is done.
	// To wait as long as the context allows, set MaxWait longer than any
	// deadline you use, such as time.Duration(math.MaxInt64). No call waits
	// longer than 2^60ns (about 36 years), whatever MaxWait says.
	MaxWait time.Duration

	// Observer, if set, receives the limiter's events for calls through
	// Enter, Wait, Do and Run, with Kind resilience.KindRateLimit and the
	// call's tokens as Cost, on the caller's goroutine and outside the
	// limiter's lock (so it may call any method of the limiter): Admit for
	// every admitted call, once it has its tokens, with how long it waited
	// for them as Delay (zero when it went at once); Reject for every
	// rejected call, before the rejection is returned, with the rejection
	// (an *Error) as Err, its Reason's String as Reason, and how long until
	// the bucket would have held the call's tokens as Delay. A wait the
	// caller gave up on is not a rejection, nor is a cost the limiter can
	// never serve. Allow and Reserve, decisions whose callers see their
	// answer, report nothing. Default: none.
	Observer *resilience.Observer

	// Shadow, if set, makes Enter, Wait, Do and Run decide and report as
	// usual but never wait nor reject: see the package documentation's
	// "Shadow mode". A change of Shadow through [Limiter.Reconfigure] takes
	// effect with the next call.
	Shadow bool
}

// validate reports the first nonsense in c.
func (c *Config) validate() error {
	switch {
	case c.Limit == 0:
		return errors.New("ratelimit: Limit is zero: a limiter needs a rate, the tokens it lets through per Per")
	case c.Limit < 0:
		return errors.New("ratelimit: Limit is negative: " + strconv.Itoa(c.Limit))
	case c.Per < 0:
		return errors.New("ratelimit: Per is negative: " + c.Per.String())
	case c.Burst < 0:
		return errors.New("ratelimit: Burst is negative: " + strconv.Itoa(c.Burst))
	case c.MaxWait < 0:
		return errors.New("ratelimit: MaxWait is negative: " + c.MaxWait.String())
	}
	per := cmp.Or(c.Per, DefaultPer)
	num, den := ratio(c.Limit, per)
	burst := cmp.Or(c.Burst, c.Limit)
	if _, ok := mulDiv(uint64(burst), num, den); !ok {
		return errors.New("ratelimit: refilling a Burst of " + tokens(burst) + " at " +
			strconv.Itoa(c.Limit) + " per " + per.String() + " takes more than 36 years")
	}
	return nil
}

// mulDiv returns n·num/den as a span, and whether it is at most maxSpan.
func mulDiv(n, num, den uint64) (span, bool) {
	hi, lo := bits.Mul64(n, num)
	if hi >= den {
		return span{}, false // the quotient needs more than 64 bits
	}
	q, r := bits.Div64(hi, lo, den)
	if q > maxSpan || q == maxSpan && r > 0 {
		return span{}, false
	}
	return span{int64(q), r}, true
}

// ratio returns the time one token takes to refill, per/limit nanoseconds,
// as the reduced fraction num/den.
func ratio(limit int, per time.Duration) (num, den uint64) {
	num, den = uint64(per), uint64(limit)
	a, b := num, den
	for b != 0 {
		a, b = b, a%b
	}
	return num / a, den / a
}

// settings is a Config as the limiter uses it, defaults filled in: made by
// New and by Reconfigure, then read-only.
type settings struct {
	cfg       Config // as given
	name      string
	num, den  uint64 // a token refills in num/den nanoseconds (a reduced Per/Limit)
	burst     int
	tau       span  // the time to refill a full bucket: burst·num/den
	costOne   span  // the time to refill one token
	maxWait   int64 // nanoseconds, at most maxSpan
	obs       *resilience.Observer
	shadow    bool
	limitedBy [numReasons]Error // the rejections of calls of cost one
}

// newSettings returns the settings of l for a valid cfg.
func newSettings(l *Limiter, cfg Config) *settings {
	num, den := ratio(cfg.Limit, cmp.Or(cfg.Per, DefaultPer))
	s := &settings{
		cfg:     cfg,
		name:    cfg.Name,
		num:     num,
		den:     den,
		burst:   cmp.Or(cfg.Burst, cfg.Limit),
		maxWait: min(int64(cfg.MaxWait), maxSpan),
		obs:     cfg.Observer,
		shadow:  cfg.Shadow,
	}
	s.tau, _ = mulDiv(uint64(s.burst), num, den) // validate checked it
	s.costOne, _ = mulDiv(1, num, den)
	for r := range s.limitedBy {
		s.limitedBy[r] = newLimited(l, s, Reason(r), 1)
	}
	return s
}

// WithDefaults returns c with each zero field that has a default set to it:
// the values a limiter made from c uses (Per and Burst).
func (c Config) WithDefaults() Config {
	c.Per = cmp.Or(c.Per, DefaultPer)
	c.Burst = cmp.Or(c.Burst, c.Limit)
	return c
}

package bulkhead

import (
	"errors"
	"strconv"
	"time"

	"github.com/netresilience/resilience"
)

// DefaultMaxConcurrent is the number of slots of a [Config] whose
// MaxConcurrent is zero.
const DefaultMaxConcurrent = 10

// maxLimit is the largest MaxConcurrent and MaxQueue: each count has half of
// the bulkhead's state word.
const maxLimit = 1<<31 - 1

// Config configures a [Bulkhead]. Each zero field means its documented
// default, so Config{} is a bulkhead of 10 slots that rejects at once when
// they are all taken. New copies what it needs: changing a Config after New
// has no effect on the bulkhead.
type Config struct {
	// Name names the bulkhead in its errors, events and snapshots.
	Name string

	// MaxConcurrent is how many calls may be in flight at once. Default
	// [DefaultMaxConcurrent], 10.
	MaxConcurrent int

	// MaxWait is how long a call may wait for a slot when all are taken.
	// Zero, the default, means no waiting: a call that finds every slot
	// taken is rejected at once. A wait also ends when the caller's context
	// is done. To wait as long as the context allows, set MaxWait longer
	// than any deadline you use, such as time.Duration(math.MaxInt64).
	MaxWait time.Duration

	// MaxQueue is how many callers may wait for a slot at once; a caller
	// that finds the queue full is rejected at once. It needs MaxWait. Zero
	// means MaxConcurrent, so that a waiter is at most about one round of
	// calls away from a slot; negative turns it off: any number of callers
	// may wait (up to 2^31−1), each for MaxWait at most.
	MaxQueue int

	// Observer, if set, receives the bulkhead's events, with Kind
	// resilience.KindBulkhead, on the caller's goroutine and outside the
	// bulkhead's lock (so it may call any method of the bulkhead): Admit
	// for every admitted call, before it runs, with how long it waited for
	// its slot as Delay (zero when a slot was free at once); Reject for
	// every rejected call, before the rejection is returned, with the
	// rejection (an *Error) as Err, its Reason's String as Reason, and how
	// long the call waited as Delay (about MaxWait for [WaitTimeout], zero
	// otherwise). A wait the caller gave up on is not a rejection. Default:
	// none.
	Observer *resilience.Observer

	// Shadow, if set, makes the bulkhead count and report what it would
	// have rejected but admit every call at once, never blocking nor
	// queueing: see the package documentation's "Shadow mode". A change of
	// Shadow through [Bulkhead.Reconfigure] takes effect with the next
	// call.
	Shadow bool
}

// validate reports the first nonsense in c.
func (c *Config) validate() error {
	count := func(name string, n int) error {
		if n < 0 {
			return errors.New("bulkhead: " + name + " is negative: " + strconv.Itoa(n))
		}
		if n > maxLimit {
			return errors.New("bulkhead: " + name + " is above " + strconv.Itoa(maxLimit) + ": " + strconv.Itoa(n))
		}
		return nil
	}
	if err := count("MaxConcurrent", c.MaxConcurrent); err != nil {
		return err
	}
	if c.MaxQueue > maxLimit {
		return errors.New("bulkhead: MaxQueue is above " + strconv.Itoa(maxLimit) + ": " + strconv.Itoa(c.MaxQueue))
	}
	switch {
	case c.MaxWait < 0:
		return errors.New("bulkhead: MaxWait is negative: " + c.MaxWait.String())
	case c.MaxQueue != 0 && c.MaxWait == 0:
		return errors.New("bulkhead: MaxQueue is set but MaxWait is not: with no wait allowed, nobody queues")
	}
	return nil
}

// settings is a Config as the bulkhead uses it, defaults filled in: made by
// New and by Reconfigure, then read-only.
type settings struct {
	cfg      Config // as given
	name     string
	limit    uint64
	maxQueue uint64
	maxWait  time.Duration
	obs      *resilience.Observer
	shadow   bool
	errs     [3]*Error // the rejection for each Reason
}

// newSettings returns the settings of a valid cfg.
func newSettings(cfg Config) *settings {
	d := cfg.WithDefaults()
	s := &settings{
		cfg:      cfg,
		name:     cfg.Name,
		limit:    uint64(d.MaxConcurrent),
		maxQueue: uint64(max(d.MaxQueue, 0)),
		maxWait:  cfg.MaxWait,
		obs:      cfg.Observer,
		shadow:   cfg.Shadow,
	}
	if d.MaxQueue < 0 {
		s.maxQueue = maxLimit // off: as many as the state word counts
	}
	for r := range s.errs {
		s.errs[r] = &Error{Name: cfg.Name, Reason: Reason(r), MaxConcurrent: d.MaxConcurrent, MaxQueue: int(s.maxQueue), MaxWait: cfg.MaxWait}
	}
	return s
}

// WithDefaults returns c with each zero field that has a default set to it:
// the values a bulkhead made from c uses. MaxQueue is set only when MaxWait
// is, and stays negative if it is turned off.
func (c Config) WithDefaults() Config {
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	if c.MaxWait > 0 && c.MaxQueue == 0 {
		c.MaxQueue = c.MaxConcurrent
	}
	return c
}

package bulkhead

import (
	"errors"
	"strconv"
	"time"
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
	// Name names the bulkhead in its errors, hooks and snapshots.
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

	// OnAdmit, if set, is called when a call is admitted, on the caller's
	// goroutine, before the call runs, and outside the bulkhead's lock: it
	// may call any method of the bulkhead. It should be fast, since every
	// admitted call runs it. If it panics, the call's slot is released
	// and the panic goes on.
	OnAdmit func(Admission)

	// OnReject, if set, is called when a call is rejected, on the caller's
	// goroutine and outside the bulkhead's lock, before the rejection is
	// returned. A wait the caller gave up on is not a rejection.
	OnReject func(Rejection)
}

// Admission describes an admitted call, for [Config].OnAdmit: a plain value.
type Admission struct {
	Name string
	// Waited is how long the call waited for its slot: zero when a slot was
	// free at once.
	Waited time.Duration
}

// Rejection describes a rejected call, for [Config].OnReject: a plain value.
type Rejection struct {
	Name   string
	Reason Reason
	// Waited is how long the call waited before it was rejected: about
	// MaxWait for [WaitTimeout], zero otherwise.
	Waited time.Duration
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

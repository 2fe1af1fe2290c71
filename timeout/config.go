package timeout

import (
	"errors"
	"time"

	"github.com/netresilience/resilience"
)

// DefaultMaxAbandoned is the default of [Config].MaxAbandoned: how many calls
// that a Timeout in Abandon mode left running may still be running at once.
const DefaultMaxAbandoned = 100

// Config configures a [Timeout]. Timeout is required, so the zero Config is
// not valid; every other zero field means its documented default, so
// Config{Timeout: 2 * time.Second} gives each attempt two seconds and waits
// for a function that overruns them.
type Config struct {
	// Name names the timeout in its errors, events and snapshots.
	Name string

	// Timeout is how long each attempt may take: the function receives a
	// context that ends this long after the attempt starts, or when the
	// caller's context ends, whichever comes first. It must be positive:
	// there is no default, since no duration suits every call.
	Timeout time.Duration

	// Abandon makes the timeout return at the deadline even if the function
	// has not returned: the function goes on running in its own goroutine
	// and its result is dropped. By default (cooperative mode) the timeout
	// waits for the function to return, however long it takes, and relies on
	// it to honour its context.
	//
	// Abandon costs a goroutine and a few allocations per attempt. Use it for
	// functions that may ignore their context, such as calls into a library
	// that takes none.
	Abandon bool

	// MaxAbandoned bounds how many abandoned calls may still be running at
	// once, so that a service that hangs cannot pile up goroutines without
	// end. While that many are running, a timed-out attempt is not
	// abandoned: the timeout waits for it, as in cooperative mode, and an
	// attempt that starts then runs on the caller's goroutine, as in
	// cooperative mode. It needs Abandon. Zero means [DefaultMaxAbandoned],
	// 100; negative turns it off: every attempt that times out is abandoned,
	// however many are still running.
	MaxAbandoned int

	// Observer, if set, receives the timeout's events, with Kind
	// resilience.KindTimeout. Timeout comes for every attempt that timed
	// out, on the goroutine of the call, just before the timeout returns
	// its error: Err is that error (an *Error, which says whether the call
	// was left running and unwraps to what the function returned), Delay
	// how long the attempt ran. AbandonedReturn comes when a call that was
	// left running returns at last, on that call's goroutine: Err is what
	// the function returned, Delay how long it ran, and Reason "panicked"
	// if it panicked (or called runtime.Goexit) instead. Default: none.
	Observer *resilience.Observer
}

// validate reports the first nonsense in c.
func (c *Config) validate() error {
	switch {
	case c.Timeout < 0:
		return errors.New("timeout: Timeout is negative: " + c.Timeout.String())
	case c.Timeout == 0:
		return errors.New("timeout: Timeout is zero: set how long each attempt may take")
	case c.MaxAbandoned != 0 && !c.Abandon:
		return errors.New("timeout: MaxAbandoned is set but Abandon is not")
	}
	return nil
}

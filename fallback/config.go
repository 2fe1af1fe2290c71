package fallback

import (
	"context"
	"errors"
	"strconv"

	"github.com/netresilience/resilience"
)

// Config configures a [Fallback]. Each zero field means its documented
// default, so Config{} falls back on every failure except the caller's own
// cancellation, and is a Policy that refuses to run (it has no Alternative);
// its Do, Value and Run functions work.
type Config struct {
	// Name names the fallback in its errors and events.
	Name string

	// Classifier sorts a failed call's error into a class. Default
	// resilience.Classify.
	Classifier resilience.Classifier

	// On lists the classes of failure that fall back. Default: all of
	// them — ClassTransient, ClassPermanent and ClassIgnored — so that a
	// local rejection such as an open breaker's falls back too. A call never
	// falls back when the caller's own context was canceled, whatever On
	// says. A non-nil empty On falls back on nothing. ClassSuccess may not be
	// listed.
	On []resilience.Class

	// Alternative is what [Fallback.Execute] runs when the protected
	// operation fails in a class of On: it receives the caller's context and
	// the failure, and its error (nil for success) replaces the operation's.
	// It is used only when the Fallback acts as a resilience.Policy; Do,
	// Value and Run take their alternative as an argument. Default none:
	// Execute then returns [ErrNoAlternative] without running the operation.
	Alternative func(ctx context.Context, err error) error

	// Observer, if set, receives a Fallback event before each alternative
	// runs, on the caller's goroutine, with Kind resilience.KindFallback:
	// Err is the failure that fell back and Reason its class (the
	// resilience.Class's String, such as "transient"). Default: none.
	Observer *resilience.Observer
}

// validate returns the error for a nonsense configuration.
func (c *Config) validate() error {
	for i, class := range c.On {
		if class == resilience.ClassSuccess {
			return errors.New("fallback: On[" + strconv.Itoa(i) + "] is ClassSuccess: a success never falls back")
		}
		if class > resilience.ClassIgnored {
			return errors.New("fallback: On[" + strconv.Itoa(i) + "] is an unknown class: " + class.String())
		}
	}
	return nil
}

package hedge

import (
	"errors"

	"github.com/netresilience/resilience/internal/nilpolicy"
)

// ErrLost is the cause with which the context of a losing attempt ends: another
// attempt of the same call succeeded first, or panicked, or (under
// Config.Failures) failed fatally, in which case the cause also wraps that
// failure. An attempt that sees it should return at once; its result is
// discarded.
//
//	if errors.Is(context.Cause(ctx), hedge.ErrLost) { ... }
var ErrLost = errors.New("hedge: another attempt won")

// errNilHedger is the error of a call through a nil pointer.
const errNilHedger = nilpolicy.Error("hedge: nil *Hedger")

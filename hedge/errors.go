package hedge

import "errors"

// ErrLost is the cause with which the context of a losing attempt ends: another
// attempt of the same call succeeded first, or panicked. An attempt that sees
// it should return at once; its result is discarded.
//
//	if errors.Is(context.Cause(ctx), hedge.ErrLost) { ... }
var ErrLost = errors.New("hedge: another attempt won")

var errNilHedger = errors.New("hedge: nil *Hedger")

package timeout

import "sync/atomic"

// LeaveForTest runs the decision to abandon a call that is still running
// (returned false) or has just returned (returned true), as Do makes it when
// the attempt's context ends.
func (t *Timeout) LeaveForTest(hasReturned bool) bool {
	var state atomic.Uint32
	if hasReturned {
		state.Store(returned)
	}
	return t.leave(&state)
}

package adaptive

import (
	"context"
	"strconv"
)

// Priority is how much a call matters when the limit is near: with
// [Config].Priorities set, calls of a lower priority are refused first. A
// call's priority travels in its context ([WithPriority]); a context
// without one gives [Normal]. The zero Priority means none was given, and
// counts as Normal.
type Priority uint8

// The priorities, lowest first.
const (
	Low      Priority = iota + 1 // batch work, prefetches, retries that can wait
	Normal                       // the default
	High                         // calls a user waits for
	Critical                     // health checks, calls that free resources
)

// NumPriorities is the number of priorities, and of [Config].Shares.
const NumPriorities = 4

// String returns "low", "normal", "high" or "critical".
func (p Priority) String() string {
	switch p {
	case Low:
		return "low"
	case 0, Normal:
		return "normal"
	case High:
		return "high"
	case Critical:
		return "critical"
	}
	return "Priority(" + strconv.Itoa(int(p)) + ")"
}

// index returns p's place in Shares, 0 for Low: a priority out of range
// counts as the nearest one.
func (p Priority) index() int {
	switch {
	case p == 0:
		return int(Normal) - 1
	case p > Critical:
		return int(Critical) - 1
	}
	return int(p) - 1
}

// priorityKey is the context key of a call's Priority.
type priorityKey struct{}

// WithPriority returns a copy of ctx that carries the priority p, for the
// limiters the call passes through. A priority above [Critical] counts as
// Critical.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityFrom returns the priority that ctx carries, or [Normal] if it
// carries none (or ctx is nil).
func PriorityFrom(ctx context.Context) Priority {
	if ctx == nil {
		return Normal
	}
	if p, ok := ctx.Value(priorityKey{}).(Priority); ok && p != 0 {
		return min(p, Critical)
	}
	return Normal
}

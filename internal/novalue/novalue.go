// Package novalue adapts a function that returns only an error to the shape
// that the executors of package resilience take, as the policy packages' Run
// functions do.
package novalue

import "context"

// Wrap returns fn as a function that returns no value beside its error. A
// nil fn stays nil, so that the executors report it. The adapter stays on the
// caller's stack when the executor does not store it, as resilience.Retry
// and resilience.Guarded do not.
func Wrap(fn func(context.Context) error) func(context.Context) (struct{}, error) {
	if fn == nil {
		return nil
	}
	return func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) }
}

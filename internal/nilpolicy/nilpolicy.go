// Package nilpolicy makes the error that a policy package returns when one of
// its methods or executors is called through a nil pointer.
package nilpolicy

import "github.com/netresilience/resilience"

// Error is the error of a nil policy of one package: its text names the
// package and the type, such as "breaker: nil *Breaker", and it matches
// resilience.ErrNilPolicy through errors.Is. It is a constant, so returning
// it allocates nothing.
type Error string

// Error returns the text.
func (e Error) Error() string { return string(e) }

// Is reports whether target is resilience.ErrNilPolicy.
func (e Error) Is(target error) bool { return target == resilience.ErrNilPolicy }

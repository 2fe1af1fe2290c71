//go:build !plan9

package resilience

import (
	"errors"
	"syscall"
)

// transientErrno reports whether err's chain holds one of transientErrnos.
func transientErrno(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	for _, e := range transientErrnos {
		if errno == e {
			return true
		}
	}
	return false
}

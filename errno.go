//go:build !plan9

package resilience

import (
	"syscall"
)

// transientErrno reports whether err's chain holds one of transientErrnos.
func transientErrno(err error) bool {
	errno, ok := find[syscall.Errno](err)
	if !ok {
		return false
	}
	for _, e := range transientErrnos {
		if errno == e {
			return true
		}
	}
	return false
}

//go:build !plan9 && !windows

package resilience

import "syscall"

// transientErrnos are the system errors that say the path to a service
// failed, not the service's answer.
var transientErrnos = [...]syscall.Errno{
	syscall.ECONNREFUSED,
	syscall.ECONNRESET,
	syscall.ECONNABORTED,
	syscall.EPIPE,
	syscall.EHOSTUNREACH,
	syscall.ENETUNREACH,
	syscall.ENETDOWN,
	syscall.ENETRESET,
	syscall.ETIMEDOUT,
}

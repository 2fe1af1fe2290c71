package resilience

import "syscall"

// transientErrnos are the Winsock and system errors that say the path to a
// service failed, not the service's answer. The syscall package names only
// some of them.
var transientErrnos = [...]syscall.Errno{
	10050,                     // WSAENETDOWN
	10051,                     // WSAENETUNREACH
	10052,                     // WSAENETRESET
	syscall.WSAECONNABORTED,   // 10053
	syscall.WSAECONNRESET,     // 10054
	10060,                     // WSAETIMEDOUT
	10061,                     // WSAECONNREFUSED
	10065,                     // WSAEHOSTUNREACH
	syscall.ERROR_BROKEN_PIPE, // 109
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

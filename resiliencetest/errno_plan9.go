package resiliencetest

import "syscall"

// errReset is the system error of a connection reset by the peer. Plan 9
// has no ECONNRESET: its network errors are strings.
var errReset error = syscall.ErrorString("connection reset by peer")

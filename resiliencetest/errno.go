//go:build !plan9

package resiliencetest

import "syscall"

// errReset is the system error of a connection reset by the peer.
var errReset error = syscall.ECONNRESET

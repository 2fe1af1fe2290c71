//go:build !plan9

package resiliencetest_test

import "syscall"

// errConnReset is the error a reset connection's chain must hold.
var errConnReset error = syscall.ECONNRESET

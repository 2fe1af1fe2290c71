package resiliencetest_test

import "syscall"

// errConnReset is the error a reset connection's chain must hold: Plan 9
// has no ECONNRESET, and the Transport uses this string.
var errConnReset error = syscall.ErrorString("connection reset by peer")

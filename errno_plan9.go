package resilience

// transientErrno is always false on Plan 9, whose network errors are strings;
// their timeouts are still found through the Timeout method.
func transientErrno(error) bool { return false }

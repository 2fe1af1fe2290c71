package bulkhead

// SetTestHookBeforeQueue sets the function that a caller about to queue
// calls before it takes the lock, and returns a function that removes it.
func SetTestHookBeforeQueue(f func()) (restore func()) {
	testHookBeforeQueue = f
	return func() { testHookBeforeQueue = nil }
}

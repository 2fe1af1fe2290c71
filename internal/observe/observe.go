// Package observe calls the observers of the policies: a panic in an
// observer is recovered here, in one place, so that the policy that reported
// the event, and the call it belongs to, go on as if the observer had
// returned.
package observe

// Call calls f(e), recovering a panic in f. f must not be nil. It is kept out
// of the policies' hot paths: they check that f is set before they build e.
func Call[E any](f func(E), e E) {
	defer func() { _ = recover() }()
	f(e)
}

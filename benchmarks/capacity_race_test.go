//go:build race

package benchmarks

// raceEnabled is true when the tests run under the race detector, which
// slows a request on loopback so much that TestCapacity runs only its
// short form.
const raceEnabled = true

//go:build race

package sim

// raceEnabled is true when the tests run under the race detector, which
// slows the simulator down about tenfold: the benchmarks then run a lighter
// load, since they run only to show they still work, and so do the tests
// whose checks hold at any load (lighterUnderRace); the tests of the
// built-in scenarios' stories run them only up to 45s after their trouble
// (trimUnderRace).
const raceEnabled = true

//go:build race

package sim

// raceEnabled is true when the tests run under the race detector, which
// slows the simulator down about tenfold: the benchmarks then run a lighter
// load, since they run only to show they still work.
const raceEnabled = true

package backoff_test

import (
	"testing"
	"time"

	"github.com/netresilience/resilience/backoff"
)

func BenchmarkExponential(b *testing.B) {
	modes := []backoff.Jitter{backoff.FullJitter, backoff.EqualJitter, backoff.DecorrelatedJitter, backoff.NoJitter}
	for _, mode := range modes {
		b.Run(mode.String(), func(b *testing.B) {
			var s backoff.Strategy = backoff.Exponential{Jitter: mode}
			b.ReportAllocs()
			var d time.Duration
			n := 0
			for b.Loop() {
				n = n%20 + 1 // walk through growth and the cap
				d = s.Delay(n, d, float64(n)/21)
			}
			sink = d
		})
	}
}

func BenchmarkConstant(b *testing.B) {
	s := backoff.Constant(time.Second)
	b.ReportAllocs()
	var d time.Duration
	for b.Loop() {
		d = s.Delay(3, d, 0.5)
	}
	sink = d
}

package resilienceredis

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netresilience/resilience/breaker"
)

var benchConfig = breaker.Config{FailureRate: 0.5, Window: 10 * time.Second, RecoveryTimeout: time.Hour}

// BenchmarkHotPath compares a call through a plain local breaker with one
// through a fleet breaker syncing with a real Redis: the fleet must cost the
// same, with 0 allocations.
func BenchmarkHotPath(b *testing.B) {
	call := func(b *testing.B, allow func() (breaker.Permit, error)) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := allow()
			if err != nil {
				b.Fatal(err)
			}
			p.Done(nil)
		}
	}
	b.Run("local", func(b *testing.B) {
		cb := breaker.MustNew(benchConfig)
		call(b, cb.Allow)
	})
	b.Run("fleet", func(b *testing.B) {
		r := startFleetRedis(b)
		fb, err := NewBreaker(BreakerConfig{Client: r.Client(), Name: "bench", Breaker: benchConfig})
		if err != nil {
			b.Fatal(err)
		}
		defer fb.Close()
		call(b, fb.Allow)
	})
}

// BenchmarkRedisCommands reports the Redis commands one replica sends per
// second and per Interval while calls run as fast as they can: bounded by
// the Interval, whatever the call rate.
func BenchmarkRedisCommands(b *testing.B) {
	r := startFleetRedis(b)
	c := r.Client()
	processed := func() int {
		info, err := c.Info(context.Background(), "stats").Result()
		if err != nil {
			b.Fatal(err)
		}
		for line := range strings.SplitSeq(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
		b.Fatal("no total_commands_processed in INFO")
		return 0
	}
	const interval = 50 * time.Millisecond
	fb, err := NewBreaker(BreakerConfig{Client: r.Client(), Name: "bench", Interval: interval, Breaker: benchConfig})
	if err != nil {
		b.Fatal(err)
	}
	defer fb.Close()
	before, start := processed(), time.Now()
	calls := 0
	for b.Loop() {
		p, err := fb.Allow()
		if err != nil {
			b.Fatal(err)
		}
		p.Done(nil)
		calls++
	}
	// Run at least ten Intervals, calling all along, for a stable rate.
	for time.Since(start) < 10*interval {
		p, _ := fb.Allow()
		p.Done(nil)
		calls++
	}
	elapsed := time.Since(start)
	cmds := float64(processed() - before - 1) // less the INFO itself
	b.ReportMetric(cmds/elapsed.Seconds(), "cmds/s")
	b.ReportMetric(cmds/(elapsed.Seconds()/interval.Seconds()), "cmds/interval")
	b.ReportMetric(float64(calls)/elapsed.Seconds(), "calls/s")
}

package resilienceredis_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netresilience/resilience/ratelimit"
	"github.com/netresilience/resilience/resilienceredis"
	"github.com/netresilience/resilience/resilienceredis/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// scriptCalls returns how many times Redis ran a script (EVALSHA, EVAL)
// since its start, from INFO commandstats.
func scriptCalls(tb testing.TB, c *redis.Client) int64 {
	tb.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		tb.Fatal(err)
	}
	var n int64
	for line := range strings.SplitSeq(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok || (name != "cmdstat_evalsha" && name != "cmdstat_eval") {
			continue
		}
		v, _, _ := strings.Cut(rest, ",")
		k, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			tb.Fatalf("commandstats line %q: %v", line, err)
		}
		n += k
	}
	return n
}

// TestQuotaRedisCallsIndependentOfCallRate hammers a spent quota: however
// many calls are refused, the replica asks Redis at most about once per
// Interval.
func TestQuotaRedisCallsIndependentOfCallRate(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr)
	q := newQuota(t, resilienceredis.QuotaConfig{
		Client: c, Name: "calls", Limit: 200, Per: time.Second, Burst: 10, Lease: 10, Interval: 20 * time.Millisecond,
	})
	waitLease(t, q, 10)
	before := scriptCalls(t, c)
	start := time.Now()
	var calls, units int64
	for time.Since(start) < 300*time.Millisecond {
		if q.Allow(1) {
			units++
		}
		calls++
	}
	elapsed := time.Since(start)
	got := scriptCalls(t, c) - before
	// One call per Interval, and one per Lease units granted.
	bound := int64(elapsed/(20*time.Millisecond)) + units/10 + 3
	t.Logf("%d calls (%d allowed), %d Redis script calls in %v (bound %d)", calls, units, got, elapsed, bound)
	if got > bound {
		t.Fatalf("%d Redis calls for %d Allow calls in %v: more than one per Interval (%d)", got, calls, elapsed, bound)
	}
}

// TestQuotaOutageBound checks the documented worst case across an outage:
// the fleet's spending stays within Burst + Limit per Per over the run plus
// each replica's lease, plus what the local limits let through while
// Redis was paused.
func TestQuotaOutageBound(t *testing.T) {
	srv := redistest.Start(t)
	const (
		replicas = 3
		limit    = 3000
		burst    = 300
		lease    = 10
	)
	qs := make([]*resilienceredis.Quota, replicas)
	for i := range qs {
		qs[i] = newQuota(t, resilienceredis.QuotaConfig{
			Client: newClient(t, srv.Addr), Name: "outage", Limit: limit, Per: time.Second, Burst: burst,
			Lease: lease, Replicas: replicas, Interval: 10 * time.Millisecond, SyncTimeout: 30 * time.Millisecond,
		})
	}
	var admitted, local atomic.Int64
	// spend runs every replica flat out until done says so (or for ten
	// seconds at most).
	spend := func(done func() bool) {
		stop := make(chan struct{})
		finished := make(chan struct{})
		for _, q := range qs {
			go func() {
				defer func() { finished <- struct{}{} }()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if q.Allow(1) {
						admitted.Add(1)
						if q.Snapshot().Mode == resilienceredis.ModeLocal {
							local.Add(1)
						}
					}
				}
			}()
		}
		for end := time.Now().Add(10 * time.Second); !done() && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
		close(stop)
		for range qs {
			<-finished
		}
	}
	all := func(mode string) func() bool {
		return func() bool {
			for _, q := range qs {
				if q.Snapshot().Mode != mode {
					return false
				}
			}
			return true
		}
	}
	after := func(d time.Duration) func() bool {
		end := time.Now().Add(d)
		return func() bool { return time.Now().After(end) }
	}
	start := time.Now()
	spend(after(200 * time.Millisecond))
	srv.Pause()
	outage := time.Now()
	spend(all(resilienceredis.ModeLocal))
	spend(after(100 * time.Millisecond))
	srv.Resume()
	outageLen := time.Since(outage)
	spend(all(resilienceredis.ModeFleet))
	spend(after(100 * time.Millisecond))
	total := time.Since(start)
	if local.Load() == 0 {
		t.Fatal("no call went through the local fallback while Redis was paused")
	}
	// Each replica's local limit: Burst/Replicas at once, Limit/Replicas a
	// second; counted over the whole run, since a replica may stay local
	// up to an Interval and a SyncTimeout after Redis returns.
	fallback := int64(replicas) * (burst/replicas + int64(float64(limit/replicas)*total.Seconds()))
	bound := burst + int64(float64(limit)*total.Seconds()) + replicas*lease + fallback
	t.Logf("admitted %d (%d locally) in %v, outage %v; bound %d", admitted.Load(), local.Load(), total, outageLen, bound)
	if admitted.Load() > bound {
		t.Fatalf("fleet spent %d, over the documented bound %d", admitted.Load(), bound)
	}
}

// BenchmarkAllow compares the hot path of a fleet quota (spending its
// lease) with a local ratelimit.Limiter's.
func BenchmarkAllow(b *testing.B) {
	b.Run("fleet", func(b *testing.B) {
		srv := redistest.Start(b)
		q := newQuota(b, resilienceredis.QuotaConfig{
			Client: newClient(b, srv.Addr), Name: "bench", Limit: 900_000_000, Per: time.Second, Lease: 1 << 26,
		})
		for q.Snapshot().Lease == 0 {
			time.Sleep(time.Millisecond)
		}
		b.ReportAllocs()
		b.ResetTimer()
		var ok int
		for b.Loop() {
			if q.Allow(1) {
				ok++
			}
		}
		b.ReportMetric(float64(ok)/float64(b.N), "allowed/op")
	})
	b.Run("ratelimit", func(b *testing.B) {
		l := ratelimit.MustNew(ratelimit.Config{Limit: 1 << 30, Per: time.Second, Burst: 1 << 20})
		b.ReportAllocs()
		for b.Loop() {
			l.Allow(1)
		}
	})
}

// BenchmarkAllowParallel is BenchmarkAllow from every core at once.
func BenchmarkAllowParallel(b *testing.B) {
	b.Run("fleet", func(b *testing.B) {
		srv := redistest.Start(b)
		q := newQuota(b, resilienceredis.QuotaConfig{
			Client: newClient(b, srv.Addr), Name: "benchp", Limit: 900_000_000, Per: time.Second, Lease: 1 << 26,
		})
		for q.Snapshot().Lease == 0 {
			time.Sleep(time.Millisecond)
		}
		b.ReportAllocs()
		b.ResetTimer()
		var ok atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			var n int64
			for pb.Next() {
				if q.Allow(1) {
					n++
				}
			}
			ok.Add(n)
		})
		b.ReportMetric(float64(ok.Load())/float64(b.N), "allowed/op")
	})
	b.Run("ratelimit", func(b *testing.B) {
		l := ratelimit.MustNew(ratelimit.Config{Limit: 1 << 30, Per: time.Second, Burst: 1 << 20})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Allow(1)
			}
		})
	})
}

// BenchmarkRedisCommands runs one replica flat out against a large quota
// and reports the Redis script calls it makes per second: bounded by what it
// spends divided by Lease, plus one per Interval, not by its call rate.
func BenchmarkRedisCommands(b *testing.B) {
	srv := redistest.Start(b)
	c := newClient(b, srv.Addr)
	q := newQuota(b, resilienceredis.QuotaConfig{
		Client: c, Name: "cmds", Limit: 100000, Per: time.Second, Lease: 1000,
	})
	before := scriptCalls(b, c)
	start := time.Now()
	var ok int64
	for b.Loop() {
		if q.Allow(1) {
			ok++
		}
	}
	sec := time.Since(start).Seconds()
	b.ReportMetric(float64(scriptCalls(b, c)-before)/sec, "redis-calls/s")
	b.ReportMetric(float64(b.N)/sec, "allow-calls/s")
	b.ReportMetric(float64(ok)/sec, "units/s")
}

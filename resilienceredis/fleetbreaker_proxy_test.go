package resilienceredis

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resilienceredis/internal/redistest"
)

func TestPartitionedAndSlowRedisLeaveCallsLocal(t *testing.T) {
	r := startFleetRedis(t)
	px := redistest.NewProxy(t, r.Addr)
	client := func() *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: px.Addr, DialTimeout: 200 * time.Millisecond,
			ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
		t.Cleanup(func() { c.Close() })
		return c
	}
	fbs, evs := newFleet(t, r, 2, func(i int, c *BreakerConfig) { c.Client = client() })
	openFleet(t, fbs)

	for _, mode := range []string{"dropped", "delayed"} {
		if mode == "dropped" {
			px.Blackhole(true)
		} else {
			px.Delay(10 * tick) // far above the round trip's SyncTimeout
		}
		before := evs[0].fallbacks.Load()
		eventually(t, 3*time.Second, mode+": fallback", func() bool {
			return evs[0].fallbacks.Load() > before && allIn(fbs, breaker.Closed)
		})
		p, err := fbs[0].Allow()
		if err != nil {
			t.Fatalf("%s: rejected after the fallback: %v", mode, err)
		}
		p.Done(nil)
		px.Blackhole(false)
		px.Delay(0)
		eventually(t, 5*time.Second, mode+": the fleet state merges back", func() bool { return allIn(fbs, breaker.Open) })
	}
}

func TestNewBreakerDoesNotWaitForAStoppedRedis(t *testing.T) {
	r := startFleetRedis(t)
	r.Stop()
	defer r.Cont()
	start := time.Now()
	fb, err := NewBreaker(BreakerConfig{Client: r.Client(), Name: t.Name(), Interval: tick, SyncTimeout: tick / 2,
		Breaker: breaker.Config{FailureRate: 0.5, Window: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > tick/2 {
		t.Errorf("NewBreaker took %v with Redis stopped", d)
	}
	p, err := fb.Allow()
	if err != nil {
		t.Fatal(err)
	}
	p.Done(errors.New("x"))
	fb.Close()
}

// TestCloseWhileRedisIsStopped: Close abandons a round trip to a frozen
// Redis rather than waiting for its SyncTimeout, and may be called again.
func TestCloseWhileRedisIsStopped(t *testing.T) {
	r := startFleetRedis(t)
	const timeout = 3 * time.Second
	fb, err := NewBreaker(BreakerConfig{Client: r.Client(), Name: t.Name(), Interval: tick, SyncTimeout: timeout,
		Breaker: breaker.Config{FailureRate: 0.5, Window: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a first sync", func() bool { return fb.ticks.Load() > 0 })
	r.Stop()
	defer r.Cont()
	// The next round starts within an Interval and hangs on the frozen
	// Redis: wait for it to have begun.
	from := fb.Snapshot().Syncs
	eventually(t, 5*time.Second, "a round begun", func() bool { return fb.Snapshot().Syncs > from })
	start := time.Now()
	if err := fb.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= timeout {
		t.Fatalf("Close took %v with Redis stopped, not less than the SyncTimeout %v", d, timeout)
	}
	if err := fb.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if s := fb.Snapshot(); s.Mode != ModeFleet || s.SyncFailures != 0 {
		t.Fatalf("snapshot after Close %+v: the abandoned round counted as a failure of Redis", s)
	}
	// The local breaker works on alone.
	p, err := fb.Allow()
	if err != nil {
		t.Fatal(err)
	}
	p.Done(nil)
}

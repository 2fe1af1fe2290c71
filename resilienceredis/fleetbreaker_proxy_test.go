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
			px.Delay(10 * tick) // far above the round trip's Timeout
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

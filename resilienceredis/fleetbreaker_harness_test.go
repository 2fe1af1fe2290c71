package resilienceredis

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/netresilience/resilience/resilienceredis/internal/redistest"
)

// fleetRedis is the fleet breaker's tests' view of a real redis-server
// (redistest.Server): owned by one test, stopped at its end.
type fleetRedis struct {
	*redistest.Server
	t testing.TB
}

// startFleetRedis starts a redis-server, or skips the test when the binary
// is missing and CI is not set (under CI it fails instead).
func startFleetRedis(t testing.TB) *fleetRedis {
	t.Helper()
	return &fleetRedis{Server: redistest.Start(t), t: t}
}

// Stop freezes the server (SIGSTOP): connections stay open, nothing answers.
func (r *fleetRedis) Stop() { r.Pause() }

// Cont thaws a stopped server.
func (r *fleetRedis) Cont() { r.Resume() }

// Client returns a client of the server, closed when the test ends.
func (r *fleetRedis) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
	r.t.Cleanup(func() { c.Close() })
	return c
}

// eventually polls cond until it holds, failing the test after limit.
func eventually(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", limit, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

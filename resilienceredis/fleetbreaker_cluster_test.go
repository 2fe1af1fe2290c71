package resilienceredis_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resilienceredis"
	"github.com/netresilience/resilience/resilienceredis/internal/redistest"
)

// TestBreakerCluster runs a fleet breaker through a Cluster client: the
// windows' sum opens both replicas, one of them probes after the recovery
// timeout, and its success closes both.
func TestBreakerCluster(t *testing.T) {
	srv := redistest.StartCluster(t)
	fbs := make([]*resilienceredis.Breaker, 2)
	for i := range fbs {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr}})
		t.Cleanup(func() { _ = c.Close() })
		fb, err := resilienceredis.NewBreaker(resilienceredis.BreakerConfig{
			Client:   c,
			Name:     "cluster-breaker",
			Replica:  "c" + string(rune('0'+i)),
			Interval: 40 * time.Millisecond,
			Breaker: breaker.Config{
				FailureThreshold: -1,
				FailureRate:      0.5,
				Window:           10 * time.Second,
				MinCalls:         6,
				RecoveryTimeout:  300 * time.Millisecond,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = fb.Close() })
		fbs[i] = fb
	}
	down := &resilience.NetworkError{Err: errors.New("down")}
	for _, fb := range fbs {
		for range 3 { // 3 each: below MinCalls alone, 6 together
			p, err := fb.Allow()
			if err != nil {
				t.Fatalf("rejected before the fleet opened: %v", err)
			}
			p.Done(down)
		}
	}
	waitFor(t, 5*time.Second, "both replicas open", func() bool {
		return fbs[0].Local().State() == breaker.Open && fbs[1].Local().State() == breaker.Open
	})
	// After the recovery timeout exactly one replica lets a probe through.
	var probes int
	waitFor(t, 5*time.Second, "a probe", func() bool {
		var permits []breaker.Permit
		for _, fb := range fbs {
			if p, err := fb.Allow(); err == nil {
				probes++
				permits = append(permits, p)
			}
		}
		for _, p := range permits { // report once every replica was asked
			p.Done(nil)
		}
		return probes > 0
	})
	if probes != 1 {
		t.Fatalf("%d probes in one round, want 1", probes)
	}
	// The probe succeeded: both replicas close, and stay closed over
	// further rounds (no replica reopens the fleet or probes it again).
	waitFor(t, 5*time.Second, "both replicas closed", func() bool {
		return fbs[0].Local().State() == breaker.Closed && fbs[1].Local().State() == breaker.Closed
	})
	for _, fb := range fbs {
		from := fb.Snapshot().Syncs
		waitFor(t, 5*time.Second, "three more rounds", func() bool { return fb.Snapshot().Syncs >= from+3 })
	}
	for i, fb := range fbs {
		if s, f := fb.Local().State(), fb.Snapshot().Fleet; s != breaker.Closed || f != resilienceredis.FleetClosed {
			t.Fatalf("replica %d after the fleet closed: local %v, fleet %v; want closed, closed", i, s, f)
		}
	}
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", limit, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

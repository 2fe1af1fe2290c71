package resilienceredis

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/internal/observe"
	"github.com/redis/go-redis/v9"
)

// DefaultPrefix begins every key of a policy whose Config leaves Prefix empty.
const DefaultPrefix = "resilience"

// DefaultSyncTimeout bounds each Redis call of a policy whose Config leaves
// SyncTimeout zero.
const DefaultSyncTimeout = 250 * time.Millisecond

// DefaultInterval is the background loop's period for a Config whose
// Interval is zero.
const DefaultInterval = 100 * time.Millisecond

// The modes of a fleet policy, as its StateChange events name them.
const (
	ModeFleet = "fleet" // deciding from state shared through Redis
	ModeLocal = "local" // Redis failed: deciding from local state alone
)

// key returns the Redis key of one part of the policy name: every key of one
// policy holds the hash tag {name}, so that Redis Cluster keeps them on one
// slot and a script may touch them all.
func key(prefix, name, part string) string {
	return prefix + ":{" + name + "}:" + part
}

// redisTime returns Redis's clock, so that replicas with skewed clocks agree.
func redisTime(ctx context.Context, c redis.UniversalClient) (time.Time, error) {
	return c.Time(ctx).Result()
}

// fleetState tracks whether a policy decides from the fleet or locally, and
// tells the observer when that changes. Only the policy's background loop
// calls its methods; the hot path reads local with one atomic load.
type fleetState struct {
	kind     resilience.Kind
	name     string
	observer *resilience.Observer
	local    *atomic.Bool // set before the observer hears of a change
}

// set records the outcome of a sync: err nil means Redis answered. It
// reports a change of mode to the observer's StateChange, with Err the
// cause of a fall back to local state. It is called with no lock held.
func (f *fleetState) set(err error) {
	local := err != nil
	if local == f.local.Load() {
		return
	}
	from, to := ModeFleet, ModeLocal
	if !local {
		from, to = ModeLocal, ModeFleet
	}
	f.local.Store(local)
	if f.observer != nil && f.observer.StateChange != nil {
		observe.Call(f.observer.StateChange, resilience.Event{
			Type:    resilience.EventStateChange,
			Kind:    f.kind,
			Policy:  f.name,
			Context: context.Background(),
			Time:    time.Now(),
			Err:     err,
			From:    from,
			To:      to,
		})
	}
}

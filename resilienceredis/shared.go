package resilienceredis

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/internal/observe"
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

// syncLoop is a policy's background goroutine: it runs the policy's sync
// step at once, every interval, and whenever the hot path signals it, each
// run bounded by timeout; it counts runs and failures and keeps the fleet
// state (mode and events) from each run's error. The hot path only calls
// signal, which never blocks and allocates nothing.
type syncLoop struct {
	timeout  time.Duration
	interval time.Duration
	state    fleetState
	local    atomic.Bool

	syncs    atomic.Uint64
	failures atomic.Uint64

	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// start begins the loop. step runs one sync under a context that ends
// after the timeout (or at stop); it returns the earliest time it should run
// again even if signalled (zero for no such limit) and its error. due says,
// between runs, whether a run is needed now.
func (l *syncLoop) start(kind resilience.Kind, name string, o *resilience.Observer, interval, timeout time.Duration,
	due func() bool, step func(context.Context) (time.Time, error)) {
	l.interval, l.timeout = interval, timeout
	l.state = fleetState{kind: kind, name: name, observer: o, local: &l.local}
	l.wake = make(chan struct{}, 1)
	l.done = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go l.run(ctx, due, step)
}

func (l *syncLoop) run(ctx context.Context, due func() bool, step func(context.Context) (time.Time, error)) {
	defer close(l.done)
	tick := time.NewTicker(l.interval)
	defer tick.Stop()
	var notBefore time.Time
	for {
		if (l.local.Load() || due()) && !time.Now().Before(notBefore) {
			l.syncs.Add(1)
			sctx, cancel := context.WithTimeout(ctx, l.timeout)
			next, err := step(sctx)
			cancel()
			if ctx.Err() != nil {
				return
			}
			notBefore = next
			if err != nil {
				l.failures.Add(1)
				notBefore = time.Now().Add(l.interval)
			}
			l.state.set(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		case <-tick.C:
		}
	}
}

// signal asks the loop to check at once whether a sync is due.
func (l *syncLoop) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// stop ends the loop and waits for it. It may be called more than once.
func (l *syncLoop) stop() {
	l.once.Do(func() {
		l.cancel()
		<-l.done
	})
}

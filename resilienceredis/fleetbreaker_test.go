package resilienceredis

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
)

var errDown = &resilience.NetworkError{Err: errors.New("down")}

const tick = 40 * time.Millisecond

// fleetEvents records a replica's fleet events: StateChanges of Kind
// KindFleet, fleet to local (fallbacks) and back (connected).
type fleetEvents struct {
	fallbacks, connected, other atomic.Int32
	mu                          sync.Mutex
	errs                        []error
}

func (e *fleetEvents) observer() *resilience.Observer {
	return &resilience.Observer{
		StateChange: func(ev resilience.Event) {
			switch {
			case ev.Kind != resilience.KindFleet:
				e.other.Add(1)
			case ev.From == ModeFleet && ev.To == ModeLocal && ev.Err != nil:
				e.mu.Lock()
				e.errs = append(e.errs, ev.Err)
				e.mu.Unlock()
				e.fallbacks.Add(1)
			case ev.From == ModeLocal && ev.To == ModeFleet && ev.Err == nil:
				e.connected.Add(1)
			default:
				e.other.Add(1)
			}
		},
	}
}

// channelOf is the channel of the breaker name with the default Prefix.
func channelOf(name string) string { return key(DefaultPrefix, name, "events") }

// newFleet makes n replicas of the breaker name on r, each with its own
// client, closed when the test ends.
func newFleet(t *testing.T, r *fleetRedis, n int, mod func(i int, c *BreakerConfig)) ([]*Breaker, []*fleetEvents) {
	t.Helper()
	fbs := make([]*Breaker, n)
	evs := make([]*fleetEvents, n)
	for i := range n {
		evs[i] = &fleetEvents{}
		cfg := BreakerConfig{
			Client:      r.Client(),
			Name:        t.Name(),
			Replica:     "r" + string(rune('0'+i)),
			Interval:    tick,
			SyncTimeout: 2 * tick,
			Breaker: breaker.Config{
				FailureThreshold: -1,
				FailureRate:      0.5,
				Window:           10 * time.Second,
				MinCalls:         6,
				RecoveryTimeout:  time.Hour,
			},
			Observer: evs[i].observer(),
		}
		if mod != nil {
			mod(i, &cfg)
		}
		fb, err := NewBreaker(cfg)
		if err != nil {
			t.Fatal(err)
		}
		fbs[i] = fb
		t.Cleanup(func() { fb.Close() })
	}
	// Wait for every subscription, so that no published transition is
	// missed by a replica still connecting.
	c := r.Client()
	eventually(t, 5*time.Second, "every replica subscribed", func() bool {
		m, err := c.PubSubNumSub(context.Background(), channelOf(t.Name())).Result()
		return err == nil && m[channelOf(t.Name())] == int64(n)
	})
	// And for a first round at each and, at replicas that sync every
	// tick, for one that succeeded, so that the tests begin in fleet mode
	// even if a first round timed out on a loaded machine.
	for _, fb := range fbs {
		eventually(t, 5*time.Second, "a first sync", func() bool {
			s := fb.Snapshot()
			return fb.ticks.Load() > 0 && (fb.interval > tick || s.Syncs > s.SyncFailures && s.Mode == ModeFleet)
		})
	}
	return fbs, evs
}

func fail(t *testing.T, b *breaker.Breaker, n int) {
	t.Helper()
	for range n {
		p, err := b.Allow()
		if err != nil {
			t.Fatalf("rejected: %v", err)
		}
		p.Done(errDown)
	}
}

func states(fbs []*Breaker) []breaker.State {
	s := make([]breaker.State, len(fbs))
	for i, fb := range fbs {
		s[i] = fb.Local().State()
	}
	return s
}

func allIn(fbs []*Breaker, s breaker.State) bool {
	for _, fb := range fbs {
		if fb.Local().State() != s {
			return false
		}
	}
	return true
}

// waitTicks waits until fb has run n more rounds of its loop.
func waitTicks(t *testing.T, fb *Breaker, n int64) {
	t.Helper()
	to := fb.ticks.Load() + n
	eventually(t, time.Duration(n)*tick+5*time.Second, "ticks", func() bool { return fb.ticks.Load() >= to })
}

func TestFleetOpensOnTheSumOfItsWindows(t *testing.T) {
	r := startFleetRedis(t)
	fbs, _ := newFleet(t, r, 3, nil)
	// 3 failures each: below MinCalls for any one replica, 9 >= 6 for the
	// fleet.
	for _, fb := range fbs {
		fail(t, fb.Local(), 3)
	}
	for _, fb := range fbs {
		if s := fb.Local().State(); s != breaker.Closed {
			t.Fatalf("a replica opened alone: %v", s)
		}
	}
	var from [3]int64
	for i, fb := range fbs {
		from[i] = fb.ticks.Load()
	}
	eventually(t, 3*time.Second, "the fleet opens", func() bool { return allIn(fbs, breaker.Open) })
	// Within one Interval: a round in progress when the failures ended,
	// the round that published the last window, and the one that read
	// the sum. Fewer rounds when a late ticker catches up.
	least := int64(1 << 62)
	for i, fb := range fbs {
		least = min(least, fb.ticks.Load()-from[i])
	}
	if least > 3 {
		t.Fatalf("every replica ran %d or more rounds before the fleet opened, want at most 3", least)
	}
	// A round later every replica has read the whole fleet's windows.
	for i, fb := range fbs {
		waitTicks(t, fb, 2)
		s := fb.Snapshot()
		want := BreakerSnapshot{Replica: "r" + strconv.Itoa(i), Mode: ModeFleet, Fleet: FleetOpen,
			Calls: 9, Failures: 9, Reporting: 3, Syncs: s.Syncs, SyncFailures: s.SyncFailures} // a first round may time out
		if s != want || s.Syncs < 2 || s.Fleet.String() != "open" {
			t.Fatalf("replica %d: snapshot %+v, want %+v with 2 syncs or more", i, s, want)
		}
	}
}

func TestFleetStateString(t *testing.T) {
	for s, want := range map[FleetState]string{FleetClosed: "closed", FleetOpen: "open", FleetProbing: "probing", 7: "FleetState(7)"} {
		if got := s.String(); got != want {
			t.Errorf("FleetState(%d).String() = %q, want %q", s, got, want)
		}
	}
}

func TestFleetOpeningReachesEveryReplicaThroughPubSub(t *testing.T) {
	r := startFleetRedis(t)
	// Replicas 1 and 2 never run their loop again after the first round:
	// only the published transition can open them.
	fbs, _ := newFleet(t, r, 3, func(i int, c *BreakerConfig) {
		c.Breaker.FailureThreshold = 3
		if i > 0 {
			c.Interval = time.Hour
		}
	})
	for _, fb := range fbs[1:] {
		eventually(t, 5*time.Second, "first round", func() bool { return fb.ticks.Load() >= 1 })
	}
	fail(t, fbs[0].Local(), 3) // its own failures in a row open replica 0
	eventually(t, 3*time.Second, "the others open", func() bool { return allIn(fbs, breaker.Open) })
	for _, fb := range fbs[1:] {
		if n := fb.ticks.Load(); n != 1 {
			t.Fatalf("replica ran %d rounds: the pub/sub path was not the one tested", n)
		}
	}
}

func TestQuorumKeepsOneBadReplicaFromOpeningTheFleet(t *testing.T) {
	r := startFleetRedis(t)
	fbs, _ := newFleet(t, r, 3, func(i int, c *BreakerConfig) { c.Quorum = 2 })
	fail(t, fbs[0].Local(), 6) // enough to open replica 0 by itself
	if s := fbs[0].Local().State(); s != breaker.Open {
		t.Fatalf("replica 0 is %v, want open on its own window", s)
	}
	for _, fb := range fbs {
		waitTicks(t, fb, 5)
	}
	if s := states(fbs[1:]); s[0] != breaker.Closed || s[1] != breaker.Closed {
		t.Fatalf("one replica's failures opened the fleet under Quorum 2: %v", s)
	}
	fail(t, fbs[1].Local(), 2) // a second replica sees failures
	eventually(t, 3*time.Second, "the fleet opens with 2 replicas failing", func() bool { return allIn(fbs, breaker.Open) })
}

// openFleet opens the fleet of fbs through replica 0's failures.
func openFleet(t *testing.T, fbs []*Breaker) {
	t.Helper()
	fail(t, fbs[0].Local(), 6)
	eventually(t, 3*time.Second, "the fleet opens", func() bool { return allIn(fbs, breaker.Open) })
}

func TestExactlyOneProberInTheFleet(t *testing.T) {
	r := startFleetRedis(t)
	fbs, _ := newFleet(t, r, 3, func(i int, c *BreakerConfig) { c.Breaker.RecoveryTimeout = 300 * time.Millisecond })
	openFleet(t, fbs)

	var calls, beforeReport atomic.Int32
	var reported atomic.Bool
	var prober atomic.Int32
	prober.Store(-1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, fb := range fbs {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				p, err := fb.Allow()
				if err != nil {
					time.Sleep(time.Millisecond)
					continue
				}
				calls.Add(1)
				if !reported.Load() {
					beforeReport.Add(1)
					prober.CompareAndSwap(-1, int32(i))
					time.Sleep(50 * time.Millisecond) // the probe takes a while: others would come in
					reported.Store(true)
				}
				p.Done(nil)
			}
		})
	}
	eventually(t, 5*time.Second, "the fleet closes", func() bool { return allIn(fbs, breaker.Closed) })
	close(stop)
	wg.Wait()
	if n := beforeReport.Load(); n != 1 {
		t.Fatalf("%d calls reached the service before the probe reported, want 1", n)
	}
	if calls.Load() < 2 {
		t.Fatal("no call after the fleet closed")
	}
}

// TestNoCallGetsPastTheProbe hammers every replica with calls that never
// report while the fleet's open time ends: the winner of the probe goes
// from held open to half-open with no closed state in between, so the one
// probe is the only call admitted in the fleet.
func TestNoCallGetsPastTheProbe(t *testing.T) {
	for round := range 6 {
		t.Run(strconv.Itoa(round), func(t *testing.T) {
			r := startFleetRedis(t)
			// A long SyncTimeout, and clients without the harness's short
			// read timeout: the hammer must not starve the loops into
			// falling back to local decisions, which admit everything.
			fbs, evs := newFleet(t, r, 3, func(i int, c *BreakerConfig) {
				c.Breaker.RecoveryTimeout = 200 * time.Millisecond
				c.SyncTimeout = 5 * time.Second
				rc := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1, ReadTimeout: -1, WriteTimeout: -1})
				t.Cleanup(func() { rc.Close() })
				c.Client = rc
			})
			openFleet(t, fbs)
			var admitted atomic.Int32
			var stop atomic.Bool
			var wg sync.WaitGroup
			for _, fb := range fbs {
				for range 2 {
					wg.Go(func() {
						for !stop.Load() {
							if _, err := fb.Allow(); err == nil { // never reported: the probe stays in flight
								admitted.Add(1)
							}
						}
					})
				}
			}
			eventually(t, 5*time.Second, "a probe", func() bool { return admitted.Load() > 0 })
			for _, fb := range fbs {
				waitTicks(t, fb, 3)
			}
			stop.Store(true)
			wg.Wait()
			for i, ev := range evs {
				if n := ev.fallbacks.Load(); n != 0 {
					ev.mu.Lock()
					defer ev.mu.Unlock()
					t.Fatalf("replica %d fell back to local decisions %d times (%v): the test proves nothing", i, n, ev.errs)
				}
			}
			if n := admitted.Load(); n != 1 {
				t.Fatalf("%d calls admitted in the fleet, want the one probe", n)
			}
			probing := 0
			for _, fb := range fbs {
				if fb.Snapshot().Fleet == FleetProbing {
					probing++
				}
			}
			if probing != 1 {
				t.Fatalf("%d replicas probing, want 1", probing)
			}
		})
	}
}

// TestReplicaThatMissedTheCloseFindsTheMark: a replica held open that did
// not hear the prober's "closed" (here a prober that published nothing)
// finds the closed mark when the fleet's open time ends, and closes instead
// of taking the probe of a fleet already closed.
func TestReplicaThatMissedTheCloseFindsTheMark(t *testing.T) {
	r := startFleetRedis(t)
	fbs, _ := newFleet(t, r, 2, nil) // open for an hour
	openFleet(t, fbs)
	c := r.Client()
	ctx := context.Background()
	now, err := c.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	mark := strconv.FormatInt(now.UnixMilli(), 10) + " r9"
	pipe := c.TxPipeline()
	pipe.Del(ctx, key(DefaultPrefix, t.Name(), "open"))
	pipe.Set(ctx, key(DefaultPrefix, t.Name(), "closed"), mark, time.Minute)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "both close", func() bool { return allIn(fbs, breaker.Closed) })
	for i, fb := range fbs {
		if s := fb.Snapshot(); s.Fleet != FleetClosed {
			t.Fatalf("replica %d: fleet %v, want closed", i, s.Fleet)
		}
	}
	if n, err := c.Exists(ctx, key(DefaultPrefix, t.Name(), "probe")).Result(); err != nil || n != 0 {
		t.Fatalf("the probe key exists (%d, %v): a replica took the probe of a closed fleet", n, err)
	}
	// The fleet opens again as usual, and its opening removes the mark.
	openFleet(t, fbs)
	if n, err := c.Exists(ctx, key(DefaultPrefix, t.Name(), "closed")).Result(); err != nil || n != 0 {
		t.Fatalf("the closed mark outlived the next opening (%d, %v)", n, err)
	}
}

func TestAnotherReplicaProbesWhenTheProberDies(t *testing.T) {
	r := startFleetRedis(t)
	fbs, _ := newFleet(t, r, 2, func(i int, c *BreakerConfig) {
		c.Breaker.RecoveryTimeout = 200 * time.Millisecond
		c.ProbeTTL = 300 * time.Millisecond
	})
	openFleet(t, fbs)
	// Wait for one replica to win the probe, then let it die holding it.
	var dead int
	eventually(t, 5*time.Second, "a replica takes the probe", func() bool {
		for i, fb := range fbs {
			if _, err := fb.Allow(); err == nil { // never reported
				dead = i
				return true
			}
		}
		return false
	})
	fbs[dead].Close()
	other := fbs[1-dead]
	if _, err := other.Allow(); err == nil {
		t.Fatal("the other replica probed while the probe was held")
	}
	eventually(t, 5*time.Second, "the other replica probes once the key expires", func() bool {
		p, err := other.Allow()
		if err != nil {
			return false
		}
		p.Done(nil)
		return true
	})
	eventually(t, 3*time.Second, "it closes", func() bool { return other.Local().State() == breaker.Closed })
}

func TestStoppedRedisLeavesCallsLocal(t *testing.T) {
	r := startFleetRedis(t)
	fbs, evs := newFleet(t, r, 2, nil)
	openFleet(t, fbs)

	r.Stop()
	// The hot path does no I/O: a call while Redis is frozen returns at once.
	start := time.Now()
	_, err := fbs[1].Allow()
	if !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("a call with the fleet open: %v, want ErrOpen", err)
	}
	if d := time.Since(start); d > tick/2 {
		t.Fatalf("a call took %v with Redis stopped, more than the background timeout", d)
	}
	eventually(t, 3*time.Second, "every replica falls back", func() bool {
		return evs[0].fallbacks.Load() > 0 && evs[1].fallbacks.Load() > 0
	})
	eventually(t, time.Second, "local decisions", func() bool { return allIn(fbs, breaker.Closed) })
	p, err := fbs[1].Allow()
	if err != nil {
		t.Fatalf("fallen back replica rejects: %v", err)
	}
	p.Done(nil)

	r.Cont()
	eventually(t, 5*time.Second, "Redis answers again", func() bool {
		return evs[0].connected.Load() > 0 && evs[1].connected.Load() > 0
	})
	// The fleet's open key is still there (an hour): the state merges back.
	eventually(t, 3*time.Second, "the fleet state merges back", func() bool { return allIn(fbs, breaker.Open) })
}

func TestRestartedRedisReconverges(t *testing.T) {
	r := startFleetRedis(t)
	fbs, evs := newFleet(t, r, 2, nil)
	openFleet(t, fbs)
	r.Kill()
	eventually(t, 3*time.Second, "every replica falls back", func() bool { return allIn(fbs, breaker.Closed) })
	r.Restart()
	eventually(t, 5*time.Second, "Redis answers again", func() bool {
		return evs[0].connected.Load() > 0 && evs[1].connected.Load() > 0
	})
	// The restarted Redis is empty: the fleet is closed, and opens again
	// on the sum of both windows, through resubscribed replicas.
	c := r.Client()
	eventually(t, 5*time.Second, "both resubscribed", func() bool {
		m, err := c.PubSubNumSub(context.Background(), channelOf(t.Name())).Result()
		return err == nil && m[channelOf(t.Name())] == 2
	})
	if s := states(fbs); s[0] != breaker.Closed || s[1] != breaker.Closed {
		t.Fatalf("states after restart: %v", s)
	}
	fail(t, fbs[0].Local(), 3)
	fail(t, fbs[1].Local(), 3)
	eventually(t, 3*time.Second, "the fleet opens again", func() bool { return allIn(fbs, breaker.Open) })
}

// TestBadDataIsAnErrorEventNotAPanic puts garbage in every key the breaker
// reads: each is a fall back to local decisions with an event that says
// why, never a panic, and the replica follows the fleet again once the key
// is gone.
func TestBadDataIsAnErrorEventNotAPanic(t *testing.T) {
	ctx := context.Background()
	str := func(v string) func(c *redis.Client, k string) error {
		return func(c *redis.Client, k string) error { return c.Set(ctx, k, v, 0).Err() }
	}
	list := func(c *redis.Client, k string) error { return c.LPush(ctx, k, "x").Err() }
	// window puts v in the window of a replica x that joined the fleet.
	window := func(v string) func(c *redis.Client, k string) error {
		return func(c *redis.Client, k string) error {
			if err := c.SAdd(ctx, k, "x").Err(); err != nil {
				return err
			}
			return c.Set(ctx, k[:len(k)-len("replicas")]+"w:x", v, 0).Err()
		}
	}
	for _, tc := range []struct {
		name, part string // the key's part
		put        func(c *redis.Client, key string) error
		want       string
	}{
		{"open wrong type", "open", list, "WRONGTYPE"},
		{"open garbage", "open", str("garbage"), "bad data"},
		{"open three fields", "open", str("1 2 3"), "bad data"},
		{"open not a number", "open", str("soon r1"), "bad data"},
		{"open negative", "open", str("-5 r1"), "bad data"},
		{"open near the int64 limit", "open", str("9223372036854775807 r1"), "bad data"},
		{"open beyond int64", "open", str("99999999999999999999 r1"), "bad data"},
		{"replicas wrong type", "replicas", str("x"), "WRONGTYPE"},
		{"probe wrong type", "probe", list, "WRONGTYPE"},
		{"window garbage", "replicas", window("garbage"), "bad data"},
		{"window negative calls", "replicas", window("1 -3 0"), "bad data"},
		{"window negative failures", "replicas", window("1 3 -1"), "bad data"},
		{"window failures above calls", "replicas", window("1 3 5"), "bad data"},
		{"window calls near the int64 limit", "replicas", window("1 9223372036854775807 0"), "bad data"},
		{"window calls beyond int64", "replicas", window("1 99999999999999999999 0"), "bad data"},
		{"window time near the int64 limit", "replicas", window("9223372036854775807 1 0"), "bad data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startFleetRedis(t)
			fbs, evs := newFleet(t, r, 1, nil)
			c := r.Client()
			k := key(DefaultPrefix, t.Name(), tc.part)
			connected := evs[0].connected.Load()
			if err := tc.put(c, k); err != nil {
				t.Fatal(err)
			}
			wantFallback(t, fbs[0], evs[0], tc.want)
			c.Del(ctx, k, key(DefaultPrefix, t.Name(), "w:x"))
			eventually(t, 3*time.Second, "back to the fleet", func() bool { return evs[0].connected.Load() > connected })
			if m := fbs[0].Snapshot().Mode; m != ModeFleet {
				t.Fatalf("mode %q after Redis answered, want %q", m, ModeFleet)
			}
		})
	}
}

// wantFallback waits for fb's fall back to local mode with an error that
// says want, and checks that its local breaker admits calls.
func wantFallback(t *testing.T, fb *Breaker, ev *fleetEvents, want string) {
	t.Helper()
	// An earlier event may say the first round trip timed out on a
	// loaded machine: look for the one about the bad data.
	eventually(t, 3*time.Second, "an error event saying "+want, func() bool {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		for _, err := range ev.errs {
			if err != nil && strings.Contains(err.Error(), want) {
				return true
			}
		}
		return false
	})
	if n := ev.other.Load(); n != 0 {
		t.Fatalf("%d events other than fleet to local and back", n)
	}
	s := fb.Snapshot()
	if s.Mode != ModeLocal || s.SyncFailures == 0 || s.Fleet != FleetClosed {
		t.Fatalf("snapshot %+v: want local mode, failed syncs counted, fleet closed", s)
	}
	eventually(t, time.Second, "local decisions", func() bool { return fb.Local().State() == breaker.Closed })
	p, err := fb.Allow()
	if err != nil {
		t.Fatalf("rejected on bad data: %v", err)
	}
	p.Done(nil)
}

// TestBadClosedMarkIsAnErrorEvent: garbage in the closed mark, read when a
// replica held open races for the probe, is a fall back too.
func TestBadClosedMarkIsAnErrorEvent(t *testing.T) {
	for _, tc := range []struct {
		name string
		put  func(c *redis.Client, k string) error
		want string
	}{
		{"wrong type", func(c *redis.Client, k string) error { return c.LPush(context.Background(), k, "x").Err() }, "WRONGTYPE"},
		{"garbage", func(c *redis.Client, k string) error { return c.Set(context.Background(), k, "garbage", 0).Err() }, "bad data"},
		{"far future", func(c *redis.Client, k string) error {
			return c.Set(context.Background(), k, "9223372036854775807 r9", 0).Err()
		}, "bad data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startFleetRedis(t)
			fbs, evs := newFleet(t, r, 1, func(i int, c *BreakerConfig) { c.Breaker.RecoveryTimeout = 300 * time.Millisecond })
			fail(t, fbs[0].Local(), 6)
			eventually(t, 3*time.Second, "the fleet opens", func() bool { return fbs[0].Snapshot().Fleet == FleetOpen })
			if err := tc.put(r.Client(), key(DefaultPrefix, t.Name(), "closed")); err != nil {
				t.Fatal(err)
			}
			wantFallback(t, fbs[0], evs[0], tc.want)
		})
	}
}

func TestNewBreakerRejectsNonsense(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	good := breaker.Config{FailureRate: 0.5, Window: time.Second}
	for _, tc := range []struct {
		cfg  BreakerConfig
		want string
	}{
		{BreakerConfig{Name: "x", Breaker: good}, "Client is required"},
		{BreakerConfig{Client: c, Breaker: good}, "Name is required"},
		{BreakerConfig{Client: c, Name: "a{b", Breaker: good}, "brace"},
		{BreakerConfig{Client: c, Name: "a}", Breaker: good}, "brace"},
		{BreakerConfig{Client: c, Name: "x", Prefix: "p{", Breaker: good}, "brace"},
		{BreakerConfig{Client: c, Name: "x", Prefix: "}", Breaker: good}, "brace"},
		{BreakerConfig{Client: c, Name: "x", Replica: "a b", Breaker: good}, "Replica"},
		{BreakerConfig{Client: c, Name: "x"}, "FailureRate"},
		{BreakerConfig{Client: c, Name: "x", Breaker: good, Interval: -1}, "Interval -1ns is negative"},
		{BreakerConfig{Client: c, Name: "x", Breaker: good, SyncTimeout: -1}, "SyncTimeout -1ns is negative"},
		{BreakerConfig{Client: c, Name: "x", Breaker: good, ProbeTTL: -1}, "ProbeTTL -1ns is negative"},
		{BreakerConfig{Client: c, Name: "x", Breaker: good, Quorum: -1}, "Quorum -1 is negative"},
		{BreakerConfig{Client: c, Name: "x", Breaker: breaker.Config{FailureRate: 2, Window: time.Second}}, "breaker: FailureRate"},
	} {
		fb, err := NewBreaker(tc.cfg)
		if err == nil {
			fb.Close()
			t.Fatalf("%+v: no error", tc.cfg)
		}
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %q, want one matching ErrConfig with %q", err, tc.want)
		}
	}
}

func TestHotPathAllocatesNothing(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer c.Close()
	fb, err := NewBreaker(BreakerConfig{Client: c, Name: "alloc", Interval: time.Hour,
		Breaker: breaker.Config{FailureRate: 0.5, Window: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	if n := testing.AllocsPerRun(1000, func() {
		p, err := fb.Allow()
		if err != nil {
			t.Fatal(err)
		}
		p.Done(nil)
	}); n != 0 {
		t.Fatalf("%v allocations per call", n)
	}
}

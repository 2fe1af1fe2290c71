package resilienceredis

import (
	"context"
	"errors"
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

// fleetEvents records a replica's fleet events.
type fleetEvents struct {
	fallbacks, connected atomic.Int32
	mu                   sync.Mutex
	errs                 []error
}

func (e *fleetEvents) observer() *resilience.Observer {
	return &resilience.Observer{
		Fallback: func(ev resilience.Event) {
			e.mu.Lock()
			e.errs = append(e.errs, ev.Err)
			e.mu.Unlock()
			e.fallbacks.Add(1)
		},
		Connected: func(resilience.Event) { e.connected.Add(1) },
	}
}

// newFleet makes n replicas of the breaker name on r, each with its own
// client, closed when the test ends.
func newFleet(t *testing.T, r *fleetRedis, n int, mod func(i int, c *BreakerConfig)) ([]*Breaker, []*fleetEvents) {
	t.Helper()
	fbs := make([]*Breaker, n)
	evs := make([]*fleetEvents, n)
	for i := range n {
		evs[i] = &fleetEvents{}
		cfg := BreakerConfig{
			Client:   r.Client(),
			Name:     t.Name(),
			Replica:  "r" + string(rune('0'+i)),
			Interval: tick,
			Timeout:  tick / 2,
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
		m, err := c.PubSubNumSub(context.Background(), "{"+t.Name()+"}:events").Result()
		return err == nil && m["{"+t.Name()+"}:events"] == int64(n)
	})
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
		m, err := c.PubSubNumSub(context.Background(), "{"+t.Name()+"}:events").Result()
		return err == nil && m["{"+t.Name()+"}:events"] == 2
	})
	if s := states(fbs); s[0] != breaker.Closed || s[1] != breaker.Closed {
		t.Fatalf("states after restart: %v", s)
	}
	fail(t, fbs[0].Local(), 3)
	fail(t, fbs[1].Local(), 3)
	eventually(t, 3*time.Second, "the fleet opens again", func() bool { return allIn(fbs, breaker.Open) })
}

func TestBadDataIsAnErrorEventNotAPanic(t *testing.T) {
	for _, tc := range []struct {
		name string
		put  func(c *redis.Client, key string) error
		want string
	}{
		{"wrong type", func(c *redis.Client, key string) error {
			return c.LPush(context.Background(), key, "x").Err()
		}, "WRONGTYPE"},
		{"garbage", func(c *redis.Client, key string) error {
			return c.Set(context.Background(), key, "garbage", 0).Err()
		}, "bad data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startFleetRedis(t)
			fbs, evs := newFleet(t, r, 1, nil)
			c := r.Client()
			if err := tc.put(c, "{"+t.Name()+"}:open"); err != nil {
				t.Fatal(err)
			}
			eventually(t, 3*time.Second, "an error event", func() bool { return evs[0].fallbacks.Load() > 0 })
			evs[0].mu.Lock()
			err := evs[0].errs[0]
			evs[0].mu.Unlock()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("event error %v, want one saying %q", err, tc.want)
			}
			p, err := fbs[0].Allow()
			if err != nil {
				t.Fatalf("rejected on bad data: %v", err)
			}
			p.Done(nil)
			c.Del(context.Background(), "{"+t.Name()+"}:open")
			eventually(t, 3*time.Second, "back to the fleet", func() bool { return evs[0].connected.Load() > 0 })
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
		{BreakerConfig{Name: "x", Breaker: good}, "Client is nil"},
		{BreakerConfig{Client: c, Breaker: good}, "Name is empty"},
		{BreakerConfig{Client: c, Name: "a{b", Breaker: good}, "brace"},
		{BreakerConfig{Client: c, Name: "x"}, "FailureRate"},
		{BreakerConfig{Client: c, Name: "x", Breaker: good, Interval: -1}, "Interval is negative"},
		{BreakerConfig{Client: c, Name: "x", Breaker: good, Quorum: -1}, "Quorum is negative"},
		{BreakerConfig{Client: c, Name: "x", Breaker: breaker.Config{FailureRate: 2, Window: time.Second}}, "breaker: FailureRate"},
	} {
		fb, err := NewBreaker(tc.cfg)
		if err == nil {
			fb.Close()
			t.Fatalf("%+v: no error", tc.cfg)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %q, want one with %q", err, tc.want)
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

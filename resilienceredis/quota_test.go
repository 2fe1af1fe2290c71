package resilienceredis_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/resilienceredis"
	"github.com/netresilience/resilience/resilienceredis/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// newClient returns a client of addr, closed when the test ends, whose
// own timeouts are short, so that a paused server does not hold the pool.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:         addr,
		MaxRetries:   -1,
		DialTimeout:  200 * time.Millisecond,
		ReadTimeout:  200 * time.Millisecond,
		WriteTimeout: 200 * time.Millisecond,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// modes records a quota's StateChange events.
type modes struct {
	mu     sync.Mutex
	events []resilience.Event
	ch     chan resilience.Event
}

func newModes() *modes { return &modes{ch: make(chan resilience.Event, 64)} }

func (m *modes) observer() *resilience.Observer {
	return &resilience.Observer{StateChange: func(e resilience.Event) {
		m.mu.Lock()
		m.events = append(m.events, e)
		m.mu.Unlock()
		m.ch <- e
	}}
}

// next waits for the next event, failing the test after a generous bound.
func (m *modes) next(t *testing.T) resilience.Event {
	t.Helper()
	select {
	case e := <-m.ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no StateChange event")
		return resilience.Event{}
	}
}

func newQuota(t testing.TB, cfg resilienceredis.QuotaConfig) *resilienceredis.Quota {
	t.Helper()
	q, err := resilienceredis.NewQuota(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// waitLease waits until q holds at least n leased units.
func waitLease(t *testing.T, q *resilienceredis.Quota, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for q.Snapshot().Lease < n {
		if time.Now().After(deadline) {
			t.Fatalf("lease never reached %d: %+v", n, q.Snapshot())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNewQuotaRejectsBadConfig(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, cfg := range []resilienceredis.QuotaConfig{
		{Name: "a", Limit: 1},
		{Client: c, Limit: 1},
		{Client: c, Name: "a"},
		{Client: c, Name: "a", Limit: -1},
		{Client: c, Name: "a", Limit: 10, Lease: 11},
		{Client: c, Name: "a", Limit: 10, Lease: 4, LowWater: 5},
		{Client: c, Name: "a", Limit: 10, Replicas: -1},
		{Client: c, Name: "a", Limit: 10, SyncTimeout: -time.Second},
		{Client: c, Name: "a}b", Limit: 10},
		{Client: c, Name: "a", Prefix: "{p", Limit: 10},
		{Client: c, Name: "a", Limit: 1, Per: time.Hour, Burst: math.MaxInt64},
		{Client: c, Name: "a", Limit: math.MaxInt64, Per: time.Nanosecond},
	} {
		q, err := resilienceredis.NewQuota(cfg)
		if !errors.Is(err, resilienceredis.ErrConfig) || q != nil {
			t.Errorf("NewQuota(%+v) = %v, %v; want ErrConfig", cfg, q, err)
		}
	}
}

// TestQuotaFleetBound runs replicas sharing one quota flat out and checks
// that together they spend no more than the documented bound: Burst plus
// Limit per Per over the run, plus every replica's lease.
func TestQuotaFleetBound(t *testing.T) {
	srv := redistest.Start(t)
	const (
		replicas = 4
		limit    = 2000 // per second
		burst    = 200
		lease    = 20
	)
	var admitted atomic.Int64
	qs := make([]*resilienceredis.Quota, replicas)
	for i := range qs {
		qs[i] = newQuota(t, resilienceredis.QuotaConfig{
			Client: newClient(t, srv.Addr), Name: "bound", Limit: limit, Per: time.Second,
			Burst: burst, Lease: lease, Replicas: replicas, Interval: 10 * time.Millisecond,
		})
	}
	start := time.Now()
	run := 700 * time.Millisecond
	var wg sync.WaitGroup
	for i, q := range qs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cost := 1 + i%3 // weighted calls: 1, 2 or 3 units
			for time.Since(start) < run {
				if q.Allow(cost) {
					admitted.Add(int64(cost))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	bound := burst + int64(float64(limit)*elapsed.Seconds()) + replicas*lease
	got := admitted.Load()
	t.Logf("admitted %d units in %v; bound %d", got, elapsed, bound)
	if got > bound {
		t.Fatalf("fleet spent %d units, over the bound %d", got, bound)
	}
	// And it is a shared quota in use, not one that refuses everything:
	// the replicas went through at least the burst, lease after lease.
	// (How close they come to the rate depends on the machine's load, and
	// is no test's business.)
	if got < burst {
		t.Fatalf("fleet spent %d units, under the burst %d: the leases do not flow", got, burst)
	}
	for _, q := range qs {
		if s := q.Snapshot(); s.Mode != resilienceredis.ModeFleet || s.Failures != 0 {
			t.Errorf("snapshot %+v: want fleet mode, no failures", s)
		}
	}
}

func TestQuotaWeightedCalls(t *testing.T) {
	srv := redistest.Start(t)
	q := newQuota(t, resilienceredis.QuotaConfig{
		Client: newClient(t, srv.Addr), Name: "weighted", Limit: 100, Per: time.Hour,
		Lease: 100, LowWater: 1,
	})
	waitLease(t, q, 100)
	if !q.Allow(60) || !q.Allow(40) {
		t.Fatal("calls of 60 and 40 units out of a lease of 100 refused")
	}
	if q.Allow(1) {
		t.Fatal("a call over the hour's quota allowed")
	}
	if !q.Allow(0) || q.Allow(-1) {
		t.Fatal("Allow(0) must be true, Allow(-1) false")
	}
}

// TestQuotaPause pauses Redis mid-run: calls keep returning at once (the hot
// path does not touch Redis), the quota falls back to its local limit and
// says so, and goes back to leases when Redis resumes.
func TestQuotaPause(t *testing.T) {
	srv := redistest.Start(t)
	m := newModes()
	q := newQuota(t, resilienceredis.QuotaConfig{
		Client: newClient(t, srv.Addr), Name: "pause", Limit: 6000, Per: time.Minute,
		Lease: 10, Replicas: 10, Interval: 10 * time.Millisecond, SyncTimeout: 50 * time.Millisecond,
		Observer: m.observer(),
	})
	waitLease(t, q, 10)
	srv.Pause()
	paused := true
	defer func() {
		if paused {
			srv.Resume()
		}
	}()
	// Spend the lease: the refill that follows hangs on the paused server.
	for q.Snapshot().Lease > 0 {
		q.Allow(1)
	}
	e := m.next(t)
	if e.Kind != resilience.KindFleet || e.From != resilienceredis.ModeFleet || e.To != resilienceredis.ModeLocal || e.Err == nil {
		t.Fatalf("event %+v: want fleet -> local with an error", e)
	}
	// Redis is still stopped: a call is decided by the local limit (600 a
	// minute, burst 600) without waiting on it.
	if !q.Allow(5) {
		t.Fatal("local fallback refused a call while Redis is paused")
	}
	if s := q.Snapshot(); s.Mode != resilienceredis.ModeLocal {
		t.Fatalf("mode %q, want local", s.Mode)
	}
	srv.Resume()
	paused = false
	e = m.next(t)
	if e.From != resilienceredis.ModeLocal || e.To != resilienceredis.ModeFleet || e.Err != nil {
		t.Fatalf("event %+v: want local -> fleet", e)
	}
}

// TestQuotaAllowTouchesNoRedis asserts structurally that the hot path does
// no I/O: with Redis paused and the background loop stuck in its call, a
// thousand calls all return, on this goroutine, while the loop is blocked.
func TestQuotaAllowTouchesNoRedis(t *testing.T) {
	srv := redistest.Start(t)
	q := newQuota(t, resilienceredis.QuotaConfig{
		Client: newClient(t, srv.Addr), Name: "noio", Limit: 1000, Per: time.Hour,
		Lease: 1000, LowWater: 1, SyncTimeout: time.Hour, Interval: time.Millisecond,
	})
	waitLease(t, q, 1000)
	srv.Pause()
	defer srv.Resume()
	n := 0
	for range 1000 {
		if q.Allow(1) {
			n++
		}
	}
	if n != 1000 {
		t.Fatalf("%d of 1000 calls allowed from a lease of 1000", n)
	}
	// The lease is empty; the refill waits on the paused Redis (for an
	// hour), and still a call returns at once: refused, as an empty lease
	// with Redis not yet failed refuses it.
	if q.Allow(1) {
		t.Fatal("a call over the lease allowed")
	}
}

func TestQuotaKillRestart(t *testing.T) {
	srv := redistest.Start(t)
	m := newModes()
	q := newQuota(t, resilienceredis.QuotaConfig{
		Client: newClient(t, srv.Addr), Name: "kill", Limit: 60000, Per: time.Minute,
		Lease: 10, Replicas: 2, Interval: 10 * time.Millisecond, SyncTimeout: 100 * time.Millisecond,
		Observer: m.observer(),
	})
	waitLease(t, q, 10)
	srv.Kill()
	for q.Snapshot().Lease > 0 {
		q.Allow(1)
	}
	q.Allow(1)
	if e := m.next(t); e.To != resilienceredis.ModeLocal {
		t.Fatalf("event %+v: want local", e)
	}
	if !q.Allow(1) {
		t.Fatal("local fallback refused a call while Redis is dead")
	}
	srv.Restart()
	if e := m.next(t); e.To != resilienceredis.ModeFleet {
		t.Fatalf("event %+v: want fleet", e)
	}
	waitLease(t, q, 1)
}

func TestQuotaBlackhole(t *testing.T) {
	srv := redistest.Start(t)
	p := redistest.NewProxy(t, srv.Addr)
	m := newModes()
	q := newQuota(t, resilienceredis.QuotaConfig{
		Client: newClient(t, p.Addr), Name: "hole", Limit: 60000, Per: time.Minute,
		Lease: 10, Replicas: 2, Interval: 10 * time.Millisecond, SyncTimeout: 50 * time.Millisecond,
		Observer: m.observer(),
	})
	waitLease(t, q, 10)
	p.Blackhole(true)
	for q.Snapshot().Lease > 0 {
		q.Allow(1)
	}
	q.Allow(1)
	if e := m.next(t); e.To != resilienceredis.ModeLocal || e.Err == nil {
		t.Fatalf("event %+v: want local with an error", e)
	}
	if !q.Allow(1) {
		t.Fatal("local fallback refused a call during the partition")
	}
	p.Blackhole(false)
	p.Drop() // the connections hold replies that were swallowed
	if e := m.next(t); e.To != resilienceredis.ModeFleet {
		t.Fatalf("event %+v: want fleet", e)
	}
}

// TestQuotaWrongType puts a hash, then garbage, where the quota's key is:
// an error event and the local fallback, no panic; and back when it is
// repaired.
func TestQuotaWrongType(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr)
	ctx := context.Background()
	for _, bad := range []func() error{
		func() error { return c.HSet(ctx, "resilience:{bad}:quota", "x", "y").Err() },
		func() error { return c.Set(ctx, "resilience:{bad}:quota", "garbage", 0).Err() },
		func() error { return c.Set(ctx, "resilience:{bad}:quota", "1e30", 0).Err() },
	} {
		if err := c.Del(ctx, "resilience:{bad}:quota").Err(); err != nil {
			t.Fatal(err)
		}
		if err := bad(); err != nil {
			t.Fatal(err)
		}
		m := newModes()
		q := newQuota(t, resilienceredis.QuotaConfig{
			Client: c, Name: "bad", Limit: 600, Per: time.Minute, Lease: 10, Replicas: 2,
			Interval: 10 * time.Millisecond, Observer: m.observer(),
		})
		e := m.next(t)
		if e.To != resilienceredis.ModeLocal || e.Err == nil {
			t.Fatalf("event %+v: want local with an error", e)
		}
		t.Logf("bad data: %v", e.Err)
		if !q.Allow(1) {
			t.Fatal("local fallback refused a call")
		}
		if err := c.Del(ctx, "resilience:{bad}:quota").Err(); err != nil {
			t.Fatal(err)
		}
		if e := m.next(t); e.To != resilienceredis.ModeFleet {
			t.Fatalf("event %+v: want fleet once the key is repaired", e)
		}
		_ = q.Close()
	}
}

func TestQuotaAllowAllocatesNothing(t *testing.T) {
	srv := redistest.Start(t)
	q := newQuota(t, resilienceredis.QuotaConfig{
		Client: newClient(t, srv.Addr), Name: "allocs", Limit: 1 << 20, Per: time.Hour,
		Lease: 1 << 20, LowWater: 1,
	})
	waitLease(t, q, 1<<20)
	if a := testing.AllocsPerRun(1000, func() { q.Allow(1) }); a != 0 {
		t.Fatalf("Allow allocates %v times per call", a)
	}
}

// TestQuotaSlowRedis delays every reply past SyncTimeout: the quota falls
// back, and comes back once Redis is fast again.
func TestQuotaSlowRedis(t *testing.T) {
	srv := redistest.Start(t)
	p := redistest.NewProxy(t, srv.Addr)
	m := newModes()
	q := newQuota(t, resilienceredis.QuotaConfig{
		Client: newClient(t, p.Addr), Name: "slow", Limit: 60000, Per: time.Minute,
		Lease: 10, Replicas: 2, Interval: 10 * time.Millisecond, SyncTimeout: 30 * time.Millisecond,
		Observer: m.observer(),
	})
	waitLease(t, q, 10)
	p.Delay(300 * time.Millisecond)
	for q.Snapshot().Lease > 0 {
		q.Allow(1)
	}
	q.Allow(1)
	var timeout interface{ Timeout() bool }
	if e := m.next(t); e.To != resilienceredis.ModeLocal ||
		!errors.Is(e.Err, context.DeadlineExceeded) && !(errors.As(e.Err, &timeout) && timeout.Timeout()) {
		t.Fatalf("event %+v: want local after a timeout", e)
	}
	p.Delay(0)
	p.Drop()
	if e := m.next(t); e.To != resilienceredis.ModeFleet {
		t.Fatalf("event %+v: want fleet", e)
	}
}

// TestQuotaCallAboveLease: a call that costs more than Lease goes once the
// next refill asks for its cost; one above Burst never does.
func TestQuotaCallAboveLease(t *testing.T) {
	srv := redistest.Start(t)
	q := newQuota(t, resilienceredis.QuotaConfig{
		Client: newClient(t, srv.Addr), Name: "big", Limit: 1000, Per: time.Hour,
		Lease: 10, Interval: 10 * time.Millisecond,
	})
	waitLease(t, q, 10)
	if q.Allow(50) {
		t.Fatal("a call of 50 allowed from a lease of 10")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Wait(ctx, 50); err != nil {
		t.Fatalf("Wait(50) = %v", err)
	}
	if err := q.Wait(ctx, 1001); !errors.Is(err, resilienceredis.ErrCost) {
		t.Fatalf("Wait(1001) = %v, want ErrCost", err)
	}
	if q.Allow(1001) {
		t.Fatal("a call above Burst allowed")
	}
}

// TestQuotaWait: Wait returns once a refill brings the units, and with
// the context's cause when the quota is spent.
func TestQuotaWait(t *testing.T) {
	srv := redistest.Start(t)
	q := newQuota(t, resilienceredis.QuotaConfig{
		Client: newClient(t, srv.Addr), Name: "wait", Limit: 20, Per: time.Hour,
		Lease: 10, Interval: 10 * time.Millisecond,
	})
	ctx := context.Background()
	for i := range 20 {
		if err := q.Wait(ctx, 1); err != nil {
			t.Fatalf("Wait %d: %v", i, err)
		}
	}
	cause := errors.New("caller gave up")
	cctx, cancel := context.WithTimeoutCause(ctx, 50*time.Millisecond, cause)
	defer cancel()
	if err := q.Wait(cctx, 1); !errors.Is(err, cause) {
		t.Fatalf("Wait on a spent quota = %v, want the context's cause", err)
	}
	var nilq *resilienceredis.Quota
	if err := nilq.Wait(ctx, 1); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Fatalf("nil Quota's Wait = %v", err)
	}
}

// TestQuotaCluster shares a quota through a Cluster client.
func TestQuotaCluster(t *testing.T) {
	srv := redistest.StartCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr}})
	t.Cleanup(func() { _ = c.Close() })
	qs := make([]*resilienceredis.Quota, 2)
	for i := range qs {
		qs[i] = newQuota(t, resilienceredis.QuotaConfig{
			Client: c, Name: "cluster", Limit: 30, Per: time.Hour, Lease: 10, Interval: 10 * time.Millisecond,
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The two replicas spend the 30 units between them; which one holds
	// the last ones depends on their leases.
	total := 0
	for total < 30 && ctx.Err() == nil {
		if qs[0].Allow(1) || qs[1].Allow(1) {
			total++
		}
	}
	if total != 30 {
		t.Fatalf("the replicas spent %d of 30 units", total)
	}
	if qs[0].Allow(1) || qs[1].Allow(1) {
		t.Fatal("a call over the shared quota allowed")
	}
	if n, err := c.Exists(ctx, "resilience:{cluster}:quota").Result(); err != nil || n != 1 {
		t.Fatalf("quota key: %d, %v", n, err)
	}
}

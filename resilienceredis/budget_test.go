package resilienceredis_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/resilienceredis"
	"github.com/netresilience/resilience/resilienceredis/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func newFleetBudget(t testing.TB, cfg resilienceredis.BudgetConfig) *resilienceredis.Budget {
	t.Helper()
	fb, err := resilienceredis.NewBudget(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fb.Close() })
	return fb
}

// until polls cond every millisecond, failing the test after ten seconds.
func until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// synced waits until fb has synced with Redis at least n more times, in
// fleet mode.
func synced(t testing.TB, fb *resilienceredis.Budget, n uint64) {
	t.Helper()
	s := fb.Snapshot()
	until(t, "the budget syncs", func() bool {
		now := fb.Snapshot()
		return now.Mode == resilienceredis.ModeFleet && now.Synced >= s.Synced+n
	})
}

func TestNewBudgetRejectsBadConfig(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, cfg := range []resilienceredis.BudgetConfig{
		{Name: "a"},
		{Client: c},
		{Client: c, Name: "a{b"},
		{Client: c, Name: "a", Prefix: "p}"},
		{Client: c, Name: "a", Replica: "r 1"},
		{Client: c, Name: "a", Reserve: -1},
		{Client: c, Name: "a", Interval: -time.Second},
		{Client: c, Name: "a", SyncTimeout: -time.Second},
		{Client: c, Name: "a", Interval: 10 * time.Second},
		{Client: c, Name: "a", Budget: budget.Config{Ratio: 2}},
		{Client: c, Name: "a", Budget: budget.Config{Window: 2 * 366 * 24 * time.Hour}},
	} {
		fb, err := resilienceredis.NewBudget(cfg)
		if !errors.Is(err, resilienceredis.ErrConfig) || fb != nil {
			t.Errorf("NewBudget(%+v) = %v, %v; want ErrConfig", cfg, fb, err)
		}
	}
}

// hammer runs each budget's Local in its own goroutine until stop is
// closed: deposits deposits and one withdrawal per round, and counts the
// withdrawals allowed.
func hammer(fbs []*resilienceredis.Budget, deposits []int, stop <-chan struct{}) (allowed []int64, wait func()) {
	allowed = make([]int64, len(fbs))
	var wg sync.WaitGroup
	for i, fb := range fbs {
		wg.Go(func() {
			b := fb.Local()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for range deposits[i] {
					b.Deposit()
				}
				if b.Withdraw() {
					allowed[i]++
				}
				time.Sleep(50 * time.Microsecond)
			}
		})
	}
	return allowed, wg.Wait
}

// TestBudgetFleetFloorBound runs four replicas flat out on a budget whose
// floor alone decides: each alone would allow 600 retries in the window, the
// fleet together must stay within 600 plus the grants outstanding.
func TestBudgetFleetFloorBound(t *testing.T) {
	srv := redistest.Start(t)
	const (
		replicas = 4
		reserve  = 5
		floor    = 600 // 20 a second over 30s
	)
	cfg := budget.Config{Ratio: -1, MinPerSecond: 20, Window: 30 * time.Second}
	if b := budget.MustNew(cfg); b.Snapshot().Balance != floor {
		t.Fatalf("a budget alone allows %v retries at once, want %d", b.Snapshot().Balance, floor)
	}
	var fbs []*resilienceredis.Budget
	for i := range replicas {
		fbs = append(fbs, newFleetBudget(t, resilienceredis.BudgetConfig{
			Client: newClient(t, srv.Addr), Name: "floor", Replica: strconv.Itoa(i), Budget: cfg,
			Reserve: reserve, Interval: 20 * time.Millisecond,
		}))
	}
	stop := make(chan struct{})
	allowed, wait := hammer(fbs, []int{1, 1, 1, 1}, stop)
	// The fleet spends the floor at up to replicas×reserve a sync; stop
	// when it has stopped growing for a while, or after ten seconds.
	var total int64
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && fbs[0].Snapshot().FleetRetries < floor-replicas*reserve {
		time.Sleep(10 * time.Millisecond)
	}
	for _, fb := range fbs {
		synced(t, fb, 2)
	}
	close(stop)
	wait()
	for _, n := range allowed {
		total += n
	}
	t.Logf("fleet retries %d (per replica %v), floor %d, bound %d; alone each would allow %d", total, allowed, floor, floor+replicas*reserve, floor)
	if total > floor+replicas*reserve {
		t.Fatalf("fleet spent %d retries, above the bound %d", total, floor+replicas*reserve)
	}
	if total < floor-replicas*reserve {
		t.Fatalf("fleet spent only %d retries of %d", total, floor)
	}
	for _, fb := range fbs {
		if s := fb.Snapshot(); s.FleetRetries+s.Reserved > floor+replicas*reserve || s.Replicas != replicas {
			t.Fatalf("snapshot %+v: want %d replicas and retries within the bound", s, replicas)
		}
	}
}

// TestBudgetFleetRatioBound shares a ratio budget between replicas of
// uneven traffic, one with none: the fleet's retries stay within Ratio of
// the fleet's calls (plus the grants), and the idle replica may still
// retry from the others' deposits.
func TestBudgetFleetRatioBound(t *testing.T) {
	srv := redistest.Start(t)
	const (
		replicas = 3
		reserve  = 4
		ratio    = 0.2
	)
	cfg := budget.Config{Ratio: ratio, MinPerSecond: -1, Window: 30 * time.Second}
	var fbs []*resilienceredis.Budget
	for i := range replicas {
		fbs = append(fbs, newFleetBudget(t, resilienceredis.BudgetConfig{
			Client: newClient(t, srv.Addr), Name: "ratio", Replica: strconv.Itoa(i), Budget: cfg,
			Reserve: reserve, Interval: 20 * time.Millisecond,
		}))
	}
	stop := make(chan struct{})
	allowed, wait := hammer(fbs, []int{0, 1, 3}, stop)
	until(t, "the idle replica retries", func() bool { return fbs[0].Local().Snapshot().Retries >= 3 })
	until(t, "the fleet has counted 2,000 calls", func() bool { return fbs[0].Snapshot().FleetCalls >= 2000 })
	close(stop)
	wait()
	var deposits uint64
	var total int64
	for i, fb := range fbs {
		d, w := fb.Local().Totals()
		deposits += d
		total += allowed[i]
		if uint64(allowed[i]) != w {
			t.Fatalf("replica %d: %d retries allowed, its budget counted %d", i, allowed[i], w)
		}
	}
	bound := int64(ratio*float64(deposits)) + replicas*reserve
	t.Logf("fleet retries %d (per replica %v) for %d calls; bound %d", total, allowed, deposits, bound)
	if total > bound {
		t.Fatalf("fleet spent %d retries for %d calls, above the bound %d", total, deposits, bound)
	}
	if allowed[0] == 0 {
		t.Fatal("the replica with no calls of its own never retried")
	}
}

// TestBudgetPause stops Redis with SIGSTOP mid-run: withdrawals return at
// once, the replica falls back to its local budget with an event, and when
// Redis resumes, the calls counted meanwhile reach the fleet.
func TestBudgetPause(t *testing.T) {
	srv := redistest.Start(t)
	m := newModes()
	fb := newFleetBudget(t, resilienceredis.BudgetConfig{
		Client: newClient(t, srv.Addr), Name: "pause", Observer: m.observer(), Reserve: 10,
		Budget:   budget.Config{Ratio: -1, MinPerSecond: 10, Window: 20 * time.Second},
		Interval: 20 * time.Millisecond, SyncTimeout: 500 * time.Millisecond,
	})
	synced(t, fb, 1)
	b := fb.Local()
	srv.Pause()
	paused := true
	defer func() {
		if paused {
			srv.Resume()
		}
	}()
	// Withdrawals during the pause never wait for Redis: while a sync
	// hangs on the stopped server until its timeout, each returns before
	// that timeout.
	var slowest time.Duration
	calls := 0
	for deadline := time.Now().Add(10 * time.Second); fb.Snapshot().Mode == resilienceredis.ModeFleet; {
		if time.Now().After(deadline) {
			t.Fatal("the replica never fell back to local")
		}
		start := time.Now()
		b.Deposit()
		b.Withdraw()
		slowest = max(slowest, time.Since(start))
		calls++
		time.Sleep(100 * time.Microsecond)
	}
	t.Logf("%d withdrawals while the sync hung, the slowest took %v", calls, slowest)
	if calls < 10 || slowest >= 500*time.Millisecond {
		t.Fatalf("a withdrawal took %v while Redis was stopped", slowest)
	}
	e := m.next(t)
	if e.Kind != resilience.KindFleet || e.From != resilienceredis.ModeFleet || e.To != resilienceredis.ModeLocal || e.Err == nil {
		t.Fatalf("event %+v, want fleet to local with a cause", e)
	}
	s := fb.Snapshot()
	if s.Mode != resilienceredis.ModeLocal || s.Grant != -1 {
		t.Fatalf("snapshot %+v, want local mode and no grant", s)
	}
	// Alone, the local budget allows its own floor: 200 less the (at most
	// 10) retries it spent from its grant.
	n := 0
	for b.Withdraw() && n < 1000 {
		n++
	}
	if n < 100 {
		t.Fatalf("the local fallback allowed only %d retries", n)
	}
	for range 500 {
		b.Deposit()
	}
	d, _ := b.Totals()
	srv.Resume()
	paused = false
	if e := m.next(t); e.From != resilienceredis.ModeLocal || e.To != resilienceredis.ModeFleet || e.Err != nil {
		t.Fatalf("event %+v, want local to fleet", e)
	}
	synced(t, fb, 1)
	if s := fb.Snapshot(); s.FleetCalls != int64(d) {
		t.Fatalf("fleet counts %d calls after the pause, want all %d", s.FleetCalls, d)
	}
}

// TestBudgetKillRestart kills Redis (its data is lost) and starts a new
// one: the replica falls back, and what it counted since its last sync
// reaches the new Redis.
func TestBudgetKillRestart(t *testing.T) {
	srv := redistest.Start(t)
	m := newModes()
	fb := newFleetBudget(t, resilienceredis.BudgetConfig{
		Client: newClient(t, srv.Addr), Name: "kill", Observer: m.observer(),
		Interval: 20 * time.Millisecond, SyncTimeout: 100 * time.Millisecond,
	})
	b := fb.Local()
	for range 300 {
		b.Deposit()
	}
	until(t, "the fleet counts the first calls", func() bool { return fb.Snapshot().FleetCalls == 300 })
	srv.Kill()
	if e := m.next(t); e.To != resilienceredis.ModeLocal {
		t.Fatalf("event %+v, want fleet to local", e)
	}
	for range 700 {
		b.Deposit()
	}
	srv.Restart()
	if e := m.next(t); e.To != resilienceredis.ModeFleet {
		t.Fatalf("event %+v, want local to fleet", e)
	}
	synced(t, fb, 1)
	// The first 300 went with the old Redis's data; the 700 arrive.
	if s := fb.Snapshot(); s.FleetCalls != 700 {
		t.Fatalf("fleet counts %d calls after the restart, want 700", s.FleetCalls)
	}
}

// TestBudgetProxy puts a proxy between replica and Redis: a delay beyond
// SyncTimeout, or a black hole, sends the replica local; cut connections
// cost at most one failed sync; each time it comes back.
func TestBudgetProxy(t *testing.T) {
	srv := redistest.Start(t)
	p := redistest.NewProxy(t, srv.Addr)
	m := newModes()
	fb := newFleetBudget(t, resilienceredis.BudgetConfig{
		Client: newClient(t, p.Addr), Name: "proxy", Observer: m.observer(),
		Interval: 20 * time.Millisecond, SyncTimeout: 50 * time.Millisecond,
	})
	synced(t, fb, 1)
	for _, tc := range []struct {
		name     string
		on, off  func()
		mustFail bool
	}{
		{"delay", func() { p.Delay(200 * time.Millisecond) }, func() { p.Delay(0) }, true},
		{"blackhole", func() { p.Blackhole(true) }, func() { p.Blackhole(false) }, true},
		{"drop", p.Drop, func() {}, false},
	} {
		tc.on()
		if tc.mustFail {
			if e := m.next(t); e.To != resilienceredis.ModeLocal {
				t.Fatalf("%s: event %+v, want fleet to local", tc.name, e)
			}
			if _, set := fb.Local().Grant(); set {
				t.Fatalf("%s: the local budget kept its grant", tc.name)
			}
			tc.off()
			if e := m.next(t); e.To != resilienceredis.ModeFleet {
				t.Fatalf("%s: event %+v, want local to fleet", tc.name, e)
			}
		}
		synced(t, fb, 2)
		drainModes(m)
	}
}

// drainModes discards the events waiting in m.
func drainModes(m *modes) {
	for {
		select {
		case <-m.ch:
		default:
			return
		}
	}
}

// TestBudgetBadData puts keys of the wrong type, garbage and numbers out of
// range where the budget keeps its counts: each is an error event and a
// fallback, and the replica returns once the key is repaired.
func TestBudgetBadData(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr)
	ctx := context.Background()
	m := newModes()
	fb := newFleetBudget(t, resilienceredis.BudgetConfig{
		Client: c, Name: "bad", Replica: "r1", Observer: m.observer(),
		Interval: 20 * time.Millisecond, SyncTimeout: 100 * time.Millisecond,
	})
	synced(t, fb, 1)
	// The buckets of the next few seconds, on Redis's clock: the window
	// (10s) has one-second buckets.
	buckets := func() []string {
		now, err := c.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for s := now.Unix() - 1; s <= now.Unix()+3; s++ {
			ks = append(ks, fmt.Sprintf("resilience:{bad}:b:%d", s))
		}
		return ks
	}
	for _, tc := range []struct {
		name  string
		spoil func() []string
	}{
		{"replica key of the wrong type", func() []string {
			k := "resilience:{bad}:r:r1"
			c.Del(ctx, k)
			c.Set(ctx, k, "x", 0)
			return []string{k}
		}},
		{"replica set of the wrong type", func() []string {
			k := "resilience:{bad}:replicas"
			c.Del(ctx, k)
			c.RPush(ctx, k, "x")
			return []string{k}
		}},
		{"garbage count", func() []string {
			ks := buckets()
			for _, k := range ks {
				c.HSet(ctx, k, "d", "many")
			}
			return ks
		}},
		{"count near the int64 limit", func() []string {
			ks := buckets()
			for _, k := range ks {
				c.HSet(ctx, k, "w", "9223372036854775807")
			}
			return ks
		}},
		{"negative count", func() []string {
			ks := buckets()
			for _, k := range ks {
				c.HSet(ctx, k, "d", "-1000000")
			}
			return ks
		}},
		{"fractional count", func() []string {
			ks := buckets()
			for _, k := range ks {
				c.HSet(ctx, k, "r", "0.5")
			}
			return ks
		}},
	} {
		ks := tc.spoil()
		e := m.next(t)
		if e.To != resilienceredis.ModeLocal || e.Err == nil {
			t.Fatalf("%s: event %+v, want fleet to local with a cause", tc.name, e)
		}
		t.Logf("%s: %v", tc.name, e.Err)
		if s := fb.Snapshot(); s.Mode != resilienceredis.ModeLocal {
			t.Fatalf("%s: snapshot %+v, want local", tc.name, s)
		}
		c.Del(ctx, ks...)
		if e := m.next(t); e.To != resilienceredis.ModeFleet {
			t.Fatalf("%s: event %+v, want local to fleet", tc.name, e)
		}
		drainModes(m)
	}
}

// TestBudgetCloseGivesBackAndPublishes closes a replica: what it counted
// since its last sync reaches Redis, its grant goes back to the fleet, it
// leaves the active set; and Close twice is harmless.
func TestBudgetCloseGivesBackAndPublishes(t *testing.T) {
	srv := redistest.Start(t)
	cfg := budget.Config{Ratio: -1, MinPerSecond: 10, Window: 30 * time.Second}
	a, err := resilienceredis.NewBudget(resilienceredis.BudgetConfig{
		Client: newClient(t, srv.Addr), Name: "close", Replica: "a", Budget: cfg, Interval: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	until(t, "a's first grant", func() bool { g, _ := a.Local().Grant(); return g > 0 })
	for range 42 {
		a.Local().Deposit()
	}
	a.Local().Withdraw()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, set := a.Local().Grant(); set {
		t.Fatal("the local budget kept its grant after Close")
	}
	b := newFleetBudget(t, resilienceredis.BudgetConfig{
		Client: newClient(t, srv.Addr), Name: "close", Replica: "b", Budget: cfg, Interval: 20 * time.Millisecond,
	})
	synced(t, b, 1)
	s := b.Snapshot()
	if s.FleetCalls != 42 || s.FleetRetries != 1 || s.Reserved != 0 || s.Replicas != 1 || s.Granted != 300-1 {
		t.Fatalf("after a closed: %+v; want 42 calls, 1 retry, nothing reserved, 1 replica, a grant of 299", s)
	}
}

// TestBudgetStartsWithoutRedis makes a budget whose Redis is not there: it
// refuses nothing for long, falling back to its local budget within one
// interval.
func TestBudgetStartsWithoutRedis(t *testing.T) {
	m := newModes()
	fb := newFleetBudget(t, resilienceredis.BudgetConfig{
		Client: newClient(t, "127.0.0.1:1"), Name: "none", Observer: m.observer(),
		Interval: 20 * time.Millisecond, SyncTimeout: 50 * time.Millisecond,
	})
	if e := m.next(t); e.To != resilienceredis.ModeLocal {
		t.Fatalf("event %+v, want fleet to local", e)
	}
	if !fb.Local().Withdraw() {
		t.Fatal("the local fallback refused a retry")
	}
}

func TestBudgetWithdrawAllocatesNothing(t *testing.T) {
	srv := redistest.Start(t)
	fb := newFleetBudget(t, resilienceredis.BudgetConfig{
		Client: newClient(t, srv.Addr), Name: "alloc", Interval: 20 * time.Millisecond,
	})
	synced(t, fb, 1)
	b := fb.Local()
	if n := testing.AllocsPerRun(1000, func() { b.Deposit(); b.Withdraw() }); n != 0 {
		t.Fatalf("%v allocations per deposit and withdrawal, want 0", n)
	}
}

// TestBudgetCluster shares a budget through a Redis Cluster client: every
// key the script touches holds the hash tag, so Redis runs it on one slot.
func TestBudgetCluster(t *testing.T) {
	srv := redistest.StartCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr}})
	t.Cleanup(func() { _ = c.Close() })
	cfg := budget.Config{Ratio: -1, MinPerSecond: 1, Window: 20 * time.Second}
	var fbs []*resilienceredis.Budget
	for i := range 2 {
		fbs = append(fbs, newFleetBudget(t, resilienceredis.BudgetConfig{
			Client: c, Name: "cluster", Replica: strconv.Itoa(i), Budget: cfg, Interval: 10 * time.Millisecond,
		}))
	}
	total := 0
	deadline := time.Now().Add(10 * time.Second)
	for total < 20 && time.Now().Before(deadline) {
		for _, fb := range fbs {
			if fb.Local().Withdraw() {
				total++
			}
		}
		time.Sleep(time.Millisecond)
	}
	for _, fb := range fbs {
		synced(t, fb, 2)
		if s := fb.Snapshot(); s.Failures != 0 || s.FleetRetries != 20 {
			t.Fatalf("snapshot %+v: want 20 fleet retries and no failure", s)
		}
		if fb.Local().Withdraw() {
			total++
		}
	}
	if total != 20 {
		t.Fatalf("the replicas spent %d retries of a floor of 20", total)
	}
}

// TestBudgetRestartUnderTheSameName restarts a replica under its name
// while Redis is out of its reach: the new one counts more than the old one
// had before it first syncs, and every call of both must reach the fleet's
// window.
func TestBudgetRestartUnderTheSameName(t *testing.T) {
	srv := redistest.Start(t)
	cfg := budget.Config{Ratio: 0.1, MinPerSecond: -1, Window: 30 * time.Second}
	mk := func(addr string) *resilienceredis.Budget {
		return newFleetBudget(t, resilienceredis.BudgetConfig{
			Client: newClient(t, addr), Name: "restart", Replica: "host-1", Budget: cfg, Interval: 20 * time.Millisecond,
		})
	}
	old := mk(srv.Addr)
	for range 100 {
		old.Local().Deposit()
	}
	synced(t, old, 2)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	p := redistest.NewProxy(t, srv.Addr)
	p.Blackhole(true)
	restarted := mk(p.Addr)
	for range 150 {
		restarted.Local().Deposit()
	}
	p.Blackhole(false)
	synced(t, restarted, 2)
	if s := restarted.Snapshot(); s.FleetCalls != 250 {
		t.Fatalf("the fleet's window holds %d calls, want 250 (100 before the restart, 150 after)", s.FleetCalls)
	}
}

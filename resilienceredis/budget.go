package resilienceredis

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/budget"
	"github.com/redis/go-redis/v9"
)

//go:embed budget.lua
var budgetSource string

var budgetScript = redis.NewScript(budgetSource)

// DefaultBudgetInterval is how often a fleet [Budget] syncs with Redis when
// its Config leaves Interval zero.
const DefaultBudgetInterval = time.Second

// maxBudgetCount bounds every count the budget script accepts: 2^50, far
// below where Lua's doubles lose integers.
const maxBudgetCount = 1 << 50

// BudgetConfig configures a fleet retry [Budget]. Client and Name are
// required; every other zero field means the default its comment gives.
type BudgetConfig struct {
	// Client is the Redis the fleet shares: a *redis.Client, a
	// *redis.ClusterClient or any redis.UniversalClient. Required. The
	// Budget does not close it.
	Client redis.UniversalClient

	// Name names the budget in Redis and in events: replicas with the same
	// Name and Prefix share one budget. Required; it may hold no brace.
	Name string

	// Prefix begins the budget's keys. Default [DefaultPrefix].
	Prefix string

	// Replica names this replica; it must differ between the replicas of a
	// fleet, and may hold no brace or space. Default: 16 random hex digits.
	// A replica that restarts under the same name (a new Budget) is told
	// apart by an id of its own, so its counts are neither lost nor
	// counted twice; the old one's grant is given back.
	Replica string

	// Budget configures the local budget that [Budget.Local] returns: the
	// fleet's Ratio, MinPerSecond and Window (each replica passes the
	// same), and the budget each replica falls back to alone while Redis
	// fails. Its Name defaults to Name. Its Window, rounded up to whole
	// buckets, is the fleet's window; Ratio and MinPerSecond may change
	// through the local budget's Reconfigure, and take effect in the fleet
	// at the next sync.
	Budget budget.Config

	// Reserve is the most retries one replica may hold as its grant at
	// once. Zero means no cap beyond its fair share (the fleet's allowance
	// divided among the replicas that synced lately). A cap tightens the
	// fleet's bound (see the package documentation) at the cost of a busy
	// replica running out sooner between syncs.
	Reserve int

	// Interval is how often the replica publishes its counts and renews its
	// grant, and, while Redis fails, tries again. Default
	// [DefaultBudgetInterval], one second. It must be shorter than the
	// budget's Window.
	Interval time.Duration

	// SyncTimeout bounds each call to Redis. Default [DefaultSyncTimeout].
	SyncTimeout time.Duration

	// Observer receives the budget's mode changes: a StateChange (Kind
	// resilience.KindFleet) From "fleet" To "local" with Err the cause when
	// Redis fails or holds bad data, and back when a sync succeeds again.
	// The local budget's own events go to Budget.Observer.
	Observer *resilience.Observer
}

// Budget is one replica's part of a retry budget shared by a fleet through
// Redis: the fleet's retries together stay within the budget's Ratio of the
// fleet's calls (or its MinPerSecond floor), not each replica's. Retry
// policies use [Budget.Local], a plain *budget.Budget, unchanged:
//
//	retry.Config{Budget: fb.Local()}
//
// Deciding never waits on Redis: every Interval a background goroutine
// publishes the deposits and withdrawals the local budget counted, reads
// the fleet's totals and sets the local budget's grant (budget.SetGrant) to
// this replica's share of what the fleet may still spend; withdrawals spend
// the grant locally. While Redis fails the grant is cleared, and the local
// budget decides alone. See the package documentation for the model, the
// bound and the keys.
//
// Make one with [NewBudget] and stop it with [Budget.Close]. A Budget is
// safe for concurrent use; make one per budget per process.
type Budget struct {
	cf      BudgetConfig
	local   *budget.Budget
	width   int64 // bucket width in seconds, fixed at NewBudget
	keys    []string
	buckets string // prefix of the bucket keys

	// incarnation tells this Budget from an earlier one under the same
	// Replica name (a restarted process): Redis's record of the replica
	// counts only for the incarnation that wrote it.
	incarnation string

	// Only the sync goroutine (and Close after it ends) touches these.
	ackD, ackW uint64

	granted   atomic.Int64 // the latest grant Redis gave
	calls     atomic.Int64 // the fleet's window at the latest sync
	retries   atomic.Int64
	reserved  atomic.Int64
	replicas  atomic.Int64
	allowance atomic.Int64
	synced    atomic.Uint64 // successful syncs

	sync      syncLoop
	closeOnce sync.Once
}

// NewBudget returns a replica's fleet Budget configured by cfg and starts
// its background goroutine, or an error matching [ErrConfig] if cfg makes no
// sense. It does not wait for Redis: until the first sync answers, one
// round trip later, the local budget holds a grant of zero and refuses
// retries; if that sync fails, the local budget decides alone.
func NewBudget(cfg BudgetConfig) (*Budget, error) {
	switch {
	case cfg.Client == nil:
		return nil, configError("Client is required")
	case cfg.Name == "":
		return nil, configError("Name is required")
	case strings.ContainsAny(cfg.Name, "{}"), strings.ContainsAny(cfg.Prefix, "{}"):
		return nil, configError("Name %q or Prefix %q holds a brace: the keys' hash tag is {Name}", cfg.Name, cfg.Prefix)
	case strings.ContainsAny(cfg.Replica, "{} "):
		return nil, configError("Replica %q holds a brace or a space", cfg.Replica)
	case cfg.Reserve < 0, cfg.Interval < 0, cfg.SyncTimeout < 0:
		return nil, configError("negative Reserve, Interval or SyncTimeout")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Replica == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		cfg.Replica = hex.EncodeToString(b[:])
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultBudgetInterval
	}
	if cfg.SyncTimeout == 0 {
		cfg.SyncTimeout = DefaultSyncTimeout
	}
	if cfg.Budget.Name == "" {
		cfg.Budget.Name = cfg.Name
	}
	local, err := budget.New(cfg.Budget)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	window := cfg.Budget.WithDefaults().Window
	if cfg.Interval >= window {
		return nil, configError("Interval %v is not shorter than the budget's Window %v", cfg.Interval, window)
	}
	if window > 366*24*time.Hour {
		return nil, configError("Window %v is longer than a year", window)
	}
	var inc [8]byte
	_, _ = rand.Read(inc[:])
	fb := &Budget{
		incarnation: hex.EncodeToString(inc[:]),
		cf:          cfg,
		local:       local,
		width:       bucketWidth(window),
		keys:        []string{key(cfg.Prefix, cfg.Name, "replicas"), key(cfg.Prefix, cfg.Name, "r:"+cfg.Replica)},
		buckets:     key(cfg.Prefix, cfg.Name, "b:"),
	}
	local.SetGrant(0)
	fb.sync.start(resilience.KindFleet, cfg.Name, cfg.Observer, cfg.Interval, cfg.SyncTimeout,
		func() bool { return true }, fb.step)
	return fb, nil
}

// bucketWidth returns the width of the buckets of a window, in seconds: one
// second, or a sixtieth of a window over a minute, so that a sync reads at
// most about sixty buckets.
func bucketWidth(window time.Duration) int64 {
	s := int64(math.Ceil(window.Seconds()))
	return max(1, (s+59)/60)
}

// Local returns the budget that retry policies spend: pass it as
// retry.Config.Budget. Its Withdraw costs what a plain budget's does; it
// never waits on Redis.
func (fb *Budget) Local() *budget.Budget { return fb.local }

// Replica returns this replica's name in the fleet.
func (fb *Budget) Replica() string { return fb.cf.Replica }

// step is one sync: publish, read, grant. On failure the local budget
// decides alone until a sync succeeds.
func (fb *Budget) step(ctx context.Context) (time.Time, error) {
	if err := fb.publish(ctx, false); err != nil {
		fb.local.ClearGrant()
		return time.Time{}, err
	}
	return time.Time{}, nil
}

// publish runs the script once: with leave, it gives back the grant and
// takes none.
func (fb *Budget) publish(ctx context.Context, leave bool) error {
	d, w := fb.local.Totals()
	cf := fb.local.Config().WithDefaults()
	ratio, floor := max(cf.Ratio, 0), max(cf.MinPerSecond, 0)*cf.Window.Seconds()
	nb := max(1, (int64(math.Ceil(cf.Window.Seconds()))+fb.width-1)/fb.width)
	span := 3*fb.cf.Interval + fb.cf.SyncTimeout
	ttl := (nb+1)*fb.width + 1
	l := "0"
	if leave {
		l = "1"
	}
	res, err := budgetScript.Run(ctx, fb.cf.Client, fb.keys,
		fb.buckets, fb.cf.Replica,
		min(d, maxBudgetCount), min(w, maxBudgetCount), min(fb.ackD, maxBudgetCount), min(fb.ackW, maxBudgetCount),
		strconv.FormatFloat(ratio, 'g', -1, 64), strconv.FormatFloat(min(floor, maxBudgetCount), 'f', -1, 64),
		fb.width, nb, fb.cf.Reserve, span.Milliseconds(), ttl, l, fb.incarnation,
	).Int64Slice()
	if err != nil {
		return fmt.Errorf("resilienceredis: budget %q: %w", fb.cf.Name, err)
	}
	if len(res) != 6 || res[0] < 0 || (fb.cf.Reserve > 0 && res[0] > int64(fb.cf.Reserve)) ||
		res[1] < 0 || res[2] < 0 || res[3] < 0 || res[4] < 1 || res[5] < 0 || res[0] > res[5] {
		return fmt.Errorf("resilienceredis: budget %q: unexpected reply %v", fb.cf.Name, res)
	}
	fb.ackD, fb.ackW = d, w
	g := res[0]
	if !leave {
		// Retries spent since Totals came from the grant just given back.
		_, w2 := fb.local.Totals()
		fb.local.SetGrant(g - int64(w2-w))
	}
	fb.granted.Store(g)
	fb.calls.Store(res[1])
	fb.retries.Store(res[2])
	fb.reserved.Store(res[3])
	fb.replicas.Store(res[4])
	fb.allowance.Store(res[5])
	fb.synced.Add(1)
	return nil
}

// Close stops the background goroutine, then publishes, once more and
// bounded by SyncTimeout, what the local budget counted since the last sync,
// gives back the unspent grant and leaves the set of active replicas. It
// returns that last call's error, if Redis did not take it. The local
// budget goes on working alone, without a grant. Close may be called more
// than once; later calls return nil.
func (fb *Budget) Close() error {
	if fb == nil {
		return nil
	}
	err := error(nil)
	fb.closeOnce.Do(func() {
		fb.sync.stop()
		fb.local.ClearGrant()
		ctx, cancel := context.WithTimeout(context.Background(), fb.cf.SyncTimeout)
		defer cancel()
		err = fb.publish(ctx, true)
	})
	return err
}

// BudgetSnapshot is a fleet Budget's state, for metrics.
type BudgetSnapshot struct {
	Mode     string // ModeFleet or ModeLocal
	Replica  string // this replica's name
	Grant    int64  // retries the local budget's grant still allows; -1 when none is set (local mode)
	Syncs    uint64 // calls to Redis since NewBudget
	Failures uint64 // of which failed
	Synced   uint64 // of which succeeded (the rest are under way)

	// The fleet as of the latest successful sync: calls and retries in the
	// window, retries the other replicas held as grants, replicas that
	// synced lately, the retries the window allows (Ratio of the calls or
	// the floor, before subtracting retries), and the grant Redis gave.
	FleetCalls, FleetRetries, Reserved, Replicas, Allowance, Granted int64

	// Local is the local budget's snapshot.
	Local budget.Snapshot
}

// Snapshot returns the budget's state now.
func (fb *Budget) Snapshot() BudgetSnapshot {
	if fb == nil {
		return BudgetSnapshot{}
	}
	g, set := fb.local.Grant()
	if !set {
		g = -1
	}
	s := BudgetSnapshot{
		Mode:         ModeFleet,
		Replica:      fb.cf.Replica,
		Grant:        g,
		Syncs:        fb.sync.syncs.Load(),
		Failures:     fb.sync.failures.Load(),
		Synced:       fb.synced.Load(),
		FleetCalls:   fb.calls.Load(),
		FleetRetries: fb.retries.Load(),
		Reserved:     fb.reserved.Load(),
		Replicas:     fb.replicas.Load(),
		Allowance:    fb.allowance.Load(),
		Granted:      fb.granted.Load(),
		Local:        fb.local.Snapshot(),
	}
	if fb.sync.local.Load() {
		s.Mode = ModeLocal
	}
	return s
}

package resilienceredis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/ratelimit"
	"github.com/redis/go-redis/v9"
)

//go:embed gcra.lua
var gcraSource string

var gcra = redis.NewScript(gcraSource)

// QuotaConfig configures a [Quota]: Limit units per Per, with bursts of up
// to Burst, shared by every replica that names the same quota on the same
// Redis. Client, Name and Limit are required; every other zero field means
// the default its comment gives.
type QuotaConfig struct {
	// Client is the Redis the fleet shares: a *redis.Client, a
	// *redis.ClusterClient or any redis.UniversalClient. Required. The
	// Quota does not close it.
	Client redis.UniversalClient

	// Name names the quota in Redis and in events: replicas with the same
	// Name and Prefix share it. Required. Its key is
	// Prefix + ":{" + Name + "}:quota".
	Name string

	// Prefix begins the quota's key. Default [DefaultPrefix].
	Prefix string

	// Limit is how many units the fleet may spend per Per: requests, or
	// model tokens with weighted calls. Required.
	Limit int

	// Per is the period of Limit. Default one minute, the period LLM
	// providers count quotas in.
	Per time.Duration

	// Burst is how many units the fleet may spend at once after a quiet
	// spell. Default Limit.
	Burst int

	// Lease is how many units a replica takes from Redis at once and spends
	// locally: the larger, the fewer Redis calls, the larger the fleet's
	// possible overshoot (see the package documentation). Default
	// max(1, Burst/100). It may not exceed Burst.
	Lease int

	// LowWater is the size of the local lease below which the replica asks
	// Redis for more. Default Lease/2; at most Lease.
	LowWater int

	// Replicas is how many replicas the operator expects to share the
	// quota. While Redis fails, each replica falls back to a local limit of
	// Limit/Replicas per Per (at least one unit), with a burst of
	// Burst/Replicas. Default 1: a replica alone in a fleet takes the whole
	// quota on its own, and a fleet of N replicas may then spend up to N
	// times the quota during an outage — set it.
	Replicas int

	// Interval is how often the background loop checks the lease and, while
	// Redis fails, tries it again. A fall back to local state happens within
	// one Interval plus one SyncTimeout of the first failed call. Default
	// [DefaultInterval].
	Interval time.Duration

	// SyncTimeout bounds each call to Redis. Default [DefaultSyncTimeout].
	SyncTimeout time.Duration

	// Observer receives the quota's events: a StateChange (Kind
	// resilience.KindFleet) From "fleet" To "local" with Err the cause when
	// Redis fails or holds bad data, and back when it answers again.
	Observer *resilience.Observer
}

// maxBucketSpan bounds how long an empty quota takes to fill again.
const maxBucketSpan = 100 * 365 * 24 * time.Hour

// ErrCost is matched by the error of [Quota.Wait] for a call that can never
// go: its cost is negative or above Burst.
var ErrCost = errors.New("resilienceredis: cost out of range")

// ErrConfig is matched by every error of [NewQuota] and [NewBreaker] about
// its Config.
var ErrConfig = errors.New("resilienceredis: invalid config")

func configError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

func (c *QuotaConfig) withDefaults() (QuotaConfig, error) {
	cf := *c
	switch {
	case cf.Client == nil:
		return cf, configError("Client is required")
	case cf.Name == "":
		return cf, configError("Name is required")
	case cf.Limit <= 0:
		return cf, configError("Limit %d is not positive", cf.Limit)
	case strings.ContainsAny(cf.Name, "{}"), strings.ContainsAny(cf.Prefix, "{}"):
		return cf, configError("Name %q or Prefix %q holds a brace: the keys' hash tag is {Name}", cf.Name, cf.Prefix)
	case cf.Per < 0, cf.Burst < 0, cf.Lease < 0, cf.LowWater < 0, cf.Replicas < 0, cf.Interval < 0, cf.SyncTimeout < 0:
		return cf, configError("negative Per, Burst, Lease, LowWater, Replicas, Interval or SyncTimeout")
	}
	if cf.Prefix == "" {
		cf.Prefix = DefaultPrefix
	}
	if cf.Per == 0 {
		cf.Per = time.Minute
	}
	if cf.Burst == 0 {
		cf.Burst = cf.Limit
	}
	if cf.Lease == 0 {
		cf.Lease = max(1, cf.Burst/100)
	}
	if cf.Lease > cf.Burst {
		return cf, configError("Lease %d exceeds Burst %d", cf.Lease, cf.Burst)
	}
	if cf.LowWater == 0 {
		cf.LowWater = cf.Lease / 2
	}
	if cf.LowWater > cf.Lease {
		return cf, configError("LowWater %d exceeds Lease %d", cf.LowWater, cf.Lease)
	}
	if cf.Replicas == 0 {
		cf.Replicas = 1
	}
	if cf.Interval == 0 {
		cf.Interval = DefaultInterval
	}
	if cf.SyncTimeout == 0 {
		cf.SyncTimeout = DefaultSyncTimeout
	}
	if float64(cf.Per)/float64(cf.Limit) < float64(time.Microsecond)/1000 {
		return cf, configError("Limit %d per %v is above a thousand units per microsecond", cf.Limit, cf.Per)
	}
	// The script keeps time in microseconds in Lua's doubles, exact up to
	// 2^53: a bucket that takes a century to fill would lose that.
	if float64(cf.Burst)*float64(cf.Per)/float64(cf.Limit) > float64(maxBucketSpan) {
		return cf, configError("Burst %d at Limit %d per %v takes more than %v to fill", cf.Burst, cf.Limit, cf.Per, maxBucketSpan)
	}
	return cf, nil
}

// Quota is one replica's share of a fleet-wide quota kept in Redis by a
// generic cell rate algorithm (GCRA). The replica leases units from Redis in
// batches of up to Lease and spends them locally, so that [Quota.Allow] never
// waits on Redis: it costs an atomic operation and allocates nothing. A
// background goroutine refills the lease when it falls below LowWater, each
// call bounded by SyncTimeout. While Redis fails the replica decides from a
// local limit of Limit/Replicas, and goes back to leases when Redis answers.
//
// Make one with [NewQuota] and stop it with [Quota.Close]. A Quota is safe
// for concurrent use; make one per quota per process.
type Quota struct {
	cf       QuotaConfig
	key      string
	perMicro string // microseconds per unit, for the script
	fallback *ratelimit.Limiter

	lease   atomic.Int64 // units leased and not spent
	need    atomic.Int64 // the largest call the lease was short for, since the last refill that covered it
	granted atomic.Uint64
	// refilled is closed, and replaced, when units are granted; Wait
	// waits on it.
	refilled atomic.Pointer[chan struct{}]
	sync     syncLoop
}

// NewQuota returns a Quota configured by cfg and starts its background
// goroutine, or returns an error matching [ErrConfig] if cfg makes no sense.
// It does not wait for Redis: the first lease comes within one round trip,
// and calls before it are refused as an empty lease refuses them.
func NewQuota(cfg QuotaConfig) (*Quota, error) {
	cf, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	fb, err := ratelimit.New(ratelimit.Config{
		Name:  cf.Name,
		Limit: max(1, cf.Limit/cf.Replicas),
		Per:   cf.Per,
		Burst: max(1, cf.Burst/cf.Replicas),
	})
	if err != nil {
		return nil, fmt.Errorf("resilienceredis: fallback limit: %w", err)
	}
	q := &Quota{
		cf:       cf,
		key:      key(cf.Prefix, cf.Name, "quota"),
		perMicro: strconv.FormatFloat(float64(cf.Per)/float64(cf.Limit)/float64(time.Microsecond), 'f', -1, 64),
		fallback: fb,
	}
	ch := make(chan struct{})
	q.refilled.Store(&ch)
	q.sync.start(resilience.KindFleet, cf.Name, cf.Observer, cf.Interval, cf.SyncTimeout, q.due, q.refill)
	return q, nil
}

// Allow reports whether a call of n units may go now, and if so spends
// them: from the lease, or from the local limit while Redis fails. It never
// waits and never touches Redis; spending from the lease does not read the
// clock. A cost of zero is always allowed; a negative one, or one above
// Burst, never is. A call that costs more than the lease holds makes the
// next refill ask for its cost, if that is above Lease.
func (q *Quota) Allow(n int) bool {
	if ok, decided := q.spend(n); decided {
		return ok
	}
	return q.fallback.Allow(n)
}

// AllowAt is [Quota.Allow] at the time now, which only the local fallback
// limit reads.
func (q *Quota) AllowAt(now time.Time, n int) bool {
	if ok, decided := q.spend(n); decided {
		return ok
	}
	return q.fallback.AllowAt(now, n)
}

// Wait waits until a call of n units may go, and spends them: from the
// lease, as soon as a refill brings them, or from the local limit while
// Redis fails. It returns nil when they are spent; an error matching
// resilience.ErrNilPolicy for a nil Quota; [ErrCost] for a cost that is
// negative or above Burst; and, when ctx ends first, an error wrapping
// context.Cause(ctx). Waiting costs no Redis call of its own: it waits for
// the background goroutine's refills.
func (q *Quota) Wait(ctx context.Context, n int) error {
	if q == nil {
		return fmt.Errorf("resilienceredis: nil *Quota: %w", resilience.ErrNilPolicy)
	}
	if n < 0 || n > q.cf.Burst {
		return fmt.Errorf("%w: %d units, Burst %d", ErrCost, n, q.cf.Burst)
	}
	var timer *time.Timer
	for {
		refilled := q.refilled.Load()
		if q.Allow(n) {
			if timer != nil {
				timer.Stop()
			}
			return nil
		}
		// Look again at every refill, and every Interval in case Redis
		// failed and the local limit decides.
		if timer == nil {
			timer = time.NewTimer(q.cf.Interval)
			defer timer.Stop()
		} else {
			timer.Reset(q.cf.Interval)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("resilienceredis: quota %q: wait for %d units: %w", q.cf.Name, n, context.Cause(ctx))
		case <-*refilled:
		case <-timer.C:
		}
	}
}

// spend takes n units from the lease. It returns decided false when the
// lease is short and Redis has failed, so that the local limit decides.
func (q *Quota) spend(n int) (ok, decided bool) {
	if q == nil || n < 0 {
		return false, true
	}
	if n == 0 {
		return true, true
	}
	if n > q.cf.Burst {
		return false, true
	}
	c := int64(n)
	for {
		have := q.lease.Load()
		if have < c {
			break
		}
		if q.lease.CompareAndSwap(have, have-c) {
			if have-c < int64(q.cf.LowWater) {
				q.sync.signal()
			}
			return true, true
		}
	}
	if c > q.need.Load() {
		q.need.Store(c)
	}
	q.sync.signal()
	return false, !q.sync.local.Load()
}

// Close stops the background goroutine and waits for it to end. Units
// leased and not spent are not given back: Redis counts them as spent. Close
// may be called more than once.
func (q *Quota) Close() error {
	if q == nil {
		return nil
	}
	q.sync.stop()
	return nil
}

// QuotaSnapshot is a Quota's state, for metrics.
type QuotaSnapshot struct {
	Mode     string // ModeFleet or ModeLocal
	Lease    int64  // units leased and not yet spent
	Syncs    uint64 // calls to Redis since NewQuota
	Failures uint64 // of which failed
	Granted  uint64 // units Redis granted since NewQuota
}

// Snapshot returns the quota's state now.
func (q *Quota) Snapshot() QuotaSnapshot {
	if q == nil {
		return QuotaSnapshot{}
	}
	s := QuotaSnapshot{
		Mode:     ModeFleet,
		Lease:    q.lease.Load(),
		Syncs:    q.sync.syncs.Load(),
		Failures: q.sync.failures.Load(),
		Granted:  q.granted.Load(),
	}
	if q.sync.local.Load() {
		s.Mode = ModeLocal
	}
	return s
}

// due reports whether the lease needs a refill: below LowWater, empty, or
// short of a call that asked for more.
func (q *Quota) due() bool {
	n := q.lease.Load()
	return n < int64(q.cf.LowWater) || n == 0 || n < q.need.Load()
}

// refill asks Redis for what the lease lacks, and adds what Redis grants.
// After a short grant it returns when to ask again: when Redis says more
// will be available, and not before one Interval.
func (q *Quota) refill(ctx context.Context) (time.Time, error) {
	have := q.lease.Load()
	want := max(1, max(int64(q.cf.Lease), q.need.Load())-have)
	res, err := gcra.Run(ctx, q.cf.Client, []string{q.key}, q.perMicro, q.cf.Burst, want).Int64Slice()
	if err != nil {
		return time.Time{}, fmt.Errorf("resilienceredis: quota %q: %w", q.cf.Name, err)
	}
	if len(res) != 2 || res[0] < 0 || res[0] > want || res[1] < 0 || res[1] > q.cf.Per.Microseconds()+1 {
		return time.Time{}, fmt.Errorf("resilienceredis: quota %q: unexpected reply %v", q.cf.Name, res)
	}
	got, wait := res[0], time.Duration(res[1])*time.Microsecond
	if got > 0 {
		if q.lease.Add(got) >= q.need.Load() {
			q.need.Store(0)
		}
		q.granted.Add(uint64(got))
		ch := make(chan struct{})
		close(*q.refilled.Swap(&ch))
	}
	if got < want {
		return time.Now().Add(max(wait, q.cf.Interval)), nil
	}
	return time.Time{}, nil
}

package resilienceredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
)

// DefaultBreakerInterval is the fleet breaker's period for a
// [BreakerConfig] whose Interval is zero.
const DefaultBreakerInterval = time.Second

// BreakerConfig configures a [Breaker]. Its zero fields mean the documented
// defaults, but Client and Name are required and Breaker must set a
// FailureRate (with its Window).
type BreakerConfig struct {
	// Client is the Redis client the breaker shares its state through: a
	// single Redis or a Cluster (every key of one breaker shares the hash
	// tag {Name}). Required. The Breaker does not close it.
	Client redis.UniversalClient

	// Name names the breaker across the fleet: replicas with the same Name
	// and Prefix share one state. It also names the local breaker if
	// Breaker.Name is empty. Required; it may not hold a brace.
	Name string

	// Prefix begins every key of the breaker: Prefix + ":{" + Name + "}:"
	// + part. Default [DefaultPrefix]. It may not hold a brace.
	Prefix string

	// Replica names this replica; it must differ between the replicas of a
	// fleet, and may not hold a space or a brace. Default: 16 random hex
	// digits.
	Replica string

	// Breaker configures the local breaker, which takes every decision.
	// It must set FailureRate and Window: the fleet opens when the sum of
	// the replicas' windows meets FailureRate with at least MinCalls calls.
	// FailureThreshold (failures in a row) stays local evidence: it opens
	// this replica's breaker, and the fleet's too when Quorum is 1; with a
	// larger Quorum only the windows' sum can open the fleet. Its Observer
	// receives the local breaker's events as usual.
	Breaker breaker.Config

	// Interval is how often the replica publishes its window and reads the
	// fleet's. Default [DefaultBreakerInterval], 1s.
	Interval time.Duration

	// SyncTimeout bounds each round trip to Redis. Default
	// [DefaultSyncTimeout].
	SyncTimeout time.Duration

	// Quorum is how many replicas must report failures in their windows
	// for the fleet to open; default 1.
	Quorum int

	// ProbeTTL is how long a replica holds the fleet's single probe before
	// another may take it, if it has not reported. Default: the local
	// breaker's ProbeTimeout plus two Intervals, or 2 Intervals plus a
	// minute if ProbeTimeout is off.
	ProbeTTL time.Duration

	// Observer receives the fleet's own events, as a [Quota]'s: a
	// StateChange of Kind resilience.KindFleet and Policy Name, From
	// [ModeFleet] To [ModeLocal] with Err the cause when Redis fails or
	// holds bad data and the replica falls back to local decisions, and
	// back when Redis answers again. They come on the breaker's background
	// goroutine.
	Observer *resilience.Observer
}

// FleetState is the fleet's state as one replica sees it.
type FleetState uint8

const (
	FleetClosed  FleetState = iota // the local breaker decides alone, on its own counts
	FleetOpen                      // the fleet holds the local breaker open
	FleetProbing                   // this replica holds the fleet's single probe
)

// String returns "closed", "open" or "probing".
func (s FleetState) String() string {
	switch s {
	case FleetClosed:
		return "closed"
	case FleetOpen:
		return "open"
	case FleetProbing:
		return "probing"
	}
	return "FleetState(" + strconv.Itoa(int(s)) + ")"
}

// BreakerSnapshot is a fleet breaker's state, for metrics.
type BreakerSnapshot struct {
	Replica string     // this replica's name
	Mode    string     // ModeFleet or ModeLocal
	Fleet   FleetState // the fleet's state as this replica follows it

	// Calls, Failures and Reporting are the fleet's windows as last read:
	// their sums of calls and failures, and how many replicas reported
	// failures.
	Calls, Failures, Reporting int

	Syncs        uint64 // round trips to Redis since NewBreaker
	SyncFailures uint64 // of which failed, or read bad data
}

// Breaker is a circuit breaker shared by a fleet of replicas through Redis.
// Every decision is taken by a local [breaker.Breaker] (returned by
// [Breaker.Local]) exactly as without a fleet, with the same cost; a
// background goroutine publishes the local window every Interval, reads the
// fleet's, and opens or closes the local breaker when the fleet does.
//
// The fleet opens when the sum of the replicas' windows meets the failure
// rate (with Quorum replicas reporting failures), or when a replica's own
// breaker opens (Quorum 1 only). The opening is published at once, and every
// replica holds its local breaker open. When the fleet's recovery timeout
// (measured by Redis) ends, the replicas race for a single probe key: the
// winner's local breaker goes straight to half-open ([breaker.Breaker.HalfOpen])
// and probes, the others keep rejecting until the prober publishes closed
// (all close) or open (all stay open for another recovery timeout). A
// prober that disappears loses its key after ProbeTTL, and another replica
// probes.
//
// If Redis is down, slow or holds bad data, every replica is back to its
// own local decisions within one Interval: a breaker held open by the fleet
// is reset. When Redis answers again the replica publishes and reads as
// before. No call ever waits on Redis.
//
// A Breaker is safe for concurrent use. Close stops its goroutines.
type Breaker struct {
	local    *breaker.Breaker
	client   redis.UniversalClient
	name     string
	replica  string
	interval time.Duration
	timeout  time.Duration
	quorum   int
	probeTTL time.Duration
	recovery time.Duration
	rate     float64
	minCalls int

	prefix                                                        string
	keyWindow, keyReplicas, keyOpen, keyProbe, keyClosed, channel string

	changes chan struct{} // the local breaker changed state
	msgs    chan string
	ctx     context.Context // ends at Close
	cancel  context.CancelFunc
	done    sync.WaitGroup
	once    sync.Once
	pubsub  *redis.PubSub

	mode         fleetState
	isLocal      atomic.Bool
	syncs        atomic.Uint64
	syncFailures atomic.Uint64
	ticks        atomic.Int64 // rounds of the loop done, for tests

	mu                         sync.Mutex // guards what Snapshot reads of the loop's state
	shown                      FleetState
	calls, failures, reporting int

	// owned by the loop goroutine
	fleet    FleetState
	offset   time.Duration // Redis time minus local time
	closedAt int64         // Redis ms of the last fleet close seen
}

// NewBreaker returns a fleet breaker configured by cfg and starts its
// background goroutines, or returns an error matching [ErrConfig] if cfg
// makes no sense. It does not wait for Redis: a fleet breaker made while
// Redis is down decides locally until Redis answers.
func NewBreaker(cfg BreakerConfig) (*Breaker, error) {
	switch {
	case cfg.Client == nil:
		return nil, configError("BreakerConfig.Client is required")
	case cfg.Name == "":
		return nil, configError("BreakerConfig.Name is required")
	case strings.ContainsAny(cfg.Name, "{}"), strings.ContainsAny(cfg.Prefix, "{}"):
		return nil, configError("Name %q or Prefix %q holds a brace: the keys' hash tag is {Name}", cfg.Name, cfg.Prefix)
	case strings.ContainsAny(cfg.Replica, " {}"):
		return nil, configError("Replica %q holds a space or a brace", cfg.Replica)
	case cfg.Interval < 0:
		return nil, configError("Interval %v is negative", cfg.Interval)
	case cfg.SyncTimeout < 0:
		return nil, configError("SyncTimeout %v is negative", cfg.SyncTimeout)
	case cfg.ProbeTTL < 0:
		return nil, configError("ProbeTTL %v is negative", cfg.ProbeTTL)
	case cfg.Quorum < 0:
		return nil, configError("Quorum %d is negative", cfg.Quorum)
	case cfg.Breaker.FailureRate == 0:
		return nil, configError("BreakerConfig.Breaker needs a FailureRate and a Window: the fleet opens on the sum of the windows")
	}
	fb := &Breaker{
		client:   cfg.Client,
		name:     cfg.Name,
		prefix:   cfg.Prefix,
		replica:  cfg.Replica,
		interval: cfg.Interval,
		timeout:  cfg.SyncTimeout,
		quorum:   max(cfg.Quorum, 1),
		probeTTL: cfg.ProbeTTL,
		changes:  make(chan struct{}, 1),
		msgs:     make(chan string, 16),
	}
	if fb.prefix == "" {
		fb.prefix = DefaultPrefix
	}
	if fb.replica == "" {
		var b [8]byte
		rand.Read(b[:])
		fb.replica = hex.EncodeToString(b[:])
	}
	if fb.interval == 0 {
		fb.interval = DefaultBreakerInterval
	}
	if fb.timeout == 0 {
		fb.timeout = DefaultSyncTimeout
	}
	lc := cfg.Breaker
	if lc.Name == "" {
		lc.Name = cfg.Name
	}
	// The loop reads the local breaker's state itself: an event only wakes
	// it, so that an event caused by the fleet's own moves, taken late,
	// cannot be mistaken for a change of the breaker's own.
	own := &resilience.Observer{StateChange: func(resilience.Event) {
		select {
		case fb.changes <- struct{}{}:
		default: // a wake-up is pending already
		}
	}}
	if user := lc.Observer; user != nil {
		lc.Observer = resilience.Observers(user, own)
	} else {
		lc.Observer = own
	}
	local, err := breaker.New(lc)
	if err != nil {
		return nil, fmt.Errorf("%w: Breaker: %w", ErrConfig, err)
	}
	fb.local = local
	d := local.Config().WithDefaults()
	fb.recovery = d.RecoveryTimeout
	fb.rate = d.FailureRate
	fb.minCalls = max(d.MinCalls, 0)
	if fb.probeTTL == 0 {
		if d.ProbeTimeout > 0 {
			fb.probeTTL = d.ProbeTimeout + 2*fb.interval
		} else {
			fb.probeTTL = time.Minute + 2*fb.interval
		}
	}
	fb.keyWindow = fb.windowKey(fb.replica)
	fb.keyReplicas = key(fb.prefix, fb.name, "replicas")
	fb.keyOpen = key(fb.prefix, fb.name, "open")
	fb.keyProbe = key(fb.prefix, fb.name, "probe")
	fb.keyClosed = key(fb.prefix, fb.name, "closed")
	fb.channel = key(fb.prefix, fb.name, "events")
	fb.mode = fleetState{kind: resilience.KindFleet, name: fb.name, observer: cfg.Observer, local: &fb.isLocal}

	fb.ctx, fb.cancel = context.WithCancel(context.Background())
	fb.pubsub = fb.client.Subscribe(context.Background()) // no channel yet: no I/O
	fb.done.Add(2)
	go fb.receive()
	go fb.loop()
	return fb, nil
}

// Local returns the local breaker, which takes every decision: call
// through it (breaker.Do, Allow, Enter) as without a fleet.
func (fb *Breaker) Local() *breaker.Breaker { return fb.local }

// Allow is the local breaker's [breaker.Breaker.Allow].
func (fb *Breaker) Allow() (breaker.Permit, error) { return fb.local.Allow() }

// Enter is the local breaker's [breaker.Breaker.Enter], so that a Breaker
// is a resilience.Guard.
func (fb *Breaker) Enter(ctx context.Context) (resilience.Ticket, error) {
	return fb.local.Enter(ctx)
}

// Exit is the local breaker's [breaker.Breaker.Exit].
func (fb *Breaker) Exit(t resilience.Ticket, o resilience.Outcome) { fb.local.Exit(t, o) }

// Replica returns this replica's name in the fleet.
func (fb *Breaker) Replica() string { return fb.replica }

// Snapshot returns the fleet breaker's state now; the local breaker's is
// [breaker.Breaker.Snapshot] of [Breaker.Local].
func (fb *Breaker) Snapshot() BreakerSnapshot {
	fb.mu.Lock()
	s := BreakerSnapshot{
		Replica:   fb.replica,
		Mode:      ModeFleet,
		Fleet:     fb.shown,
		Calls:     fb.calls,
		Failures:  fb.failures,
		Reporting: fb.reporting,
	}
	fb.mu.Unlock()
	if fb.isLocal.Load() {
		s.Mode = ModeLocal
	}
	s.Syncs = fb.syncs.Load()
	s.SyncFailures = fb.syncFailures.Load()
	return s
}

// Close stops the background goroutines and waits for them: a round trip
// to Redis in progress is abandoned. The local breaker keeps working,
// alone. Close does not close the Client, and leaves the replica's window
// key to expire. It may be called more than once.
func (fb *Breaker) Close() error {
	fb.once.Do(func() {
		fb.cancel()
		fb.pubsub.Close()
	})
	fb.done.Wait()
	return nil
}

// receive forwards the fleet's messages to the loop.
func (fb *Breaker) receive() {
	defer fb.done.Done()
	// A failed SUBSCRIBE is remembered: the channel's goroutine subscribes
	// again with every new connection.
	ctx, cancel := fb.opCtx()
	fb.pubsub.Subscribe(ctx, fb.channel)
	cancel()
	if fb.ctx.Err() != nil {
		return
	}
	ch := fb.pubsub.Channel()
	for {
		select {
		case <-fb.ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			select {
			case fb.msgs <- m.Payload:
			case <-fb.ctx.Done():
				return
			}
		}
	}
}

// loop is the one goroutine that talks to Redis for the breaker, and the
// only one that moves the local breaker for the fleet.
func (fb *Breaker) loop() {
	defer fb.done.Done()
	t := time.NewTicker(fb.interval)
	defer t.Stop()
	fb.tick()
	for {
		select {
		case <-fb.ctx.Done():
			return
		case <-t.C:
			fb.tick()
		case <-fb.changes:
			ctx, cancel := fb.opCtx()
			fb.follow(ctx)
			cancel()
		case m := <-fb.msgs:
			fb.onMessage(m)
		}
	}
}

// opCtx bounds one round trip to Redis, and ends at Close.
func (fb *Breaker) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(fb.ctx, fb.timeout)
}

// windowKey is the key of the window that replica id publishes.
func (fb *Breaker) windowKey(id string) string { return key(fb.prefix, fb.name, "w:"+id) }

// setFleet changes the fleet state the loop follows.
func (fb *Breaker) setFleet(s FleetState) {
	fb.fleet = s
	fb.mu.Lock()
	fb.shown = s
	fb.mu.Unlock()
}

// fallback makes the replica decide alone after err.
func (fb *Breaker) fallback(err error) {
	if fb.ctx.Err() != nil {
		return // closing: not a failure of Redis
	}
	fb.syncFailures.Add(1)
	if fb.fleet != FleetClosed {
		fb.setFleet(FleetClosed)
		fb.local.Reset()
	}
	fb.mode.set(err)
}

// BadDataError reports a value in Redis that the breaker cannot read.
type BadDataError struct {
	Key, Value string
}

// Error says which key holds what.
func (e *BadDataError) Error() string {
	return "resilienceredis: bad data at key " + strconv.Quote(e.Key) + ": " + strconv.Quote(e.Value)
}

// redisNow is the current time on Redis's clock, in milliseconds.
func (fb *Breaker) redisNow() int64 { return time.Now().Add(fb.offset).UnixMilli() }

// maxCount bounds a count read from a window key: anything larger is bad
// data, and the fleet's sums cannot overflow.
const maxCount = 1 << 40

// maxAhead bounds how far ahead of Redis's clock a window's time stamp may
// be, in milliseconds: anything later is bad data.
const maxAhead = int64(366 * 24 * time.Hour / time.Millisecond)

// openAhead bounds how far ahead of Redis's clock the end of the fleet's
// open time may be, in milliseconds: twice this replica's recovery timeout
// and an Interval, so that replicas whose RecoveryTimeouts differ up to
// twofold agree, while a stray open key without an expiry cannot hold the
// fleet open for long. Anything later is bad data.
func (fb *Breaker) openAhead() int64 {
	return (2*fb.recovery + fb.interval).Milliseconds()
}

// closedBy returns the time of a fleet's closing read from Redis or a
// message, no later than now: a closing in the future would hide every
// window published until then.
func closedBy(at, now int64) int64 { return min(at, now) }

// maxSkew bounds how far ahead of Redis's clock, as this replica estimates
// it, the time of a fleet's closing may be, in milliseconds: the prober
// estimated it too.
const maxSkew = int64(time.Minute / time.Millisecond)

// tick publishes the local window and reads the fleet's: two round trips.
func (fb *Breaker) tick() {
	defer fb.ticks.Add(1)
	fb.syncs.Add(1)
	snap := fb.local.Snapshot()
	ctx, cancel := fb.opCtx()
	defer cancel()
	ttl := 3 * fb.interval
	pipe := fb.client.Pipeline()
	tm := pipe.Time(ctx)
	pipe.SAdd(ctx, fb.keyReplicas, fb.replica)
	pipe.PExpire(ctx, fb.keyReplicas, ttl)
	members := pipe.SMembers(ctx, fb.keyReplicas)
	open := pipe.Get(ctx, fb.keyOpen)
	probe := pipe.Get(ctx, fb.keyProbe)
	before := time.Now()
	if err := execErr(pipe.Exec(ctx)); err != nil {
		fb.fallback(err)
		return
	}
	rt, _ := tm.Result()
	fb.offset = rt.Sub(before)
	now := rt.UnixMilli()
	val := strconv.FormatInt(now, 10) + " " + strconv.Itoa(snap.Calls) + " " + strconv.Itoa(snap.Failures)
	ids := members.Val()
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = fb.windowKey(id)
	}
	pipe = fb.client.Pipeline()
	pipe.Set(ctx, fb.keyWindow, val, ttl)
	var mget *redis.Cmd
	if len(keys) > 0 {
		mget = windowsScript.Eval(ctx, pipe, keys)
	}
	if err := execErr(pipe.Exec(ctx)); err != nil {
		fb.fallback(err)
		return
	}
	openVal, openErr := open.Result()
	until, err := fb.parseOpen(openVal, openErr, now)
	if err != nil {
		fb.fallback(err)
		return
	}
	var calls, failures, reporting int
	if mget != nil {
		vals, err := mget.Slice()
		if err != nil || len(vals) != len(keys) {
			fb.fallback(&BadDataError{Key: fb.keyReplicas, Value: fmt.Sprint(vals, err)})
			return
		}
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue // expired: a replica gone
			}
			at, c, f, err := parseWindow(s, now)
			if err != nil {
				fb.fallback(&BadDataError{Key: keys[i], Value: s})
				return
			}
			if at < fb.closedAt && ids[i] != fb.replica {
				continue // counted before the fleet last closed
			}
			calls += c
			failures += f
			if f > 0 {
				reporting++
			}
		}
	}
	fb.mu.Lock()
	fb.calls, fb.failures, fb.reporting = calls, failures, reporting
	fb.mu.Unlock()
	fb.mode.set(nil)

	switch fb.fleet {
	case FleetClosed:
		switch {
		case until > now:
			fb.holdOpen() // opened while this replica was not listening
		case until == 0 && calls > 0 && calls >= fb.minCalls &&
			float64(failures) >= fb.rate*float64(calls) && reporting >= fb.quorum:
			fb.openFleet(ctx, now)
		default:
			fb.follow(ctx) // the local breaker's own opening, if it was missed
		}
	case FleetOpen:
		if until <= now {
			fb.probe(ctx, now, openVal)
		}
	case FleetProbing:
		if probe.Val() != fb.replica {
			// The probe outlived its key and another replica may hold
			// it now: wait for its report like the others.
			fb.holdOpen()
			return
		}
		fb.follow(ctx)
	}
}

// windowsScript reads the windows KEYS as MGET would, but fails on a key of
// the wrong type, which MGET reads as missing: bad data is an error, never
// taken for a replica gone.
var windowsScript = redis.NewScript(`
local r = {}
for i, k in ipairs(KEYS) do r[i] = redis.call('GET', k) end
return r
`)

// execErr returns the first error of a pipeline's commands other than
// redis.Nil, which only says a key is missing. (Exec's own error is the
// first command's error, which may be redis.Nil before a worse one.)
func execErr(cmds []redis.Cmder, err error) error {
	for _, c := range cmds {
		if e := c.Err(); e != nil && !errors.Is(e, redis.Nil) {
			return e
		}
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	return nil
}

// probeScript takes the fleet's single probe (KEYS[1]) for ARGV[1], for
// ARGV[2] ms, unless the closed mark (KEYS[2]) says the fleet closed since
// it last opened: then it returns the mark, and takes nothing. It takes
// nothing either when the open key (KEYS[3]) no longer holds ARGV[3], the
// value the replica read in its round ("" for none): the fleet opened again
// since, and a probe now would come before the new open time ends.
var probeScript = redis.NewScript(`
local c = redis.call('GET', KEYS[2])
if c then return {0, c} end
if (redis.call('GET', KEYS[3]) or '') ~= ARGV[3] then return {0, ''} end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, ''} end
return {0, ''}
`)

// probe races the other replicas for the fleet's single probe, once the
// fleet's open time is over. A replica that missed the prober's report
// finds the closed mark instead, and closes. openVal is the open key as
// the round read it.
func (fb *Breaker) probe(ctx context.Context, now int64, openVal string) {
	fb.syncs.Add(1)
	res, err := probeScript.Run(ctx, fb.client, []string{fb.keyProbe, fb.keyClosed, fb.keyOpen},
		fb.replica, fb.probeTTL.Milliseconds(), openVal).Slice()
	if err != nil {
		fb.fallback(err)
		return
	}
	var won int64
	var mark string
	ok := len(res) == 2
	if ok {
		won, ok = res[0].(int64)
	}
	if ok {
		mark, ok = res[1].(string)
	}
	if !ok {
		fb.fallback(&BadDataError{Key: fb.keyProbe, Value: fmt.Sprint(res)})
		return
	}
	if mark != "" {
		at, err := parseStamp(mark, 2, now, maxSkew)
		if err != nil {
			fb.fallback(&BadDataError{Key: fb.keyClosed, Value: mark})
			return
		}
		fb.closedAt = max(fb.closedAt, closedBy(at, now))
		fb.setFleet(FleetClosed)
		fb.local.Reset()
		return
	}
	if won == 1 {
		fb.setFleet(FleetProbing)
		fb.local.HalfOpen() // straight from held open: no call gets through but the probe
	}
}

// parseStamp reads a value that begins with a time in Redis ms and has n
// fields, and checks that the time is not after now by more than ahead ms.
func parseStamp(v string, n int, now, ahead int64) (int64, error) {
	f := strings.Fields(v)
	if len(f) != n {
		return 0, errors.New("fields")
	}
	at, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, err
	}
	if at < 0 || at-now > ahead {
		return 0, errors.New("range")
	}
	return at, nil
}

// parseOpen reads the open key: "<until ms> <replica>".
func (fb *Breaker) parseOpen(v string, err error, now int64) (int64, error) {
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	until, perr := parseStamp(v, 2, now, fb.openAhead())
	if perr != nil {
		return 0, &BadDataError{Key: fb.keyOpen, Value: v}
	}
	return until, nil
}

// parseWindow reads a window key: "<redis ms> <calls> <failures>".
func parseWindow(s string, now int64) (at int64, calls, failures int, err error) {
	at, err = parseStamp(s, 3, now, maxAhead)
	if err != nil {
		return 0, 0, 0, err
	}
	f := strings.Fields(s)
	calls, err = strconv.Atoi(f[1])
	if err == nil {
		failures, err = strconv.Atoi(f[2])
	}
	if err == nil && (calls < 0 || failures < 0 || failures > calls || calls > maxCount) {
		err = errors.New("range")
	}
	return at, calls, failures, err
}

// holdOpen holds the local breaker open for the fleet.
func (fb *Breaker) holdOpen() {
	fb.setFleet(FleetOpen)
	fb.local.ForceOpen()
}

// openFleet opens the fleet for the recovery timeout, measured by Redis,
// and tells every replica at once.
func (fb *Breaker) openFleet(ctx context.Context, now int64) {
	fb.syncs.Add(1)
	until := now + fb.recovery.Milliseconds()
	val := strconv.FormatInt(until, 10) + " " + fb.replica
	pipe := fb.client.TxPipeline()
	pipe.Set(ctx, fb.keyOpen, val, fb.recovery+fb.interval)
	pipe.Del(ctx, fb.keyProbe, fb.keyClosed)
	pipe.Publish(ctx, fb.channel, "open "+fb.replica)
	fb.holdOpen()
	if _, err := pipe.Exec(ctx); err != nil {
		fb.fallback(err)
	}
}

// closeFleet tells every replica that the probe succeeded, and leaves the
// closed mark for a replica that misses the message: it finds the mark
// instead of taking the probe of a fleet already closed.
func (fb *Breaker) closeFleet(ctx context.Context) {
	fb.syncs.Add(1)
	fb.setFleet(FleetClosed)
	fb.closedAt = fb.redisNow()
	at := strconv.FormatInt(fb.closedAt, 10)
	pipe := fb.client.TxPipeline()
	pipe.Del(ctx, fb.keyOpen, fb.keyProbe)
	pipe.Set(ctx, fb.keyClosed, at+" "+fb.replica, fb.recovery+3*fb.interval)
	pipe.Publish(ctx, fb.channel, "closed "+fb.replica+" "+at)
	if _, err := pipe.Exec(ctx); err != nil {
		fb.fallback(err)
	}
}

// follow publishes what the local breaker did by itself: the end of this
// replica's probe, or (Quorum 1) its own opening. It reads the local
// breaker's state now rather than from events, so that a change the fleet
// itself caused is never taken for the breaker's own.
func (fb *Breaker) follow(ctx context.Context) {
	if fb.isLocal.Load() || fb.fleet == FleetOpen {
		return
	}
	s := fb.local.Snapshot()
	ownOpen := s.State == breaker.Open && !s.Forced
	switch {
	case fb.fleet == FleetProbing && s.State == breaker.Closed:
		fb.closeFleet(ctx)
	case fb.fleet == FleetProbing && ownOpen:
		fb.openFleet(ctx, fb.redisNow())
	case fb.fleet == FleetClosed && ownOpen && fb.quorum <= 1:
		fb.openFleet(ctx, fb.redisNow())
	}
}

// onMessage applies another replica's published transition. A message it
// cannot read is ignored: the keys tell the same within one Interval.
func (fb *Breaker) onMessage(m string) {
	f := strings.Fields(m)
	if len(f) < 2 || f[1] == fb.replica {
		return
	}
	switch f[0] {
	case "open":
		if fb.fleet != FleetOpen {
			fb.holdOpen()
		}
	case "closed":
		if len(f) == 3 {
			if at, err := strconv.ParseInt(f[2], 10, 64); err == nil && at > 0 && at-fb.redisNow() <= maxSkew {
				fb.closedAt = max(fb.closedAt, closedBy(at, fb.redisNow()))
			}
		}
		if fb.fleet != FleetClosed {
			fb.setFleet(FleetClosed)
			fb.local.Reset()
		}
	}
}

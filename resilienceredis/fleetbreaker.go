package resilienceredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/internal/observe"
)

// Defaults of [BreakerConfig]'s zero fields.
const (
	DefaultBreakerInterval = time.Second
)

// BreakerConfig configures a [Breaker]. Its zero fields mean the documented
// defaults, but Client and Name are required and Breaker must set a
// FailureRate (with its Window).
type BreakerConfig struct {
	// Client is the Redis client the breaker shares its state through: a
	// single Redis or a Cluster (every key of one breaker shares the hash
	// tag {Name}). The Breaker does not close it.
	Client redis.UniversalClient

	// Name names the breaker across the fleet: replicas with the same Name
	// share one state. It also names the local breaker if Breaker.Name is
	// empty. Required.
	Name string

	// Replica names this replica; it must differ between the replicas of a
	// fleet. Default: 16 random hex digits.
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

	// Timeout bounds each round trip to Redis. Default Interval/2.
	Timeout time.Duration

	// Quorum is how many replicas must report failures in their windows
	// for the fleet to open; default 1.
	Quorum int

	// ProbeTTL is how long a replica holds the fleet's single probe before
	// another may take it, if it has not reported. Default: the local
	// breaker's ProbeTimeout plus two Intervals, or 2 Intervals plus a
	// minute if ProbeTimeout is off.
	ProbeTTL time.Duration

	// Observer receives the fleet's own events, with Kind
	// resilience.KindFleet and Policy Name: Fallback when Redis fails or
	// holds bad data and the replica falls back to local decisions (Err
	// says why, Reason "redis"), and Connected when Redis answers again.
	// They come on the breaker's background goroutine.
	Observer *resilience.Observer
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
// winner's local breaker goes half-open and probes, the others keep
// rejecting until the prober publishes closed (all close) or open (all stay
// open for another recovery timeout). A prober that disappears loses its
// key after ProbeTTL, and another replica probes.
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
	obs      *resilience.Observer

	keyWindow, keyReplicas, keyOpen, keyProbe, channel string

	changes chan resilience.Event // the local breaker's state changes
	msgs    chan string
	stop    chan struct{}
	done    sync.WaitGroup
	once    sync.Once
	pubsub  *redis.PubSub

	ticks atomic.Int64 // rounds of the loop done, for tests

	// owned by the loop goroutine
	fleet    breakerFleetState
	degraded bool
	offset   time.Duration // Redis time minus local time
	closedAt int64         // Redis ms of the last fleet close seen
}

type breakerFleetState uint8

const (
	fleetClosed  breakerFleetState = iota // local decisions only
	fleetOpen                             // held open by the fleet
	fleetProbing                          // this replica holds the probe
)

// NewBreaker returns a fleet breaker configured by cfg and starts its
// background goroutines, or returns an error if cfg makes no sense. It
// does not wait for Redis: a fleet breaker made while Redis is down decides
// locally until Redis answers.
func NewBreaker(cfg BreakerConfig) (*Breaker, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("resilienceredis: BreakerConfig.Client is nil")
	case cfg.Name == "":
		return nil, errors.New("resilienceredis: BreakerConfig.Name is empty")
	case strings.ContainsAny(cfg.Name, "{}"):
		return nil, errors.New("resilienceredis: BreakerConfig.Name holds a brace: " + strconv.Quote(cfg.Name))
	case cfg.Interval < 0:
		return nil, errors.New("resilienceredis: Interval is negative: " + cfg.Interval.String())
	case cfg.Timeout < 0:
		return nil, errors.New("resilienceredis: Timeout is negative: " + cfg.Timeout.String())
	case cfg.ProbeTTL < 0:
		return nil, errors.New("resilienceredis: ProbeTTL is negative: " + cfg.ProbeTTL.String())
	case cfg.Quorum < 0:
		return nil, errors.New("resilienceredis: Quorum is negative: " + strconv.Itoa(cfg.Quorum))
	case cfg.Breaker.FailureRate == 0:
		return nil, errors.New("resilienceredis: BreakerConfig.Breaker needs a FailureRate and a Window: the fleet opens on the sum of the windows")
	case strings.ContainsAny(cfg.Replica, " {}"):
		return nil, errors.New("resilienceredis: Replica holds a space or a brace: " + strconv.Quote(cfg.Replica))
	}
	fb := &Breaker{
		client:   cfg.Client,
		name:     cfg.Name,
		replica:  cfg.Replica,
		interval: cfg.Interval,
		timeout:  cfg.Timeout,
		quorum:   max(cfg.Quorum, 1),
		probeTTL: cfg.ProbeTTL,
		obs:      cfg.Observer,
		changes:  make(chan resilience.Event, 64),
		msgs:     make(chan string, 16),
		stop:     make(chan struct{}),
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
		fb.timeout = fb.interval / 2
	}
	lc := cfg.Breaker
	if lc.Name == "" {
		lc.Name = cfg.Name
	}
	user := lc.Observer
	own := &resilience.Observer{StateChange: func(e resilience.Event) {
		select {
		case fb.changes <- e:
		default: // the loop is behind; it reads the state itself each tick
		}
	}}
	if user != nil {
		lc.Observer = resilience.Observers(user, own)
	} else {
		lc.Observer = own
	}
	local, err := breaker.New(lc)
	if err != nil {
		return nil, err
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
	tag := "{" + cfg.Name + "}"
	fb.keyWindow = fb.windowKey(fb.replica)
	fb.keyReplicas = tag + ":replicas"
	fb.keyOpen = tag + ":open"
	fb.keyProbe = tag + ":probe"
	fb.channel = tag + ":events"

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

// Close stops the background goroutines and waits for them. The local
// breaker keeps working, alone. Close does not close the Client, and
// leaves the replica's window key to expire.
func (fb *Breaker) Close() error {
	fb.once.Do(func() {
		close(fb.stop)
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
	ctx, cancel := fb.ctx()
	fb.pubsub.Subscribe(ctx, fb.channel)
	cancel()
	select {
	case <-fb.stop:
		return
	default:
	}
	ch := fb.pubsub.Channel()
	for {
		select {
		case <-fb.stop:
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			select {
			case fb.msgs <- m.Payload:
			case <-fb.stop:
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
		case <-fb.stop:
			return
		case <-t.C:
			fb.tick()
		case e := <-fb.changes:
			fb.onChange(e)
		case m := <-fb.msgs:
			fb.onMessage(m)
		}
	}
}

func (fb *Breaker) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), fb.timeout)
}

// windowKey is the key of the window that replica id publishes.
func (fb *Breaker) windowKey(id string) string { return "{" + fb.name + "}:w:" + id }

// fallback makes the replica decide alone after err.
func (fb *Breaker) fallback(err error) {
	if fb.fleet != fleetClosed {
		fb.fleet = fleetClosed
		fb.local.Reset()
	}
	if !fb.degraded {
		fb.degraded = true
		fb.emit(resilience.EventFallback, err)
	}
}

func (fb *Breaker) emit(typ resilience.EventType, err error) {
	if fb.obs == nil {
		return
	}
	f := fb.obs.Fallback
	if typ == resilience.EventConnected {
		f = fb.obs.Connected
	}
	if f == nil {
		return
	}
	observe.Call(f, resilience.Event{
		Type: typ, Kind: resilience.KindFleet, Policy: fb.name,
		Context: context.Background(), Time: time.Now(), Err: err, Reason: "redis",
	})
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

// tick publishes the local window and reads the fleet's: two round trips.
func (fb *Breaker) tick() {
	defer fb.ticks.Add(1)
	snap := fb.local.Snapshot()
	ctx, cancel := fb.ctx()
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
	_, err := pipe.Exec(ctx)
	if err != nil && !errors.Is(err, redis.Nil) {
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
	var mget *redis.SliceCmd
	if len(keys) > 0 {
		mget = pipe.MGet(ctx, keys...)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		fb.fallback(err)
		return
	}
	openVal, openErr := open.Result()
	until, err := fb.parseOpen(openVal, openErr)
	if err != nil {
		fb.fallback(err)
		return
	}
	var calls, failures, reporting int
	if mget != nil {
		for i, v := range mget.Val() {
			s, ok := v.(string)
			if !ok {
				continue // expired: a replica gone
			}
			at, c, f, err := parseWindow(s)
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
	if fb.degraded {
		fb.degraded = false
		fb.emit(resilience.EventConnected, nil)
	}

	switch fb.fleet {
	case fleetClosed:
		switch {
		case until > now:
			fb.holdOpen() // opened while this replica was not listening
		case until == 0 && calls > 0 && calls >= fb.minCalls &&
			float64(failures) >= fb.rate*float64(calls) && reporting >= fb.quorum:
			fb.openFleet(ctx, now)
		}
	case fleetOpen:
		if until > now {
			return
		}
		// The fleet's open time is over: race for the single probe.
		won, err := fb.client.SetNX(ctx, fb.keyProbe, fb.replica, fb.probeTTL).Result()
		if err != nil {
			fb.fallback(err)
			return
		}
		if won {
			fb.fleet = fleetProbing
			fb.local.Reset()
			fb.local.TripAt(time.Now().Add(-fb.recovery)) // open, with its recovery already over: half-open at the next call
		}
	case fleetProbing:
		if probe.Val() != fb.replica {
			// The probe outlived its key and another replica may hold
			// it now: wait for its report like the others.
			fb.holdOpen()
		}
	}
}

// parseOpen reads the open key: "<until ms> <replica>".
func (fb *Breaker) parseOpen(v string, err error) (int64, error) {
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	f := strings.Fields(v)
	if len(f) != 2 {
		return 0, &BadDataError{Key: fb.keyOpen, Value: v}
	}
	until, perr := strconv.ParseInt(f[0], 10, 64)
	if perr != nil {
		return 0, &BadDataError{Key: fb.keyOpen, Value: v}
	}
	return until, nil
}

// parseWindow reads a window key: "<redis ms> <calls> <failures>".
func parseWindow(s string) (at int64, calls, failures int, err error) {
	f := strings.Fields(s)
	if len(f) != 3 {
		return 0, 0, 0, errors.New("fields")
	}
	at, err = strconv.ParseInt(f[0], 10, 64)
	if err == nil {
		calls, err = strconv.Atoi(f[1])
	}
	if err == nil {
		failures, err = strconv.Atoi(f[2])
	}
	if err == nil && (calls < 0 || failures < 0 || failures > calls) {
		err = errors.New("range")
	}
	return at, calls, failures, err
}

// holdOpen holds the local breaker open for the fleet.
func (fb *Breaker) holdOpen() {
	fb.fleet = fleetOpen
	fb.local.ForceOpen()
}

// openFleet opens the fleet for the recovery timeout, measured by Redis,
// and tells every replica at once.
func (fb *Breaker) openFleet(ctx context.Context, now int64) {
	until := now + fb.recovery.Milliseconds()
	val := strconv.FormatInt(until, 10) + " " + fb.replica
	pipe := fb.client.TxPipeline()
	pipe.Set(ctx, fb.keyOpen, val, fb.recovery+fb.interval)
	pipe.Del(ctx, fb.keyProbe)
	pipe.Publish(ctx, fb.channel, "open "+fb.replica)
	fb.holdOpen()
	if _, err := pipe.Exec(ctx); err != nil {
		fb.fallback(err)
	}
}

// closeFleet tells every replica that the probe succeeded.
func (fb *Breaker) closeFleet(ctx context.Context) {
	fb.fleet = fleetClosed
	fb.closedAt = fb.redisNow()
	pipe := fb.client.TxPipeline()
	pipe.Del(ctx, fb.keyOpen, fb.keyProbe)
	pipe.Publish(ctx, fb.channel, "closed "+fb.replica+" "+strconv.FormatInt(fb.closedAt, 10))
	if _, err := pipe.Exec(ctx); err != nil {
		fb.fallback(err)
	}
}

// onChange publishes a state change of the local breaker that the fleet
// did not cause.
func (fb *Breaker) onChange(e resilience.Event) {
	ctx, cancel := fb.ctx()
	defer cancel()
	switch {
	case fb.fleet == fleetProbing && e.From == "half-open" && e.To == "closed":
		fb.closeFleet(ctx)
	case fb.fleet == fleetProbing && e.From == "half-open" && e.To == "open":
		fb.openFleet(ctx, fb.redisNow())
	case fb.fleet == fleetClosed && e.From == "closed" && e.To == "open" && fb.quorum <= 1 && !fb.degraded:
		if fb.local.Snapshot().Forced {
			return
		}
		fb.openFleet(ctx, fb.redisNow())
	}
}

// onMessage applies another replica's published transition.
func (fb *Breaker) onMessage(m string) {
	f := strings.Fields(m)
	if len(f) < 2 || f[1] == fb.replica {
		return
	}
	switch f[0] {
	case "open":
		if fb.fleet != fleetOpen {
			fb.holdOpen()
		}
	case "closed":
		if len(f) == 3 {
			if at, err := strconv.ParseInt(f[2], 10, 64); err == nil {
				fb.closedAt = at
			}
		}
		if fb.fleet != fleetClosed {
			fb.fleet = fleetClosed
			fb.local.Reset()
		}
	}
}

package pace

import (
	"cmp"
	"errors"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/internal/clock"
	"github.com/netresilience/resilience/internal/nilpolicy"
)

// Defaults of [Config]'s zero fields.
const (
	DefaultMaxWait = time.Minute
	DefaultMaxKeys = 1024
)

// maxTime bounds the pacer's readings of its clock, and the times given to
// the At methods: ±2^62ns (about 146 years) of its creation. With resets
// capped at a day, no sum of them overflows.
const maxTime = 1 << 62

// Config configures a [Pacer]. Every zero field means its documented
// default, so Config{} is a pacer that waits up to a minute for a key's
// quota, learns the tokens a call costs from the answers, and keeps 1024
// keys.
type Config struct {
	// Name names the pacer in its errors and events.
	Name string

	// MaxWait is how long a call may be made to wait for its turn: a call
	// whose turn is further off is rejected at once, with an *[Error]
	// whose Reason is WaitTooLong, and reserves nothing. Zero means
	// [DefaultMaxWait], a minute — a provider's window is commonly a
	// minute, and a call that waits for the next one still beats one
	// refused with 429; negative turns waiting off: a call that cannot go
	// at once is rejected (Reason NoWait).
	MaxWait time.Duration

	// Tokens is the estimate of a call's tokens when the caller gives none
	// and the pacer has not learned one yet from the answers of its key
	// (see the package doc). Zero, the default, means no estimate until
	// then: such a call is held back by the tokens dimension only once the
	// remaining tokens are spent. It must not be negative.
	Tokens int64

	// MaxKeys bounds how many keys' states are kept; past it, the state made
	// first is dropped (its key then starts afresh, as one never seen). Zero
	// means [DefaultMaxKeys]; negative turns the bound off, for a pacer of a
	// known set of keys.
	MaxKeys int

	// Observer receives the events of the executors that run calls through
	// the pacer, such as resiliencehttp's Transport: Admit for a call once
	// its turn has come, with the wait as Delay and its tokens estimate as
	// Cost; Reject for a call refused, with the *Error as Err, its Reason's
	// String as Reason and the time until its turn as Delay. The events'
	// Kind is resilience.KindPace and their Policy the key. The pacer's own
	// decisions report nothing. Default: none.
	Observer *resilience.Observer
}

// Dimension is a dimension of a quota: requests or tokens.
type Dimension uint8

const (
	Requests Dimension = iota // requests: every call costs one
	Tokens                    // model tokens: a call costs what it reads and writes

	numDims = 2
)

// String returns "requests" or "tokens".
func (d Dimension) String() string {
	switch d {
	case Requests:
		return "requests"
	case Tokens:
		return "tokens"
	}
	return "Dimension(" + strconv.Itoa(int(d)) + ")"
}

// Pacer paces calls to keys — the hosts of LLM providers, say — to the
// quotas that their answers report, so that each key's remaining quota is
// spent evenly until its reset rather than in a burst followed by refusals.
// See the package doc for the model. Make one with [New]; the zero Pacer is
// not valid, and a nil *Pacer never panics: Reserve refuses with an error
// matching resilience.ErrNilPolicy, and the other methods do nothing and
// report zero values. A Pacer is safe for concurrent use; share one among
// all the clients of a quota.
//
// Most callers use it through an executor (resiliencehttp's Transport, with
// its Config.Pace). An executor of its own calls [Pacer.Reserve] before each
// call, waits the reservation's Delay, and hands the answer's [Quota] (from
// [Parse]) to [Reservation.Done].
type Pacer struct {
	name    string
	maxWait int64 // nanoseconds; negative: no waiting
	tokens  int64
	obs     *resilience.Observer
	clock   *clock.Clock

	mu      sync.RWMutex
	keys    map[string]*key
	made    []string // keys in the order their states were made
	maxKeys int
}

// New returns a Pacer configured by cfg, or an error if a field makes no
// sense.
func New(cfg Config) (*Pacer, error) {
	if cfg.Tokens < 0 {
		return nil, errors.New("pace: Tokens is negative: " + strconv.FormatInt(cfg.Tokens, 10))
	}
	p := &Pacer{
		name:    cfg.Name,
		maxWait: int64(cmp.Or(cfg.MaxWait, DefaultMaxWait)),
		tokens:  min(cfg.Tokens, maxCount),
		obs:     cfg.Observer,
		clock:   clock.New(),
		keys:    make(map[string]*key),
		maxKeys: cmp.Or(cfg.MaxKeys, DefaultMaxKeys),
	}
	if p.maxWait < 0 {
		p.maxWait = -1
	}
	return p, nil
}

// errNilPacer is the error of a call through a nil pointer.
const errNilPacer = nilpolicy.Error("pace: nil *Pacer")

// Name returns the pacer's name.
func (p *Pacer) Name() string {
	if p == nil {
		return ""
	}
	return p.name
}

// Observer returns the Observer of the pacer's Config, for its executors.
func (p *Pacer) Observer() *resilience.Observer {
	if p == nil {
		return nil
	}
	return p.obs
}

// MaxWait returns how long a call may wait for its turn; negative for no
// waiting, zero for a nil Pacer.
func (p *Pacer) MaxWait() time.Duration {
	if p == nil {
		return 0
	}
	return time.Duration(p.maxWait)
}

func (p *Pacer) nanos() int64               { return clampTime(p.clock.Now()) }
func (p *Pacer) fromTime(t time.Time) int64 { return clampTime(p.clock.From(t)) }

func clampTime(n int64) int64 { return min(max(n, -maxTime), maxTime) }

// dim is what a key's answers said of one dimension of its quota, and the
// schedule drawn from it.
type dim struct {
	known   bool
	resetAt int64   // when the quota is restored, on the pacer's clock
	left    int64   // units that may still go before resetAt
	iv      float64 // the spacing of the units, in nanoseconds per unit
	tat     int64   // when the next unit may go
}

// key is the state of one key.
type key struct {
	p    *Pacer
	name string

	mu       sync.Mutex
	dims     [numDims]dim
	inflight [numDims]int64 // units reserved and not yet done or canceled
	avg      int64          // tokens per call, learned from the answers; 0 none
	gen      uint64         // counts the answers that said something
	errs     [numDims][numReasons]Error
}

// lookup returns the state of key, or nil if there is none.
func (p *Pacer) lookup(name string) *key {
	p.mu.RLock()
	k := p.keys[name]
	p.mu.RUnlock()
	return k
}

// state returns the state of key, making it if needed.
func (p *Pacer) state(name string) *key {
	if k := p.lookup(name); k != nil {
		return k
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if k := p.keys[name]; k != nil {
		return k
	}
	k := &key{p: p, name: name}
	for d := range numDims {
		k.dims[d].tat = -maxTime // long before any time the pacer is asked about
	}
	for d := range numDims {
		for r := range numReasons {
			k.errs[d][r] = Error{Name: p.name, Key: name, Dimension: Dimension(d), Reason: Reason(r), MaxWait: time.Duration(max(p.maxWait, 0)), k: k}
		}
	}
	p.keys[name] = k
	if p.maxKeys < 0 {
		return k
	}
	if len(p.made) >= p.maxKeys {
		delete(p.keys, p.made[0])
		p.made = p.made[1:]
	}
	p.made = append(p.made, name)
	return k
}

// costsLocked returns what a call of the given tokens costs in each
// dimension: one request, and its tokens or else the estimate.
func (k *key) costsLocked(tokens int64) [numDims]int64 {
	if tokens <= 0 {
		tokens = cmp.Or(k.avg, k.p.tokens)
	}
	return [numDims]int64{1, min(tokens, maxCount)}
}

// nextLocked returns when a call of the costs c, decided at now, may go,
// and the dimension that holds it back (Requests if none does).
func (k *key) nextLocked(now int64, c [numDims]int64) (at int64, by Dimension) {
	at = now
	for d := range numDims {
		m := &k.dims[d]
		if !m.known || now >= m.resetAt {
			continue // no quota known, or it has been restored
		}
		var t int64
		if c[d] > m.left || c[d] == 0 && m.left <= 0 {
			t = m.resetAt // not enough left before the reset
		} else {
			t = min(max(m.tat, now), m.resetAt)
		}
		if t > at {
			at, by = t, Dimension(d)
		}
	}
	return at, by
}

// Delay returns how long from now a call to key of the given tokens (zero
// or less: the estimate) would wait for its turn, without reserving it.
func (p *Pacer) Delay(key string, tokens int64) time.Duration {
	if p == nil {
		return 0
	}
	return p.delay(key, tokens, p.nanos())
}

// DelayAt is [Pacer.Delay] at the time now, for virtual time.
func (p *Pacer) DelayAt(key string, tokens int64, now time.Time) time.Duration {
	if p == nil {
		return 0
	}
	return p.delay(key, tokens, p.fromTime(now))
}

func (p *Pacer) delay(name string, tokens int64, now int64) time.Duration {
	k := p.lookup(name)
	if k == nil {
		return 0
	}
	return k.delay(tokens, now)
}

func (k *key) delay(tokens int64, now int64) time.Duration {
	k.mu.Lock()
	at, _ := k.nextLocked(now, k.costsLocked(tokens))
	k.mu.Unlock()
	return time.Duration(at - now)
}

// Foresee returns the rejection that [Pacer.Reserve] would certainly give a
// call to key of the given tokens at now, or at any time after it until
// until, if no answer came meanwhile: a call whose turn is more than MaxWait
// away is rejected until its turn is MaxWait away. It returns a nil error
// when the call would be reserved. A retry policy that is told of it (as
// resilience.RetryState's Rejection) stops at once rather than wait for an
// attempt that the pacer would reject.
func (p *Pacer) Foresee(key string, tokens int64, now time.Time) (until time.Time, err error) {
	if p == nil {
		return time.Time{}, errNilPacer
	}
	k := p.lookup(key)
	if k == nil {
		return time.Time{}, nil
	}
	n := p.fromTime(now)
	k.mu.Lock()
	at, by := k.nextLocked(n, k.costsLocked(tokens))
	k.mu.Unlock()
	wait := at - n
	switch {
	case wait <= 0:
		return time.Time{}, nil
	case p.maxWait < 0:
		return now.Add(time.Duration(wait)), &k.errs[by][NoWait]
	case wait > p.maxWait:
		return now.Add(time.Duration(wait - p.maxWait)), &k.errs[by][WaitTooLong]
	}
	return time.Time{}, nil
}

// Reservation is a call's turn, from [Pacer.Reserve]: the call may go after
// [Reservation.Delay], and is counted against its key's quota until its
// answer comes, which the caller hands to [Reservation.Done], or it is
// given up with [Reservation.Cancel]. Call exactly one of them, once. The
// zero Reservation is a call that was not paced: its methods do nothing.
type Reservation struct {
	k       *key
	at, now int64 // when the call may go, and when it was reserved
	costs   [numDims]int64
	charged [numDims]bool // whether its costs were taken from the dims' left
	gen     uint64
	// The dims' next turn before and after the reservation, so that Cancel
	// can take it back if no turn was given since.
	before, after [numDims]int64
}

// Reserve reserves the next turn of a call to key of the given tokens (zero
// or less: the pacer's estimate), and says when it may go; the caller waits
// until then. A call whose turn is more than MaxWait away, or no earlier
// than deadline (the zero time for none), is rejected: an *[Error] that
// matches [ErrOverQuota], and no reservation. Reserve never blocks. A
// reservation or a rejection allocates nothing (but the first call to a key
// makes its state).
func (p *Pacer) Reserve(key string, tokens int64, deadline time.Time) (Reservation, error) {
	if p == nil {
		return Reservation{}, errNilPacer
	}
	return p.reserve(key, tokens, p.nanos(), deadline)
}

// ReserveAt is [Pacer.Reserve] at the time now, for virtual time.
func (p *Pacer) ReserveAt(key string, tokens int64, now, deadline time.Time) (Reservation, error) {
	if p == nil {
		return Reservation{}, errNilPacer
	}
	return p.reserve(key, tokens, p.fromTime(now), deadline)
}

func (p *Pacer) reserve(name string, tokens int64, now int64, deadline time.Time) (Reservation, error) {
	k := p.state(name)
	k.mu.Lock()
	c := k.costsLocked(tokens)
	at, by := k.nextLocked(now, c)
	wait := at - now
	switch {
	case wait > 0 && p.maxWait < 0:
		k.mu.Unlock()
		return Reservation{}, &k.errs[by][NoWait]
	case wait > p.maxWait && p.maxWait >= 0:
		k.mu.Unlock()
		return Reservation{}, &k.errs[by][WaitTooLong]
	case wait > 0 && !deadline.IsZero() && at >= p.fromTime(deadline):
		k.mu.Unlock()
		return Reservation{}, &k.errs[by][PastDeadline]
	}
	r := Reservation{k: k, at: at, now: now, costs: c, gen: k.gen}
	for d := range numDims {
		k.inflight[d] = min(k.inflight[d]+c[d], maxTime) // each cost is at most 2^53
		m := &k.dims[d]
		if !m.known || at >= m.resetAt {
			continue // a call of a window that has not begun yet
		}
		m.left -= c[d]
		r.before[d] = m.tat
		m.tat = satAdd(max(m.tat, at), spacing(m.iv, c[d]))
		r.after[d] = m.tat
		r.charged[d] = true
	}
	k.mu.Unlock()
	return r, nil
}

// spacing returns the time that n units take at iv nanoseconds each,
// rounded up, and at most a day.
func spacing(iv float64, n int64) int64 {
	s := math.Ceil(iv * float64(n))
	if !(s < float64(MaxReset)) { // also NaN
		return int64(MaxReset)
	}
	return int64(s)
}

func satAdd(a, b int64) int64 { return min(a+b, maxTime) } // a ≤ maxTime, b ≤ a day

// Time returns when the call may go.
func (r Reservation) Time() time.Time {
	if r.k == nil {
		return time.Time{}
	}
	return r.k.p.clock.Time(r.at)
}

// Delay returns how long the call waits from when it was reserved.
func (r Reservation) Delay() time.Duration { return time.Duration(r.at - r.now) }

// Tokens returns the tokens the call was counted for: the caller's, or the
// pacer's estimate.
func (r Reservation) Tokens() int64 { return r.costs[Tokens] }

// Done ends the call, whose answer said q about its key's quota (the zero
// Quota if the call got no answer, or the answer said nothing): the call is
// no longer counted as on its way, and what q says replaces what the key
// knew, as [Pacer.Update] does.
func (r Reservation) Done(q Quota) {
	if r.k == nil {
		return
	}
	r.k.done(r, q, r.k.p.nanos())
}

// DoneAt is [Reservation.Done] at the time now, for virtual time.
func (r Reservation) DoneAt(q Quota, now time.Time) {
	if r.k == nil {
		return
	}
	r.k.done(r, q, r.k.p.fromTime(now))
}

// Cancel gives the call's turn back, for a call that will not go: its units
// count again as left before the reset, and if no turn was reserved after
// it, the next call may take its turn. Turns reserved after it keep their
// times.
func (r Reservation) Cancel() {
	if r.k == nil {
		return
	}
	r.k.cancel(r, r.k.p.nanos())
}

// CancelAt is [Reservation.Cancel] at the time now, for virtual time.
func (r Reservation) CancelAt(now time.Time) {
	if r.k == nil {
		return
	}
	r.k.cancel(r, r.k.p.fromTime(now))
}

func (k *key) done(r Reservation, q Quota, now int64) {
	k.mu.Lock()
	for d := range numDims {
		k.inflight[d] = max(k.inflight[d]-r.costs[d], 0)
	}
	k.updateLocked(q, now)
	k.mu.Unlock()
}

func (k *key) cancel(r Reservation, now int64) {
	k.mu.Lock()
	for d := range numDims {
		k.inflight[d] = max(k.inflight[d]-r.costs[d], 0)
		m := &k.dims[d]
		// Its units were taken from what is left: when it was reserved, or
		// by an answer since, which counted it as on its way.
		if m.known && now < m.resetAt && (r.charged[d] || r.gen != k.gen) {
			m.left += r.costs[d]
		}
		if r.charged[d] && m.tat == r.after[d] {
			m.tat = max(r.before[d], now) // no turn was given since: take it back
		}
	}
	k.mu.Unlock()
}

// Update tells the pacer what an answer from key said about its quota, at
// the time it came; for answers to calls that it did not reserve. Answers
// to reserved calls go to [Reservation.Done].
func (p *Pacer) Update(key string, q Quota) {
	if p == nil || !q.Requests.Known && !q.Tokens.Known {
		return
	}
	k := p.state(key)
	k.mu.Lock()
	k.updateLocked(q, p.nanos())
	k.mu.Unlock()
}

// UpdateAt is [Pacer.Update] at the time now, for virtual time.
func (p *Pacer) UpdateAt(key string, q Quota, now time.Time) {
	if p == nil || !q.Requests.Known && !q.Tokens.Known {
		return
	}
	k := p.state(key)
	k.mu.Lock()
	k.updateLocked(q, p.fromTime(now))
	k.mu.Unlock()
}

// updateLocked draws a new schedule for each dimension that q speaks of: the
// units left before the reset, less those of the calls on their way, spread
// evenly from the next turn to the reset.
func (k *key) updateLocked(q Quota, now int64) {
	if !q.Requests.Known && !q.Tokens.Known {
		return
	}
	k.gen++
	for d := range numDims {
		l := *q.dim(Dimension(d))
		if !l.Known {
			continue
		}
		m := &k.dims[d]
		m.known = true
		m.resetAt = satAdd(now, int64(capReset(l.Reset)))
		m.left = min(max(l.Remaining, 0), maxCount) - k.inflight[d]
		start := max(m.tat, now)
		m.iv = 0
		if m.left > 0 && m.resetAt > start {
			m.iv = float64(m.resetAt-start) / float64(m.left)
		}
	}
	// The tokens a call costs, on average: those spent in the window over
	// the requests spent.
	r, t := q.Requests, q.Tokens
	if r.Known && t.Known && r.Limit > r.Remaining && t.Limit >= t.Remaining && t.Remaining >= 0 {
		used := r.Limit - r.Remaining
		k.avg = max((t.Limit-t.Remaining+used-1)/used, 1)
	}
}

// Estimate returns the tokens the pacer counts a call to key for when its
// caller gives none: the average it learned from the key's answers, or else
// Config.Tokens.
func (p *Pacer) Estimate(key string) int64 {
	if p == nil {
		return 0
	}
	k := p.lookup(key)
	if k == nil {
		return p.tokens
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return cmp.Or(k.avg, p.tokens)
}

// Snapshot is what a pacer knows of a key's quota at one time, for metrics.
type Snapshot struct {
	// Requests and Tokens are the key's dimensions: Known if an answer
	// spoke of it and its reset has not come; Remaining is what is left
	// to reserve before Reset, which is the time until then.
	Requests, Tokens Limit
	// InFlight counts the calls reserved and not yet done.
	InFlight int64
	// Estimate is the tokens a call is counted for when its caller gives
	// none.
	Estimate int64
}

// Snapshot returns what the pacer knows of key now.
func (p *Pacer) Snapshot(key string) Snapshot {
	if p == nil {
		return Snapshot{}
	}
	return p.snapshot(key, p.nanos())
}

// SnapshotAt is [Pacer.Snapshot] at the time now, for virtual time.
func (p *Pacer) SnapshotAt(key string, now time.Time) Snapshot {
	if p == nil {
		return Snapshot{}
	}
	return p.snapshot(key, p.fromTime(now))
}

func (p *Pacer) snapshot(name string, now int64) Snapshot {
	k := p.lookup(name)
	if k == nil {
		return Snapshot{Estimate: p.tokens}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	s := Snapshot{InFlight: k.inflight[Requests], Estimate: cmp.Or(k.avg, p.tokens)}
	for d := range numDims {
		m := &k.dims[d]
		if m.known && now < m.resetAt {
			l := Limit{Remaining: max(m.left, 0), Reset: time.Duration(m.resetAt - now), Known: true}
			if Dimension(d) == Tokens {
				s.Tokens = l
			} else {
				s.Requests = l
			}
		}
	}
	return s
}

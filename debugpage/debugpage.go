package debugpage

import (
	"context"
	"errors"
	"iter"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/ratelimit"
	"github.com/netresilience/resilience/throttle"
	"github.com/netresilience/resilience/timeout"
)

// The defaults of Config's zero fields.
const (
	DefaultInterval   = 5 * time.Second // between two samples
	DefaultSamples    = 120             // points per series: ten minutes at DefaultInterval
	DefaultMaxMembers = 50              // members shown per group
)

// The largest values Config accepts, which bound the registry's memory.
const (
	MaxSamples    = 10_000
	MaxMaxMembers = 10_000
)

// Config configures a [Registry]. The zero Config is valid and means the
// defaults.
type Config struct {
	// Interval is the time between two samples of the sparklines. Zero
	// means DefaultInterval; a negative Interval starts no sampler, and
	// samples are then taken only by Sample and SampleAt.
	Interval time.Duration
	// Samples is how many samples each series keeps: the sparklines cover
	// the last Samples × Interval. Zero means DefaultSamples; at most
	// MaxSamples.
	Samples int
	// MaxMembers bounds how many members of a group are sampled and shown,
	// the first in the order the group lists them; the page counts the
	// others. Zero means DefaultMaxMembers; at most MaxMaxMembers.
	MaxMembers int
	// Title is the page's heading; "" means "resilience policies".
	Title string
}

func (c *Config) validate() error {
	switch {
	case c.Samples < 0:
		return errors.New("debugpage: Samples must not be negative")
	case c.Samples > MaxSamples:
		return errors.New("debugpage: Samples must be at most " + strconv.Itoa(MaxSamples))
	case c.MaxMembers < 0:
		return errors.New("debugpage: MaxMembers must not be negative")
	case c.MaxMembers > MaxMaxMembers:
		return errors.New("debugpage: MaxMembers must be at most " + strconv.Itoa(MaxMaxMembers))
	}
	return nil
}

// Policy is the set of policy types a Registry shows. It is a constraint
// for [Register] and [RegisterGroup], not an interface to implement.
type Policy interface {
	*breaker.Breaker | *budget.Budget | *bulkhead.Bulkhead | *adaptive.Limiter |
		*throttle.Throttle | *ratelimit.Limiter | *hedge.Hedger | *timeout.Timeout
}

// Registry is a named set of policies and groups of policies, with their
// recent history, served as a page by ServeHTTP. Make one with [New]; the
// zero Registry is not usable. A Registry is safe for concurrent use.
type Registry struct {
	interval   time.Duration
	samples    int
	maxMembers int
	title      string

	stop chan struct{}
	once sync.Once
	done chan struct{} // closed when the sampler has ended; nil without one

	mu      sync.Mutex
	entries []*entry // in the order of registration
	names   map[string]bool
	head    int       // the ring position the next sample goes to
	taken   int       // samples taken, at most samples
	last    time.Time // when the last sample was taken
}

// entry is one registration: a policy, or a group of them.
type entry struct {
	name    string
	group   bool
	policy  any                    // a single policy
	members iter.Seq2[string, any] // a group's members
	// rings holds the history: under "" for a single policy, under each
	// member's key for a group. Guarded by Registry.mu.
	rings map[string]*history
}

// history is the sampled series of one policy, each a ring of
// Registry.samples values, NaN where no sample was taken.
type history struct {
	kind   kind
	series [maxSeries][]float64
}

// New returns a Registry configured by cfg, or an error if a field of cfg
// makes no sense. Unless cfg.Interval is negative, it starts a goroutine
// that samples the registered policies every Interval until Close is called
// or ctx ends.
func New(ctx context.Context, cfg Config) (*Registry, error) {
	if ctx == nil {
		return nil, errors.New("debugpage: nil context")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Registry{
		interval:   cfg.Interval,
		samples:    cfg.Samples,
		maxMembers: cfg.MaxMembers,
		title:      cfg.Title,
		stop:       make(chan struct{}),
		names:      make(map[string]bool),
	}
	if r.interval == 0 {
		r.interval = DefaultInterval
	}
	if r.samples == 0 {
		r.samples = DefaultSamples
	}
	if r.maxMembers == 0 {
		r.maxMembers = DefaultMaxMembers
	}
	if r.title == "" {
		r.title = "resilience policies"
	}
	if r.interval > 0 {
		r.done = make(chan struct{})
		go r.run(ctx)
	}
	return r, nil
}

// run is the sampler: it samples every interval until the registry is
// closed or ctx ends.
func (r *Registry) run(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-ctx.Done():
			return
		case now := <-t.C:
			r.SampleAt(now)
		}
	}
}

// Close stops the sampler and waits for it to end. The registry still
// serves its page, with the history it has. Close is idempotent and
// returns nil.
func (r *Registry) Close() error {
	if r == nil {
		return nil
	}
	r.once.Do(func() { close(r.stop) })
	if r.done != nil {
		<-r.done
	}
	return nil
}

// Register adds p to r under name, and returns a func that removes it
// again (which may be called more than once). It returns an error for a
// nil r or p, an empty name, or a name already registered.
func Register[P Policy](r *Registry, name string, p P) (unregister func(), err error) {
	if p == nil {
		return nil, errors.New("debugpage: Register " + strconv.Quote(name) + ": nil policy")
	}
	return r.add(&entry{name: name, policy: p})
}

// RegisterGroup adds a family of policies of one type to r under name:
// members lists them, each under its key (a host, a model), and is called
// at every sample and every view of the page, so the group follows the
// family as it grows and shrinks. At most Config.MaxMembers members are
// sampled and shown, the first that members yields; a nil member is
// skipped. It returns a func that removes the group again, or an error for
// a nil r or members, an empty name, or a name already registered.
//
// members must not block. It runs without r's lock held, so it may call
// r's methods. The method values of resiliencehttp's (*Transport).Breakers
// and (*Transport).Limiters are such iterators.
func RegisterGroup[P Policy](r *Registry, name string, members iter.Seq2[string, P]) (unregister func(), err error) {
	if members == nil {
		return nil, errors.New("debugpage: RegisterGroup " + strconv.Quote(name) + ": nil members")
	}
	all := func(yield func(string, any) bool) {
		for k, p := range members {
			if p == nil {
				continue
			}
			if !yield(k, p) {
				return
			}
		}
	}
	return r.add(&entry{name: name, group: true, members: all})
}

func (r *Registry) add(e *entry) (func(), error) {
	if r == nil {
		return nil, errors.New("debugpage: nil *Registry")
	}
	if e.name == "" {
		return nil, errors.New("debugpage: empty name")
	}
	e.rings = make(map[string]*history)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[e.name] {
		return nil, errors.New("debugpage: " + strconv.Quote(e.name) + " is already registered")
	}
	r.names[e.name] = true
	r.entries = append(r.entries, e)
	var once sync.Once
	return func() { once.Do(func() { r.remove(e) }) }, nil
}

func (r *Registry) remove(e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.Index(r.entries, e); i >= 0 {
		r.entries = slices.Delete(r.entries, i, i+1)
		delete(r.names, e.name)
	}
}

// list returns the registered entries, in order.
func (r *Registry) list() []*entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.entries)
}

// member is one policy of a group, under its key.
type member struct {
	key    string
	policy any
}

// membersOf lists the first r.maxMembers members of the group e, sorted by
// key, and how many more there are. It calls the user's iterator, so it
// must run without r.mu held.
func (r *Registry) membersOf(e *entry) (ms []member, more int) {
	for k, p := range e.members {
		if len(ms) < r.maxMembers {
			ms = append(ms, member{k, p})
		} else {
			more++
		}
	}
	slices.SortStableFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
	return ms, more
}

// Sample takes one sample of every registered policy now, as the sampler
// does every Interval.
func (r *Registry) Sample() { r.SampleAt(time.Now()) }

// SampleAt is [Registry.Sample] at the time now, for virtual time: the
// policies that have SnapshotAt are read at now.
func (r *Registry) SampleAt(now time.Time) {
	if r == nil {
		return
	}
	type read struct {
		e      *entry
		values map[string]reading
	}
	var reads []read
	for _, e := range r.list() {
		rd := read{e: e, values: make(map[string]reading)}
		if e.group {
			ms, _ := r.membersOf(e)
			for _, m := range ms {
				rd.values[m.key] = readPolicy(m.policy, now)
			}
		} else {
			rd.values[""] = readPolicy(e.policy, now)
		}
		reads = append(reads, rd)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.entries {
		for _, h := range e.rings {
			for _, s := range h.series {
				if s != nil {
					s[r.head] = math.NaN()
				}
			}
		}
	}
	for _, rd := range reads {
		for key := range rd.e.rings {
			if _, ok := rd.values[key]; !ok {
				delete(rd.e.rings, key) // a member that left its group
			}
		}
		for key, v := range rd.values {
			h := rd.e.rings[key]
			if h == nil || h.kind != v.kind {
				h = r.newHistory(v.kind)
				rd.e.rings[key] = h
			}
			for i, s := range h.series {
				if s != nil {
					s[r.head] = v.series[i]
				}
			}
		}
	}
	r.head = (r.head + 1) % r.samples
	r.taken = min(r.taken+1, r.samples)
	r.last = now
}

// newHistory returns an empty history of a policy of kind k.
func (r *Registry) newHistory(k kind) *history {
	h := &history{kind: k}
	for i := range seriesOf(k) {
		s := make([]float64, r.samples)
		for j := range s {
			s[j] = math.NaN()
		}
		h.series[i] = s
	}
	return h
}

// ordered returns a copy of the ring s, oldest sample first, covering the
// samples taken. Called with r.mu held.
func (r *Registry) ordered(s []float64) []float64 {
	out := make([]float64, r.taken)
	start := (r.head - r.taken + r.samples) % r.samples
	for i := range out {
		out[i] = s[(start+i)%r.samples]
	}
	return out
}

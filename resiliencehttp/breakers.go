package resiliencehttp

import (
	"slices"
	"strings"

	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/breaker"
)

// hostGuards are the policies that the transport keeps for one host: its
// breaker and its adaptive limiter, each nil if the transport has none.
type hostGuards struct {
	br  *breaker.Breaker
	lim *adaptive.Limiter
}

// guardsFor returns the host's guards, making them if needed, and dropping
// those of the host met first when MaxHosts hosts have guards; the zero
// hostGuards without Breaker and Limit.
func (t *Transport) guardsFor(host string) hostGuards {
	if t.hosts == nil {
		return hostGuards{}
	}
	t.mu.RLock()
	g, ok := t.hosts[host]
	t.mu.RUnlock()
	if ok {
		return g
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if g, ok = t.hosts[host]; ok {
		return g
	}
	if t.breakerConfig != nil {
		cfg := *t.breakerConfig
		cfg.Name = host
		g.br = breaker.MustNew(cfg) // validated in NewTransport
	}
	if t.limitConfig != nil {
		cfg := *t.limitConfig
		cfg.Name = host
		g.lim = adaptive.MustNew(cfg) // validated in NewTransport
	}
	t.hosts[host] = g
	if t.maxHosts < 0 {
		return g // no bound: nothing is dropped
	}
	if len(t.made) >= t.maxHosts {
		delete(t.hosts, t.made[0])
		t.made = t.made[1:]
	}
	t.made = append(t.made, host)
	return g
}

// guardsOf returns the host's guards if it has them, without making them.
func (t *Transport) guardsOf(host string) hostGuards {
	if t == nil {
		return hostGuards{}
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.hosts[host]
}

// Breaker returns the breaker of host (host and port, as in a URL's Host),
// or nil if it has none yet or the transport has no breakers: for metrics
// and manual control.
func (t *Transport) Breaker(host string) *breaker.Breaker {
	return t.guardsOf(host).br
}

// Breakers calls yield with each of the transport's per-host breakers, as
// (host, breaker) pairs sorted by host, until yield returns false: for
// metrics and debug pages. It is an iterator as a method, so that
// "for host, b := range t.Breakers" lists them, and t.Breakers is an
// iter.Seq2 to hand over (package debugpage's RegisterGroup takes one). It
// lists the breakers that exist when it is called, without holding the
// transport's lock while it yields. A transport without breakers, or a nil
// one, yields nothing.
func (t *Transport) Breakers(yield func(host string, b *breaker.Breaker) bool) {
	eachHost(t, func(g hostGuards) *breaker.Breaker { return g.br }, yield)
}

// eachHost calls yield with each host's policy that pick returns, sorted by
// host, skipping nil ones, until yield returns false; it does not hold the
// transport's lock while it yields.
func eachHost[P any](t *Transport, pick func(hostGuards) *P, yield func(string, *P) bool) {
	if t == nil {
		return
	}
	type hostPolicy struct {
		host string
		p    *P
	}
	t.mu.RLock()
	all := make([]hostPolicy, 0, len(t.hosts))
	for h, g := range t.hosts {
		if p := pick(g); p != nil {
			all = append(all, hostPolicy{h, p})
		}
	}
	t.mu.RUnlock()
	slices.SortFunc(all, func(a, b hostPolicy) int { return strings.Compare(a.host, b.host) })
	for _, hp := range all {
		if !yield(hp.host, hp.p) {
			return
		}
	}
}

package resiliencehttp

import (
	"slices"
	"strings"

	"github.com/netresilience/resilience/breaker"
)

// Breakers calls yield with each of the transport's per-host breakers, as
// (host, breaker) pairs sorted by host, until yield returns false: for
// metrics and debug pages. It is an iterator as a method, so that
// "for host, b := range t.Breakers" lists them, and t.Breakers is an
// iter.Seq2 to hand over (package debugpage's RegisterGroup takes one). It
// lists the breakers that exist when it is called, without holding the
// transport's lock while it yields. A transport without breakers, or a nil
// one, yields nothing.
func (t *Transport) Breakers(yield func(host string, b *breaker.Breaker) bool) {
	if t == nil {
		return
	}
	type hostBreaker struct {
		host string
		b    *breaker.Breaker
	}
	t.mu.RLock()
	all := make([]hostBreaker, 0, len(t.breakers))
	for h, b := range t.breakers {
		all = append(all, hostBreaker{h, b})
	}
	t.mu.RUnlock()
	slices.SortFunc(all, func(a, b hostBreaker) int { return strings.Compare(a.host, b.host) })
	for _, hb := range all {
		if !yield(hb.host, hb.b) {
			return
		}
	}
}

package resiliencehttp

import (
	"iter"
	"slices"
	"strings"

	"github.com/netresilience/resilience/breaker"
)

// Breakers returns an iterator over the transport's per-host breakers, as
// (host, breaker) pairs sorted by host, for metrics and debug pages (such
// as package debugpage's RegisterGroup). It lists the breakers that exist
// when iteration starts, without holding the transport's lock while it
// yields. A transport without breakers, or a nil one, yields nothing.
func (t *Transport) Breakers() iter.Seq2[string, *breaker.Breaker] {
	return func(yield func(string, *breaker.Breaker) bool) {
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
}

package resiliencehttp

import (
	"maps"

	"github.com/netresilience/resilience/breaker"
)

// Breakers returns the breakers the transport holds now, by host (host and
// port, as in a URL's Host): for metrics that read every host's breaker,
// such as its state from Snapshot. The map is the caller's, made at each
// call; it is empty when the transport has no breakers or no host yet.
func (t *Transport) Breakers() map[string]*breaker.Breaker {
	if t == nil {
		return map[string]*breaker.Breaker{}
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.breakers == nil {
		return map[string]*breaker.Breaker{}
	}
	return maps.Clone(t.breakers)
}

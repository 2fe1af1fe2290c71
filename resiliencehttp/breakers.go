package resiliencehttp

import (
	"maps"

	"github.com/netresilience/resilience/breaker"
)

// Breakers returns the breakers the transport holds now, by host (host and
// port, as in a URL's Host): for metrics that read every host's breaker,
// such as its state from Snapshot. The map is a copy, the caller's; it is
// nil (which reads as empty) when the transport holds no breaker.
func (t *Transport) Breakers() map[string]*breaker.Breaker {
	if t == nil {
		return nil
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if len(t.breakers) == 0 {
		return nil
	}
	return maps.Clone(t.breakers)
}

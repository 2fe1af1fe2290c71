package brokertest

import (
	"testing"

	"github.com/netresilience/resilience/internal/leakcheck"
)

// TestMain checks that no goroutine outlives the tests: the clients' and the
// embedded server's included, which every test stops.
func TestMain(m *testing.M) { leakcheck.Main(m) }

package resilienceredis_test

import (
	"context"
	"testing"

	"github.com/netresilience/resilience/internal/leakcheck"
	"github.com/redis/go-redis/v9"
)

// quiet drops go-redis's own log lines (failed dials while a test has
// stopped Redis on purpose); the tests see those failures through events.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	leakcheck.Main(m)
}

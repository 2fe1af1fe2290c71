package adaptive_test

import (
	"testing"

	"github.com/netresilience/resilience/adaptive"
)

func mustNew(t testing.TB, cfg adaptive.Config) *adaptive.Limiter {
	t.Helper()
	l, err := adaptive.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return l
}

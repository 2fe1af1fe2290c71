package novalue

import (
	"context"
	"errors"
	"testing"

	"github.com/netresilience/resilience/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestWrap(t *testing.T) {
	if Wrap(nil) != nil {
		t.Fatal("Wrap(nil) is not nil: the executors could not report the missing function")
	}
	errDown := errors.New("down")
	var got context.Context
	ctx := context.WithValue(context.Background(), struct{}{}, 1)
	_, err := Wrap(func(ctx context.Context) error { got = ctx; return errDown })(ctx)
	if err != errDown || got != ctx {
		t.Fatalf("Wrap(fn)(ctx) = %v with %v; want fn's error, fn called with ctx", err, got)
	}
}

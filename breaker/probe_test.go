package breaker_test

import (
	"errors"
	"testing"
	"time"

	"github.com/netresilience/resilience/breaker"
)

// A permit of the closed state is no probe; one of the half-open state is,
// until the breaker closes again; the zero Permit is none.
func TestPermitProbe(t *testing.T) {
	b := breaker.MustNew(breaker.Config{FailureThreshold: 1, RecoveryTimeout: time.Second})
	t0 := time.Now()
	p, err := b.AllowAt(t0)
	if err != nil || p.Probe() {
		t.Fatalf("closed: Allow = %v, Probe %v; want a permit that is no probe", err, p.Probe())
	}
	p.DoneAt(t0, errors.New("down"))
	p, err = b.AllowAt(t0.Add(time.Second))
	if err != nil || !p.Probe() {
		t.Fatalf("half-open: Allow = %v, Probe %v; want a probe", err, p.Probe())
	}
	p.DoneAt(t0.Add(time.Second), nil)
	if p, _ = b.AllowAt(t0.Add(time.Second)); p.Probe() {
		t.Fatal("closed again: the permit is a probe")
	}
	if (breaker.Permit{}).Probe() {
		t.Fatal("the zero Permit is a probe")
	}
}

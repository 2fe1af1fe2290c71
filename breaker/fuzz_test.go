package breaker_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/internal/fuzzprog"
)

// FuzzBreakerConfig checks that New accepts exactly the configurations that
// Config's doc comments call valid, and rejects the others with an error
// prefixed "breaker: ".
func FuzzBreakerConfig(f *testing.F) {
	s := int64(time.Second)
	f.Add(0, int64(0), int64(0), 0, int64(0), int64(0), 0.0, int64(0), 0.0, 0)
	f.Add(5, 30*s, 300*s, 2, 60*s, 10*s, 0.5, s, 0.5, 10)
	f.Add(1<<24-1, int64(math.MaxInt64), int64(math.MaxInt64), 1<<16-1, int64(math.MaxInt64), int64(math.MaxInt64), 1.0, int64(math.MaxInt64), 1.0, math.MaxInt)
	f.Add(1<<24, int64(0), int64(0), 0, int64(0), int64(0), 0.0, int64(0), 0.0, 0)
	f.Add(0, int64(0), int64(0), 1<<16, int64(0), int64(0), 0.0, int64(0), 0.0, 0)
	f.Add(-1, int64(-1), int64(-1), -1, int64(-1), int64(-1), -0.5, int64(-1), math.NaN(), -1)
	f.Add(0, int64(0), 29*s, 0, int64(0), int64(0), 0.0, int64(0), 0.0, 0)
	f.Add(0, 40*s, 30*s, 0, int64(0), int64(0), 0.0, int64(0), 0.0, 0)
	f.Add(0, int64(0), int64(0), 0, int64(0), s, 0.0, int64(0), 0.0, 0)
	f.Add(0, int64(0), int64(0), 0, int64(0), int64(0), 0.5, int64(0), 0.0, 0)
	f.Add(0, int64(0), int64(0), 0, int64(0), s, 0.0, int64(0), 0.5, 0)
	f.Add(0, int64(0), int64(0), 0, int64(0), s, 0.0, s, 0.0, 0)
	f.Add(0, int64(0), int64(0), 0, int64(0), s, 1.5, int64(0), 0.0, 0)
	f.Add(0, int64(0), int64(0), 0, int64(0), s, math.NaN(), int64(0), 0.0, 0)
	f.Add(0, int64(0), int64(0), 0, int64(0), int64(0), 0.0, int64(0), 0.0, 3)

	f.Add(-1, int64(0), int64(0), 0, int64(-1), s, 0.5, int64(0), 0.0, -1)
	f.Add(-1, int64(0), int64(0), 0, int64(0), int64(0), 0.0, int64(0), 0.0, 0)

	f.Fuzz(func(t *testing.T, threshold int, recovery, maxRecovery int64, probes int, probeTimeout, window int64, failureRate float64, slowCall int64, slowRate float64, minCalls int) {
		cfg := fuzzConfig(threshold, recovery, maxRecovery, probes, probeTimeout, window, failureRate, slowCall, slowRate, minCalls)
		rate := func(r float64) bool { return r >= 0 && r <= 1 }
		rates := failureRate > 0 || slowRate > 0
		rec := recovery
		if rec == 0 {
			rec = int64(breaker.DefaultRecoveryTimeout)
		}
		// A negative FailureThreshold, ProbeTimeout or MinCalls turns it off.
		valid := threshold <= 1<<24-1 && (threshold >= 0 || rates) &&
			probes >= 0 && probes <= 1<<16-1 &&
			recovery >= 0 && maxRecovery >= 0 && window >= 0 && slowCall >= 0 &&
			rate(failureRate) && rate(slowRate) &&
			rates == (window > 0) && (slowRate > 0) == (slowCall > 0) && (minCalls == 0 || rates) &&
			(maxRecovery == 0 || maxRecovery >= rec)
		b, err := breaker.New(cfg)
		fuzzprog.CheckNew(t, "breaker", cfg, b, err, valid)
	})
}

// fuzzConfig is the Config of the fuzz targets' arguments.
func fuzzConfig(threshold int, recovery, maxRecovery int64, probes int, probeTimeout, window int64, failureRate float64, slowCall int64, slowRate float64, minCalls int) breaker.Config {
	return breaker.Config{
		FailureThreshold:   threshold,
		RecoveryTimeout:    time.Duration(recovery),
		MaxRecoveryTimeout: time.Duration(maxRecovery),
		HalfOpenProbes:     probes,
		ProbeTimeout:       time.Duration(probeTimeout),
		Window:             time.Duration(window),
		FailureRate:        failureRate,
		SlowCall:           time.Duration(slowCall),
		SlowCallRate:       slowRate,
		MinCalls:           minCalls,
	}
}

// FuzzBreaker checks the breaker's arithmetic on durations and times for
// any valid configuration and any sequence of calls, at times that may lie
// anywhere, however far apart, and go back:
//
//   - every change of state is one the breaker's doc allows (closed to
//     open, open to half-open, half-open to open or closed), one generation
//     on;
//   - closed, the failures in a row stay below FailureThreshold;
//   - open, the breaker stays open for RecoveryTimeout, or up to
//     MaxRecoveryTimeout after failed probes (the time saturating at the end
//     of int64), rejects every call before then with an Error that says
//     until when, and is half-open from then;
//   - half-open, it has at most HalfOpenProbes probes in flight, none of
//     them admitted ProbeTimeout or more ago, by exact arithmetic;
//   - a call's report counts in the window as a call, a failure if it
//     failed, and a slow call if it took longer than SlowCall, by exact
//     arithmetic, whatever the times.
//
// It runs in a synctest bubble, so that the breaker's clock starts at a time
// known to the test. The program is 17 bytes a step: an operation, 8 bytes
// of time and 8 bytes of argument.
func FuzzBreaker(f *testing.F) {
	step := func(op byte, at, arg int64) []byte { return fuzzprog.Step(op, at, arg) }
	prog := fuzzprog.Prog
	const (
		allow, done, snap       = brAllow, brDone, brSnapshot
		ok, fail, bad, canceled = 0, 4, 8, 12
		abs                     = brAbs
	)
	s := int64(time.Second)
	maxI := int64(math.MaxInt64)
	// threshold, recovery, maxRecovery, probes, probeTimeout, window, failureRate, slowCall, slowRate, minCalls, program
	f.Add(2, s, 8*s, 2, 3*s, int64(0), 0.0, int64(0), 0.0, 0, prog(step(allow, 0, 0), step(allow, 0, 0), step(done|fail, 0, 0), step(done|fail, 0, 1), step(snap, s, 0), step(allow, 0, 0), step(allow, 0, 0), step(snap, 2*s, 0), step(snap, 2*s, 0), step(allow, 0, 0), step(done|fail, 0, 4), step(snap, 10*s, 0)))
	f.Add(1, maxI, maxI, 1, maxI, int64(0), 0.0, int64(0), 0.0, 0, prog(step(allow, 0, 0), step(done|bad, 0, 0), step(snap|abs, maxI, 0), step(allow|abs, maxI, 0)))
	f.Add(5, s, int64(0), 1, s, 10*s, 0.5, s, 0.5, 2, prog(step(allow, 0, 0), step(allow, 0, 0), step(done|ok, 2*s, 0), step(done|canceled, 0, 1), step(allow, 0, 0), step(done|fail, 0, 2), step(snap, 0, 0)))
	// A call that takes exactly SlowCall is not slow.
	f.Add(5, s, int64(0), 1, s, 10*s, 0.0, s, 0.5, 1, prog(step(allow, 0, 0), step(done|ok, s, 0)))
	// FailureThreshold, ProbeTimeout and MinCalls off.
	f.Add(-1, s, int64(0), 1, int64(-1), 10*s, 0.5, int64(0), 0.0, -1, prog(step(allow, 0, 0), step(done|fail, 0, 0), step(snap, s, 0), step(allow, 0, 0), step(snap, 1<<39, 0), step(allow, 0, 0), step(done|ok, 0, 1)))

	f.Fuzz(func(t *testing.T, threshold int, recovery, maxRecovery int64, probes int, probeTimeout, window int64, failureRate float64, slowCall int64, slowRate float64, minCalls int, program []byte) {
		cfg := fuzzConfig(threshold, recovery, maxRecovery, probes, probeTimeout, window, failureRate, slowCall, slowRate, minCalls)
		cfg.Seed = 1
		if _, err := breaker.New(cfg); err != nil {
			return // FuzzBreakerConfig checks the validation
		}
		if len(program) > 17*200 {
			program = program[:17*200]
		}
		synctest.Test(t, func(t *testing.T) { runBreaker(t, cfg, program) })
	})
}

// The operations of FuzzBreaker's programs: bits 0-1, AllowAt, DoneAt (of
// the permit the argument picks) or SnapshotAt; bits 2-3, the outcome
// reported: success, transient failure, permanent failure, cancellation;
// bit 4, the time is absolute, from the bubble's start (else a step forward
// from the last time, by up to the argument's low 40 bits).
const (
	brAllow, brDone, brSnapshot = 0, 1, 2
	brAbs                       = 16
)

func runBreaker(t *testing.T, cfg breaker.Config, program []byte) {
	start := time.Now()
	var changes []resilience.Event
	cfg.Observer = &resilience.Observer{StateChange: func(c resilience.Event) { changes = append(changes, c) }}
	b := breaker.MustNew(cfg)

	threshold := uint64(cfg.FailureThreshold)
	switch {
	case cfg.FailureThreshold == 0:
		threshold = breaker.DefaultFailureThreshold
	case cfg.FailureThreshold < 0:
		threshold = math.MaxUint64 // off
	}
	recovery := int64(cfg.RecoveryTimeout)
	if recovery == 0 {
		recovery = int64(breaker.DefaultRecoveryTimeout)
	}
	longest := max(int64(cfg.MaxRecoveryTimeout), recovery)
	probes := cfg.HalfOpenProbes
	if probes == 0 {
		probes = breaker.DefaultHalfOpenProbes
	}
	probeTimeout := int64(cfg.ProbeTimeout)
	switch {
	case probeTimeout == 0:
		probeTimeout = int64(breaker.DefaultProbeTimeout)
	}
	probeTimeoutOff := probeTimeout < 0 // no probe runs out of time
	nanos := func(at time.Time) int64 { return at.Sub(start).Nanoseconds() }

	type permit struct {
		p        breaker.Permit
		at       int64  // when it was admitted
		gen      uint64 // the generation that admitted it
		probe    bool
		reported bool
	}
	var permits []*permit
	var last int64
	gen := uint64(0)
	for i := 0; i+17 <= len(program); i += 17 {
		op := program[i]
		x := int64(binary.LittleEndian.Uint64(program[i+1:]))
		arg := int64(binary.LittleEndian.Uint64(program[i+9:]))
		if op&brAbs != 0 {
			last = x
		} else if step := x & (1<<40 - 1); last > math.MaxInt64-step {
			last = math.MaxInt64
		} else {
			last += step
		}
		now := start.Add(time.Duration(last))

		switch op & 3 {
		case brAllow:
			p, err := b.AllowAt(now)
			s := b.SnapshotAt(now)
			if err != nil {
				var oe *breaker.Error
				if !errors.Is(err, breaker.ErrOpen) || !errors.As(err, &oe) {
					t.Fatalf("step %d: AllowAt: %v", i/17, err)
				}
				if s.State == breaker.Closed {
					t.Fatalf("step %d: AllowAt rejected a call while closed: %v", i/17, err)
				}
				if oe.State == breaker.Open && !oe.Until.After(now) {
					t.Fatalf("step %d: rejected at %d as open until %d", i/17, last, nanos(oe.Until))
				}
				continue
			}
			if s.State == breaker.Open {
				t.Fatalf("step %d: AllowAt admitted a call at %d, when the breaker is open: %+v", i/17, last, s)
			}
			permits = append(permits, &permit{p: p, at: last, gen: s.Generation, probe: s.State == breaker.HalfOpen})
		case brDone:
			if len(permits) == 0 {
				continue
			}
			pm := permits[uint64(arg)%uint64(len(permits))]
			if pm.reported {
				continue // a permit is reported once
			}
			pm.reported = true
			var outcome error
			switch op & 12 {
			case 4:
				outcome = errDown
			case 8:
				outcome = errBad
			case 12:
				outcome = context.Canceled
			}
			before := b.SnapshotAt(now)
			pm.p.DoneAt(now, outcome)
			after := b.SnapshotAt(now)
			if pm.probe || before.Generation != pm.gen || cfg.Window == 0 || outcome == context.Canceled {
				break
			}
			// A closed permit of the current generation counts in the window.
			took := new(big.Int).Sub(big.NewInt(last), big.NewInt(pm.at))
			slow := cfg.SlowCall > 0 && took.Cmp(big.NewInt(int64(cfg.SlowCall))) > 0
			failed := outcome != nil
			if after.Calls != before.Calls+1 || after.Failures != before.Failures+count(failed) || after.SlowCalls != before.SlowCalls+count(slow) {
				t.Fatalf("step %d: a call admitted at %d, reported at %d (%v) moved the window from %+v to %+v; slow: %v",
					i/17, pm.at, last, outcome, before, after, slow)
			}
		}

		// The state, at now.
		s := b.SnapshotAt(now)
		for _, c := range changes {
			closed, open, halfOpen := breaker.Closed.String(), breaker.Open.String(), breaker.HalfOpen.String()
			legal := c.From == closed && c.To == open ||
				c.From == open && c.To == halfOpen ||
				c.From == halfOpen && (c.To == open || c.To == closed)
			if !legal || uint64(c.Attempt) != gen+1 || !c.Time.Equal(s.Since) && c.Attempt == int(s.Generation) {
				t.Fatalf("step %d: change %+v after generation %d", i/17, c, gen)
			}
			gen = uint64(c.Attempt)
		}
		changes = changes[:0]
		if s.Generation != gen {
			t.Fatalf("step %d: snapshot %+v, but the changes reported end at generation %d", i/17, s, gen)
		}
		switch s.State {
		case breaker.Closed:
			if uint64(s.ConsecutiveFailures) >= threshold {
				t.Fatalf("step %d: closed with %d failures in a row, threshold %d", i/17, s.ConsecutiveFailures, threshold)
			}
		case breaker.Open:
			since, until := nanos(s.Since), nanos(s.OpenUntil)
			room := int64(math.MaxInt64) // until may saturate at the end of the breaker's clock
			if since > 0 {
				room = math.MaxInt64 - since
			}
			if open := until - since; open < min(recovery, room) || open > min(longest, room) {
				t.Fatalf("step %d: opened at %d until %d: %dns, not within [%d, %d]", i/17, since, until, open, recovery, longest)
			}
			if until <= last {
				t.Fatalf("step %d: open at %d until %d", i/17, last, until)
			}
		case breaker.HalfOpen:
			inFlight := 0
			for _, pm := range permits {
				if pm.probe && pm.gen == s.Generation && !pm.reported {
					inFlight++
					took := new(big.Int).Sub(big.NewInt(last), big.NewInt(pm.at))
					if !probeTimeoutOff && took.Cmp(big.NewInt(probeTimeout)) >= 0 {
						t.Fatalf("step %d: a probe admitted at %d still in flight at %d, with a probe timeout of %v", i/17, pm.at, last, time.Duration(probeTimeout))
					}
				}
			}
			if s.ProbesInFlight != inFlight || inFlight > probes {
				t.Fatalf("step %d: snapshot %+v; %d probes in flight, of at most %d", i/17, s, inFlight, probes)
			}
		}
		if s.Failures > s.Calls || s.SlowCalls > s.Calls {
			t.Fatalf("step %d: snapshot %+v", i/17, s)
		}
	}
}

func count(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestWindowOfAnyLength(t *testing.T) {
	// A window as long as a Duration goes counts every call: the width of
	// its buckets must not overflow into a window of 600ns.
	b := mustNew(t, breaker.Config{Window: time.Duration(math.MaxInt64), FailureRate: 0.5, MinCalls: 2})
	t0 := time.Now()
	for i, at := range []time.Duration{0, time.Second} {
		p, err := b.AllowAt(t0.Add(at))
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		p.DoneAt(t0.Add(at), errDown)
	}
	if s := b.SnapshotAt(t0.Add(time.Second)); s.State != breaker.Open || s.Calls != 2 {
		t.Fatalf("two failures a second apart in a window of 292 years: %+v; want open, 2 calls", s)
	}
}

package throttle_test

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience/internal/fuzzprog"
	"github.com/netresilience/resilience/throttle"
)

// FuzzThrottle checks the throttle's decision for any configuration and any
// sequence of calls, on virtual time that may jump anywhere:
//
//   - New accepts exactly the configurations its doc comment calls valid,
//     and rejects the others with an error prefixed "throttle: ";
//   - the probability is the documented formula over the window's counts:
//     0 below MinRequests, never negative, capped at MaxRejectProbability,
//     and below 1; the window never holds more accepts than requests;
//   - AllowAt admits exactly when p is 0 or u ≥ p (so a NaN u is rejected
//     whenever p is above 0, and a u of 1 or more always goes); a rejection matches
//     ErrThrottled, carries the probability rounded to a percent within
//     [0.01, 0.99], and counts as a request that was not accepted, while an
//     admission counts nothing until it is reported;
//   - a report counts one request, accepted unless transient, or nothing if
//     the caller canceled.
//
// The program is 17 bytes a step: an operation, 8 bytes of time (a step
// from the last time, or an absolute offset from t0) and 8 bytes of u.
func FuzzThrottle(f *testing.F) {
	step := func(op byte, at int64, u float64) []byte { return fuzzprog.Step(op, at, int64(math.Float64bits(u))) }
	prog := fuzzprog.Prog
	// op: bits 0-1: 0 AllowAt then DoneAt, 1 AllowAt only, 2 and 3 only
	// the checks of the probability; bits 2-3, the outcome reported: nil, transient,
	// permanent, canceled; bit 4: the time is absolute.
	const (
		allowDone, allowOnly, probe, snap = 0, 1, 2, 3
		ok, transient, permanent, cancel  = 0, 4, 8, 12
		abs                               = 16
	)
	ms := int64(time.Millisecond)
	fail := step(allowDone|transient, ms, 0.999)
	f.Add(0.0, int64(0), 0, 0.0, prog(fail, fail, fail, fail, fail, fail, fail, fail, fail, fail, fail, step(allowOnly, 0, 0.5), step(probe, 0, 0)))
	f.Add(1.0, int64(time.Second), 1, 0.9, prog(step(allowDone|ok, 0, 0), step(allowDone|transient, 1, math.NaN()), step(allowOnly, 0, math.NaN()), step(allowOnly, 0, math.Inf(1)), step(allowOnly, 0, math.Inf(-1)), step(snap, int64(time.Second), 0)))
	f.Add(1e300, int64(throttle.MaxWindow), 1<<40, 1e-9, prog(step(allowDone|permanent, math.MaxInt64, 0.5), step(allowDone|cancel|abs, math.MinInt64, 0.5), step(snap|abs, math.MaxInt64, 0)))
	f.Add(2.0, int64(time.Nanosecond), 1, 0.0, prog(fail, step(allowDone|transient|abs, 0, 0.1), step(probe|abs, 1, 0), step(allowOnly|abs, math.MinInt64, -1), step(snap|abs, math.MaxInt64, 0)))
	f.Add(2.0, int64(0), -1, 0.0, prog(fail, step(allowOnly, 0, 0.4), step(allowOnly, 0, 0.6), step(probe, 0, 0)))
	// Invalid configurations.
	f.Add(0.5, int64(0), 0, 0.0, []byte(nil))
	f.Add(math.NaN(), int64(0), 0, 0.0, []byte(nil))
	f.Add(math.Inf(1), int64(0), 0, 0.0, []byte(nil))
	f.Add(2.0, int64(-1), 0, 0.0, []byte(nil))
	f.Add(2.0, int64(throttle.MaxWindow)+1, 0, 0.0, []byte(nil))
	f.Add(2.0, int64(0), 0, math.NaN(), []byte(nil))
	f.Add(2.0, int64(0), 0, 1.5, []byte(nil))
	f.Add(2.0, int64(0), 0, -0.1, []byte(nil))

	f.Fuzz(func(t *testing.T, k float64, window int64, minRequests int, maxP float64, program []byte) {
		cfg := throttle.Config{
			K:                    k,
			Window:               time.Duration(window),
			MinRequests:          minRequests,
			MaxRejectProbability: maxP,
			Seed:                 1,
		}
		valid := (k == 0 || k >= 1 && !math.IsInf(k, 1)) &&
			window >= 0 && window <= int64(throttle.MaxWindow) &&
			maxP >= 0 && maxP <= 1 // a negative MinRequests turns it off
		th, err := throttle.New(cfg)
		if !fuzzprog.CheckNew(t, "throttle", cfg, th, err, valid) {
			return
		}
		if k == 0 {
			k = throttle.DefaultK
		}
		switch {
		case minRequests == 0:
			minRequests = throttle.DefaultMinRequests
		case minRequests < 0:
			minRequests = 0 // off
		}
		window = int64(cmp.Or(cfg.Window, throttle.DefaultWindow))
		if maxP == 0 {
			maxP = 1
		}
		// formula is the documented probability for the window's counts.
		formula := func(s throttle.Snapshot) float64 {
			if s.Requests < minRequests {
				return 0
			}
			r := float64(s.Requests)
			return min(max(0, (r-k*float64(s.Accepts))/(r+1)), maxP)
		}

		if len(program) > 17*300 {
			program = program[:17*300]
		}
		var last time.Duration
		for i := 0; i+17 <= len(program); i += 17 {
			op := program[i]
			x := int64(binary.LittleEndian.Uint64(program[i+1:]))
			u := math.Float64frombits(binary.LittleEndian.Uint64(program[i+9:]))
			if op&abs != 0 {
				last = time.Duration(x)
			} else {
				last += time.Duration(uint64(x) % uint64(2*window+2)) // forward, by up to two windows
			}
			now := t0.Add(last)

			before := th.SnapshotAt(now)
			p := th.ProbabilityAt(now)
			if p != before.Probability || p != formula(before) || !(p >= 0 && p < 1) {
				t.Fatalf("step %d at %v: probability %v, snapshot %+v; the formula says %v", i/17, last, p, before, formula(before))
			}
			if before.Accepts > before.Requests || before.Accepts < 0 {
				t.Fatalf("step %d at %v: snapshot %+v: more accepts than requests", i/17, last, before)
			}
			switch op & 3 {
			case allowDone, allowOnly:
				permit, err := th.AllowAt(now, u)
				after := th.SnapshotAt(now)
				if admit := p == 0 || u >= p; admit != (err == nil) {
					t.Fatalf("step %d at %v: AllowAt(u = %v) at p = %v: %v", i/17, last, u, p, err)
				}
				if err != nil {
					var te *throttle.Error
					if !errors.Is(err, throttle.ErrThrottled) || !errors.As(err, &te) ||
						!(te.Probability >= 0.01 && te.Probability <= 0.99) || math.Abs(te.Probability-p) > 0.005+1e-12 && p >= 0.01 && p <= 0.99 {
						t.Fatalf("step %d: rejection at p = %v: %#v", i/17, p, err)
					}
					if after.Requests != before.Requests+1 || after.Accepts != before.Accepts || after.Rejected != before.Rejected+1 {
						t.Fatalf("step %d: a rejection changed the snapshot from %+v to %+v", i/17, before, after)
					}
					continue
				}
				if after.Requests != before.Requests || after.Accepts != before.Accepts || after.Rejected != before.Rejected {
					t.Fatalf("step %d: an admission changed the snapshot from %+v to %+v", i/17, before, after)
				}
				if op&3 == allowOnly {
					continue
				}
				var outcome error
				switch op & 12 {
				case transient:
					outcome = errOverloaded
				case permanent:
					outcome = errBad
				case cancel:
					outcome = context.Canceled
				}
				permit.DoneAt(now, outcome)
				done := th.SnapshotAt(now)
				wantReq, wantAcc := before.Requests+1, before.Accepts+1
				switch op & 12 {
				case transient:
					wantAcc--
				case cancel:
					wantReq, wantAcc = wantReq-1, wantAcc-1
				}
				if done.Requests != wantReq || done.Accepts != wantAcc {
					t.Fatalf("step %d: reporting %v moved the snapshot from %+v to %+v", i/17, outcome, after, done)
				}
			}
		}
	})
}

func TestClockedDecisionsSeeTheWindowSlideWhereverItsBucketsBegin(t *testing.T) {
	// The window's buckets begin at its first event, not at the clock's
	// zero; the executors' lock-free admissions must end when the window's
	// newest bucket does, however its buckets lie on the clock. Here the
	// buckets of 100ms begin at 50ms, so the accept at 50ms leaves the
	// window at 1050ms, and from then on the clocked decisions draw.
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		th := mustNew(t, throttle.Config{Window: time.Second, MinRequests: 1, Seed: 1})
		time.Sleep(50 * time.Millisecond)
		throttle.Run(ctx, th, func(context.Context) error { return nil })
		time.Sleep(950 * time.Millisecond)
		throttle.Run(ctx, th, func(context.Context) error { return errOverloaded })
		// 2 requests, 1 accept: 2 − 2·1 = 0.
		if r := allows(th, 100); r != 0 {
			t.Fatalf("%d calls rejected at p = 0", r)
		}
		time.Sleep(60 * time.Millisecond)
		// At 1060ms only the failure is left: p = 1/2, and every call
		// but those decided on an old reading of the clock is drawn for.
		if r := allows(th, 100); r < 25 {
			t.Fatalf("%d of 100 calls rejected at p ≥ 1/2", r)
		}
		if p := th.Probability(); p < 0.5 {
			t.Fatalf("Probability() = %v once the accept has left, want at least 1/2", p)
		}
	})
}

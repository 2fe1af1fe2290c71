package throttle_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/throttle"
)

var (
	errOverloaded = resilience.Transient(errors.New("503 overloaded"))
	errBad        = errors.New("400 bad request") // permanent, by default
)

// admit is a random number that the throttle admits at any probability
// below 1 − 2⁻⁵³.
var admit = math.Nextafter(1, 0)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func mustNew(t testing.TB, cfg throttle.Config) *throttle.Throttle {
	t.Helper()
	th, err := throttle.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return th
}

// record reports, at time at, accepted requests that the backend accepted
// and failed ones that it refused, each through an admitted permit.
func record(t *testing.T, th *throttle.Throttle, at time.Time, accepted, failed int) {
	t.Helper()
	for i := range accepted + failed {
		p, err := th.AllowAt(at, admit)
		if err != nil {
			t.Fatalf("request %d at %v rejected: %v", i, at, err)
		}
		if i < accepted {
			p.DoneAt(at, nil)
		} else {
			p.DoneAt(at, errOverloaded)
		}
	}
}

// wantCounts checks the window's counts and the probability at time at.
func wantCounts(t *testing.T, th *throttle.Throttle, at time.Time, requests, accepts int, p float64) {
	t.Helper()
	s := th.SnapshotAt(at)
	if s.Requests != requests || s.Accepts != accepts || s.Probability != p {
		t.Fatalf("snapshot %+v; want %d requests, %d accepts, probability %v", s, requests, accepts, p)
	}
	if got := th.ProbabilityAt(at); got != p {
		t.Fatalf("ProbabilityAt = %v, want %v", got, p)
	}
}

func TestProbabilityIsTheFormula(t *testing.T) {
	one := throttle.Config{MinRequests: 1}
	for _, tc := range []struct {
		name             string
		cfg              throttle.Config
		accepted, failed int
		want             float64
	}{
		{"the book's example: 40 of 100 accepted, K 2", one, 40, 60, (100.0 - 2*40) / (100 + 1)},
		{"all accepted", one, 100, 0, 0},
		{"K·accepts = requests", one, 50, 50, 0},
		{"one accept short of the balance", one, 49, 51, (100.0 - 2*49) / (100 + 1)},
		{"nothing accepted", one, 0, 100, 100.0 / 101},
		{"K 1.5", throttle.Config{K: 1.5, MinRequests: 1}, 40, 60, (100.0 - 1.5*40) / 101},
		{"K 1", throttle.Config{K: 1, MinRequests: 1}, 99, 1, 1.0 / 101},
		{"K 4", throttle.Config{K: 4, MinRequests: 1}, 20, 80, (100.0 - 4*20) / 101},
		{"nothing counted", throttle.Config{}, 0, 0, 0},
		{"default MinRequests: 9 requests", throttle.Config{}, 0, 9, 0},
		{"default MinRequests: 10 requests", throttle.Config{}, 0, 10, 10.0 / 11},
		{"MinRequests 50: 49 requests", throttle.Config{MinRequests: 50}, 0, 49, 0},
		{"MinRequests 50: 50 requests", throttle.Config{MinRequests: 50}, 10, 40, (50.0 - 20) / 51},
		{"MinRequests 1: one failure", one, 0, 1, 0.5},
		{"MinRequests off: one failure", throttle.Config{MinRequests: -1}, 0, 1, 0.5},
		{"capped", throttle.Config{MinRequests: 1, MaxRejectProbability: 0.5}, 0, 100, 0.5},
		{"cap above the formula", throttle.Config{MinRequests: 1, MaxRejectProbability: 0.9}, 40, 60, 20.0 / 101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := mustNew(t, tc.cfg)
			record(t, th, t0, tc.accepted, tc.failed)
			wantCounts(t, th, t0, tc.accepted+tc.failed, tc.accepted, tc.want)
		})
	}
}

func TestWindowSlides(t *testing.T) {
	// Inside a bubble the throttle's clock starts at the bubble's start, so
	// its buckets (100 of 100ms for a 10s window) begin at known times.
	synctest.Test(t, func(t *testing.T) {
		th := mustNew(t, throttle.Config{Window: 10 * time.Second, MinRequests: 1})
		start := time.Now()
		at := func(d time.Duration) time.Time { return start.Add(d) }
		record(t, th, at(0), 20, 0)
		wantCounts(t, th, at(0), 20, 20, 0)
		record(t, th, at(5*time.Second), 0, 30)
		// Times only move forward: each step is later than the last.
		for _, step := range []struct {
			at                time.Duration
			requests, accepts int
			probability       float64
		}{
			{5 * time.Second, 50, 20, 10.0 / 51},
			{10*time.Second - 1, 50, 20, 10.0 / 51},
			{10 * time.Second, 30, 0, 30.0 / 31}, // the accepts leave first: p rises
			{15*time.Second - 1, 30, 0, 30.0 / 31},
			{15 * time.Second, 0, 0, 0},
			{time.Hour, 0, 0, 0},
		} {
			wantCounts(t, th, at(step.at), step.requests, step.accepts, step.probability)
		}
	})
}

func TestLocalRejectionsCountAsRequests(t *testing.T) {
	th := mustNew(t, throttle.Config{Name: "api", MinRequests: 1})
	record(t, th, t0, 0, 10)
	wantCounts(t, th, t0, 10, 0, 10.0/11)

	held, err := th.AllowAt(t0, 0.95) // 0.95 ≥ 10/11: admitted
	if err != nil {
		t.Fatalf("AllowAt(u=0.95) at p=10/11: %v", err)
	}
	wantCounts(t, th, t0, 10, 0, 10.0/11) // an admitted call counts when it ends

	for i, step := range []struct {
		u                 float64
		rejected          bool
		requests, accepts int
		probability       float64
	}{
		{0.5, true, 11, 0, 11.0 / 12},
		{0, true, 12, 0, 12.0 / 13},
		{12.0 / 13, false, 12, 0, 12.0 / 13}, // u = p is admitted: rejected when u < p
		{math.Nextafter(12.0/13, 0), true, 13, 0, 13.0 / 14},
		{-1, true, 14, 0, 14.0 / 15},         // below 0: taken as 0
		{math.NaN(), true, 15, 0, 15.0 / 16}, // NaN: taken as 0
		{7, false, 15, 0, 15.0 / 16},         // above 1: taken as just below 1
	} {
		_, err := th.AllowAt(t0, step.u)
		if got := errors.Is(err, throttle.ErrThrottled); got != step.rejected || (err != nil && !got) {
			t.Fatalf("step %d: AllowAt(u=%v) = %v; want rejected=%v", i, step.u, err, step.rejected)
		}
		wantCounts(t, th, t0, step.requests, step.accepts, step.probability)
	}
	if s := th.SnapshotAt(t0); s.Rejected != 5 {
		t.Fatalf("Rejected = %d, want 5", s.Rejected)
	}
	held.DoneAt(t0, nil)
	wantCounts(t, th, t0, 16, 1, (16.0-2)/17)
}

func TestRejectionsMakeTheClientBackOff(t *testing.T) {
	// A backend that is down: after MinRequests failures every call is a
	// coin toss that mostly loses, and each loss raises the odds against
	// the next call, so hardly any reach the backend.
	th := mustNew(t, throttle.Config{})
	reached := 0
	for i := range 1000 {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		p, err := th.AllowAt(at, float64(i%100)/100)
		if err != nil {
			continue
		}
		reached++
		p.DoneAt(at, errOverloaded)
	}
	// u cycles through the hundredths, so after the first 10 (p = 0 below
	// MinRequests) a call gets through only when u = 0.99 ≥ p: once, at
	// the 100th call, where p = 99/100; from the 200th on, p > 0.99.
	s := th.SnapshotAt(t0.Add(time.Second))
	if reached != 11 || s.Requests != 1000 || s.Accepts != 0 || s.Rejected != 989 {
		t.Fatalf("%d of 1000 calls reached a backend that is down, want 11; snapshot %+v", reached, s)
	}
}

func TestClassification(t *testing.T) {
	errNotFound := errors.New("404 not found")
	ignoreNotFound := func(err error) resilience.Class {
		if errors.Is(err, errNotFound) {
			return resilience.ClassIgnored
		}
		return resilience.Classify(err)
	}
	badIsTransient := func(err error) resilience.Class {
		if errors.Is(err, errBad) {
			return resilience.ClassTransient
		}
		return resilience.Classify(err)
	}
	for _, tc := range []struct {
		name              string
		classifier        resilience.Classifier
		giveUp            bool // the caller cancels its context during the call
		err               error
		requests, accepts int
	}{
		{"success is an accept", nil, false, nil, 1, 1},
		{"a transient failure is not", nil, false, errOverloaded, 1, 0},
		{"an attempt's deadline is not", nil, false, fmt.Errorf("call: %w", context.DeadlineExceeded), 1, 0},
		{"a permanent failure is an accept", nil, false, errBad, 1, 1},
		{"a marked permanent failure is an accept", nil, false, resilience.Permanent(errOverloaded), 1, 1},
		{"context.Canceled counts as nothing", nil, false, fmt.Errorf("query: %w", context.Canceled), 0, 0},
		{"the caller's cancellation counts as nothing", nil, true, errOverloaded, 0, 0},
		{"what the classifier ignores counts as nothing", ignoreNotFound, false, errNotFound, 0, 0},
		{"the classifier decides", badIsTransient, false, errBad, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := mustNew(t, throttle.Config{Classifier: tc.classifier})
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			ran := false
			err := throttle.Run(ctx, th, func(context.Context) error {
				ran = true
				if tc.giveUp {
					cancel(errors.New("user went away"))
				}
				return tc.err
			})
			if !ran || err != tc.err {
				t.Fatalf("Run: ran=%v err=%v; want the call to run and return %v", ran, err, tc.err)
			}
			if s := th.Snapshot(); s.Requests != tc.requests || s.Accepts != tc.accepts {
				t.Fatalf("through Run: snapshot %+v; want %d requests, %d accepts", s, tc.requests, tc.accepts)
			}
			if tc.giveUp {
				return // only an executor knows the caller gave up
			}
			// The two-step API classifies the same way.
			th = mustNew(t, throttle.Config{Classifier: tc.classifier})
			p, err := th.Allow()
			if err != nil {
				t.Fatal(err)
			}
			p.Done(tc.err)
			if s := th.Snapshot(); s.Requests != tc.requests || s.Accepts != tc.accepts {
				t.Fatalf("through Permit.Done: snapshot %+v; want %d requests, %d accepts", s, tc.requests, tc.accepts)
			}
		})
	}
}

func TestPanicIsNotAnAcceptAndGoesOn(t *testing.T) {
	th := mustNew(t, throttle.Config{})
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want boom", r)
			}
		}()
		throttle.Do(context.Background(), th, func(context.Context) (int, error) { panic("boom") })
	}()
	if s := th.Snapshot(); s.Requests != 1 || s.Accepts != 0 {
		t.Fatalf("after a panic: snapshot %+v; want 1 request, no accept", s)
	}
}

func TestDoReturnsTheValue(t *testing.T) {
	th := mustNew(t, throttle.Config{})
	v, err := throttle.Do(context.Background(), th, func(context.Context) (string, error) { return "ok", nil })
	if v != "ok" || err != nil {
		t.Fatalf("Do = %q, %v", v, err)
	}
	// Execute makes it a Policy that any executor can run.
	var p resilience.Policy = th
	calls := 0
	if err := p.Execute(context.Background(), resilience.OperationFunc(func(context.Context) error { calls++; return errOverloaded })); err != errOverloaded || calls != 1 {
		t.Fatalf("Execute = %v after %d calls", err, calls)
	}
	if err := p.Execute(context.Background(), nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Fatalf("Execute(nil) = %v, want ErrNilFunc", err)
	}
	if s := th.Snapshot(); s.Requests != 2 || s.Accepts != 1 {
		t.Fatalf("snapshot %+v; want 2 requests, 1 accept", s)
	}
}

func TestExecutorsFollowTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		th := mustNew(t, throttle.Config{Window: 10 * time.Second, Seed: 1})
		for range 20 {
			throttle.Run(ctx, th, func(context.Context) error { return errOverloaded })
		}
		if r := allows(th, 100); r < 80 {
			t.Fatalf("%d of 100 calls rejected at p ≥ 20/21; want most", r)
		}
		time.Sleep(5 * time.Second)
		if r := allows(th, 100); r < 80 {
			t.Fatalf("5s later, %d of 100 calls rejected; want most", r)
		}
		time.Sleep(5*time.Second - 1)
		if p := th.Probability(); p < 0.99 {
			t.Fatalf("Probability() = %v just before the first failures leave the window", p)
		}
		time.Sleep(1)
		// The first 20 failures and the first rejections have left; the
		// rejections 5s in remain.
		if s := th.Snapshot(); s.Requests < 80 || s.Requests > 100 || s.Accepts != 0 {
			t.Fatalf("after 10s: snapshot %+v", s)
		}
		time.Sleep(5 * time.Second)
		if p := th.Probability(); p != 0 {
			t.Fatalf("Probability() = %v once every failure has left the window, want 0", p)
		}
		for i := range 100 {
			ran := false
			if err := throttle.Run(ctx, th, func(context.Context) error { ran = true; return nil }); err != nil || !ran {
				t.Fatalf("call %d after the window cleared: ran=%v err=%v", i, ran, err)
			}
		}
		if s := th.Snapshot(); s.Requests != 100 || s.Accepts != 100 {
			t.Fatalf("snapshot %+v; want 100 requests, all accepted", s)
		}
	})
}

// backend accepts at most capacity requests in each second of the clock and
// refuses the rest as overloaded.
type backend struct {
	capacity int
	second   time.Time
	accepted int // in this second
	sent     int // since the last reset
	accepts  int
}

func (b *backend) serve(context.Context) error {
	b.sent++
	if s := time.Now().Truncate(time.Second); !s.Equal(b.second) {
		b.second, b.accepted = s, 0
	}
	if b.accepted == b.capacity {
		return errOverloaded
	}
	b.accepted++
	b.accepts++
	return nil
}

func TestOverloadedBackendGetsAboutKTimesWhatItAccepts(t *testing.T) {
	const (
		demand   = 100 // calls per second
		capacity = 10  // accepts per second
		window   = 30 * time.Second
	)
	for _, k := range []float64{1.5, 2, 4} {
		t.Run(fmt.Sprint("K=", k), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				th := mustNew(t, throttle.Config{K: k, Window: window, Seed: 1})
				b := &backend{capacity: capacity}
				ctx := context.Background()
				start := time.Now()
				calls, rejected := 0, 0
				for time.Since(start) < 4*window {
					if time.Since(start) == 2*window { // converged: measure from here
						calls, rejected, b.sent, b.accepts = 0, 0, 0, 0
					}
					calls++
					if err := throttle.Run(ctx, th, b.serve); errors.Is(err, throttle.ErrThrottled) {
						rejected++
					}
					time.Sleep(time.Second / demand)
				}
				ratio := float64(b.sent) / float64(b.accepts)
				t.Logf("K=%v: of %d calls %d rejected locally, %d sent, %d accepted: sent/accepted = %.3f",
					k, calls, rejected, b.sent, b.accepts, ratio)
				if calls != rejected+b.sent {
					t.Fatalf("%d calls, %d rejected + %d sent", calls, rejected, b.sent)
				}
				// The backend is kept busy: it accepts (nearly) all it can.
				if seconds := int((2 * window) / time.Second); b.accepts < capacity*seconds*95/100 {
					t.Errorf("the backend accepted %d in %ds, below 95%% of its capacity %d/s", b.accepts, seconds, capacity)
				}
				// And receives about K times what it accepts, not the demand.
				if math.Abs(ratio-k) > 0.1*k {
					t.Errorf("the backend received %.3f times what it accepted, want within 10%% of K = %v", ratio, k)
				}
			})
		})
	}
}

func TestRejectionError(t *testing.T) {
	for _, tc := range []struct {
		name             string
		cfg              throttle.Config
		accepted, failed int
		wantP            float64
		wantText         string
	}{
		{"rounded to the percent", throttle.Config{Name: "llm-api", MinRequests: 1}, 0, 10, 0.91,
			`throttle "llm-api" rejected the call locally (rejection probability 0.91)`},
		{"no name", throttle.Config{MinRequests: 1}, 40, 60, 0.20,
			`throttle rejected the call locally (rejection probability 0.20)`},
		{"never 0", throttle.Config{K: 1, MinRequests: 1}, 249, 1, 0.01,
			`throttle rejected the call locally (rejection probability 0.01)`},
		{"never 1", throttle.Config{MinRequests: 1}, 0, 1000, 0.99,
			`throttle rejected the call locally (rejection probability 0.99)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := mustNew(t, tc.cfg)
			record(t, th, t0, tc.accepted, tc.failed)
			_, err := th.AllowAt(t0, 0)
			var te *throttle.Error
			if !errors.Is(err, throttle.ErrThrottled) || !errors.As(err, &te) {
				t.Fatalf("AllowAt(u=0) = %v; want a *Error matching ErrThrottled", err)
			}
			if te.Name != tc.cfg.Name || te.Probability != tc.wantP || err.Error() != tc.wantText {
				t.Fatalf("rejection %+v %q; want probability %v, text %q", *te, err.Error(), tc.wantP, tc.wantText)
			}
			if _, ok := resilience.RetryAfter(err); ok {
				t.Fatal("a rejection carries a retry hint; none is known")
			}
			if c := resilience.Classify(err); c != resilience.ClassIgnored {
				t.Fatalf("Classify(rejection) = %v, want ignored: retrying what the throttle sheds brings the load back, and no policy should count it", c)
			}
		})
	}
	if (&throttle.Error{}).Is(errBad) {
		t.Fatal("Error matches an unrelated error")
	}
}

func TestRejectionsShareTheirErrors(t *testing.T) {
	th := mustNew(t, throttle.Config{MinRequests: 1, MaxRejectProbability: 0.5})
	record(t, th, t0, 0, 100)
	_, err1 := th.AllowAt(t0, 0)
	_, err2 := th.AllowAt(t0, 0)
	if err1 == nil || err1 != err2 {
		t.Fatalf("two rejections at the same probability returned %p and %p; want the same error", err1, err2)
	}
}

func TestRetryStopsAtARejection(t *testing.T) {
	th := mustNew(t, throttle.Config{MinRequests: 1, MaxRejectProbability: 0.5, Seed: 3})
	record(t, th, t0, 0, 100) // p = 0.5 from here on
	r := retry.MustNew(retry.Config{MaxAttempts: 1000, Backoff: backoff.Constant(0)})
	calls := 0
	err := resilience.Run(context.Background(), resilience.Compose(r, th), func(context.Context) error {
		calls++
		return errOverloaded
	})
	var re *retry.Error
	if !errors.As(err, &re) || re.Reason != retry.NotRetryable || !errors.Is(err, throttle.ErrThrottled) {
		t.Fatalf("error %v; want the retries to stop at a rejection", err)
	}
	if calls != re.Attempts-1 || calls > 50 {
		t.Fatalf("%d calls ran in %d attempts; want every attempt but the rejected last", calls, re.Attempts)
	}
}

func TestObserver(t *testing.T) {
	var (
		th   *throttle.Throttle
		got  []resilience.Event
		seen []throttle.Snapshot
	)
	th = mustNew(t, throttle.Config{Name: "db", MinRequests: 1, Observer: &resilience.Observer{Reject: func(r resilience.Event) {
		got = append(got, r)
		// Calling back into the throttle must not deadlock: the observer
		// runs outside the lock.
		seen = append(seen, th.SnapshotAt(r.Time))
		_ = th.ProbabilityAt(r.Time)
	}}})
	record(t, th, t0, 1, 9)
	at := t0.Add(time.Second)
	_, err := th.AllowAt(at, 0.5)
	if err == nil {
		t.Fatal("not rejected")
	}
	if _, err := th.AllowAt(at, 0.99); err != nil {
		t.Fatalf("admitted call: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("%d events, want one rejection", len(got))
	}
	e := got[0]
	if e.Type != resilience.EventReject || e.Kind != resilience.KindThrottle || e.Policy != "db" || e.Reason != "throttled" ||
		e.Probability != (10.0-2)/11 || !e.Time.Equal(at) || e.Err != err || e.Context != context.Background() {
		t.Fatalf("event %+v; want a rejection by db at probability 8/11, at %v, with the error %v", e, at, err)
	}
	// By the time the observer runs, the rejection is counted.
	if seen[0].Requests != 11 || seen[0].Rejected != 1 {
		t.Fatalf("the observer saw %+v; want the rejection counted", seen[0])
	}
}

func TestPanickingObserverLeavesTheThrottleWorking(t *testing.T) {
	th := mustNew(t, throttle.Config{MinRequests: 1, Observer: resilience.ObserveAll(func(resilience.Event) { panic("observer") })})
	record(t, th, t0, 0, 10)
	at := t0.Add(time.Second)
	for range 3 {
		if _, err := th.AllowAt(at, 0); !errors.Is(err, throttle.ErrThrottled) {
			t.Fatalf("AllowAt = %v, want a rejection", err)
		}
	}
	p, err := th.AllowAt(at, 0.9999)
	if err != nil {
		t.Fatalf("AllowAt = %v, want an admission", err)
	}
	p.DoneAt(at, nil)
	if s := th.SnapshotAt(at); s.Rejected != 3 || s.Requests != 14 || s.Accepts != 1 {
		t.Fatalf("snapshot %+v; want 3 rejections counted, 14 requests, 1 accept", s)
	}
}

func TestSeedMakesDecisionsReproducible(t *testing.T) {
	pattern := func(seed uint64) string {
		var s strings.Builder
		synctest.Test(t, func(t *testing.T) {
			th := mustNew(t, throttle.Config{Seed: seed, MinRequests: 1, MaxRejectProbability: 0.5})
			throttle.Run(context.Background(), th, func(context.Context) error { return errOverloaded })
			for range 200 {
				p, err := th.Allow()
				if err != nil {
					s.WriteByte('R')
					continue
				}
				s.WriteByte('A')
				p.Done(errOverloaded)
			}
		})
		return s.String()
	}
	a, b, c := pattern(42), pattern(42), pattern(43)
	if a != b {
		t.Fatalf("seed 42 gave\n%s\nthen\n%s", a, b)
	}
	if a == c {
		t.Fatalf("seeds 42 and 43 gave the same decisions %s", a)
	}
	if n := strings.Count(a, "R"); n < 60 || n > 140 {
		t.Fatalf("%d of 200 rejected at p = 0.5: %s", n, a)
	}
}

func TestUnseededDecisionsAreRandom(t *testing.T) {
	th := mustNew(t, throttle.Config{MinRequests: 1, MaxRejectProbability: 0.5})
	throttle.Run(context.Background(), th, func(context.Context) error { return errOverloaded })
	rejected := 0
	for range 1000 {
		if _, err := th.Allow(); err != nil {
			rejected++
		}
	}
	// Binomial(1000, 0.5): 400..600 is more than six standard deviations.
	if rejected < 400 || rejected > 600 {
		t.Fatalf("%d of 1000 rejected at p = 0.5", rejected)
	}
}

func TestNewRejectsNonsense(t *testing.T) {
	for _, tc := range []struct {
		cfg  throttle.Config
		want string
	}{
		{throttle.Config{K: 0.5}, "K must be at least 1 and finite, or 0 for the default 2; not 0.5"},
		{throttle.Config{K: -2}, "K must be at least 1"},
		{throttle.Config{K: math.NaN()}, "not NaN"},
		{throttle.Config{K: math.Inf(1)}, "not +Inf"},
		{throttle.Config{Window: -time.Second}, "Window is negative: -1s"},
		{throttle.Config{Window: 25 * time.Hour}, "Window 25h0m0s is above 24h0m0s"},
		{throttle.Config{MaxRejectProbability: -0.1}, "MaxRejectProbability must be in (0, 1], or 0 for no cap; not -0.1"},
		{throttle.Config{MaxRejectProbability: 1.5}, "MaxRejectProbability must be in (0, 1]"},
		{throttle.Config{MaxRejectProbability: math.NaN()}, "MaxRejectProbability must be in (0, 1]"},
	} {
		th, err := throttle.New(tc.cfg)
		if err == nil || th != nil || !strings.HasPrefix(err.Error(), "throttle: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, %v; want an error containing %q", tc.cfg, th, err, tc.want)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("MustNew(%+v) did not panic", tc.cfg)
				}
			}()
			throttle.MustNew(tc.cfg)
		}()
	}
	for _, cfg := range []throttle.Config{
		{},
		{K: 1, Window: time.Nanosecond, MinRequests: 1, MaxRejectProbability: 1},
		{K: 1e9, Window: throttle.MaxWindow, MinRequests: 1 << 40, MaxRejectProbability: 1e-9},
	} {
		if _, err := throttle.New(cfg); err != nil {
			t.Errorf("New(%+v) = %v, want a valid throttle", cfg, err)
		}
	}
}

func TestNilThrottle(t *testing.T) {
	var th *throttle.Throttle
	ctx := context.Background()
	ran := false
	if err := throttle.Run(ctx, th, func(context.Context) error { ran = true; return nil }); err == nil || ran {
		t.Fatalf("Run on a nil throttle: err=%v ran=%v; want an error and no call", err, ran)
	}
	if _, err := throttle.Do(ctx, th, func(context.Context) (int, error) { ran = true; return 1, nil }); err == nil || ran {
		t.Fatalf("Do on a nil throttle: err=%v ran=%v", err, ran)
	}
	if err := resilience.Run(ctx, th, func(context.Context) error { ran = true; return nil }); err == nil || ran {
		t.Fatalf("resilience.Run on a nil throttle: err=%v ran=%v", err, ran)
	}
	if _, err := th.Allow(); err == nil {
		t.Fatal("Allow on a nil throttle returned no error")
	}
	if _, err := th.AllowAt(t0, 0); err == nil {
		t.Fatal("AllowAt on a nil throttle returned no error")
	}
	if _, err := th.Enter(ctx); err == nil {
		t.Fatal("Enter on a nil throttle returned no error")
	}
	th.Exit(resilience.Ticket{}, resilience.Outcome{})
	if err := th.Execute(ctx, resilience.OperationFunc(func(context.Context) error { ran = true; return nil })); err == nil || ran {
		t.Fatalf("Execute on a nil throttle: err=%v ran=%v", err, ran)
	}
	if th.Probability() != 0 || th.ProbabilityAt(t0) != 0 || th.Snapshot() != (throttle.Snapshot{}) ||
		th.SnapshotAt(t0) != (throttle.Snapshot{}) || th.Name() != "" {
		t.Fatal("a nil throttle reports something")
	}
	var p throttle.Permit
	p.Done(errOverloaded) // the zero Permit reports nothing, and does not panic
	p.DoneAt(t0, errOverloaded)
}

func TestNoAllocations(t *testing.T) {
	ctx := context.Background()
	ok := func(context.Context) (int, error) { return 1, nil }
	down := func(context.Context) (int, error) { return 0, errOverloaded }

	clear := mustNew(t, throttle.Config{})
	// Failures in the window, but p = 0: every decision takes the lock.
	mixed := mustNew(t, throttle.Config{MinRequests: 1})
	for i := range 11 { // accepts first, so that the failure cannot get any call rejected
		throttle.Run(ctx, mixed, func(context.Context) error {
			if i == 10 {
				return errOverloaded
			}
			return nil
		})
	}
	// A backend that is down: nearly every call is rejected.
	overloaded := mustNew(t, throttle.Config{})
	hooked := mustNew(t, throttle.Config{Observer: resilience.ObserveAll(func(resilience.Event) {})})
	for range 100 {
		throttle.Do(ctx, overloaded, down)
		throttle.Do(ctx, hooked, down)
	}
	atExplicit := mustNew(t, throttle.Config{MinRequests: 1})
	record(t, atExplicit, t0, 0, 10)
	composed := resilience.Compose(retry.MustNew(retry.Config{}), mustNew(t, throttle.Config{}))

	for name, f := range map[string]func(){
		"admitted success, clear window":       func() { throttle.Do(ctx, clear, ok) },
		"admitted success, failures in window": func() { throttle.Do(ctx, mixed, ok) },
		"Run":                                  func() { throttle.Run(ctx, clear, func(context.Context) error { return nil }) },
		"rejection through Do":                 func() { throttle.Do(ctx, overloaded, down) },
		"rejection with an observer":           func() { throttle.Do(ctx, hooked, down) },
		"rejection through AllowAt": func() {
			if _, err := atExplicit.AllowAt(t0, 0); err == nil {
				panic("admitted")
			}
		},
		"two-step": func() {
			p, _ := clear.Allow()
			p.Done(nil)
		},
		"Compose(retry, throttle)": func() { resilience.Do(ctx, composed, ok) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
	if s := overloaded.Snapshot(); s.Rejected < 1000 {
		t.Fatalf("the overloaded throttle rejected %d calls; the test measured admissions", s.Rejected)
	}
	if s := mixed.Snapshot(); s.Probability != 0 || s.Requests-s.Accepts != 1 || s.Rejected != 0 {
		t.Fatalf("mixed throttle %+v; want one failure in the window and p = 0", s)
	}
}

func TestDefaultWindowIsTwoMinutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := mustNew(t, throttle.Config{})
		start := time.Now()
		record(t, th, start, 10, 30) // 40 requests, 10 accepted: p = 20/41 with K 2
		wantCounts(t, th, start.Add(2*time.Minute-1), 40, 10, 20.0/41)
		wantCounts(t, th, start.Add(2*time.Minute), 0, 0, 0)
	})
}

func TestClockedDecisionsSeeEveryFailure(t *testing.T) {
	// Allow and Enter skip the lock while the window holds no failure. A
	// failure reported late, at a time before the window's newest bucket,
	// is counted in that bucket and stays until it leaves: the clocked
	// decisions must keep rejecting until then.
	synctest.Test(t, func(t *testing.T) {
		th := mustNew(t, throttle.Config{Window: 10 * time.Second, Seed: 1})
		start := time.Now()
		th.SnapshotAt(start.Add(5 * time.Second)) // the newest bucket is now at 5s
		record(t, th, start, 0, 20)               // counted at 5s: in the window until 15s
		time.Sleep(11 * time.Second)
		if p := th.Probability(); p != 20.0/21 {
			t.Fatalf("Probability() = %v at 11s, want 20/21", p)
		}
		rejected := 0
		for range 100 {
			if _, err := th.Allow(); err != nil {
				rejected++
			}
		}
		if rejected < 80 {
			t.Fatalf("%d of 100 calls rejected at p ≥ 20/21", rejected)
		}
		time.Sleep(4 * time.Second)
		if s := th.Snapshot(); s.Requests != rejected || s.Accepts != 0 {
			t.Fatalf("snapshot %+v at 15s; want only the %d rejections made at 11s", s, rejected)
		}
	})
}

// allows asks th for n calls now and returns how many it rejected; the
// permits are never reported, so only the rejections count.
func allows(th *throttle.Throttle, n int) (rejected int) {
	for range n {
		if _, err := th.Allow(); errors.Is(err, throttle.ErrThrottled) {
			rejected++
		}
	}
	return rejected
}

func TestClockedDecisionsSeeTheWindowSlide(t *testing.T) {
	// The executors admit without the lock while the probability is 0 and
	// only accepts come. The window's sliding may raise it all the same,
	// when old accepts leave: from then on, the clocked decisions reject.
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		th := mustNew(t, throttle.Config{Window: 10 * time.Second, MinRequests: 1, Seed: 1})
		for range 20 {
			throttle.Run(ctx, th, func(context.Context) error { return nil })
		}
		time.Sleep(5 * time.Second)
		for range 15 {
			throttle.Run(ctx, th, func(context.Context) error { return errOverloaded })
		}
		// 35 requests, 20 accepts: 35 − 2·20 < 0.
		if r := allows(th, 100); r != 0 {
			t.Fatalf("%d calls rejected at p = 0", r)
		}
		time.Sleep(5*time.Second - 1)
		if p := th.Probability(); p != 0 {
			t.Fatalf("Probability() = %v just before the accepts leave, want 0", p)
		}
		time.Sleep(1)
		// Up to seven calls may be decided on the last reading of the
		// clock, 1ns ago, and admitted; the rest are put to the draw.
		if r := allows(th, 100); r < 80 {
			t.Fatalf("%d of 100 calls rejected at p ≥ 15/16", r)
		}
		if p := th.Probability(); p <= 15.0/16 {
			t.Fatalf("Probability() = %v once the accepts have left, want above 15/16", p)
		}
	})
}

func TestAnAcceptMayStartTheThrottling(t *testing.T) {
	// Below MinRequests the probability is 0 though failures outweigh
	// accepts; the accept that reaches the minimum starts the throttling,
	// and the clocked decisions see it at once.
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		th := mustNew(t, throttle.Config{Seed: 1}) // MinRequests 10
		for range 9 {
			throttle.Run(ctx, th, func(context.Context) error { return errOverloaded })
		}
		if r := allows(th, 100); r != 0 {
			t.Fatalf("%d calls rejected below MinRequests", r)
		}
		throttle.Run(ctx, th, func(context.Context) error { return nil })
		r := allows(th, 100)
		if r < 60 {
			t.Fatalf("%d of 100 calls rejected at p ≥ 8/11", r)
		}
		if s := th.Snapshot(); s.Accepts != 1 || s.Requests != 10+r {
			t.Fatalf("snapshot %+v", s)
		}
	})
}

func TestDoubleReportCountsOnce(t *testing.T) {
	th := mustNew(t, throttle.Config{})
	p, err := th.AllowAt(t0, 1)
	if err != nil {
		t.Fatal(err)
	}
	p.DoneAt(t0, errOverloaded)
	p.DoneAt(t0, errOverloaded) // twice: one request
	c := p
	c.Done(nil) // a copy is the same permit
	q, _ := th.AllowAt(t0, 1)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { q.DoneAt(t0, nil) })
	}
	wg.Wait()
	if s := th.SnapshotAt(t0); s.Requests != 2 || s.Accepts != 1 {
		t.Fatalf("snapshot %+v after two permits reported five times; want 2 requests, 1 accept", s)
	}
}

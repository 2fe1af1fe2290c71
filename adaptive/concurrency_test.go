package adaptive_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
)

// The tests in this file run hundreds of goroutines against one limiter and
// check what must hold whatever the interleaving; run them with -race.

// concRun starts n goroutines, releases them together, runs f(i) on the
// i-th, and waits until they have all returned. Inside a synctest bubble a
// deadlock (a lost wake-up) is reported by synctest itself.
func concRun(n int, f func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}

// gauge tracks the calls running at once.
type gauge struct{ now, max, runs atomic.Int64 }

func (g *gauge) enter() int64 {
	g.runs.Add(1)
	n := g.now.Add(1)
	for {
		m := g.max.Load()
		if n <= m || g.max.CompareAndSwap(m, n) {
			return n
		}
	}
}

func (g *gauge) exit() { g.now.Add(-1) }

func TestConcurrentInFlightNeverExceedsTheLimit(t *testing.T) {
	const n = 400
	for name, cfg := range map[string]adaptive.Config{
		"no wait":    {Initial: 5, Max: 50},
		"may wait":   {Initial: 5, Max: 50, MaxWait: time.Hour, MaxQueue: -1},
		"priorities": {Initial: 5, Max: 50, MaxWait: time.Hour, MaxQueue: -1, Priorities: true},
	} {
		t.Run(name, func(t *testing.T) {
			// Successes only: the AIMD limit can only grow, so a call that
			// runs beside more calls than the limit is a call admitted
			// over it.
			l := mustNew(t, cfg)
			var g gauge
			var rejected atomic.Int64
			concRun(n, func(i int) {
				ctx := adaptive.WithPriority(context.Background(), adaptive.Priority(1+i%4))
				err := adaptive.Run(ctx, l, func(context.Context) error {
					if now, limit := g.enter(), l.Limit(); now > int64(limit) {
						t.Errorf("%d calls ran at once under a limit of %d", now, limit)
					}
					defer g.exit()
					for range 3 {
						runtime.Gosched()
					}
					return nil
				})
				if err != nil {
					if !errors.Is(err, adaptive.ErrLimited) {
						t.Errorf("Run: %v", err)
					}
					rejected.Add(1)
				}
			})
			s := l.Snapshot()
			if int64(s.Admitted) != g.runs.Load() || int64(s.Rejected) != rejected.Load() || s.Admitted+s.Rejected != n {
				t.Fatalf("Snapshot %+v, %d runs, %d rejections: want every call admitted and run, or rejected", s, g.runs.Load(), rejected.Load())
			}
			if cfg.MaxWait > 0 && s.Rejected != 0 {
				t.Fatalf("%d calls rejected with an unbounded queue and an hour's wait", s.Rejected)
			}
			if s.InFlight != 0 || s.Waiting != 0 {
				t.Fatalf("after the load: %+v, want nothing in flight or waiting", s)
			}
		})
	}
}

func TestConcurrentDropsAndWaitsLoseNoWakeUp(t *testing.T) {
	// The limit falls and rises while callers wait: every waiter must be
	// admitted in the end, on virtual time, or synctest reports the
	// deadlock.
	synctest.Test(t, func(t *testing.T) {
		for _, alg := range algorithms {
			l := mustNew(t, adaptive.Config{Algorithm: alg, Initial: 4, Max: 8, MaxWait: time.Hour, MaxQueue: -1, Priorities: true,
				Gradient: adaptive.GradientConfig{Window: time.Millisecond, MinSamples: 2, BaselinePeriod: 50 * time.Millisecond}})
			var g gauge
			overloaded := errors.New("overloaded")
			concRun(300, func(i int) {
				ctx := adaptive.WithPriority(context.Background(), adaptive.Priority(1+i%4))
				err := adaptive.Run(ctx, l, func(context.Context) error {
					g.enter()
					defer g.exit()
					time.Sleep(time.Duration(1+i%7) * time.Millisecond)
					if i%5 == 0 {
						return resilience.Transient(overloaded)
					}
					return nil
				})
				if err != nil && !errors.Is(err, overloaded) {
					t.Errorf("%v: Run: %v", alg, err)
				}
			})
			if r := g.runs.Load(); r != 300 {
				t.Fatalf("%v: %d of 300 calls ran", alg, r)
			}
			if m := g.max.Load(); m > 8 {
				t.Fatalf("%v: %d calls ran at once under a Max of 8", alg, m)
			}
			if s := l.Snapshot(); s.InFlight != 0 || s.Waiting != 0 {
				t.Fatalf("%v: after the load: %+v", alg, s)
			}
		}
	})
}

func TestConcurrentCancelEndsAWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(t, adaptive.Config{Min: 1, Max: 1, Initial: 1, MaxWait: time.Hour})
		held, err := l.TryAcquire()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		cause := errors.New("client went away")
		done := make(chan error)
		go func() {
			_, err := l.Acquire(ctx)
			done <- err
		}()
		synctest.Wait()
		if l.Waiting() != 1 {
			t.Fatalf("Waiting %d, want 1", l.Waiting())
		}
		time.Sleep(time.Second)
		cancel(cause)
		err = <-done
		if !errors.Is(err, cause) || errors.Is(err, adaptive.ErrLimited) {
			t.Fatalf("Acquire ended by its context: %v, want the cause and no rejection", err)
		}
		if s := l.Snapshot(); s.Waiting != 0 || s.Abandoned != 1 || s.Rejected != 0 {
			t.Fatalf("after the cancel: %+v", s)
		}
		held.Release(resilience.Outcome{})
		p, err := l.TryAcquire()
		if err != nil {
			t.Fatalf("the room came back to nobody: %v", err)
		}
		p.Release(resilience.Outcome{})
	})
}

func TestConcurrentGrantRacesCancel(t *testing.T) {
	// The waiter's context ends at the instant its room comes: whichever
	// wins, no room is lost or counted twice.
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(t, adaptive.Config{Min: 2, Max: 2, Initial: 2, MaxWait: time.Hour, MaxQueue: -1})
		for range 50 {
			held, _ := l.TryAcquire()
			held2, _ := l.TryAcquire()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			var wg sync.WaitGroup
			wg.Go(func() {
				if p, err := l.Acquire(ctx); err == nil {
					p.Release(resilience.Outcome{})
				}
			})
			wg.Go(func() {
				time.Sleep(time.Second)
				held.Release(resilience.Outcome{})
			})
			wg.Wait()
			cancel()
			held2.Release(resilience.Outcome{})
			if s := l.Snapshot(); s.InFlight != 0 || s.Waiting != 0 {
				t.Fatalf("after the race: %+v", s)
			}
		}
		a, errA := l.TryAcquire()
		b, errB := l.TryAcquire()
		if errA != nil || errB != nil {
			t.Fatalf("the limiter lost room: %v, %v", errA, errB)
		}
		if _, err := l.TryAcquire(); !errors.Is(err, adaptive.ErrLimited) {
			t.Fatalf("a third call was admitted under a limit of 2: %v", err)
		}
		a.Release(resilience.Outcome{})
		b.Release(resilience.Outcome{})
	})
}

func TestWaitTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rejects []resilience.Event
		l := mustNew(t, adaptive.Config{Name: "api", Min: 1, Max: 1, Initial: 1, MaxWait: time.Second,
			Observer: &resilience.Observer{Reject: func(e resilience.Event) { rejects = append(rejects, e) }}})
		held, _ := l.TryAcquire()
		defer held.Release(resilience.Outcome{})
		_, err := l.Acquire(context.Background())
		var e *adaptive.Error
		if !errors.As(err, &e) || e.Reason != adaptive.WaitTimeout || !errors.Is(err, adaptive.ErrLimited) {
			t.Fatalf("Acquire: %v, want a WaitTimeout rejection", err)
		}
		if len(rejects) != 1 || rejects[0].Delay != time.Second || rejects[0].Kind != resilience.KindAdaptive || rejects[0].Policy != "api" {
			t.Fatalf("Reject events %+v, want one of Kind adaptive after 1s", rejects)
		}
	})
}

func TestAWaiterIsAdmittedWhenTheLimitRises(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(t, adaptive.Config{Min: 1, Initial: 1, Max: 10, MaxWait: time.Hour})
		held, _ := l.TryAcquire()
		done := make(chan error)
		go func() {
			p, err := l.Acquire(context.Background())
			p.Release(resilience.Outcome{})
			done <- err
		}()
		synctest.Wait()
		// Successes with the limit in use raise it from 1 to 2, which
		// admits the waiter though nothing was released.
		for i := range 2 {
			l.RecordAt(time.Now().Add(time.Duration(i)), time.Millisecond, 1, false)
		}
		if err := <-done; err != nil {
			t.Fatalf("Acquire: %v", err)
		}
		held.Release(resilience.Outcome{})
	})
}

package bulkhead_test

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
	"github.com/netresilience/resilience/bulkhead"
)

// The tests in this file run hundreds of goroutines against one bulkhead and
// check what must hold whatever the interleaving; run them with -race. Each
// load is bounded in count, and every goroutine ends before its test does.
// Those on virtual time (testing/synctest) line up timeouts, cancellations
// and releases at the same instants, so that they race.

// concBound bounds every load on real time: a load that has not ended by
// then is taken for a deadlock. It is a bound, not a timing assertion.
const concBound = 20 * time.Second

// concRun starts n goroutines, releases them together, runs f(i) on the
// i-th, and waits until they have all returned. On real time it fails the
// test if they have not within concBound; inside a synctest bubble a
// deadlock is reported by synctest itself.
func concRun(t *testing.T, n int, f func(i int)) {
	t.Helper()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(concBound)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		t.Fatalf("%d goroutines have not finished after %v: deadlock", n, concBound)
	}
}

// gauge tracks the calls running at once and the most seen.
type gauge struct {
	now, max, runs atomic.Int64
}

func (g *gauge) enter() {
	g.runs.Add(1)
	n := g.now.Add(1)
	for {
		m := g.max.Load()
		if n <= m || g.max.CompareAndSwap(m, n) {
			return
		}
	}
}

func (g *gauge) exit() { g.now.Add(-1) }

// wantNoSlotLost checks that nothing is held or waiting and that exactly
// limit slots can be taken.
func wantNoSlotLost(t *testing.T, b *bulkhead.Bulkhead, limit int) {
	t.Helper()
	wantCounts(t, b, 0, 0)
	ps := hold(t, b, limit)
	if _, err := b.TryAcquire(); !errors.Is(err, bulkhead.ErrFull) {
		t.Fatalf("slot %d of %d was admitted: a slot was counted twice", limit+1, limit)
	}
	releaseAll(ps)
	wantCounts(t, b, 0, 0)
}

func TestConcurrentAtMostNInFlight(t *testing.T) {
	const limit, n = 7, 300
	for name, cfg := range map[string]bulkhead.Config{
		"no wait":  {MaxConcurrent: limit},
		"may wait": {MaxConcurrent: limit, MaxQueue: n, MaxWait: time.Hour},
	} {
		t.Run(name, func(t *testing.T) {
			b := mustNew(t, cfg)
			var g gauge
			var rejected atomic.Int64
			concRun(t, n, func(int) {
				err := bulkhead.Run(context.Background(), b, func(context.Context) error {
					g.enter()
					defer g.exit()
					for range 3 {
						runtime.Gosched()
					}
					return nil
				})
				if err != nil {
					if !errors.Is(err, bulkhead.ErrFull) {
						t.Errorf("Run: %v", err)
					}
					rejected.Add(1)
				}
			})
			if m := g.max.Load(); m > limit {
				t.Fatalf("%d calls ran at once through a bulkhead of %d", m, limit)
			}
			s := b.Snapshot()
			if int64(s.Admitted) != g.runs.Load() || int64(s.Rejected) != rejected.Load() || s.Admitted+s.Rejected != n {
				t.Fatalf("Snapshot %+v, %d runs, %d rejections; want every call admitted and run, or rejected", s, g.runs.Load(), rejected.Load())
			}
			if cfg.MaxWait > 0 && s.Rejected != 0 {
				t.Fatalf("%d rejections with a queue for every caller and an hour's wait", s.Rejected)
			}
			wantNoSlotLost(t, b, limit)
		})
	}
}

func TestConcurrentWaitersKeepEverySlotBusy(t *testing.T) {
	// 300 calls of 1ms through 7 slots, all arriving at once: with every
	// released slot handed straight to a waiter, they take ceil(300/7) =
	// 43 rounds of exactly 1ms, with 7 calls in each but the last.
	synctest.Test(t, func(t *testing.T) {
		const limit, n = 7, 300
		b := mustNew(t, bulkhead.Config{MaxConcurrent: limit, MaxQueue: n, MaxWait: time.Hour})
		var g gauge
		start := time.Now()
		concRun(t, n, func(int) {
			err := bulkhead.Run(context.Background(), b, func(context.Context) error {
				g.enter()
				defer g.exit()
				time.Sleep(time.Millisecond)
				return nil
			})
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		})
		if took := time.Since(start); took != 43*time.Millisecond {
			t.Fatalf("300 calls of 1ms through 7 slots took %v, want 43ms: a slot stayed idle while callers waited", took)
		}
		if m := g.max.Load(); m != limit {
			t.Fatalf("at most %d calls ran at once, want exactly %d", m, limit)
		}
		if s := b.Snapshot(); s.Admitted != n || g.runs.Load() != n {
			t.Fatalf("Snapshot %+v, %d runs; want %d", s, g.runs.Load(), n)
		}
		wantNoSlotLost(t, b, limit)
	})
}

func TestConcurrentTimeoutsRaceHandOffs(t *testing.T) {
	// Hundreds of callers arrive on whole milliseconds, run for a whole
	// millisecond, wait at most a whole number of milliseconds, and some
	// cancel on a whole millisecond: timeouts, cancellations and releases
	// fall on the same instants. Whatever wins each race, no slot may be
	// lost or counted twice, and every caller must end exactly one way.
	synctest.Test(t, func(t *testing.T) {
		const limit, n = 5, 400
		var admits, noWait, queueFull, timeouts atomic.Int64
		b := mustNew(t, bulkhead.Config{MaxConcurrent: limit, MaxQueue: 20, MaxWait: 2 * time.Millisecond,
			Observer: &resilience.Observer{
				Admit: func(resilience.Event) { admits.Add(1) },
				Reject: func(r resilience.Event) {
					var be *bulkhead.Error
					if !errors.As(r.Err, &be) {
						return
					}
					switch be.Reason {
					case bulkhead.NoWait:
						noWait.Add(1)
					case bulkhead.QueueFull:
						queueFull.Add(1)
					case bulkhead.WaitTimeout:
						timeouts.Add(1)
					}
				}}})
		var (
			g                      gauge
			ran, full, gaveUp, odd atomic.Int64
		)
		for round := range 6 {
			concRun(t, n, func(i int) {
				time.Sleep(time.Duration((i+round)%16) * time.Millisecond)
				ctx := context.Background()
				if i%7 == 0 {
					c, cancel := context.WithTimeout(ctx, time.Duration(1+i%2)*time.Millisecond)
					defer cancel()
					ctx = c
				}
				var err error
				called := false
				call := func(context.Context) error {
					called = true
					g.enter()
					defer g.exit()
					time.Sleep(time.Millisecond)
					return nil
				}
				if i%11 == 0 {
					var p bulkhead.Permit
					if p, err = b.TryAcquire(); err == nil {
						call(ctx)
						p.Release()
					}
				} else {
					err = bulkhead.Run(ctx, b, call)
				}
				switch {
				case err == nil && called:
					ran.Add(1)
				case errors.Is(err, bulkhead.ErrFull) && !called:
					full.Add(1)
				case errors.Is(err, context.DeadlineExceeded) && !called:
					gaveUp.Add(1)
				default:
					odd.Add(1)
					t.Errorf("caller %d: err=%v called=%v", i, err, called)
				}
			})
			wantCounts(t, b, 0, 0)
		}
		s := b.Snapshot()
		switch {
		case g.max.Load() > limit:
			t.Fatalf("%d calls ran at once through %d slots", g.max.Load(), limit)
		case odd.Load() != 0:
			t.Fatalf("%d callers ended in an unexpected way", odd.Load())
		case int64(s.Admitted) != ran.Load() || admits.Load() != ran.Load():
			t.Fatalf("Snapshot %+v, %d admission hooks; but %d calls ran", s, admits.Load(), ran.Load())
		case int64(s.Rejected) != full.Load() || noWait.Load()+queueFull.Load()+timeouts.Load() != full.Load():
			t.Fatalf("Snapshot %+v, rejection hooks %d+%d+%d; but %d callers were rejected",
				s, noWait.Load(), queueFull.Load(), timeouts.Load(), full.Load())
		case int64(s.Abandoned) != gaveUp.Load():
			t.Fatalf("Snapshot %+v; but %d callers gave up", s, gaveUp.Load())
		case s.Admitted+s.Rejected+s.Abandoned != 6*n:
			t.Fatalf("Snapshot %+v accounts for %d callers, want %d", s, s.Admitted+s.Rejected+s.Abandoned, 6*n)
		}
		// The load must have exercised every way of ending, or it proves
		// little.
		if ran.Load() == 0 || timeouts.Load() == 0 || noWait.Load() == 0 || queueFull.Load() == 0 || gaveUp.Load() == 0 {
			t.Fatalf("the load did not reach every ending: ran %d, no wait %d, queue full %d, timed out %d, gave up %d",
				ran.Load(), noWait.Load(), queueFull.Load(), timeouts.Load(), gaveUp.Load())
		}
		t.Logf("ran %d, no wait %d, queue full %d, timed out %d, gave up %d",
			ran.Load(), noWait.Load(), queueFull.Load(), timeouts.Load(), gaveUp.Load())
		wantNoSlotLost(t, b, limit)
	})
}

func TestConcurrentRealTimeLoad(t *testing.T) {
	// Real time and real parallelism: short waits, cancellations from other
	// goroutines, and permits released twice at once. Two permits are held
	// throughout, so that a slot freed twice would show as fewer in flight
	// at the end instead of hiding at zero.
	const limit, n, iterations = 6, 300, 20
	b := mustNew(t, bulkhead.Config{MaxConcurrent: limit, MaxQueue: 100, MaxWait: 2 * time.Millisecond})
	held := hold(t, b, 2)
	var g gauge
	concRun(t, n, func(i int) {
		for j := range iterations {
			switch (i + j) % 4 {
			case 0: // a permit, released by two goroutines at once
				p, err := b.Acquire(context.Background())
				if err != nil {
					continue
				}
				g.enter()
				runtime.Gosched()
				g.exit()
				var wg sync.WaitGroup
				wg.Go(p.Release)
				wg.Go(p.Release)
				wg.Wait()
			case 1: // canceled by another goroutine while it may be waiting
				ctx, cancel := context.WithCancel(context.Background())
				go cancel()
				bulkhead.Run(ctx, b, func(context.Context) error {
					g.enter()
					defer g.exit()
					runtime.Gosched()
					return nil
				})
				cancel()
			case 2:
				if p, err := b.TryAcquire(); err == nil {
					g.enter()
					g.exit()
					p.Release()
				}
			default:
				bulkhead.Run(context.Background(), b, func(context.Context) error {
					g.enter()
					defer g.exit()
					runtime.Gosched()
					return nil
				})
			}
		}
	})
	if m := g.max.Load(); m > limit-2 {
		t.Fatalf("%d calls ran at once beside 2 held slots of %d", m, limit)
	}
	wantCounts(t, b, 2, 0)
	releaseAll(held)
	s := b.Snapshot()
	if s.Admitted != uint64(g.runs.Load())+2 {
		t.Fatalf("Snapshot %+v; but %d calls ran besides the 2 held", s, g.runs.Load())
	}
	t.Logf("%+v", s)
	wantNoSlotLost(t, b, limit)
}

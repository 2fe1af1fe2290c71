package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/ratelimit"
)

// The tests in this file run hundreds of goroutines against one limiter and
// check what must hold whatever the interleaving; run them with -race. Each
// load is bounded in count and every goroutine ends before its test does.
// The tests that wait run on the virtual time of testing/synctest, so that
// every call's time is exact.

// recorder records the calls that went, from any goroutine.
type recorder struct {
	start  time.Time
	mu     sync.Mutex
	events []event
}

func (r *recorder) record(cost int) {
	at := time.Since(r.start)
	r.mu.Lock()
	r.events = append(r.events, event{at, cost})
	r.mu.Unlock()
}

func TestConcurrentWaitsNeverExceedTheRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			goroutines = 200
			calls      = 5
			limit      = 40 // a token every 25ms
			burst      = 8
		)
		l := mustNew(t, ratelimit.Config{Limit: limit, Burst: burst, MaxWait: time.Hour})
		rec := &recorder{start: time.Now()}
		var total atomic.Int64
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for c := range calls {
					cost := 1 + (g+c)%5
					ctx := l.WithCost(context.Background(), cost)
					err := ratelimit.Run(ctx, l, func(context.Context) error {
						rec.record(cost)
						return nil
					})
					if err != nil {
						t.Errorf("goroutine %d, call %d: %v", g, c, err)
						return
					}
					total.Add(int64(cost))
				}
			})
		}
		wg.Wait()
		if len(rec.events) != goroutines*calls {
			t.Fatalf("%d calls went, want %d", len(rec.events), goroutines*calls)
		}
		checkWindows(t, rec.events, limit, time.Second, burst)
		// And no token was lost: with callers always waiting, the calls
		// went back to back, the last when the tokens beyond the first
		// burst had all come.
		var last time.Duration
		for _, e := range rec.events {
			last = max(last, e.at)
		}
		if want := time.Duration(total.Load()-burst) * (time.Second / limit); last != want {
			t.Fatalf("the last call went at %v; want %v, when the %d tokens had come", last, want, total.Load())
		}
	})
}

func TestConcurrentCanceledWaitsNeverExceedTheRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			goroutines = 300
			limit      = 20 // a token every 50ms
			burst      = 4
		)
		errGaveUp := errors.New("gave up")
		l := mustNew(t, ratelimit.Config{Limit: limit, Burst: burst, MaxWait: time.Hour})
		rec := &recorder{start: time.Now()}
		var canceled, went atomic.Int32
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				// Callers arrive over 3s; every third gives up after a
				// while, as most of them will still be waiting.
				time.Sleep(time.Duration(g%30) * 100 * time.Millisecond)
				ctx, cancel := context.WithCancelCause(context.Background())
				defer cancel(nil)
				if g%3 == 0 {
					stop := time.AfterFunc(time.Duration(g%7)*150*time.Millisecond, func() { cancel(errGaveUp) })
					defer stop.Stop()
				}
				cost := 1 + g%3
				err := ratelimit.Run(l.WithCost(ctx, cost), l, func(context.Context) error {
					rec.record(cost)
					return nil
				})
				switch {
				case err == nil:
					went.Add(1)
				case errors.Is(err, errGaveUp) && !errors.Is(err, ratelimit.ErrLimited):
					canceled.Add(1)
				default:
					t.Errorf("goroutine %d: %v", g, err)
				}
			})
		}
		wg.Wait()
		if canceled.Load() == 0 || went.Load() == 0 {
			t.Fatalf("%d calls went, %d gave up; the test wants both", went.Load(), canceled.Load())
		}
		if int(went.Load()) != len(rec.events) {
			t.Fatalf("%d calls returned nil but %d ran", went.Load(), len(rec.events))
		}
		checkWindows(t, rec.events, limit, time.Second, burst)
	})
}

func TestConcurrentAllowOnTheRealClock(t *testing.T) {
	const (
		goroutines = 64
		tries      = 2000
		limit      = 1000
		burst      = 50
	)
	start := time.Now()
	l := mustNew(t, ratelimit.Config{Limit: limit, Burst: burst})
	var allowed atomic.Int64
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for range goroutines {
		wg.Go(func() {
			<-ready
			for range tries {
				if l.Allow(1) {
					allowed.Add(1)
				}
			}
		})
	}
	close(ready)
	wg.Wait()
	elapsed := time.Since(start)
	if most := burst + int64(float64(limit)*elapsed.Seconds()); allowed.Load() > most {
		t.Fatalf("%d calls allowed in %v; a bucket of %d at %d/s allows at most %d", allowed.Load(), elapsed, burst, limit, most)
	}
	if allowed.Load() < burst {
		t.Fatalf("only %d calls allowed; the full bucket alone holds %d", allowed.Load(), burst)
	}
}

func TestConcurrentRejectionsAndObserver(t *testing.T) {
	// Rejections from many goroutines share their errors, reach the
	// observer outside the lock (it calls back in), and spend nothing.
	synctest.Test(t, func(t *testing.T) {
		var hooked atomic.Int32
		var l *ratelimit.Limiter
		l = mustNew(t, ratelimit.Config{Limit: 1, Per: time.Hour, Burst: 10, Observer: &resilience.Observer{Reject: func(r resilience.Event) {
			if r.Delay <= 0 || l.Tokens() != 0 {
				t.Errorf("observer: %+v with %v tokens", r, l.Tokens())
			}
			hooked.Add(1)
		}}})
		l.Allow(10)
		var wg sync.WaitGroup
		errs := make([]error, 200)
		for g := range errs {
			wg.Go(func() {
				errs[g] = resilience.Run(l.WithCost(context.Background(), 1+g%2), l, func(context.Context) error {
					t.Error("a call ran on an empty bucket")
					return nil
				})
			})
		}
		wg.Wait()
		if hooked.Load() != 200 {
			t.Fatalf("the observer saw %d rejections, want 200", hooked.Load())
		}
		for g, err := range errs {
			if err != errs[g%2] || !errors.Is(err, ratelimit.ErrLimited) {
				t.Fatalf("goroutine %d: %v; want the shared rejection of its cost", g, err)
			}
		}
	})
}

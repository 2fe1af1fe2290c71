package throttle_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/throttle"
)

// The tests in this file run hundreds of goroutines against one throttle and
// check what must hold whatever the interleaving; run them with -race. Each
// load is bounded in count and runs inside a synctest bubble, so every
// goroutine ends before its test does and no time passes while it runs: the
// window holds every count the load makes.

const (
	concGoroutines = 200
	concCalls      = 50 // per goroutine
)

// concRun starts n goroutines, releases them together, runs f(i) on the
// i-th, and waits until they have all returned.
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

func TestConcurrentCallsAreCountedExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hooked atomic.Int64
		th := mustNew(t, throttle.Config{MinRequests: 1, Observer: &resilience.Observer{Reject: func(resilience.Event) { hooked.Add(1) }}})
		var ran, accepted, rejected, ignored atomic.Int64
		concRun(concGoroutines, func(i int) {
			for j := range concCalls {
				ctx := context.Background()
				var giveUp context.CancelFunc
				var result error
				switch (i + j) % 6 { // 2 accepts in 5 requests: p > 0
				case 0:
					result = nil
				case 1:
					result = errBad // permanent: accepted
				case 2, 3, 4:
					result = errOverloaded
				case 5: // the caller gives up during the call: nothing
					ctx, giveUp = context.WithCancel(ctx)
					result = errOverloaded
				}
				err := throttle.Run(ctx, th, func(context.Context) error {
					ran.Add(1)
					switch {
					case giveUp != nil:
						giveUp()
						ignored.Add(1)
					case result == nil || result == errBad:
						accepted.Add(1)
					}
					return result
				})
				if giveUp != nil {
					giveUp()
				}
				if errors.Is(err, throttle.ErrThrottled) {
					rejected.Add(1)
				} else if err != result {
					t.Errorf("Run = %v, want %v", err, result)
				}
				// Readers alongside the load.
				if j%10 == 0 {
					th.Probability()
					th.Snapshot()
				}
			}
		})
		s := th.Snapshot()
		total := int64(concGoroutines * concCalls)
		if ran.Load()+rejected.Load() != total {
			t.Fatalf("%d ran + %d rejected != %d calls", ran.Load(), rejected.Load(), total)
		}
		wantRequests := ran.Load() - ignored.Load() + rejected.Load()
		if int64(s.Requests) != wantRequests || int64(s.Accepts) != accepted.Load() ||
			int64(s.Rejected) != rejected.Load() || hooked.Load() != rejected.Load() {
			t.Fatalf("snapshot %+v, %d hook calls; want %d requests, %d accepts, %d rejected",
				s, hooked.Load(), wantRequests, accepted.Load(), rejected.Load())
		}
		if rejected.Load() == 0 {
			t.Fatal("no call was rejected: the load did not exercise rejections")
		}
	})
}

func TestConcurrentTwoStepOnVirtualTime(t *testing.T) {
	// Goroutines drive the throttle through AllowAt and DoneAt at their own
	// times, with their own random numbers; the counts stay exact and every
	// probability seen is one the formula can give.
	th := mustNew(t, throttle.Config{Window: time.Minute, MinRequests: 1})
	var admitted, accepted, rejected atomic.Int64
	var bad atomic.Int64
	concRun(concGoroutines, func(i int) {
		for j := range concCalls {
			at := t0.Add(time.Duration(j) * time.Millisecond)
			u := float64((i*concCalls+j)%97) / 97
			p, err := th.AllowAt(at, u)
			if err != nil {
				var te *throttle.Error
				if !errors.As(err, &te) || te.Probability <= 0 || te.Probability >= 1 {
					bad.Add(1)
				}
				rejected.Add(1)
				continue
			}
			admitted.Add(1)
			if j%3 == 0 {
				p.DoneAt(at, errOverloaded)
			} else {
				accepted.Add(1)
				p.DoneAt(at, nil)
			}
			if q := th.ProbabilityAt(at); q < 0 || q >= 1 {
				bad.Add(1)
			}
		}
	})
	s := th.SnapshotAt(t0.Add(time.Second))
	if bad.Load() != 0 || int64(s.Requests) != admitted.Load()+rejected.Load() ||
		int64(s.Accepts) != accepted.Load() || int64(s.Rejected) != rejected.Load() {
		t.Fatalf("snapshot %+v, %d bad values; want %d requests, %d accepts, %d rejected",
			s, bad.Load(), admitted.Load()+rejected.Load(), accepted.Load(), rejected.Load())
	}
}

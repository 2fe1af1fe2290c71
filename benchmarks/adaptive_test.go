package benchmarks

// The adaptive concurrency limit's scenarios: an admitted call costs one
// acquisition and one release, whatever the library; the limit's algorithm
// runs on the release. The libraries are our adaptive.Limiter (AIMD and
// Gradient), our static bulkhead as the reference without an algorithm, and
// failsafe-go's adaptivelimiter. Benchmark names carry the library as
// lib=NAME, so that `benchstat -col /lib` puts them side by side:
//
//	go test -run '^$' -bench Adaptive -benchmem -count 6 . | benchstat -col /lib -

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/adaptivelimiter"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/bulkhead"
)

// Library names of the adaptive scenarios.
const (
	oursAIMD     = "ours-aimd"
	oursGradient = "ours-gradient"
	oursBulkhead = "ours-bulkhead"
)

// adaptiveInitial is every limiter's starting limit (and the bulkhead's
// size): far above what one or two goroutines keep in flight, so that no
// call of the admitted-call scenarios is ever rejected.
const adaptiveInitial = 20

// limitedImpl is one library's admitted call in an adaptive scenario, with
// how many calls it counts in flight, for TestAdaptiveScenariosAgree.
type limitedImpl struct {
	impl
	inflight func() int
}

func oursAdaptive(alg adaptive.Algorithm) *adaptive.Limiter {
	return adaptive.MustNew(adaptive.Config{Algorithm: alg, Initial: adaptiveInitial})
}

func fsAdaptive() adaptivelimiter.AdaptiveLimiter[int] {
	return adaptivelimiter.NewBuilder[int]().WithLimits(1, 200, adaptiveInitial).Build()
}

// acquireOurs runs work within a permit of l: Acquire, the call, Release.
func acquireOurs(ctx context.Context, l *adaptive.Limiter) (int, error) {
	p, err := l.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	v, err := work(ctx)
	p.Release(resilience.Outcome{Err: err})
	return v, err
}

// errFsRejected stands for failsafe-go's rejection, which it reports as a
// nil permit.
var errFsRejected = errors.New("failsafe-go: no permit")

// adaptiveAdmitImpls is the two-step form: acquire a permit, run the call,
// release the permit with the call's outcome.
func adaptiveAdmitImpls() []limitedImpl {
	ctx := context.Background()
	la, lg := oursAdaptive(adaptive.AIMD), oursAdaptive(adaptive.Gradient)
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: adaptiveInitial})
	fs := fsAdaptive()
	return []limitedImpl{
		{impl{oursAIMD, func() (int, error) { return acquireOurs(ctx, la) }}, la.InFlight},
		{impl{oursGradient, func() (int, error) { return acquireOurs(ctx, lg) }}, lg.InFlight},
		{impl{oursBulkhead, func() (int, error) {
			p, err := bh.Acquire(ctx)
			if err != nil {
				return 0, err
			}
			v, err := work(ctx)
			p.Release()
			return v, err
		}}, bh.InFlight},
		{impl{failsafeN, func() (int, error) {
			p, err := fs.AcquirePermit(ctx)
			if err != nil {
				return 0, err
			}
			if p == nil {
				return 0, errFsRejected
			}
			v, err := work(ctx)
			if err != nil {
				p.Drop()
			} else {
				p.Record()
			}
			return v, err
		}}, fs.Inflight},
	}
}

// adaptiveDoImpls is each library's executor around the call: our Do, and
// failsafe-go's Executor.Get.
func adaptiveDoImpls() []limitedImpl {
	ctx := context.Background()
	la, lg := oursAdaptive(adaptive.AIMD), oursAdaptive(adaptive.Gradient)
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: adaptiveInitial})
	fsl := fsAdaptive()
	fs := failsafe.With[int](fsl)
	return []limitedImpl{
		{impl{oursAIMD, func() (int, error) { return adaptive.Do(ctx, la, work) }}, la.InFlight},
		{impl{oursGradient, func() (int, error) { return adaptive.Do(ctx, lg, work) }}, lg.InFlight},
		{impl{oursBulkhead, func() (int, error) { return bulkhead.Do(ctx, bh, work) }}, bh.InFlight},
		{impl{failsafeN, func() (int, error) { return fs.Get(workNoCtx) }}, fsl.Inflight},
	}
}

// benchAdmitted runs each library's admitted call from one goroutine, or
// from every core at once, and fails on a call that was not admitted: a
// rejection costs less than an admission, and would flatter its library.
func benchAdmitted(b *testing.B, impls []limitedImpl, parallel bool) {
	for _, im := range impls {
		b.Run("lib="+im.lib, func(b *testing.B) {
			b.ReportAllocs()
			if !parallel {
				for b.Loop() {
					if _, err := im.op(); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := im.op(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkAdaptiveAdmit(b *testing.B)         { benchAdmitted(b, adaptiveAdmitImpls(), false) }
func BenchmarkAdaptiveAdmitParallel(b *testing.B) { benchAdmitted(b, adaptiveAdmitImpls(), true) }
func BenchmarkAdaptiveDo(b *testing.B)            { benchAdmitted(b, adaptiveDoImpls(), false) }
func BenchmarkAdaptiveDoParallel(b *testing.B)    { benchAdmitted(b, adaptiveDoImpls(), true) }

// The blocking path: a limit of one call, and two goroutines that take
// turns. Each holds the only room until the other waits for it, then
// releases it, which admits the waiter; so every call but the first waits,
// and is admitted when the other one's call ends. An op is one such call.

// waitMax bounds every wait of the blocking scenario, so that a broken
// library fails the benchmark instead of hanging it.
const waitMax = time.Minute

// waitImpl is one library's blocking admission. call acquires, blocking
// until there is room, runs the work, spins until ready says the other
// goroutine waits (or has finished), and releases. waiting and inflight
// read the library's counts.
type waitImpl struct {
	lib      string
	call     func(ctx context.Context, ready func() bool) error
	waiting  func() int
	inflight func() int
}

// spin yields until ready reports true.
func spin(ready func() bool) {
	for !ready() {
		runtime.Gosched()
	}
}

func adaptiveWaitImpls() []waitImpl {
	ours := func(lib string, alg adaptive.Algorithm) waitImpl {
		l := adaptive.MustNew(adaptive.Config{Algorithm: alg, Initial: 1, Min: 1, Max: 1, MaxWait: waitMax})
		return waitImpl{lib, func(ctx context.Context, ready func() bool) error {
			p, err := l.Acquire(ctx)
			if err != nil {
				return err
			}
			_, err = work(ctx)
			spin(ready)
			p.Release(resilience.Outcome{Err: err})
			return nil
		}, l.Waiting, l.InFlight}
	}
	bh := bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1, MaxWait: waitMax})
	fs := adaptivelimiter.NewBuilder[int]().WithLimits(1, 1, 1).Build()
	return []waitImpl{
		ours(oursAIMD, adaptive.AIMD),
		ours(oursGradient, adaptive.Gradient),
		{oursBulkhead, func(ctx context.Context, ready func() bool) error {
			p, err := bh.Acquire(ctx)
			if err != nil {
				return err
			}
			work(ctx)
			spin(ready)
			p.Release()
			return nil
		}, bh.Waiting, bh.InFlight},
		{failsafeN, func(ctx context.Context, ready func() bool) error {
			p, err := fs.AcquirePermitWithMaxWait(ctx, waitMax)
			if err != nil {
				return err
			}
			work(ctx)
			spin(ready)
			p.Record()
			return nil
		}, fs.Queued, fs.Inflight},
	}
}

// takeTurns runs n calls of w, split between the calling goroutine and one
// more, which has ended when takeTurns returns. It returns the first error.
func takeTurns(w waitImpl, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitMax)
	defer cancel()
	var done [2]atomic.Bool
	var errs [2]error
	side := func(me, calls int) {
		defer done[me].Store(true)
		other := &done[1-me]
		ready := func() bool { return w.waiting() > 0 || other.Load() }
		for range calls {
			if errs[me] = w.call(ctx, ready); errs[me] != nil {
				cancel() // the other side may wait for room that never comes
				return
			}
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { side(1, n/2) })
	side(0, n-n/2)
	wg.Wait()
	return errors.Join(errs[0], errs[1])
}

func BenchmarkAdaptiveWait(b *testing.B) {
	for _, w := range adaptiveWaitImpls() {
		b.Run("lib="+w.lib, func(b *testing.B) {
			b.ReportAllocs()
			if err := takeTurns(w, b.N); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// TestAdaptiveScenariosAgree checks that each library's call in the
// adaptive scenarios runs the function once, returns its result, and
// leaves nothing in flight; and that in the blocking scenario every call
// runs and the limiter ends empty, with nobody waiting.
func TestAdaptiveScenariosAgree(t *testing.T) {
	var n atomic.Int64
	calls = &n
	defer func() { calls = nil }()
	for scenario, impls := range map[string][]limitedImpl{"AdaptiveAdmit": adaptiveAdmitImpls(), "AdaptiveDo": adaptiveDoImpls()} {
		for _, im := range impls {
			n.Store(0)
			for range 3 {
				if v, err := im.op(); err != nil || v != 1 {
					t.Errorf("%s/%s: got (%v, %v), want (1, nil)", scenario, im.lib, v, err)
				}
			}
			if got := n.Load(); got != 3 {
				t.Errorf("%s/%s: %d calls of the function, want 3", scenario, im.lib, got)
			}
			if got := im.inflight(); got != 0 {
				t.Errorf("%s/%s: %d calls in flight after the calls ended, want 0", scenario, im.lib, got)
			}
		}
	}
	for _, w := range adaptiveWaitImpls() {
		n.Store(0)
		const turns = 41
		if err := takeTurns(w, turns); err != nil {
			t.Errorf("AdaptiveWait/%s: %v", w.lib, err)
		}
		if got := n.Load(); got != turns {
			t.Errorf("AdaptiveWait/%s: %d calls of the function, want %d", w.lib, got, turns)
		}
		if in, wt := w.inflight(), w.waiting(); in != 0 || wt != 0 {
			t.Errorf("AdaptiveWait/%s: %d in flight and %d waiting at the end, want 0 and 0", w.lib, in, wt)
		}
	}
}

package bulkhead_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/retry"
)

var errDown = resilience.Transient(errors.New("connection refused"))

func mustNew(t *testing.T, cfg bulkhead.Config) *bulkhead.Bulkhead {
	t.Helper()
	b, err := bulkhead.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return b
}

// hold takes n slots of b at once, failing the test if one is refused.
func hold(t *testing.T, b *bulkhead.Bulkhead, n int) []bulkhead.Permit {
	t.Helper()
	ps := make([]bulkhead.Permit, n)
	for i := range ps {
		p, err := b.TryAcquire()
		if err != nil {
			t.Fatalf("TryAcquire %d of %d: %v", i+1, n, err)
		}
		ps[i] = p
	}
	return ps
}

func releaseAll(ps []bulkhead.Permit) {
	for _, p := range ps {
		p.Release()
	}
}

// wantCounts checks the bulkhead's in-flight and waiting counts.
func wantCounts(t *testing.T, b *bulkhead.Bulkhead, inFlight, waiting int) {
	t.Helper()
	if got, gotW := b.InFlight(), b.Waiting(); got != inFlight || gotW != waiting {
		t.Fatalf("InFlight, Waiting = %d, %d; want %d, %d", got, gotW, inFlight, waiting)
	}
}

// wantFull checks that err is a rejection of the bulkhead named name for
// the reason r.
func wantFull(t *testing.T, err error, name string, r bulkhead.Reason) *bulkhead.Error {
	t.Helper()
	var fe *bulkhead.Error
	if !errors.Is(err, bulkhead.ErrFull) || !errors.As(err, &fe) || fe.Name != name || fe.Reason != r {
		t.Fatalf("error %v (%T); want a *Error named %q for %v, matching ErrFull", err, err, name, r)
	}
	return fe
}

// result is what an asynchronous Acquire returned, and when.
type result struct {
	p   bulkhead.Permit
	err error
	at  time.Time
}

// acquireAsync calls b.Acquire(ctx) on a new goroutine; the channel
// delivers its result.
func acquireAsync(b *bulkhead.Bulkhead, ctx context.Context) <-chan result {
	c := make(chan result, 1)
	go func() {
		p, err := b.Acquire(ctx)
		c <- result{p, err, time.Now()}
	}()
	return c
}

// pending reports whether c has no result yet.
func pending(c <-chan result) bool { return len(c) == 0 }

func TestDefaults(t *testing.T) {
	b := mustNew(t, bulkhead.Config{Name: "db"})
	ps := hold(t, b, bulkhead.DefaultMaxConcurrent)
	wantCounts(t, b, 10, 0)

	ran := false
	err := bulkhead.Run(context.Background(), b, func(context.Context) error { ran = true; return nil })
	if ran {
		t.Fatal("a full bulkhead ran the function")
	}
	fe := wantFull(t, err, "db", bulkhead.NoWait)
	if fe.MaxConcurrent != 10 || fe.MaxQueue != 0 || fe.MaxWait != 0 {
		t.Fatalf("rejection %+v; want the default limits: 10 slots, no queue, no wait", fe)
	}
	if want := `bulkhead "db" is full: 10 calls in flight`; err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
	if _, ok := resilience.RetryAfter(err); ok {
		t.Fatal("a rejection carries a retry hint; a bulkhead cannot know one")
	}
	if c := resilience.Classify(err); c != resilience.ClassIgnored {
		t.Fatalf("Classify(rejection) = %v, want ignored: a local rejection is neither retried nor counted", c)
	}

	ps[0].Release()
	wantCounts(t, b, 9, 0)
	if err := bulkhead.Run(context.Background(), b, func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("after a release: err=%v ran=%v; want the call to run", err, ran)
	}
	releaseAll(ps[1:])
	want := bulkhead.Snapshot{Name: "db", MaxConcurrent: 10, Admitted: 11, Rejected: 1}
	if s := b.Snapshot(); s != want {
		t.Fatalf("Snapshot() = %+v, want %+v", s, want)
	}
}

func TestDoReturnsTheFunctionsResult(t *testing.T) {
	b := mustNew(t, bulkhead.Config{MaxConcurrent: 1})
	v, err := bulkhead.Do(context.Background(), b, func(context.Context) (string, error) {
		if n := b.InFlight(); n != 1 {
			t.Errorf("InFlight() = %d inside the call, want 1", n)
		}
		return "ok", nil
	})
	if v != "ok" || err != nil {
		t.Fatalf("Do = %q, %v", v, err)
	}
	_, err = bulkhead.Do(context.Background(), b, func(context.Context) (int, error) { return 0, errDown })
	if err != errDown {
		t.Fatalf("Do = %v, want the function's error unchanged", err)
	}
	wantCounts(t, b, 0, 0) // a failure releases its slot too
}

func TestQueueIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu         sync.Mutex
			rejections []string
		)
		b := mustNew(t, bulkhead.Config{Name: "q", MaxConcurrent: 2, MaxQueue: 3, MaxWait: time.Second,
			Observer: &resilience.Observer{Reject: func(r resilience.Event) {
				mu.Lock()
				rejections = append(rejections, fmt.Sprintf("%s %s: %s", r.Kind, r.Policy, r.Reason))
				mu.Unlock()
			}}})
		ps := hold(t, b, 2)
		var waiters []<-chan result
		for range 3 {
			waiters = append(waiters, acquireAsync(b, context.Background()))
			synctest.Wait() // queued in this order
		}
		wantCounts(t, b, 2, 3)

		start := time.Now()
		_, err := b.Acquire(context.Background())
		fe := wantFull(t, err, "q", bulkhead.QueueFull)
		if !time.Now().Equal(start) {
			t.Fatalf("the caller past MaxQueue waited %v; want a rejection at once", time.Since(start))
		}
		if fe.MaxQueue != 3 || fe.MaxConcurrent != 2 {
			t.Fatalf("rejection %+v; want MaxQueue 3, MaxConcurrent 2", fe)
		}
		if want := `bulkhead "q" is full: 2 calls in flight, 3 waiting`; err.Error() != want {
			t.Fatalf("Error() = %q, want %q", err.Error(), want)
		}
		// TryAcquire never queues, and never jumps the queue.
		_, err = b.TryAcquire()
		wantFull(t, err, "q", bulkhead.NoWait)
		mu.Lock()
		if want := "[bulkhead q: queue full bulkhead q: no wait allowed]"; fmt.Sprint(rejections) != want {
			t.Fatalf("rejections %v, want %v", rejections, want)
		}
		mu.Unlock()

		// Each release hands its slot to a waiter: the slots stay taken.
		releaseAll(ps)
		synctest.Wait()
		wantCounts(t, b, 2, 1)
		var admitted []bulkhead.Permit
		for _, w := range waiters[:2] {
			r := <-w
			if r.err != nil || !r.at.Equal(start) {
				t.Fatalf("waiter: %v at +%v; want a slot at once when one is released", r.err, r.at.Sub(start))
			}
			admitted = append(admitted, r.p)
		}
		releaseAll(admitted)
		r := <-waiters[2]
		if r.err != nil {
			t.Fatalf("third waiter: %v", r.err)
		}
		r.p.Release()
		wantCounts(t, b, 0, 0)
		if s := b.Snapshot(); s.Admitted != 5 || s.Rejected != 2 || s.Abandoned != 0 {
			t.Fatalf("Snapshot() = %+v; want 5 admitted, 2 rejected", s)
		}
	})
}

func TestDefaultQueueIsMaxConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 2, MaxWait: time.Minute})
		ps := hold(t, b, 2)
		w1 := acquireAsync(b, context.Background())
		w2 := acquireAsync(b, context.Background())
		synctest.Wait()
		_, err := b.Acquire(context.Background())
		if fe := wantFull(t, err, "", bulkhead.QueueFull); fe.MaxQueue != 2 {
			t.Fatalf("MaxQueue = %d, want the default: MaxConcurrent, 2", fe.MaxQueue)
		}
		releaseAll(ps)
		(<-w1).p.Release()
		(<-w2).p.Release()
		wantCounts(t, b, 0, 0)
	})
}

func TestQueueBoundOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const waiters = 100 // fifty times the default bound, MaxConcurrent
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 2, MaxWait: time.Minute, MaxQueue: -1})
		ps := hold(t, b, 2)
		errs := make(chan error, waiters)
		for range waiters {
			go func() {
				p, err := b.Acquire(context.Background())
				p.Release()
				errs <- err
			}()
		}
		synctest.Wait()
		wantCounts(t, b, 2, waiters)
		releaseAll(ps)
		for range waiters {
			if err := <-errs; err != nil {
				t.Fatalf("a waiter in a queue without a bound: %v", err)
			}
		}
		wantCounts(t, b, 0, 0)
		// MaxWait still bounds each wait.
		ps = hold(t, b, 2)
		start := time.Now()
		_, err := b.Acquire(context.Background())
		wantFull(t, err, "", bulkhead.WaitTimeout)
		if waited := time.Since(start); waited != time.Minute {
			t.Fatalf("waited %v, want MaxWait, 1m", waited)
		}
		releaseAll(ps)
	})
}

func TestMaxWaitIsHonouredExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu     sync.Mutex
			events []string
		)
		b := mustNew(t, bulkhead.Config{Name: "w", MaxConcurrent: 1, MaxWait: time.Second,
			Observer: &resilience.Observer{
				Admit: func(a resilience.Event) {
					mu.Lock()
					events = append(events, fmt.Sprintf("admit %s after %v", a.Policy, a.Delay))
					mu.Unlock()
				},
				Reject: func(r resilience.Event) {
					mu.Lock()
					events = append(events, fmt.Sprintf("reject %s: %v after %v", r.Policy, r.Reason, r.Delay))
					mu.Unlock()
				}}})
		ps := hold(t, b, 1)
		start := time.Now()
		w := acquireAsync(b, context.Background())
		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		if !pending(w) {
			t.Fatal("the waiter gave up before MaxWait")
		}
		wantCounts(t, b, 1, 1)
		time.Sleep(time.Nanosecond)
		r := <-w
		wantFull(t, r.err, "w", bulkhead.WaitTimeout)
		if got := r.at.Sub(start); got != time.Second {
			t.Fatalf("the waiter was rejected after %v, want exactly MaxWait, 1s", got)
		}
		if want := `bulkhead "w" is full: no slot came free within 1s`; r.err.Error() != want {
			t.Fatalf("Error() = %q, want %q", r.err.Error(), want)
		}
		wantCounts(t, b, 1, 0)

		// A slot that comes free within MaxWait is taken, and the wait is
		// reported.
		w = acquireAsync(b, context.Background())
		time.Sleep(999 * time.Millisecond)
		releaseAll(ps)
		r = <-w
		if r.err != nil {
			t.Fatalf("a slot came free within MaxWait, but: %v", r.err)
		}
		r.p.Release()
		wantCounts(t, b, 0, 0)
		mu.Lock()
		defer mu.Unlock()
		want := []string{"admit w after 0s", "reject w: wait timed out after 1s", "admit w after 999ms"}
		if fmt.Sprint(events) != fmt.Sprint(want) {
			t.Fatalf("hook events\n got %q\nwant %q", events, want)
		}
	})
}

func TestWaitersAreServedInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 20
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxQueue: n, MaxWait: time.Hour})
		ps := hold(t, b, 1)
		var (
			mu    sync.Mutex
			order []int
		)
		proceed := make([]chan struct{}, n)
		for i := range n {
			proceed[i] = make(chan struct{})
			go func() {
				err := bulkhead.Run(context.Background(), b, func(context.Context) error {
					mu.Lock()
					order = append(order, i)
					mu.Unlock()
					<-proceed[i]
					return nil
				})
				if err != nil {
					t.Errorf("waiter %d: %v", i, err)
				}
			}()
			synctest.Wait() // queued before the next one comes
		}
		wantCounts(t, b, 1, n)
		releaseAll(ps)
		for i := range n {
			synctest.Wait()
			mu.Lock()
			got := fmt.Sprint(order)
			mu.Unlock()
			if want := fmt.Sprint(seq(i + 1)); got != want {
				t.Fatalf("admitted in the order %v, want %v", got, want)
			}
			wantCounts(t, b, 1, n-i-1)
			// While the others wait, a newcomer cannot take the slot that
			// the next release hands on.
			if _, err := b.TryAcquire(); !errors.Is(err, bulkhead.ErrFull) {
				t.Fatalf("TryAcquire with %d waiting: %v; want a rejection", n-i-1, err)
			}
			close(proceed[i])
		}
		synctest.Wait()
		wantCounts(t, b, 0, 0)
	})
}

// seq returns 0, 1, ..., n-1.
func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func TestNewcomersQueueBehindWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Minute})
		ps := hold(t, b, 1)
		first := acquireAsync(b, context.Background())
		synctest.Wait()
		ps[0].Release() // handed to the first waiter, not freed
		second := acquireAsync(b, context.Background())
		synctest.Wait()
		r := <-first
		if r.err != nil {
			t.Fatal(r.err)
		}
		if !pending(second) {
			t.Fatal("a newcomer took the slot released for the waiter")
		}
		wantCounts(t, b, 1, 1)
		r.p.Release()
		r = <-second
		if r.err != nil {
			t.Fatal(r.err)
		}
		r.p.Release()
		wantCounts(t, b, 0, 0)
	})
}

var errCallerLeft = errors.New("caller left")

func TestCancelWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rejected atomic.Int32
		b := mustNew(t, bulkhead.Config{Name: "c", MaxConcurrent: 1, MaxWait: time.Minute,
			Observer: &resilience.Observer{Reject: func(resilience.Event) { rejected.Add(1) }}})
		ps := hold(t, b, 1)
		ctx, cancel := context.WithCancelCause(context.Background())
		start := time.Now()
		w := acquireAsync(b, ctx)
		time.Sleep(time.Second)
		synctest.Wait()
		wantCounts(t, b, 1, 1)
		cancel(errCallerLeft)
		r := <-w
		if !errors.Is(r.err, errCallerLeft) || errors.Is(r.err, bulkhead.ErrFull) {
			t.Fatalf("wait ended by the caller: %v; want the context's cause, not a rejection", r.err)
		}
		if want := `bulkhead "c": gave up waiting for a slot: caller left`; r.err.Error() != want {
			t.Fatalf("Error() = %q, want %q", r.err.Error(), want)
		}
		if got := r.at.Sub(start); got != time.Second {
			t.Fatalf("the wait ended %v after it began, want 1s: when the context did", got)
		}
		wantCounts(t, b, 1, 0)
		if s := b.Snapshot(); s.Abandoned != 1 || s.Rejected != 0 || rejected.Load() != 0 {
			t.Fatalf("Snapshot %+v, %d rejection hooks; want 1 abandoned wait and no rejection", s, rejected.Load())
		}
		releaseAll(ps) // the abandoned waiter must not be handed the slot
		wantCounts(t, b, 0, 0)

		// A deadline shorter than MaxWait ends the wait at the deadline.
		ps = hold(t, b, 1)
		dctx, dcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer dcancel()
		start = time.Now()
		r = <-acquireAsync(b, dctx)
		if !errors.Is(r.err, context.DeadlineExceeded) || errors.Is(r.err, bulkhead.ErrFull) || r.at.Sub(start) != 100*time.Millisecond {
			t.Fatalf("wait under a 100ms deadline: %v after %v", r.err, r.at.Sub(start))
		}
		// Nothing reached the service: a policy outside must not count it.
		if c := resilience.Classify(r.err); c != resilience.ClassIgnored {
			t.Fatalf("Classify(deadline while waiting) = %v, want ignored: the call never left", c)
		}

		// A context already done: no wait at all when the slots are taken...
		_, err := b.Acquire(ctx)
		if !errors.Is(err, errCallerLeft) || !time.Now().Equal(r.at) {
			t.Fatalf("Acquire with a canceled context: %v after %v", err, time.Since(r.at))
		}
		// ...nor when a slot is free: the caller has gone.
		releaseAll(ps)
		if p, err := b.Acquire(ctx); !errors.Is(err, errCallerLeft) || errors.Is(err, bulkhead.ErrFull) {
			p.Release()
			t.Fatalf("Acquire of a free slot with a canceled context: %v, want the context's cause", err)
		}
		if s := b.Snapshot(); s.Abandoned != 4 || s.InFlight != 0 || s.Waiting != 0 {
			t.Fatalf("Snapshot %+v; want 4 abandoned acquisitions and nothing held", s)
		}
	})
}

func TestCancelAsTheSlotIsHandedOver(t *testing.T) {
	// The caller's context ends just as a release hands it the slot: either
	// the waiter leaves first and the slot goes to the next, or it is handed
	// the slot, finds its context done, and hands it on. Either way the
	// next waiter gets the slot, and none is lost. Repeated, so that both
	// orders happen.
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxQueue: 2, MaxWait: time.Minute})
		for i := range 200 {
			ps := hold(t, b, 1)
			ctx, cancel := context.WithCancelCause(context.Background())
			first := acquireAsync(b, ctx)
			synctest.Wait()
			second := acquireAsync(b, context.Background())
			synctest.Wait()
			cancel(errCallerLeft)
			ps[0].Release()
			if r := <-first; !errors.Is(r.err, errCallerLeft) {
				t.Fatalf("round %d: the canceled waiter got %v", i, r.err)
			}
			r := <-second
			if r.err != nil {
				t.Fatalf("round %d: the second waiter got %v; the slot was lost", i, r.err)
			}
			wantCounts(t, b, 1, 0)
			r.p.Release()
			wantCounts(t, b, 0, 0)
		}
		if s := b.Snapshot(); s.Admitted != 400 || s.Abandoned != 200 {
			t.Fatalf("Snapshot %+v; want 400 admitted (held and second), 200 abandoned", s)
		}
	})
}

func TestPanicReleasesTheSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Minute})
		panics := func(f func()) (r any) {
			defer func() { r = recover() }()
			f()
			return nil
		}
		if r := panics(func() {
			bulkhead.Run(context.Background(), b, func(context.Context) error { panic("boom") })
		}); r != "boom" {
			t.Fatalf("recovered %v, want the panic to go on", r)
		}
		wantCounts(t, b, 0, 0)

		// With a caller waiting, the panicking call's slot goes to it.
		var w <-chan result
		panics(func() {
			bulkhead.Run(context.Background(), b, func(context.Context) error {
				w = acquireAsync(b, context.Background())
				synctest.Wait()
				panic("boom")
			})
		})
		r := <-w
		if r.err != nil {
			t.Fatalf("the waiter behind a panicking call: %v", r.err)
		}
		r.p.Release()
		wantCounts(t, b, 0, 0)
	})
}

func TestDoubleReleaseFreesOneSlot(t *testing.T) {
	b := mustNew(t, bulkhead.Config{MaxConcurrent: 3})
	ps := hold(t, b, 2)
	p, q := ps[0], ps[1]
	c := p // a copy: the same permit
	p.Release()
	p.Release()
	c.Release()
	wantCounts(t, b, 1, 0)

	// The permit's token may be reused for the next slot; the stale permit
	// must still not release it.
	r, err := b.TryAcquire()
	if err != nil {
		t.Fatal(err)
	}
	p.Release()
	c.Release()
	wantCounts(t, b, 2, 0)
	r.Release()
	q.Release()
	wantCounts(t, b, 0, 0)

	var zero bulkhead.Permit
	zero.Release() // holds nothing, and does not panic
	wantCounts(t, b, 0, 0)
}

func TestStaleReleaseDoesNotHandOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Minute})
		p := hold(t, b, 1)[0]
		p.Release()
		q := hold(t, b, 1)[0]
		w := acquireAsync(b, context.Background())
		synctest.Wait()
		p.Release() // stale: must not hand q's slot to the waiter
		synctest.Wait()
		if !pending(w) {
			t.Fatal("a second Release of a permit handed a slot to a waiter")
		}
		q.Release()
		r := <-w
		r.p.Release()
		wantCounts(t, b, 0, 0)
	})
}

func TestExitWithoutEnterDoesNotUnderflow(t *testing.T) {
	b := mustNew(t, bulkhead.Config{MaxConcurrent: 2})
	b.Exit(resilience.Ticket{}, resilience.Outcome{})
	wantCounts(t, b, 0, 0)
	ps := hold(t, b, 2)
	if _, err := b.TryAcquire(); !errors.Is(err, bulkhead.ErrFull) {
		t.Fatalf("third TryAcquire of 2 slots after a stray Exit: %v; want a rejection", err)
	}
	releaseAll(ps)
}

func TestGuardProtocol(t *testing.T) {
	b := mustNew(t, bulkhead.Config{MaxConcurrent: 1})
	var g resilience.Guard = b
	tk, err := g.Enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Enter(context.Background()); !errors.Is(err, bulkhead.ErrFull) {
		t.Fatalf("second Enter: %v", err)
	}
	g.Exit(tk, resilience.Outcome{Err: errDown})
	wantCounts(t, b, 0, 0)

	ran := false
	err = b.Execute(context.Background(), resilience.OperationFunc(func(context.Context) error {
		ran = true
		if b.InFlight() != 1 {
			t.Error("Execute ran the operation without a slot")
		}
		return errDown
	}))
	if !ran || err != errDown {
		t.Fatalf("Execute: ran=%v err=%v", ran, err)
	}
	if err := b.Execute(context.Background(), nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Fatalf("Execute(nil) = %v, want ErrNilFunc", err)
	}
	wantCounts(t, b, 0, 0)
}

func TestRetryAroundBulkhead(t *testing.T) {
	b := mustNew(t, bulkhead.Config{Name: "pool", MaxConcurrent: 1})
	r := retry.MustNew(retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(0)})

	// Retry outside: each attempt takes a slot and gives it back.
	attempts := 0
	err := resilience.Run(context.Background(), resilience.Compose(r, b), func(context.Context) error {
		attempts++
		if b.InFlight() != 1 {
			t.Errorf("attempt %d ran with %d in flight, want 1", attempts, b.InFlight())
		}
		if attempts < 3 {
			return errDown
		}
		return nil
	})
	if err != nil || attempts != 3 {
		t.Fatalf("Run = %v after %d attempts; want success on the third", err, attempts)
	}
	if s := b.Snapshot(); s.Admitted != 3 || s.InFlight != 0 {
		t.Fatalf("Snapshot %+v; want 3 admissions, one per attempt, and nothing held", s)
	}

	// A rejection is not retried by default.
	ps := hold(t, b, 1)
	attempts = 0
	err = resilience.Run(context.Background(), resilience.Compose(r, b), func(context.Context) error {
		attempts++
		return nil
	})
	wantFull(t, err, "pool", bulkhead.NoWait)
	if attempts != 0 || b.Snapshot().Rejected != 1 {
		t.Fatalf("%d attempts, %d rejections; want none run and one rejection, not retried", attempts, b.Snapshot().Rejected)
	}
	releaseAll(ps)

	// Retry inside: one slot held across the attempts.
	attempts = 0
	err = resilience.Run(context.Background(), resilience.Compose(b, r), func(context.Context) error {
		attempts++
		return errDown
	})
	if !errors.Is(err, errDown) || attempts != 3 {
		t.Fatalf("Run = %v after %d attempts; want the last failure after 3", err, attempts)
	}
	if s := b.Snapshot(); s.Admitted != 5 || s.InFlight != 0 { // 3 above, the held slot, and this
		t.Fatalf("Snapshot %+v; want one more admission for the three attempts", s)
	}
}

func TestObserverMayCallBack(t *testing.T) {
	var b *bulkhead.Bulkhead
	var seen []string
	b = mustNew(t, bulkhead.Config{Name: "h", MaxConcurrent: 1, Observer: &resilience.Observer{
		Admit: func(a resilience.Event) {
			s := b.Snapshot() // would deadlock if called under a lock
			seen = append(seen, fmt.Sprintf("admit %d/%d", s.InFlight, s.Admitted))
		},
		Reject: func(r resilience.Event) {
			s := b.Snapshot()
			seen = append(seen, fmt.Sprintf("reject %v %d/%d", r.Reason, s.InFlight, s.Rejected))
		}}})
	p, _ := b.TryAcquire()
	b.TryAcquire()
	p.Release()
	if want := "[admit 1/1 reject no wait allowed 1/1]"; fmt.Sprint(seen) != want {
		t.Fatalf("the observer saw %v, want %v", seen, want)
	}
}

func TestPanickingObserverLeavesTheBulkheadWorking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := resilience.ObserveAll(func(resilience.Event) { panic("observer") })
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Second, Observer: boom})
		ran := false
		if err := bulkhead.Run(context.Background(), b, func(context.Context) error { ran = true; return nil }); err != nil || !ran {
			t.Fatalf("Run = %v, ran %v; want the call run", err, ran)
		}
		wantCounts(t, b, 0, 0)
		p, err := b.Acquire(context.Background())
		if err != nil {
			t.Fatalf("Acquire = %v", err)
		}
		wantCounts(t, b, 1, 0)
		if _, err := b.TryAcquire(); !errors.Is(err, bulkhead.ErrFull) {
			t.Fatalf("TryAcquire = %v, want a rejection", err)
		}
		w := acquireAsync(b, context.Background()) // waits, then gets the slot
		synctest.Wait()
		p.Release()
		r := <-w
		if r.err != nil {
			t.Fatalf("waiter: %v", r.err)
		}
		r.p.Release()
		if _, err := b.Acquire(context.Background()); err != nil {
			t.Fatalf("Acquire after the observer's panics: %v", err)
		}
		if s := b.Snapshot(); s.InFlight != 1 || s.Admitted != 4 || s.Rejected != 1 {
			t.Fatalf("Snapshot %+v; want 1 in flight, 4 admitted, 1 rejected", s)
		}
	})
}

func TestObserverEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []resilience.Event
		b := mustNew(t, bulkhead.Config{Name: "db", MaxConcurrent: 1, MaxWait: time.Second,
			Observer: resilience.ObserveAll(func(e resilience.Event) { events = append(events, e) })})
		start := time.Now()
		ctx := context.WithValue(context.Background(), ctxKey{}, "call")
		p, _ := b.Acquire(ctx)
		w := acquireAsync(b, ctx)
		time.Sleep(300 * time.Millisecond)
		p.Release()
		r := <-w
		w = acquireAsync(b, ctx)
		time.Sleep(2 * time.Second)
		r.p.Release()
		r2 := <-w
		var log []string
		for _, e := range events {
			log = append(log, fmt.Sprintf("%v %v %s at %v after %v (%s) %v", e.Type, e.Kind, e.Policy, e.Time.Sub(start), e.Delay, e.Reason, e.Context.Value(ctxKey{})))
		}
		want := "[admit bulkhead db at 0s after 0s () call admit bulkhead db at 300ms after 300ms () call reject bulkhead db at 1.3s after 1s (wait timed out) call]"
		if got := fmt.Sprint(log); got != want {
			t.Fatalf("events\n%s\nwant\n%s", got, want)
		}
		if events[2].Err != r2.err {
			t.Errorf("rejection event's Err = %v, want the rejection %v", events[2].Err, r2.err)
		}
	})
}

func TestNilBulkhead(t *testing.T) {
	var b *bulkhead.Bulkhead
	ctx := context.Background()
	ran := false
	fn := func(context.Context) error { ran = true; return nil }
	if err := bulkhead.Run(ctx, b, fn); err == nil || ran {
		t.Fatalf("Run on a nil bulkhead: err=%v ran=%v; want an error and no call", err, ran)
	}
	if _, err := bulkhead.Do(ctx, b, func(context.Context) (int, error) { return 1, nil }); err == nil {
		t.Fatal("Do on a nil bulkhead returned no error")
	}
	if err := b.Execute(ctx, resilience.OperationFunc(fn)); err == nil || ran {
		t.Fatalf("Execute on a nil bulkhead: %v", err)
	}
	if err := resilience.Run(ctx, resilience.Compose(b), fn); err == nil || ran {
		t.Fatalf("resilience.Run through a nil bulkhead: %v", err)
	}
	if _, err := b.Acquire(ctx); err == nil {
		t.Fatal("Acquire on a nil bulkhead returned no error")
	}
	if _, err := b.TryAcquire(); err == nil {
		t.Fatal("TryAcquire on a nil bulkhead returned no error")
	}
	if _, err := b.Enter(ctx); err == nil {
		t.Fatal("Enter on a nil bulkhead returned no error")
	}
	b.Exit(resilience.Ticket{}, resilience.Outcome{})
	if b.InFlight() != 0 || b.Waiting() != 0 || b.Name() != "" || b.Snapshot() != (bulkhead.Snapshot{}) {
		t.Fatal("a nil bulkhead reports something")
	}
	for _, err := range []error{bulkhead.Run(ctx, b, fn), func() error { _, err := b.Acquire(ctx); return err }()} {
		if !strings.HasPrefix(err.Error(), "bulkhead: ") {
			t.Errorf("error %q is not prefixed with the package name", err)
		}
	}
}

func TestNilArguments(t *testing.T) {
	b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Second})
	if err := bulkhead.Run(context.Background(), b, nil); !errors.Is(err, resilience.ErrNilFunc) {
		t.Errorf("Run(nil fn) = %v", err)
	}
	if _, err := b.Acquire(nil); !errors.Is(err, resilience.ErrNilContext) { //nolint:staticcheck // on purpose
		t.Errorf("Acquire(nil) = %v", err)
	}
	p := hold(t, b, 1)[0]
	if _, err := b.Enter(nil); !errors.Is(err, resilience.ErrNilContext) { //nolint:staticcheck // on purpose
		t.Errorf("Enter(nil) on a full bulkhead that waits = %v", err)
	}
	p.Release()
	wantCounts(t, b, 0, 0)
}

func TestNewRejectsNonsense(t *testing.T) {
	for _, tc := range []struct {
		cfg  bulkhead.Config
		want string
	}{
		{bulkhead.Config{MaxConcurrent: -1}, "bulkhead: MaxConcurrent is negative: -1"},
		{bulkhead.Config{MaxConcurrent: 1 << 31}, "bulkhead: MaxConcurrent is above 2147483647: 2147483648"},
		{bulkhead.Config{MaxQueue: -3}, "bulkhead: MaxQueue is set but MaxWait is not: with no wait allowed, nobody queues"},
		{bulkhead.Config{MaxQueue: 1 << 31, MaxWait: time.Second}, "bulkhead: MaxQueue is above 2147483647: 2147483648"},
		{bulkhead.Config{MaxWait: -time.Second}, "bulkhead: MaxWait is negative: -1s"},
		{bulkhead.Config{MaxQueue: 5}, "bulkhead: MaxQueue is set but MaxWait is not: with no wait allowed, nobody queues"},
	} {
		b, err := bulkhead.New(tc.cfg)
		if err == nil || b != nil || err.Error() != tc.want {
			t.Errorf("New(%+v) = %v, %v; want the error %q", tc.cfg, b, err, tc.want)
		}
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("MustNew(%+v) did not panic", tc.cfg)
				}
			}()
			bulkhead.MustNew(tc.cfg)
		}()
	}
	for _, cfg := range []bulkhead.Config{
		{},
		{MaxConcurrent: 1},
		{MaxConcurrent: 1<<31 - 1, MaxQueue: 1<<31 - 1, MaxWait: time.Hour},
		{MaxQueue: -1, MaxWait: time.Hour},
		{MaxWait: time.Duration(1<<63 - 1)},
	} {
		if _, err := bulkhead.New(cfg); err != nil {
			t.Errorf("New(%+v) = %v, want a valid bulkhead", cfg, err)
		}
	}
}

func TestErrorTexts(t *testing.T) {
	for _, tc := range []struct {
		err  *bulkhead.Error
		want string
	}{
		{&bulkhead.Error{}, "bulkhead is full"},
		{&bulkhead.Error{Name: "db", MaxConcurrent: 1}, `bulkhead "db" is full: 1 call in flight`},
		{&bulkhead.Error{Reason: bulkhead.QueueFull}, "bulkhead is full: its queue is full"},
		{&bulkhead.Error{Reason: bulkhead.QueueFull, MaxConcurrent: 4, MaxQueue: 1}, "bulkhead is full: 4 calls in flight, 1 waiting"},
		{&bulkhead.Error{Reason: bulkhead.WaitTimeout, MaxWait: 250 * time.Millisecond}, "bulkhead is full: no slot came free within 250ms"},
		{&bulkhead.Error{Reason: 9}, "bulkhead is full (Reason(9))"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%+v: Error() = %q, want %q", tc.err, got, tc.want)
		}
		if !errors.Is(tc.err, bulkhead.ErrFull) || errors.Is(tc.err, errDown) {
			t.Errorf("%+v does not match ErrFull alone", tc.err)
		}
	}
	for r, want := range map[bulkhead.Reason]string{bulkhead.NoWait: "no wait allowed", bulkhead.QueueFull: "queue full", bulkhead.WaitTimeout: "wait timed out", 7: "Reason(7)"} {
		if r.String() != want {
			t.Errorf("Reason(%d).String() = %q, want %q", r, r.String(), want)
		}
	}
}

func TestNoAllocations(t *testing.T) {
	ctx := context.Background()
	ok := func(context.Context) (int, error) { return 1, nil }
	okErr := func(context.Context) error { return nil }
	free := mustNew(t, bulkhead.Config{})
	waits := mustNew(t, bulkhead.Config{MaxWait: time.Hour})
	hooked := mustNew(t, bulkhead.Config{Observer: resilience.ObserveAll(func(resilience.Event) {})})
	fullHooked := mustNew(t, bulkhead.Config{MaxConcurrent: 1, Observer: resilience.ObserveAll(func(resilience.Event) {})})
	hold(t, fullHooked, 1)
	full := mustNew(t, bulkhead.Config{MaxConcurrent: 1})
	hold(t, full, 1)
	composed := resilience.Compose(retry.MustNew(retry.Config{}), mustNew(t, bulkhead.Config{}))

	// A full queue: one slot, one caller waiting on it for the test.
	queueFull := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxQueue: 1, MaxWait: time.Hour})
	held := hold(t, queueFull, 1)
	waiter := acquireAsync(queueFull, ctx)
	for queueFull.Waiting() != 1 {
		runtime.Gosched() // until the goroutine has queued
	}
	defer func() {
		releaseAll(held)
		(<-waiter).p.Release()
	}()

	for name, f := range map[string]func(){
		"Do":                  func() { bulkhead.Do(ctx, free, ok) },
		"Run":                 func() { bulkhead.Run(ctx, free, okErr) },
		"Do, wait allowed":    func() { bulkhead.Do(ctx, waits, ok) },
		"Do, observer":        func() { bulkhead.Do(ctx, hooked, ok) },
		"rejection, observer": func() { bulkhead.Do(ctx, fullHooked, ok) },
		"resilience.Do":       func() { resilience.Do(ctx, free, ok) },
		"Compose(retry, bh)":  func() { resilience.Do(ctx, composed, ok) },
		"Acquire":             func() { p, _ := free.Acquire(ctx); p.Release() },
		"TryAcquire":          func() { p, _ := free.TryAcquire(); p.Release() },
		"rejection":           func() { bulkhead.Do(ctx, full, ok) },
		"TryAcquire rejection": func() {
			full.TryAcquire()
		},
		"queue-full rejection": func() { bulkhead.Do(ctx, queueFull, ok) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}

func TestObserverRunsOutsideTheLock(t *testing.T) {
	// An observer that releases slots while callers wait: the releases hand
	// the slots on, which takes the bulkhead's lock, so an observer called
	// under it would deadlock.
	synctest.Test(t, func(t *testing.T) {
		var p1, p2 bulkhead.Permit
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 2, MaxQueue: 3, MaxWait: time.Second,
			Observer: &resilience.Observer{
				Reject: func(r resilience.Event) {
					if r.Reason == bulkhead.WaitTimeout.String() {
						p2.Release()
					}
				},
				Admit: func(a resilience.Event) {
					if a.Delay > 0 {
						p1.Release()
					}
				}}})
		ps := hold(t, b, 2)
		p1, p2 = ps[0], ps[1]
		start := time.Now()
		a := acquireAsync(b, context.Background())
		time.Sleep(500 * time.Millisecond)
		bw := acquireAsync(b, context.Background())
		time.Sleep(100 * time.Millisecond)
		c := acquireAsync(b, context.Background())
		// At 1s, A times out; its event hands p2's slot to B, and B's
		// hands p1's to C.
		if r := <-a; !errors.Is(r.err, bulkhead.ErrFull) || r.at.Sub(start) != time.Second {
			t.Fatalf("A: %v at %v; want a timeout at 1s", r.err, r.at.Sub(start))
		}
		for name, w := range map[string]<-chan result{"B": bw, "C": c} {
			r := <-w
			if r.err != nil || r.at.Sub(start) != time.Second {
				t.Fatalf("%s: %v at %v; want a slot at 1s", name, r.err, r.at.Sub(start))
			}
			r.p.Release()
		}
		wantCounts(t, b, 0, 0)
	})
}

func TestSlotFreedAsTheCallerQueuesIsTaken(t *testing.T) {
	// A slot comes free, with nobody waiting, between the lock-free attempt
	// and the queue: the caller must take it at once, not queue while it
	// sits idle.
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Minute})
		p := hold(t, b, 1)[0]
		defer bulkhead.SetTestHookBeforeQueue(p.Release)()
		start := time.Now()
		q, err := b.Acquire(context.Background())
		if err != nil || !time.Now().Equal(start) {
			t.Fatalf("Acquire = %v after %v; want the freed slot at once", err, time.Since(start))
		}
		wantCounts(t, b, 1, 0)
		q.Release()
		wantCounts(t, b, 0, 0)
	})
}

type ctxKey struct{}

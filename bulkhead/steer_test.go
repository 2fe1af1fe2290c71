package bulkhead_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/bulkhead"
)

func TestShadowBulkheadNeverBlocks(t *testing.T) {
	// In a synctest bubble, a call that blocked for good would fail the
	// test as a deadlock.
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var rejects []resilience.Event
		obs := &resilience.Observer{Reject: func(e resilience.Event) { mu.Lock(); rejects = append(rejects, e); mu.Unlock() }}
		cfg := bulkhead.Config{Name: "db", MaxConcurrent: 1, Shadow: true, Observer: obs}
		b := mustNew(t, cfg)
		ctx := context.Background()
		var ps []bulkhead.Permit
		for range 3 {
			p, err := b.Acquire(ctx)
			if err != nil {
				t.Fatalf("Acquire in shadow = %v, want a slot", err)
			}
			ps = append(ps, p)
		}
		if p, err := b.TryAcquire(); err != nil {
			t.Fatalf("TryAcquire in shadow = %v, want a slot", err)
		} else {
			ps = append(ps, p)
		}
		if len(rejects) != 3 {
			t.Fatalf("%d Reject events, want 3", len(rejects))
		}
		for _, e := range rejects {
			if !e.Shadow || e.Reason != "no wait allowed" || !errors.Is(e.Err, bulkhead.ErrFull) {
				t.Fatalf("Reject event %+v; want a shadow no-wait rejection", e)
			}
		}
		s := b.Snapshot()
		if !s.Shadow || s.InFlight != 4 || s.MaxConcurrent != 1 || s.ShadowRejected != 3 || s.Rejected != 0 || s.Admitted != 4 {
			t.Fatalf("Snapshot %+v; want 4 in flight over 1 slot, 3 shadow rejections, none real", s)
		}

		// Turned on live: the calls in flight run on, new ones are
		// rejected until fewer than the limit are in flight.
		cfg.Shadow = false
		if err := b.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := b.TryAcquire(); err == nil {
				t.Fatalf("TryAcquire with %d in flight over 1 slot succeeded", 4-i)
			}
			ps[i].Release()
		}
		if _, err := b.TryAcquire(); err == nil {
			t.Fatal("TryAcquire with the one slot taken succeeded")
		}
		ps[3].Release()
		p, err := b.TryAcquire()
		if err != nil {
			t.Fatalf("TryAcquire with the slot free = %v", err)
		}
		p.Release()
		if s := b.Snapshot(); s.Shadow || s.Rejected != 4 || s.InFlight != 0 {
			t.Fatalf("Snapshot %+v; want 4 real rejections, none in flight", s)
		}
	})
}

func TestShadowBulkheadWithAQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rejected []string
		obs := &resilience.Observer{Reject: func(e resilience.Event) {
			if !e.Shadow {
				t.Errorf("a real rejection in shadow: %+v", e)
			}
			rejected = append(rejected, e.Reason)
		}}
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Second, MaxQueue: 2, Shadow: true, Observer: obs})
		// One call takes the slot, two would have queued, the fourth finds
		// the queue full: every one goes at once.
		start := time.Now()
		for range 4 {
			if _, err := b.Acquire(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if time.Since(start) != 0 {
			t.Fatalf("shadow calls waited %v", time.Since(start))
		}
		if len(rejected) != 1 || rejected[0] != "queue full" {
			t.Fatalf("rejections %v; want one queue full", rejected)
		}
		if s := b.Snapshot(); s.InFlight != 4 || s.Waiting != 0 || s.ShadowRejected != 1 {
			t.Fatalf("Snapshot %+v", s)
		}
	})
}

func TestReconfigureHandsNewSlotsToWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Minute, MaxQueue: 5}
		b := mustNew(t, cfg)
		ps := hold(t, b, 1)
		ctx := context.Background()
		var ws []<-chan result
		for range 3 { // one by one, so that they queue in this order
			ws = append(ws, acquireAsync(b, ctx))
			synctest.Wait()
		}
		w1, w2, w3 := ws[0], ws[1], ws[2]
		wantCounts(t, b, 1, 3)
		cfg.MaxConcurrent = 3
		if err := b.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		wantCounts(t, b, 3, 1)
		if pending(w1) || pending(w2) || !pending(w3) {
			t.Fatal("the first two waiters did not get the new slots, first come first served")
		}
		// Shadow on: the last waiter goes at once.
		cfg.Shadow = true
		if err := b.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		wantCounts(t, b, 4, 0)
		for _, c := range []<-chan result{w1, w2, w3} {
			r := <-c
			if r.err != nil {
				t.Fatal(r.err)
			}
			r.p.Release()
		}
		releaseAll(ps)
		wantCounts(t, b, 0, 0)
	})
}

func TestReconfigureLowersTheLimitWithoutCuttingCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := bulkhead.Config{MaxConcurrent: 3, MaxWait: time.Minute}
		b := mustNew(t, cfg)
		ps := hold(t, b, 3)
		cfg.MaxConcurrent = 1
		if err := b.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		w := acquireAsync(b, context.Background())
		synctest.Wait()
		wantCounts(t, b, 3, 1)
		ps[0].Release()
		synctest.Wait()
		wantCounts(t, b, 2, 1) // the slot was not handed on: 2 are still over 1
		ps[1].Release()
		synctest.Wait()
		wantCounts(t, b, 1, 1)
		if !pending(w) {
			t.Fatal("the waiter got a slot while the limit was reached")
		}
		ps[2].Release()
		synctest.Wait()
		wantCounts(t, b, 1, 0)
		r := <-w
		if r.err != nil {
			t.Fatal(r.err)
		}
		r.p.Release()
		wantCounts(t, b, 0, 0)
		if got := b.Snapshot().MaxConcurrent; got != 1 {
			t.Fatalf("Snapshot().MaxConcurrent = %d, want 1", got)
		}
	})
}

func TestReconfigureRejectsWhatNewRejects(t *testing.T) {
	cfg := bulkhead.Config{Name: "db", MaxConcurrent: 2}
	b := mustNew(t, cfg)
	for _, bad := range []bulkhead.Config{{MaxConcurrent: -1}, {MaxQueue: 3}, {MaxWait: -1}} {
		_, want := bulkhead.New(bad)
		if err := b.Reconfigure(bad); err == nil || err.Error() != want.Error() {
			t.Errorf("Reconfigure(%+v) = %v; want New's error %v", bad, err, want)
		}
		if b.Config() != cfg {
			t.Fatalf("an invalid config changed the bulkhead: %+v", b.Config())
		}
	}
	if got := b.Config().WithDefaults(); got.MaxConcurrent != 2 || got.MaxQueue != 0 {
		t.Fatalf("WithDefaults = %+v", got)
	}
	if got := (bulkhead.Config{MaxWait: time.Second}).WithDefaults(); got.MaxConcurrent != 10 || got.MaxQueue != 10 {
		t.Fatalf("WithDefaults = %+v; want 10 slots and a queue of 10", got)
	}
	var nilB *bulkhead.Bulkhead
	if err := nilB.Reconfigure(cfg); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Fatalf("Reconfigure on nil = %v", err)
	}
}

// TestReconfigureWhileCallsRun swaps configurations while calls run, for
// the race detector, and checks that no slot is lost or made up.
func TestReconfigureWhileCallsRun(t *testing.T) {
	cfgs := []bulkhead.Config{
		{MaxConcurrent: 2},
		{MaxConcurrent: 1, MaxWait: time.Millisecond},
		{MaxConcurrent: 3, Shadow: true},
		{MaxConcurrent: 4, MaxWait: time.Millisecond, MaxQueue: -1},
	}
	b := mustNew(t, cfgs[0])
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 300 {
				err := bulkhead.Run(context.Background(), b, func(context.Context) error { return nil })
				if err != nil && !errors.Is(err, bulkhead.ErrFull) {
					t.Errorf("Run = %v", err)
				}
			}
		})
	}
	for i := range 200 {
		if err := b.Reconfigure(cfgs[i%len(cfgs)]); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	wantCounts(t, b, 0, 0)
	s := b.Snapshot()
	if s.Admitted+s.Rejected != 4*300 {
		t.Fatalf("Snapshot %+v: admitted and rejected do not add up to 1200", s)
	}
}

func TestShadowAdmissionAllocatesNothing(t *testing.T) {
	b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, Shadow: true, Observer: &resilience.Observer{Reject: func(resilience.Event) {}}})
	ps := hold(t, b, 1)
	defer releaseAll(ps)
	ok := func(context.Context) error { return nil }
	if n := testing.AllocsPerRun(1000, func() { bulkhead.Run(context.Background(), b, ok) }); n != 0 {
		t.Errorf("a shadow admission over the limit: %v allocations, want 0", n)
	}
}

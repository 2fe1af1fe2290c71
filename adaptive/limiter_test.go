package adaptive_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/bulkhead"
)

func TestNewRejectsNonsense(t *testing.T) {
	for _, c := range []struct {
		cfg  adaptive.Config
		want string
	}{
		{adaptive.Config{Algorithm: 7}, "unknown Algorithm"},
		{adaptive.Config{Min: -1}, "negative"},
		{adaptive.Config{Max: 1 << 31}, "at most"},
		{adaptive.Config{Min: 10, Max: 5}, "Min 10 is above Max 5"},
		{adaptive.Config{Initial: 50, Min: 1, Max: 10}, "Initial 50 is outside"},
		{adaptive.Config{MaxWait: -time.Second}, "MaxWait is negative"},
		{adaptive.Config{MaxQueue: 3}, "MaxQueue is set but MaxWait is not"},
		{adaptive.Config{Shares: [4]float64{0.5}}, "Shares is set but Priorities is not"},
		{adaptive.Config{Priorities: true, Shares: [4]float64{0.5, 1.5}}, "Shares[1] must lie in (0, 1]"},
		{adaptive.Config{Priorities: true, Shares: [4]float64{0.8, 0.6}}, "Shares[1] is below Shares[0]"},
		{adaptive.Config{AIMD: adaptive.AIMDConfig{Backoff: 1}}, "AIMD.Backoff"},
		{adaptive.Config{AIMD: adaptive.AIMDConfig{Increase: -1}}, "AIMD.Increase"},
		{adaptive.Config{AIMD: adaptive.AIMDConfig{Timeout: -1}}, "AIMD.Timeout"},
		{adaptive.Config{Gradient: adaptive.GradientConfig{Tolerance: 0.5}}, "Tolerance"},
		{adaptive.Config{Gradient: adaptive.GradientConfig{Tolerance: 2}}, "Tolerance"},
		{adaptive.Config{Gradient: adaptive.GradientConfig{Smoothing: 1.5}}, "Smoothing"},
		{adaptive.Config{Gradient: adaptive.GradientConfig{Window: -1}}, "Window is negative"},
		{adaptive.Config{Gradient: adaptive.GradientConfig{MinSamples: 20, WindowSamples: 10}}, "MinSamples 20 is above WindowSamples 10"},
		{adaptive.Config{Gradient: adaptive.GradientConfig{Window: time.Minute, BaselinePeriod: time.Second}}, "shorter than Window"},
	} {
		l, err := adaptive.New(c.cfg)
		if err == nil || l != nil || !strings.HasPrefix(err.Error(), "adaptive: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, %v; want an error with %q", c.cfg, l, err, c.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	d := adaptive.Config{}.WithDefaults()
	if d.Initial != 20 || d.Min != 1 || d.Max != 1000 || d.AIMD.Backoff != 0.9 || d.Gradient.Window != 100*time.Millisecond || d.Classify == nil {
		t.Fatalf("WithDefaults: %+v", d)
	}
	if d := (adaptive.Config{Initial: 5000}).WithDefaults(); d.Max != 5000 {
		t.Fatalf("Max for Initial 5000: %d, want 5000", d.Max)
	}
	if d := (adaptive.Config{Max: 5}).WithDefaults(); d.Initial != 5 {
		t.Fatalf("Initial for Max 5: %d, want 5", d.Initial)
	}
	l := mustNew(t, adaptive.Config{})
	if l.Limit() != 20 || l.Snapshot().Algorithm != adaptive.AIMD {
		t.Fatalf("Config{}: %+v", l.Snapshot())
	}
}

func TestRejectionMatchesBulkheadFull(t *testing.T) {
	l := mustNew(t, adaptive.Config{Name: "api", Min: 1, Max: 1, Initial: 1})
	p, _ := l.TryAcquire()
	defer p.Release(resilience.Outcome{})
	err := adaptive.Run(context.Background(), l, func(context.Context) error { return nil })
	if !errors.Is(err, adaptive.ErrLimited) || !errors.Is(err, bulkhead.ErrFull) {
		t.Fatalf("rejection %v, want it to match ErrLimited and bulkhead.ErrFull", err)
	}
	if resilience.Classify(err) != resilience.ClassIgnored {
		t.Fatalf("a rejection classifies as %v, want ignored", resilience.Classify(err))
	}
	if got, want := err.Error(), `adaptive limit "api" reached: no wait allowed`; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
}

func TestPrioritiesShedTheLowFirst(t *testing.T) {
	// A limit of 10 with the default shares: low calls fit while fewer than
	// 5 are in flight, normal 7, high 9, critical 10.
	l := mustNew(t, adaptive.Config{Min: 10, Max: 10, Initial: 10, Priorities: true})
	var held []adaptive.Permit
	defer func() {
		for _, p := range held {
			p.Release(resilience.Outcome{})
		}
	}()
	fill := func(p adaptive.Priority, upTo int) {
		t.Helper()
		for l.InFlight() < upTo {
			q, err := l.TryAcquireAt(time.Now(), p)
			if err != nil {
				t.Fatalf("%v call with %d in flight: %v", p, l.InFlight(), err)
			}
			held = append(held, q)
		}
		_, err := l.TryAcquireAt(time.Now(), p)
		var e *adaptive.Error
		if !errors.As(err, &e) || e.Priority != p {
			t.Fatalf("%v call with %d in flight: %v, want a rejection", p, upTo, err)
		}
	}
	fill(adaptive.Low, 5)
	fill(adaptive.Normal, 7)
	fill(adaptive.High, 9)
	fill(adaptive.Critical, 10)

	// Through a context, too.
	ctx := adaptive.WithPriority(context.Background(), adaptive.Low)
	if _, err := l.Acquire(ctx); !strings.Contains(err.Error(), "(priority low)") {
		t.Fatalf("a low call: %v", err)
	}
}

func TestWaitersOfHigherPriorityGoFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(t, adaptive.Config{Min: 1, Max: 1, Initial: 1, MaxWait: time.Hour, MaxQueue: -1, Priorities: true, Shares: [4]float64{1, 1, 1, 1}})
		held, _ := l.TryAcquire()
		order := make(chan adaptive.Priority, 3)
		for _, p := range []adaptive.Priority{adaptive.Low, adaptive.Normal, adaptive.Low, adaptive.Critical} {
			go func() {
				q, err := l.Acquire(adaptive.WithPriority(context.Background(), p))
				if err != nil {
					t.Errorf("%v: %v", p, err)
					return
				}
				time.Sleep(time.Second)
				order <- p
				q.Release(resilience.Outcome{})
			}()
			synctest.Wait() // queued
		}
		held.Release(resilience.Outcome{})
		var got []adaptive.Priority
		for range 4 {
			got = append(got, <-order)
		}
		want := []adaptive.Priority{adaptive.Critical, adaptive.Normal, adaptive.Low, adaptive.Low}
		if !slices.Equal(got, want) {
			t.Fatalf("admitted in the order %v, want %v", got, want)
		}
	})
}

func TestPriorityFrom(t *testing.T) {
	if p := adaptive.PriorityFrom(context.Background()); p != adaptive.Normal {
		t.Fatalf("no priority: %v", p)
	}
	if p := adaptive.PriorityFrom(adaptive.WithPriority(context.Background(), 200)); p != adaptive.Critical {
		t.Fatalf("priority 200: %v, want critical", p)
	}
	if s := adaptive.Priority(9).String(); s != "Priority(9)" {
		t.Fatal(s)
	}
}

func TestShadowAdmitsAndReports(t *testing.T) {
	var shadowed int
	l := mustNew(t, adaptive.Config{Min: 2, Max: 2, Initial: 2, Shadow: true,
		Observer: &resilience.Observer{Reject: func(e resilience.Event) {
			if e.Shadow && errors.Is(e.Err, adaptive.ErrLimited) {
				shadowed++
			}
		}}})
	var ps []adaptive.Permit
	for range 5 {
		p, err := l.TryAcquire()
		if err != nil {
			t.Fatalf("shadow mode rejected: %v", err)
		}
		ps = append(ps, p)
	}
	if s := l.Snapshot(); s.InFlight != 5 || s.ShadowRejected != 3 || s.Rejected != 0 || shadowed != 3 || !s.Shadow {
		t.Fatalf("snapshot %+v, %d shadow events; want 5 in flight, 3 would-be rejections", s, shadowed)
	}
	for _, p := range ps {
		p.Release(resilience.Outcome{})
		p.Release(resilience.Outcome{}) // a second release does nothing
	}
	if l.InFlight() != 0 {
		t.Fatalf("in flight %d after release", l.InFlight())
	}
}

func TestOutcomesTeachTheLimit(t *testing.T) {
	permanent := resilience.Permanent(errors.New("bad request"))
	for _, c := range []struct {
		name string
		o    resilience.Outcome
		want int // the limit after, from 10
	}{
		{"success", resilience.Outcome{}, 10},
		{"transient failure: a drop", resilience.Outcome{Err: resilience.Transient(errors.New("reset"))}, 5},
		{"deadline: a drop", resilience.Outcome{Err: context.DeadlineExceeded}, 5},
		{"permanent failure: an answer", resilience.Outcome{Err: permanent}, 10},
		{"canceled: nothing", resilience.Outcome{Err: resilience.Transient(errors.New("x")), Canceled: true}, 10},
		{"panicked: nothing", resilience.Outcome{Panicked: true}, 10},
		{"local rejection: nothing", resilience.Outcome{Err: &bulkhead.Error{}}, 10},
	} {
		l := mustNew(t, adaptive.Config{Initial: 10, AIMD: adaptive.AIMDConfig{Backoff: 0.5}})
		p, _ := l.TryAcquireAt(t0, adaptive.Normal)
		p.ReleaseAt(t0.Add(time.Millisecond), c.o)
		if got := l.Limit(); got != c.want {
			t.Errorf("%s: limit %d, want %d", c.name, got, c.want)
		}
	}
}

func TestLimitChangesAreReportedAtMostOnceASecond(t *testing.T) {
	var changes []resilience.Event
	l := mustNew(t, adaptive.Config{Name: "api", Initial: 100, Observer: &resilience.Observer{
		StateChange: func(e resilience.Event) { changes = append(changes, e) },
	}})
	drop := func(d time.Duration) {
		p, _ := l.TryAcquireAt(at(d), adaptive.Normal)
		p.ReleaseAt(at(d+time.Millisecond), resilience.Outcome{Err: context.DeadlineExceeded})
	}
	drop(0)                      // 100 → 90: reported at once
	drop(100 * time.Millisecond) // → 81: within the second, not reported
	drop(200 * time.Millisecond) // → 72
	drop(1500 * time.Millisecond)
	if len(changes) != 2 {
		t.Fatalf("%d StateChange events, want 2: %+v", len(changes), changes)
	}
	e := changes[0]
	if e.Kind != resilience.KindAdaptive || e.Policy != "api" || e.From != "100" || e.To != "90" || e.Attempt != 90 || !e.Time.Equal(at(time.Millisecond)) {
		t.Fatalf("first change %+v", e)
	}
	if e := changes[1]; e.From != "90" || e.To != "65" || e.Shadow {
		t.Fatalf("second change %+v, want 90 to 65, not in shadow", e)
	}

	// A shadow limiter's changes say so, for a dashboard to tell them apart.
	changes = nil
	cfg := l.Config()
	cfg.Shadow = true
	if err := l.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	drop(3 * time.Second)
	if len(changes) != 1 || !changes[0].Shadow {
		t.Fatalf("a shadow limiter's change: %+v, want one with Shadow set", changes)
	}
}

func TestNilLimiter(t *testing.T) {
	var l *adaptive.Limiter
	if _, err := l.Enter(context.Background()); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Fatalf("Enter: %v", err)
	}
	if _, err := l.Acquire(context.Background()); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Fatalf("Acquire: %v", err)
	}
	if _, err := l.TryAcquire(); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Fatalf("TryAcquire: %v", err)
	}
	if _, err := l.TryAcquireAt(t0, adaptive.Low); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Fatalf("TryAcquireAt: %v", err)
	}
	if err := adaptive.Run(context.Background(), l, func(context.Context) error { return nil }); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Fatalf("Run: %v", err)
	}
	l.Exit(resilience.Ticket{}, resilience.Outcome{})
	l.RecordAt(t0, time.Second, 1, true)
	if l.Limit() != 0 || l.InFlight() != 0 || l.Waiting() != 0 || l.Name() != "" || l.Snapshot() != (adaptive.Snapshot{}) {
		t.Fatal("a nil limiter reported state")
	}
	adaptive.Permit{}.Release(resilience.Outcome{})
	adaptive.Permit{}.ReleaseAt(t0, resilience.Outcome{})
}

func TestAcquireWithADoneContext(t *testing.T) {
	l := mustNew(t, adaptive.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Acquire(ctx); !errors.Is(err, context.Canceled) || errors.Is(err, adaptive.ErrLimited) {
		t.Fatalf("Acquire with a done context: %v", err)
	}
	if l.InFlight() != 0 {
		t.Fatal("a done context took room")
	}
}

func TestAdmittedCallAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	for _, alg := range algorithms {
		l := mustNew(t, adaptive.Config{Algorithm: alg, Priorities: true, MaxWait: time.Second})
		for name, f := range map[string]func(){
			"Do":                 func() { adaptive.Do(ctx, l, fn) },
			"TryAcquire+Release": func() { p, _ := l.TryAcquire(); p.Release(resilience.Outcome{}) },
			"Acquire+Release":    func() { p, _ := l.Acquire(ctx); p.Release(resilience.Outcome{}) },
		} {
			if n := testing.AllocsPerRun(1000, f); n != 0 {
				t.Errorf("%v %s: %v allocations, want 0", alg, name, n)
			}
		}
	}
	full := mustNew(t, adaptive.Config{Min: 1, Max: 1, Initial: 1})
	p, _ := full.TryAcquire()
	defer p.Release(resilience.Outcome{})
	if n := testing.AllocsPerRun(1000, func() { full.TryAcquire() }); n != 0 {
		t.Errorf("a rejection: %v allocations, want 0", n)
	}
}

package pace_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/pace"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func requests(remaining int64, reset time.Duration) pace.Quota {
	return pace.Quota{Requests: pace.Limit{Remaining: remaining, Reset: reset, Known: true}}
}

func mustNew(t *testing.T, cfg pace.Config) *pace.Pacer {
	t.Helper()
	p, err := pace.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// reserve reserves a call at now and returns its delay, failing the test on
// a rejection.
func reserve(t *testing.T, p *pace.Pacer, key string, tokens int64, now time.Time) pace.Reservation {
	t.Helper()
	r, err := p.ReserveAt(key, tokens, now, time.Time{})
	if err != nil {
		t.Fatalf("ReserveAt(%q, %d, %v): %v", key, tokens, now.Sub(t0), err)
	}
	return r
}

// The remaining requests are spread evenly until the reset; a call past
// them waits for the reset; once the reset has come, nothing holds calls
// back until an answer speaks again.
func TestSpreadsTheRemainingUntilTheReset(t *testing.T) {
	p := mustNew(t, pace.Config{})
	p.UpdateAt("h", requests(10, 10*time.Second), t0)
	for i := range 10 {
		r := reserve(t, p, "h", 0, t0)
		if want := time.Duration(i) * time.Second; r.Delay() != want || !r.Time().Equal(at(want)) {
			t.Fatalf("call %d: delay %v, time %v; want %v", i, r.Delay(), r.Time().Sub(t0), want)
		}
	}
	if r := reserve(t, p, "h", 0, t0); r.Delay() != 10*time.Second {
		t.Fatalf("call past the remaining: delay %v, want the reset, 10s", r.Delay())
	}
	if d := p.DelayAt("h", 0, at(10*time.Second)); d != 0 {
		t.Fatalf("at the reset: delay %v, want none", d)
	}
	if d := p.DelayAt("other", 0, t0); d != 0 {
		t.Fatalf("a key no answer spoke of: delay %v, want none", d)
	}
}

// A caller who comes back after its turn goes at once, and the next waits a
// spacing after it, not after the turn it missed.
func TestIdleCallerGoesAtOnce(t *testing.T) {
	p := mustNew(t, pace.Config{})
	p.UpdateAt("h", requests(4, 8*time.Second), t0)
	steps := []struct {
		now, delay time.Duration
	}{
		{0, 0},
		{0, 2 * time.Second},
		{5 * time.Second, 0},
		{5 * time.Second, 2 * time.Second},
		{5 * time.Second, 3 * time.Second}, // past the 4: until the reset at 8s
	}
	for i, s := range steps {
		if r := reserve(t, p, "h", 0, at(s.now)); r.Delay() != s.delay {
			t.Fatalf("step %d at %v: delay %v, want %v", i, s.now, r.Delay(), s.delay)
		}
	}
}

// Tokens are paced by the cost a call is counted for: the caller's, or the
// average learned from the answers, or Config.Tokens; the slower dimension
// sets the turn.
func TestTokensAndTheEstimate(t *testing.T) {
	p := mustNew(t, pace.Config{Tokens: 50})
	if got := p.Estimate("h"); got != 50 {
		t.Fatalf("Estimate before any answer = %d, want Config.Tokens, 50", got)
	}
	q := pace.Quota{
		Requests: pace.Limit{Limit: 100, Remaining: 90, Reset: 10 * time.Second, Known: true},
		Tokens:   pace.Limit{Limit: 10000, Remaining: 8000, Reset: 10 * time.Second, Known: true},
	}
	p.UpdateAt("h", q, t0)
	// 2000 tokens over 10 requests: 200 a call.
	if got := p.Estimate("h"); got != 200 {
		t.Fatalf("Estimate = %d, want 200", got)
	}
	// 8000 tokens over 10s: 1.25ms a token. 90 requests: 111.1ms a request.
	r1 := reserve(t, p, "h", 0, t0)   // 200 tokens: the next token turn 250ms on
	r2 := reserve(t, p, "h", 400, t0) // at 250ms, then 500ms on
	r3 := reserve(t, p, "h", 1, t0)   // at 750ms
	if r1.Delay() != 0 || r2.Delay() != 250*time.Millisecond || r3.Delay() != 750*time.Millisecond {
		t.Fatalf("delays %v %v %v; want 0 250ms 750ms", r1.Delay(), r2.Delay(), r3.Delay())
	}
	if r1.Tokens() != 200 || r2.Tokens() != 400 || r3.Tokens() != 1 {
		t.Fatalf("tokens %d %d %d; want the estimate 200, then the callers' 400 and 1", r1.Tokens(), r2.Tokens(), r3.Tokens())
	}
	// A call whose tokens exceed what is left waits for the reset.
	if d := p.DelayAt("h", 8000, t0); d != 10*time.Second {
		t.Fatalf("a call of more tokens than left: delay %v, want the reset, 10s", d)
	}
}

// An answer redraws the schedule from what it says remains, less the calls
// still on their way (conservatively: the answer may not count them).
func TestAnswersCorrectTheSchedule(t *testing.T) {
	p := mustNew(t, pace.Config{})
	a := reserve(t, p, "h", 0, t0)
	b := reserve(t, p, "h", 0, t0)
	c := reserve(t, p, "h", 0, t0)
	if a.Delay()+b.Delay()+c.Delay() != 0 {
		t.Fatal("calls to a key no answer spoke of waited")
	}
	// a's answer: 5 remain until 6s. b and c are on their way: 3 left, 2s
	// apart.
	a.DoneAt(requests(5, 6*time.Second), t0)
	if s := p.SnapshotAt("h", t0); s.Requests.Remaining != 3 || s.InFlight != 2 || s.Requests.Reset != 6*time.Second {
		t.Fatalf("snapshot %+v; want 3 left, 2 on their way, reset in 6s", s)
	}
	for i, want := range []time.Duration{0, 2 * time.Second, 4 * time.Second, 6 * time.Second} {
		r := reserve(t, p, "h", 0, t0)
		if r.Delay() != want {
			t.Fatalf("call %d: delay %v, want %v", i, r.Delay(), want)
		}
	}
	// An answer that says nothing changes nothing but the count on the way.
	b.DoneAt(pace.Quota{}, t0)
	if s := p.SnapshotAt("h", t0); s.InFlight != 5 || s.Requests.Remaining != 0 {
		t.Fatalf("snapshot after an empty answer %+v; want 5 on their way, none left", s)
	}
	// A reset in the past: nothing holds calls back.
	c.DoneAt(requests(0, 0), at(time.Second))
	if d := p.DelayAt("h", 0, at(time.Second)); d != 0 {
		t.Fatalf("after an answer whose reset has come: delay %v, want none", d)
	}
}

// Cancel gives a turn back: the units count as left again.
func TestCancelGivesTheTurnBack(t *testing.T) {
	p := mustNew(t, pace.Config{})
	p.UpdateAt("h", requests(2, 10*time.Second), t0)
	a := reserve(t, p, "h", 0, t0)
	b := reserve(t, p, "h", 0, t0)
	if d := p.DelayAt("h", 0, t0); d != 10*time.Second {
		t.Fatalf("both reserved: delay %v, want the reset", d)
	}
	b.CancelAt(t0)
	if s := p.SnapshotAt("h", t0); s.Requests.Remaining != 1 || s.InFlight != 1 {
		t.Fatalf("after Cancel: %+v; want 1 left, 1 on its way", s)
	}
	if d := p.DelayAt("h", 0, t0); d != 5*time.Second {
		t.Fatalf("delay after Cancel: %v, want b's turn, 5s", d)
	}
	// A cancel after a later reservation gives the units back, not the turn.
	c := reserve(t, p, "h", 0, t0)
	p.UpdateAt("h", requests(3, 10*time.Second), t0) // a and c on their way: 1 left, from 10s
	c.CancelAt(t0)
	if s := p.SnapshotAt("h", t0); s.Requests.Remaining != 2 || s.InFlight != 1 {
		t.Fatalf("after an answer and Cancel: %+v; want 2 left, 1 on its way", s)
	}
	a.DoneAt(pace.Quota{}, t0)
	var zero pace.Reservation
	zero.Done(pace.Quota{})
	zero.Cancel()
	if zero.Delay() != 0 || !zero.Time().IsZero() {
		t.Fatal("the zero Reservation has a wait")
	}
}

func TestRejections(t *testing.T) {
	p := mustNew(t, pace.Config{Name: "llm", MaxWait: 5 * time.Second})
	q := pace.Quota{
		Requests: pace.Limit{Remaining: 100, Reset: time.Minute, Known: true},
		Tokens:   pace.Limit{Remaining: 0, Reset: 30 * time.Second, Known: true},
	}
	p.UpdateAt("api.example", q, t0)
	_, err := p.ReserveAt("api.example", 10, t0, time.Time{})
	var pe *pace.Error
	if !errors.Is(err, pace.ErrOverQuota) || !errors.As(err, &pe) || pe.Reason != pace.WaitTooLong || pe.Dimension != pace.Tokens || pe.Key != "api.example" {
		t.Fatalf("err %v; want a WaitTooLong *Error of the tokens dimension", err)
	}
	if want := `pace "llm": "api.example" tokens quota: no turn within 5s`; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if d, ok := resilience.RetryAfterAt(err, at(10*time.Second)); !ok || d != 20*time.Second {
		t.Errorf("RetryAfterAt(10s) = %v, %v; want 20s", d, ok)
	}
	if c := resilience.Classify(err); c != resilience.ClassIgnored {
		t.Errorf("Classify = %v, want ignored: a local rejection", c)
	}
	if s := p.SnapshotAt("api.example", t0); s.InFlight != 0 {
		t.Errorf("a rejection reserved something: %+v", s)
	}
	until, ferr := p.Foresee("api.example", 10, t0)
	if ferr != err || !until.Equal(at(25*time.Second)) {
		t.Errorf("Foresee = %v, %v; want the rejection until 25s, when the wait is down to MaxWait", until.Sub(t0), ferr)
	}
	if until, ferr := p.Foresee("api.example", 10, at(25*time.Second)); ferr != nil || !until.IsZero() {
		t.Errorf("Foresee at 25s = %v, %v; want none", until, ferr)
	}
	// Within MaxWait, but not before the deadline.
	_, err = p.ReserveAt("api.example", 10, at(26*time.Second), at(29*time.Second))
	if !errors.As(err, &pe) || pe.Reason != pace.PastDeadline {
		t.Fatalf("past the deadline: %v", err)
	}
	if r, err := p.ReserveAt("api.example", 10, at(26*time.Second), at(31*time.Second)); err != nil || r.Delay() != 4*time.Second {
		t.Fatalf("before the deadline: %v, %v; want a 4s wait", r.Delay(), err)
	}

	// No waiting at all.
	now := mustNew(t, pace.Config{MaxWait: -1})
	now.UpdateAt("h", requests(1, time.Second), t0)
	reserve(t, now, "h", 0, t0)
	if _, err := now.ReserveAt("h", 0, t0, time.Time{}); !errors.As(err, &pe) || pe.Reason != pace.NoWait || pe.Error() != `pace: "h" requests quota: no turn now` {
		t.Fatalf("no waiting: %v", err)
	}
	if until, err := now.Foresee("h", 0, t0); err == nil || !until.Equal(at(time.Second)) {
		t.Fatalf("Foresee without waiting = %v, %v", until, err)
	}
}

func TestConfig(t *testing.T) {
	if _, err := pace.New(pace.Config{Tokens: -1}); err == nil || err.Error() != "pace: Tokens is negative: -1" {
		t.Errorf("New with negative Tokens: %v", err)
	}
	p := mustNew(t, pace.Config{})
	if p.MaxWait() != pace.DefaultMaxWait {
		t.Errorf("MaxWait = %v, want the default", p.MaxWait())
	}
	// MaxKeys: the oldest key's state goes.
	p = mustNew(t, pace.Config{MaxKeys: 2})
	for _, k := range []string{"a", "b", "c"} {
		p.UpdateAt(k, requests(0, time.Minute), t0)
	}
	if p.DelayAt("a", 0, t0) != 0 || p.DelayAt("b", 0, t0) != time.Minute || p.DelayAt("c", 0, t0) != time.Minute {
		t.Errorf("with MaxKeys 2, a's state should be gone and b's and c's kept")
	}
}

func TestNilPacer(t *testing.T) {
	var p *pace.Pacer
	if _, err := p.Reserve("h", 0, time.Time{}); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Errorf("Reserve through nil: %v", err)
	}
	if _, err := p.Foresee("h", 0, t0); !errors.Is(err, resilience.ErrNilPolicy) {
		t.Errorf("Foresee through nil: %v", err)
	}
	p.Update("h", requests(1, time.Second))
	p.UpdateAt("h", requests(1, time.Second), t0)
	if p.Delay("h", 0) != 0 || p.Name() != "" || p.Estimate("h") != 0 || p.Snapshot("h") != (pace.Snapshot{}) || p.Observer() != nil {
		t.Error("a nil Pacer reports something")
	}
	var e pace.Error
	if e.RetryAfter() != 0 || e.RetryAfterAt(t0) != 0 {
		t.Error("an Error not made by a pacer has a hint")
	}
}

func TestTokensInTheContext(t *testing.T) {
	ctx := context.Background()
	if pace.TokensFrom(ctx) != 0 {
		t.Fatal("tokens in an empty context")
	}
	if got := pace.TokensFrom(pace.WithTokens(ctx, 300)); got != 300 {
		t.Fatalf("TokensFrom = %d, want 300", got)
	}
}

// A reservation, its answer and a rejection allocate nothing.
func TestNoAllocations(t *testing.T) {
	p := mustNew(t, pace.Config{MaxWait: time.Second})
	q := pace.Quota{
		Requests: pace.Limit{Limit: 1 << 40, Remaining: 1 << 40, Reset: time.Minute, Known: true},
		Tokens:   pace.Limit{Limit: 1 << 40, Remaining: 1 << 40, Reset: time.Minute, Known: true},
	}
	p.Update("h", q)
	if n := testing.AllocsPerRun(1000, func() {
		r, err := p.Reserve("h", 0, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		r.Done(q)
	}); n != 0 {
		t.Errorf("Reserve and Done: %v allocations, want 0", n)
	}
	p.Update("full", requests(0, time.Minute))
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := p.Reserve("full", 0, time.Time{}); err == nil {
			t.Fatal("not rejected")
		}
	}); n != 0 {
		t.Errorf("a rejection: %v allocations, want 0", n)
	}
}

// Concurrent callers never get the same turn, and never more turns before
// the reset than the answer said remain.
func TestConcurrentReservations(t *testing.T) {
	p := mustNew(t, pace.Config{})
	p.UpdateAt("h", requests(400, 40*time.Second), t0)
	var mu sync.Mutex
	seen := map[time.Duration]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				r, err := p.ReserveAt("h", 0, t0, time.Time{})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if r.Delay() < 40*time.Second && seen[r.Delay()] {
					t.Errorf("turn %v given twice", r.Delay())
				}
				seen[r.Delay()] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 400 {
		t.Fatalf("%d distinct turns before the reset, want 400", len(seen))
	}
	for i := range 400 {
		if !seen[time.Duration(i)*100*time.Millisecond] {
			t.Fatalf("turn %v missing", time.Duration(i)*100*time.Millisecond)
		}
	}
}

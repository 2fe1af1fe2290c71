package budget_test

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/budget"
)

// TestTokensA6Example follows gRFC A6's throttling example, maxTokens 10 and
// tokenRatio 0.1, step by step: the bucket starts full; each failure takes
// one token; retries stop once the count is at or below 5 (the threshold,
// maxTokens/2) and start again only when successes lift it above 5.
func TestTokensA6Example(t *testing.T) {
	tk := budget.MustNewTokens(budget.TokensConfig{MaxTokens: 10, TokenRatio: 0.1})
	steps := []struct {
		op     string // "f" failure, "s" success
		tokens float64
		allow  bool
	}{
		{"", 10, true},
		{"f", 9, true},
		{"f", 8, true},
		{"f", 7, true},
		{"f", 6, true},
		{"f", 5, false}, // 5 is not above 5
		{"s", 5.1, true},
		{"f", 4.1, false},
		{"s", 4.2, false},
		{"s", 4.3, false},
		{"s", 4.4, false},
		{"s", 4.5, false},
		{"s", 4.6, false},
		{"s", 4.7, false},
		{"s", 4.8, false},
		{"s", 4.9, false},
		{"s", 5.0, false}, // ten successes make exactly one token: still not above 5
		{"s", 5.1, true},
	}
	for i, st := range steps {
		switch st.op {
		case "f":
			tk.Failure()
		case "s":
			tk.Success()
		}
		s := tk.Snapshot()
		if s.Tokens != st.tokens || tk.Allow() != st.allow || s.Allowed != st.allow {
			t.Fatalf("step %d (%q): tokens %v allowed %v, want %v %v", i, st.op, s.Tokens, s.Allowed, st.tokens, st.allow)
		}
	}
}

func TestTokensBounds(t *testing.T) {
	tk := budget.MustNewTokens(budget.TokensConfig{MaxTokens: 3, TokenRatio: 0.5})
	for range 10 {
		tk.Failure()
	}
	if got := tk.Snapshot().Tokens; got != 0 {
		t.Fatalf("tokens after many failures = %v, want 0", got)
	}
	for range 100 {
		tk.Success()
	}
	if got := tk.Snapshot().Tokens; got != 3 {
		t.Fatalf("tokens after many successes = %v, want 3", got)
	}
	// An odd maxTokens: the threshold is 1.5, so 2 tokens allow, 1.5 does not.
	tk.Failure()
	if !tk.Allow() {
		t.Fatal("2 of 3 tokens: retries should be allowed")
	}
	tk.Failure()
	tk.Success() // 1.5
	if tk.Allow() {
		t.Fatal("1.5 of 3 tokens: retries should not be allowed")
	}
	if got := tk.Snapshot().Refused; got != 1 {
		t.Fatalf("Refused = %d, want 1", got)
	}
}

func TestTokensConfig(t *testing.T) {
	tk := budget.MustNewTokens(budget.TokensConfig{})
	if s := tk.Snapshot(); s.MaxTokens != budget.DefaultMaxTokens || s.TokenRatio != budget.DefaultTokenRatio || s.Tokens != 10 {
		t.Fatalf("defaults: %+v", s)
	}
	tk = budget.MustNewTokens(budget.TokensConfig{MaxTokens: 1000, TokenRatio: 0.0014})
	if s := tk.Snapshot(); s.MaxTokens != 1000 || s.TokenRatio != 0.001 {
		t.Fatalf("rounding to three decimals: %+v", s)
	}
	bad := []budget.TokensConfig{
		{MaxTokens: -1},
		{MaxTokens: 1000.001},
		{MaxTokens: math.NaN()},
		{MaxTokens: math.Inf(1)},
		{MaxTokens: 0.0004}, // rounds to zero
		{TokenRatio: -0.1},
		{TokenRatio: 0.0004},
		{TokenRatio: math.NaN()},
		{TokenRatio: math.Inf(1)},
	}
	for _, c := range bad {
		if _, err := budget.NewTokens(c); err == nil || !strings.HasPrefix(err.Error(), "budget: ") {
			t.Errorf("NewTokens(%+v) = %v, want a budget error", c, err)
		}
	}
}

func TestTokensNil(t *testing.T) {
	var tk *budget.Tokens
	tk.Failure()
	tk.Success()
	if !tk.Allow() {
		t.Fatal("a nil *Tokens must allow every retry")
	}
	if s := tk.Snapshot(); s != (budget.TokensSnapshot{}) {
		t.Fatalf("nil snapshot = %+v", s)
	}
}

func TestTokensObserver(t *testing.T) {
	var got []resilience.Event
	tk := budget.MustNewTokens(budget.TokensConfig{Name: "api", MaxTokens: 2, Observer: &resilience.Observer{
		Reject: func(e resilience.Event) { got = append(got, e) },
	}})
	tk.Failure()
	tk.Allow()
	if len(got) != 1 || got[0].Kind != resilience.KindBudget || got[0].Policy != "api" || got[0].Err != budget.ErrExhausted {
		t.Fatalf("events = %+v", got)
	}
}

// TestTokensConcurrent: failures and successes from many goroutines add up
// exactly, whatever their interleaving, as long as no bound is reached.
func TestTokensConcurrent(t *testing.T) {
	tk := budget.MustNewTokens(budget.TokensConfig{MaxTokens: 1000, TokenRatio: 0.5})
	for range 400 {
		tk.Failure() // 600 left: far from both bounds below
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				tk.Failure()
				tk.Success()
				tk.Success()
			}
		})
	}
	wg.Wait()
	if got := tk.Snapshot().Tokens; got != 600 {
		t.Fatalf("tokens = %v, want 600 (400 failures and 800 successes of 0.5)", got)
	}
}

func TestTokensAllocs(t *testing.T) {
	tk := budget.MustNewTokens(budget.TokensConfig{})
	if n := testing.AllocsPerRun(100, func() {
		tk.Failure()
		tk.Allow()
		tk.Success()
	}); n != 0 {
		t.Fatalf("allocs = %v, want 0", n)
	}
}

// TestTokensFailed: what a failed attempt costs, by its class and pushback,
// as gRFC A6 counts it.
func TestTokensFailed(t *testing.T) {
	down := errors.New("unavailable")
	for _, tc := range []struct {
		name  string
		class resilience.Class
		err   error
		cost  float64
	}{
		{"transient", resilience.ClassTransient, down, 1},
		{"transient, do not retry", resilience.ClassTransient, resilience.WithPushback(down, -1), 1},
		{"permanent", resilience.ClassPermanent, down, 0},
		{"permanent, retry after 1s", resilience.ClassPermanent, resilience.WithPushback(down, time.Second), 0},
		{"permanent, do not retry", resilience.ClassPermanent, resilience.WithPushback(down, -1), 1},
		{"ignored, do not retry", resilience.ClassIgnored, resilience.WithPushback(down, -1), 0},
		{"success", resilience.ClassSuccess, nil, 0},
	} {
		tk := budget.MustNewTokens(budget.TokensConfig{})
		tk.Failed(tc.class, tc.err)
		if got := 10 - tk.Snapshot().Tokens; got != tc.cost {
			t.Errorf("%s: cost %v, want %v", tc.name, got, tc.cost)
		}
	}
	var nilTk *budget.Tokens
	nilTk.Failed(resilience.ClassTransient, down)
}

package retry_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/retry"
)

// TestTokensStepTable drives NextRetry and Succeeded through explicit
// states, one after the other on one bucket of 4 tokens (retries allowed
// above 2) that gets 0.5 back per success, and checks after each step the
// tokens left, and whether the policy retried or why it stopped.
func TestTokensStepTable(t *testing.T) {
	tokens := budget.MustNewTokens(budget.TokensConfig{MaxTokens: 4, TokenRatio: 0.5})
	p := mustNew(t, retry.Config{MaxAttempts: 3, Backoff: steady, Tokens: tokens})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	state := func(attempts int, err error) resilience.RetryState {
		return resilience.RetryState{Attempts: attempts, Err: err, Start: t0, Now: t0}
	}
	permanentRefused := resilience.WithPushback(errBad, -1)
	const success = -1 // a step that reports a success instead of a failure
	for _, step := range []struct {
		name   string
		s      resilience.RetryState
		tokens float64
		want   retry.Reason // Retrying, or why it stops
		cause  error        // the *Error's Cause when it stops
	}{
		{"a transient failure takes a token; 3 > 2 left", state(1, errReset), 3, retry.Retrying, nil},
		{"a permanent failure takes none", state(1, errBad), 3, retry.NotRetryable, nil},
		{"the caller's cancellation takes none", resilience.RetryState{Attempts: 1, Err: errReset, Now: t0, Cause: context.Canceled}, 3, retry.Canceled, context.Canceled},
		{"the caller's deadline takes none", resilience.RetryState{Attempts: 1, Err: errReset, Now: t0, Cause: context.DeadlineExceeded}, 3, retry.Deadline, context.DeadlineExceeded},
		{"an ignored error takes none", state(2, context.Canceled), 3, retry.NotRetryable, nil},
		{"the last attempt's failure takes one, and asks nothing", state(3, errReset), 2, retry.Exhausted, nil},
		{"2 is not above half: throttled", state(1, errReset), 1, retry.BudgetExhausted, retry.ErrThrottled},
		{"success", resilience.RetryState{Attempts: success, Now: t0}, 1.5, 0, nil},
		{"success", resilience.RetryState{Attempts: success, Now: t0}, 2, 0, nil},
		{"success", resilience.RetryState{Attempts: success, Now: t0}, 2.5, 0, nil},
		{"success", resilience.RetryState{Attempts: success, Now: t0}, 3, 0, nil},
		{"success", resilience.RetryState{Attempts: success, Now: t0}, 3.5, 0, nil},
		{"back above half: retries again", state(1, errReset), 2.5, retry.Retrying, nil},
		{"a pushback of -1 on a transient error: refused, and a token taken", state(1, pushed(-1)), 1.5, retry.Refused, nil},
		{"a pushback of -1 on a permanent error takes one too", state(1, permanentRefused), 0.5, retry.NotRetryable, nil},
		{"the count stops at zero", state(1, errReset), 0, retry.BudgetExhausted, retry.ErrThrottled},
		{"and stays there", state(1, errReset), 0, retry.BudgetExhausted, retry.ErrThrottled},
		{"a success after it gives back a ratio", resilience.RetryState{Attempts: success, Now: t0}, 0.5, 0, nil},
	} {
		if step.s.Attempts == success {
			step.s.Attempts = 1
			p.Succeeded(step.s)
		} else {
			delay, err := p.NextRetry(step.s)
			var got retry.Reason
			if err != nil {
				var re *retry.Error
				switch {
				case errors.As(err, &re):
					got = re.Reason
					if re.Cause != step.cause {
						t.Errorf("%s: Cause %v, want %v", step.name, re.Cause, step.cause)
					}
				case err == step.s.Err:
					got = retry.NotRetryable // a first attempt's error that is not retried comes back as it is
				default:
					t.Errorf("%s: NextRetry error %v", step.name, err)
				}
			} else if delay <= 0 {
				t.Errorf("%s: retry after %v", step.name, delay)
			}
			if got != step.want {
				t.Errorf("%s: %v (%v), want %v", step.name, got, err, step.want)
			}
		}
		if s := tokens.Snapshot(); s.Tokens != step.tokens {
			t.Errorf("%s: %v tokens left, want %v", step.name, s.Tokens, step.tokens)
		}
	}
	if s := tokens.Snapshot(); s.Refused != 3 {
		t.Errorf("the bucket counts %d refusals, want 3", s.Refused)
	}
}

// TestThrottledErrorSaysSo checks the error of a throttled call: it matches
// ErrThrottled, budget.ErrExhausted and the last attempt's error, and says
// why in its message.
func TestThrottledErrorSaysSo(t *testing.T) {
	tokens := budget.MustNewTokens(budget.TokensConfig{MaxTokens: 1})
	p := mustNew(t, retry.Config{MaxAttempts: 5, Backoff: backoff.Constant(0), Tokens: tokens})
	attempts := 0
	err := retry.Run(context.Background(), p, func(context.Context) error {
		attempts++
		return errReset
	})
	re := asRetryError(t, err)
	if attempts != 1 || re.Reason != retry.BudgetExhausted || !errors.Is(err, retry.ErrThrottled) ||
		!errors.Is(err, budget.ErrExhausted) || !errors.Is(err, errReset) {
		t.Fatalf("%d attempts, error %v (%+v); want 1, BudgetExhausted matching ErrThrottled, budget.ErrExhausted and the last error", attempts, err, re)
	}
	if want := "retry: gave up after 1 attempt (retries throttled): network error: connection reset"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	// The ratio budget's refusal does not match ErrThrottled.
	b := budget.MustNew(budget.Config{Ratio: 0.1, MinPerSecond: -1})
	err = retry.Run(context.Background(), mustNew(t, retry.Config{Budget: b}), func(context.Context) error { return errReset })
	if !errors.Is(err, budget.ErrExhausted) || errors.Is(err, retry.ErrThrottled) {
		t.Errorf("the budget's refusal %v: want budget.ErrExhausted, not ErrThrottled", err)
	}
}

// TestTokensStopRetriesInAnOutageAndComeBack runs calls through retry.Do on
// virtual time: while the backend fails, the bucket of 10 tokens runs down
// and retries stop once 5 or fewer are left — after 3 retries in all —
// while every call still makes its first attempt; once the backend is back,
// 51 successes bring the bucket above half again (0.1 each from 0, so
// 5.1), and a failure is retried once it leaves more than half.
func TestTokensStopRetriesInAnOutageAndComeBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tokens := budget.MustNewTokens(budget.TokensConfig{})
		p := mustNew(t, retry.Config{MaxAttempts: 3, Backoff: steady, Tokens: tokens})
		var down bool
		backend := 0
		call := func(context.Context) (int, error) {
			backend++
			if down {
				return 0, errReset
			}
			return 1, nil
		}
		ctx := context.Background()

		down = true
		throttled := 0
		for range 20 {
			if _, err := retry.Do(ctx, p, call); errors.Is(err, retry.ErrThrottled) {
				throttled++
			}
		}
		// Call 1 makes 3 attempts, taking the bucket from 10 to 7 (its
		// third ends the call before the bucket is asked); call 2's first
		// failure leaves 6, above half, its second 5, not above: throttled.
		// Every call after that makes one attempt, and is throttled.
		if s := tokens.Snapshot(); backend != 3+2+18 || throttled != 19 || s.Tokens != 0 || s.Allowed || s.Refused != 19 {
			t.Fatalf("outage: %d backend calls, %d throttled, bucket %+v; want 23, 19, empty", backend, throttled, s)
		}

		down = false
		for i := range 51 {
			if _, err := retry.Do(ctx, p, call); err != nil {
				t.Fatalf("call %d after the outage: %v", i, err)
			}
			if allowed := tokens.Snapshot().Allowed; allowed != (i == 50) {
				t.Fatalf("after %d successes the bucket allows retries: %v", i+1, allowed)
			}
		}

		// A retry pays for its failure first: at 5.1 tokens a failure
		// leaves 4.1, and is not retried; at 6.1 it leaves 5.1, and is.
		s := &script{errs: []error{errReset}}
		if _, err := retry.Do(ctx, p, s.call); !errors.Is(err, retry.ErrThrottled) || len(s.calls) != 1 {
			t.Fatalf("a failure at 5.1 tokens: %v after %d attempts; want throttled after 1", err, len(s.calls))
		}
		for range 20 {
			retry.Do(ctx, p, call)
		}
		s = &script{errs: []error{errReset}}
		if v, err := retry.Do(ctx, p, s.call); v != 42 || err != nil || len(s.calls) != 2 {
			t.Fatalf("a failure at 6.1 tokens: %v, %v after %d attempts; want 42 after a retry", v, err, len(s.calls))
		}
	})
}

// TestTokensAndBudgetBothMustAllow checks a policy with both: the bucket's
// refusal spends nothing of the budget, and the budget's refusal stops a
// retry that the bucket allows.
func TestTokensAndBudgetBothMustAllow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	failed := resilience.RetryState{Attempts: 1, Err: errReset, Start: t0, Now: t0}

	// The budget has 2 retries (20 calls at 10%, no floor); the bucket
	// holds 6 tokens, allows a retry only while more than 3 are left, and
	// starts with 3.
	b := budget.MustNew(budget.Config{Ratio: 0.1, MinPerSecond: 1e-9})
	tokens := budget.MustNewTokens(budget.TokensConfig{MaxTokens: 6})
	p := mustNew(t, retry.Config{Backoff: steady, Budget: b, Tokens: tokens})
	for range 20 {
		p.BeginRetriesAt(t0)
	}
	for range 3 {
		tokens.Failure()
	}
	if _, err := p.NextRetry(failed); !errors.Is(err, retry.ErrThrottled) {
		t.Fatalf("with 2 tokens left: %v; want the bucket's refusal", err)
	}
	if got := b.WithdrawAt(t0); !got {
		t.Fatal("the bucket's refusal spent the budget")
	}
	// One retry is left in the budget; refill the bucket and spend it.
	for range 40 {
		p.Succeeded(failed)
	}
	if d, err := p.NextRetry(failed); err != nil || d <= 0 {
		t.Fatalf("with tokens and budget: %v, %v; want a retry", d, err)
	}
	_, err := p.NextRetry(failed)
	if !errors.Is(err, budget.ErrExhausted) || errors.Is(err, retry.ErrThrottled) {
		t.Fatalf("with tokens left and the budget spent: %v; want the budget's refusal", err)
	}
	if s := tokens.Snapshot(); s.Tokens != 4 || s.Refused != 1 {
		t.Errorf("bucket after the refill and two failures: %+v; want 4 tokens and the one refusal", s)
	}
}

// TestTokensHearOfEverySuccess checks that each executor tells a policy
// with Tokens, and no Observer, of a success — of a first attempt and of a
// retry — through retry.Do, resilience.Do and a composition.
func TestTokensHearOfEverySuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		for name, run := range map[string]func(p *retry.Policy, fn func(context.Context) (int, error)) (int, error){
			"retry.Do": func(p *retry.Policy, fn func(context.Context) (int, error)) (int, error) { return retry.Do(ctx, p, fn) },
			"resilience.Do": func(p *retry.Policy, fn func(context.Context) (int, error)) (int, error) {
				return resilience.Do(ctx, p, fn)
			},
			"resilience.Do(Compose)": func(p *retry.Policy, fn func(context.Context) (int, error)) (int, error) {
				return resilience.Do(ctx, resilience.Compose(p), fn)
			},
		} {
			tokens := budget.MustNewTokens(budget.TokensConfig{TokenRatio: 0.25})
			p := mustNew(t, retry.Config{Backoff: steady, Tokens: tokens})
			s := &script{errs: []error{errReset, errReset}}
			if _, err := run(p, s.call); err != nil { // 10 → 8, then a success
				t.Fatalf("%s: %v", name, err)
			}
			if _, err := run(p, s.call); err != nil { // a first attempt's success
				t.Fatalf("%s: %v", name, err)
			}
			if got := tokens.Snapshot().Tokens; got != 8.5 {
				t.Errorf("%s: %v tokens after two failures and two successes, want 8.5", name, got)
			}
		}
	})
}

// TestSuccessWithTokensAllocatesNothing: telling the bucket of a success
// costs no allocation, in any executor.
func TestSuccessWithTokensAllocatesNothing(t *testing.T) {
	tokens := budget.MustNewTokens(budget.TokensConfig{})
	p := mustNew(t, retry.Config{Tokens: tokens, Budget: budget.MustNew(budget.Config{})})
	ctx := context.Background()
	var asPolicy resilience.Policy = p
	composed := resilience.Compose(p)
	ok := func(context.Context) (int, error) { return 1, nil }
	for name, f := range map[string]func(){
		"retry.Do":                 func() { retry.Do(ctx, p, ok) },
		"resilience.Do":            func() { resilience.Do(ctx, asPolicy, ok) },
		"resilience.Do(Compose())": func() { resilience.Do(ctx, composed, ok) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per successful call with Tokens, want 0", name, n)
		}
	}
	// Nor does a failure that the bucket counts, nor a success reported.
	failed := resilience.RetryState{Attempts: 1, Err: errReset}
	if n := testing.AllocsPerRun(1000, func() {
		p.NextRetry(failed)
		p.Succeeded(failed)
	}); n != 0 {
		t.Errorf("NextRetry and Succeeded: %v allocations, want 0", n)
	}
}

package retry_test

import (
	"context"
	"errors"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/internal/fuzzprog"
	"github.com/netresilience/resilience/retry"
)

// hintErr is a failure whose RetryAfter method reports any duration, even a
// negative one.
type hintErr time.Duration

func (h hintErr) Error() string             { return "hint " + time.Duration(h).String() }
func (h hintErr) RetryAfter() time.Duration { return time.Duration(h) }

// FuzzDecide checks the retry decision for any configuration and any state:
// attempt numbers up to MaxInt, times anywhere, however far apart, server
// hints of any length or sign:
//
//   - New accepts exactly the configurations its doc comment calls valid
//     (no negative MaxAttempts or MaxElapsed — a negative MaxRetryAfter
//     turns the cap off —, a backoff that validates) and rejects the others
//     with an error prefixed "retry: ";
//   - Decide checks in its documented order: the caller's cancellation, the
//     class, MaxAttempts, a hint above MaxRetryAfter, MaxElapsed, the
//     deadline; the time checks are exact (the next attempt starts at Now
//     plus the delay, and that is compared with Start plus MaxElapsed and
//     with the deadline in exact integers);
//   - the delay is the backoff's, raised to the hint (a negative hint counts
//     as zero): never negative, never above the larger of the backoff's Max
//     and MaxRetryAfter, and zero when the decision is to stop;
//   - NextRetry returns that delay, or the error the call ends with.
func FuzzDecide(f *testing.F) {
	s := int64(time.Second)
	// maxAttempts, maxElapsed, maxRetryAfter, base, max, mult, jitter, attempts, start, now, deadline, lastDelay, u, hint, kind
	f.Add(3, int64(0), int64(0), int64(0), int64(0), 0.0, uint8(backoff.NoJitter), 1, int64(0), int64(0), int64(0), int64(0), 0.5, int64(0), uint8(0))
	f.Add(0, 10*s, 30*s, int64(100_000_000), 10*s, 2.0, uint8(backoff.FullJitter), 2, int64(0), 9*s, 20*s, s, 0.99, 2*s, uint8(kindHint))
	f.Add(5, int64(0), int64(0), int64(0), int64(0), 0.0, uint8(backoff.DecorrelatedJitter), 2, int64(0), int64(0), int64(1), int64(-1), math.NaN(), int64(math.MinInt64), uint8(kindHint|kindDeadline))
	f.Add(5, int64(0), int64(0), int64(0), int64(0), 0.0, uint8(backoff.NoJitter), 1, int64(0), int64(0), int64(0), int64(0), 0.5, int64(0), uint8(kindPermanent))
	f.Add(5, int64(0), int64(0), int64(0), int64(0), 0.0, uint8(backoff.NoJitter), 2, int64(0), int64(0), int64(0), int64(0), 0.5, int64(0), uint8(kindCanceled))
	f.Add(5, int64(0), int64(0), int64(0), int64(0), 0.0, uint8(backoff.NoJitter), 2, int64(0), int64(0), int64(0), int64(0), 0.5, int64(0), uint8(kindDeadlineCause))
	// No cap on hints.
	f.Add(0, int64(0), int64(-1), int64(0), int64(0), 0.0, uint8(0), 1, int64(0), int64(0), int64(0), int64(0), 0.5, int64(math.MaxInt64), uint8(kindHint))
	// Invalid configurations.
	f.Add(-1, int64(0), int64(0), int64(0), int64(0), 0.0, uint8(0), 1, int64(0), int64(0), int64(0), int64(0), 0.5, int64(0), uint8(0))
	f.Add(0, int64(-1), int64(0), int64(0), int64(0), 0.0, uint8(0), 1, int64(0), int64(0), int64(0), int64(0), 0.5, int64(0), uint8(0))
	f.Add(0, int64(0), int64(0), int64(0), int64(0), math.NaN(), uint8(0), 1, int64(0), int64(0), int64(0), int64(0), 0.5, int64(0), uint8(0))
	f.Add(0, int64(0), int64(0), int64(0), int64(0), math.Inf(1), uint8(0), 1, int64(0), int64(0), int64(0), int64(0), 0.5, int64(0), uint8(0))
	f.Add(0, int64(0), int64(0), 20*s, int64(0), 0.0, uint8(0), 1, int64(0), int64(0), int64(0), int64(0), 0.5, int64(0), uint8(0))

	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, maxAttempts int, maxElapsed, maxRetryAfter, base, maxDelay int64, mult float64, jitter uint8,
		attempts int, start, now, deadline, lastDelay int64, u float64, hint int64, kind uint8) {
		bo := backoff.Exponential{Base: time.Duration(base), Max: time.Duration(maxDelay), Multiplier: mult, Jitter: backoff.Jitter(jitter)}
		cfg := retry.Config{
			MaxAttempts:   maxAttempts,
			MaxElapsed:    time.Duration(maxElapsed),
			MaxRetryAfter: time.Duration(maxRetryAfter),
			Backoff:       bo,
		}
		valid := maxAttempts >= 0 && maxElapsed >= 0 && bo.Validate() == nil
		p, err := retry.New(cfg)
		if !fuzzprog.CheckNew(t, "retry", cfg, p, err, valid) {
			return
		}
		if maxAttempts == 0 {
			maxAttempts = retry.DefaultMaxAttempts
		}
		switch {
		case maxRetryAfter == 0:
			maxRetryAfter = int64(retry.DefaultMaxRetryAfter)
		case maxRetryAfter < 0:
			maxRetryAfter = math.MaxInt64 // off: no hint is above it
		}

		st := resilience.RetryState{Attempts: attempts, Now: t0.Add(time.Duration(now)), LastDelay: time.Duration(lastDelay), Jitter: u}
		if kind&kindStart != 0 {
			st.Start = t0.Add(time.Duration(start))
		}
		if kind&kindDeadline != 0 {
			st.Deadline = t0.Add(time.Duration(deadline))
		}
		var failure error = errReset
		if kind&kindHint != 0 {
			failure = resilience.Transient(hintErr(hint))
		}
		switch kind & kindCause {
		case kindPermanent:
			failure = errBad
			if kind&kindHint != 0 {
				failure = resilience.Permanent(hintErr(hint))
			}
		case kindCanceled:
			st.Cause = context.Canceled
		case kindDeadlineCause:
			st.Cause = context.DeadlineExceeded
		}
		st.Err = failure

		d := p.Decide(st)
		wantHint := time.Duration(0)
		if kind&kindHint != 0 {
			wantHint = max(time.Duration(hint), 0)
		}
		if d.Hint != wantHint || d.Class != resilience.Classify(failure) {
			t.Fatalf("Decide(%+v) = %+v; want the hint %v and the class %v", st, d, wantHint, resilience.Classify(failure))
		}
		if d.Reason != retry.Retrying && d.Delay != 0 {
			t.Fatalf("Decide(%+v) = %+v: a stop with a delay", st, d)
		}

		// The documented order, with the time checks in exact integers.
		delay := max(bo.Delay(attempts, st.LastDelay, u), 0)
		if kind&kindHint != 0 {
			delay = max(delay, wantHint)
		}
		nanos := func(at time.Time) *big.Int { // nanoseconds since t0, exactly
			sec := big.NewInt(at.Unix() - t0.Unix())
			return sec.Mul(sec, big.NewInt(1e9)).Add(sec, big.NewInt(int64(at.Nanosecond())))
		}
		next := new(big.Int).Add(big.NewInt(now), big.NewInt(int64(delay)))
		var want retry.Reason
		switch {
		case st.Cause == context.Canceled:
			want = retry.Canceled
		case st.Cause != nil:
			want = retry.Deadline
		case d.Class != resilience.ClassTransient:
			want = retry.NotRetryable
		case attempts >= maxAttempts:
			want = retry.Exhausted
		case kind&kindHint != 0 && wantHint > time.Duration(maxRetryAfter):
			want = retry.HintTooLong
		case maxElapsed > 0 && next.Cmp(new(big.Int).Add(nanos(st.Start), big.NewInt(maxElapsed))) > 0:
			want = retry.TimeLimit
		case !st.Deadline.IsZero() && next.Cmp(nanos(st.Deadline)) >= 0:
			want = retry.Deadline
		default:
			want = retry.Retrying
		}
		if d.Reason != want {
			t.Fatalf("Decide(%+v) = %+v, want %v (a delay of %v)", st, d, want, delay)
		}
		if want != retry.Retrying {
			got, err := p.NextRetry(st)
			var re *retry.Error
			switch {
			case want == retry.NotRetryable && attempts <= 1:
				if got != 0 || err != failure {
					t.Fatalf("NextRetry(%+v) = %v, %v; want the failure itself", st, got, err)
				}
			case got != 0 || !errors.As(err, &re) || re.Reason != want || re.Attempts != attempts || !errors.Is(err, failure):
				t.Fatalf("NextRetry(%+v) = %v, %v; want a *retry.Error for %v", st, got, err, want)
			}
			return
		}
		top := bo.Max
		if top == 0 {
			top = backoff.DefaultMax
		}
		if d.Delay != delay || d.Delay < 0 || d.Delay > max(top, time.Duration(maxRetryAfter)) {
			t.Fatalf("Decide(%+v) = %+v, want a delay of %v, within [0, max(%v, %v)]", st, d, delay, top, time.Duration(maxRetryAfter))
		}
		got, err := p.NextRetry(st)
		if got != d.Delay || err != nil {
			t.Fatalf("NextRetry(%+v) = %v, %v; Decide says %+v", st, got, err, d)
		}
	})
}

// What FuzzDecide's kind sets: bits 0-1, the failure's cause (a transient
// failure, a permanent one, the caller's cancellation, the caller's
// deadline); bit 2, a server hint; bits 3 and 4, a Start and a deadline.
const (
	kindPermanent, kindCanceled, kindDeadlineCause = 1, 2, 3
	kindCause                                      = 3
	kindHint, kindStart, kindDeadline              = 4, 8, 16
)

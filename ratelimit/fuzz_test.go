package ratelimit_test

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience/internal/fuzzprog"
	"github.com/netresilience/resilience/ratelimit"
)

// FuzzLimiter checks the token bucket for any configuration, any costs and
// any times, however far apart, against a reference written here in exact
// integers (math/big):
//
//   - New accepts exactly the configurations its doc comment calls valid —
//     Limit positive, no negative field, a full bucket refilled within
//     2^60ns (about 36 years) — and rejects the others with an error
//     prefixed "ratelimit: ";
//   - times are clamped to ±2^61ns of the limiter's creation;
//   - until the first cancellation, AllowAt, ReserveAt, TokensAt and
//     Reservation.Time and DelayAt are the generic cell rate algorithm:
//     a call of cost c at now may go at the first whole nanosecond, not
//     before now, at which tat + c·Per/Limit − Burst·Per/Limit has passed,
//     and then moves tat to max(tat, then) + c·Per/Limit; AllowAt admits
//     only a call that may go now, ReserveAt one that may go within 2^60ns;
//     a cost that is negative or above Burst never goes, and one of zero
//     always goes at once;
//   - a second cancellation of a reservation changes nothing;
//   - whatever the mix of calls and cancellations, the calls that went
//     (admitted, or reserved and not canceled before their time) never
//     spent more than Burst + Limit·t/Per tokens over any span of time t,
//     and the bucket never holds more than Burst.
//
// It runs in a synctest bubble, so that the limiter's clock starts at a
// time known to the test. The program is 17 bytes a step: an operation, 8
// bytes of time and 8 bytes of cost (or of which reservation to cancel).
func FuzzLimiter(f *testing.F) {
	step := func(op byte, at, n int64) []byte { return fuzzprog.Step(op, at, n) }
	prog := fuzzprog.Prog
	const (
		allow, reserve, cancel, tokens = limAllow, limReserve, limCancel, limTokens
		abs, rawCost                   = limAbs, limRawCost
	)
	ms, s := int64(time.Millisecond), int64(time.Second)
	f.Add(10, int64(0), 0, int64(0), prog(step(allow, 0, 10), step(allow, 0, 1), step(allow, 100*ms, 1), step(reserve, 0, 5), step(tokens, 0, 0), step(cancel, 0, 0), step(allow, 0, 3)))
	f.Add(3, int64(7), 4, int64(0), prog(step(allow, 0, 4), step(reserve, 1, 4), step(reserve, 1, 2), step(cancel, 3, 0), step(allow, 2, 1), step(tokens, 5, 0)))
	f.Add(1, int64(time.Hour), 1, int64(time.Second), prog(step(reserve, 0, 1), step(reserve, 0, 1), step(reserve, 0, 1), step(cancel, s, 1), step(cancel, s, 0), step(allow, 0, 1)))
	f.Add(math.MaxInt, int64(math.MaxInt64), 0, int64(math.MaxInt64), prog(step(allow|rawCost, 0, math.MaxInt64), step(reserve|rawCost, 0, math.MaxInt64), step(allow|rawCost, 0, -1), step(tokens, 0, 0)))
	f.Add(1, int64(1<<60), 1, int64(0), prog(step(allow|abs, math.MinInt64, 1), step(reserve|abs, math.MinInt64, 1), step(reserve|abs, math.MaxInt64, 1), step(tokens|abs, math.MaxInt64, 0), step(cancel|abs, 1<<61, 0)))
	f.Add(1<<20, int64(time.Minute), 1<<20, int64(0), prog(step(reserve, 0, 1<<20), step(reserve, 0, 1<<19), step(reserve, 0, 1<<19), step(cancel, 0, 1), step(allow, ms, 1<<10), step(cancel, 0, 2)))
	// Invalid configurations.
	f.Add(0, int64(0), 0, int64(0), []byte(nil))
	f.Add(-1, int64(0), 0, int64(0), []byte(nil))
	f.Add(1, int64(-1), 0, int64(0), []byte(nil))
	f.Add(1, int64(0), -1, int64(0), []byte(nil))
	f.Add(1, int64(0), 0, int64(-1), []byte(nil))
	f.Add(1, int64(1<<60)+1, 1, int64(0), []byte(nil))
	f.Add(1, int64(math.MaxInt64), math.MaxInt, int64(0), []byte(nil))

	f.Fuzz(func(t *testing.T, limit int, per int64, burst int, maxWait int64, program []byte) {
		cfg := ratelimit.Config{Limit: limit, Per: time.Duration(per), Burst: burst, MaxWait: time.Duration(maxWait)}
		valid := limit > 0 && per >= 0 && burst >= 0 && maxWait >= 0
		if valid {
			// Burst·Per/Limit ≤ 2^60, after the defaults.
			p, b := per, burst
			if p == 0 {
				p = int64(ratelimit.DefaultPer)
			}
			if b == 0 {
				b = limit
			}
			lhs := new(big.Int).Mul(big.NewInt(int64(b)), big.NewInt(p))
			valid = lhs.Cmp(new(big.Int).Lsh(big.NewInt(int64(limit)), 60)) <= 0
		}
		l, err := ratelimit.New(cfg)
		if !fuzzprog.CheckNew(t, "ratelimit", cfg, l, err, valid) {
			return
		}
		if len(program) > 17*200 {
			program = program[:17*200]
		}
		synctest.Test(t, func(t *testing.T) { runLimiter(t, cfg, program) })
	})
}

// The operations of FuzzLimiter's programs: bits 0-1, AllowAt, ReserveAt,
// CancelAt (of the reservation the cost picks) or TokensAt; bit 2, the time
// is absolute, from the bubble's start (else a step forward from the last
// time, by up to the time to refill the bucket twice); bit 3, the cost is
// taken as it is (else within [0, Burst]).
const (
	limAllow, limReserve, limCancel, limTokens = 0, 1, 2, 3
	limAbs, limRawCost                         = 4, 8
)

func runLimiter(t *testing.T, cfg ratelimit.Config, program []byte) {
	start := time.Now()
	l := ratelimit.MustNew(cfg)
	burst := cfg.Burst
	if burst == 0 {
		burst = cfg.Limit
	}
	if l.Burst() != burst {
		t.Fatalf("Burst() = %d, want %d", l.Burst(), burst)
	}
	ref, stepMax := newGCRA(cfg, burst)

	type held struct {
		r        ratelimit.Reservation
		at       int64 // when it goes, on the limiter's clock
		cost     int
		gaveBack bool // a CancelAt gave tokens back: a later one must not
		canceled bool // before its time: the call does not go
	}
	var (
		last   int64
		gone   []went // calls that went
		holds  []held
		exact  = true // no cancellation yet: the reference still holds
		maxing = new(big.Int).Lsh(big.NewInt(1), 60)
	)
	for i := 0; i+17 <= len(program); i += 17 {
		op := program[i]
		x := int64(binary.LittleEndian.Uint64(program[i+1:]))
		y := int64(binary.LittleEndian.Uint64(program[i+9:]))
		if op&limAbs != 0 {
			last = x
		} else {
			step := int64(min(uint64(x)%stepMax, math.MaxInt64))
			if last > math.MaxInt64-step {
				last = math.MaxInt64
			} else {
				last += step
			}
		}
		now := start.Add(time.Duration(last))
		clamped := min(max(last, -1<<61), 1<<61) // the limiter's clamp
		cost := int(y)
		if op&limRawCost == 0 {
			cost = int(uint64(y) % uint64(burst+1))
		}
		switch op & 3 {
		case limAllow:
			ok := l.AllowAt(now, cost)
			if cost < 0 || cost > burst {
				if ok {
					t.Fatalf("step %d: AllowAt(%d) admitted a cost outside [0, %d]", i/17, cost, burst)
				}
				continue
			}
			if cost == 0 && !ok {
				t.Fatalf("step %d: AllowAt(0) refused", i/17)
			}
			if exact {
				at, next := ref.decide(clamped, cost)
				want := at.Cmp(big.NewInt(clamped)) == 0
				if ok != want {
					t.Fatalf("step %d at %d: AllowAt(%d) = %v; the reference says it may go at %v", i/17, clamped, cost, ok, at)
				}
				if ok && cost > 0 {
					ref.tat = next
				}
			}
			if ok && cost > 0 {
				gone = append(gone, went{clamped, cost})
			}
		case limReserve:
			r := l.ReserveAt(now, cost)
			if cost < 0 || cost > burst {
				if r.OK() {
					t.Fatalf("step %d: ReserveAt(%d) reserved a cost outside [0, %d]", i/17, cost, burst)
				}
				continue
			}
			var at int64
			if r.OK() {
				at = r.Time().Sub(start).Nanoseconds()
				if at < clamped || r.DelayAt(now) != time.Duration(at-clamped) {
					t.Fatalf("step %d at %d: a reservation of %d goes at %d, DelayAt %v", i/17, clamped, cost, at, r.DelayAt(now))
				}
			}
			if exact {
				wantAt, next := ref.decide(clamped, cost)
				wantOK := new(big.Int).Sub(wantAt, big.NewInt(clamped)).Cmp(maxing) <= 0
				if r.OK() != wantOK || wantOK && wantAt.Cmp(big.NewInt(at)) != 0 {
					t.Fatalf("step %d at %d: ReserveAt(%d): OK %v, at %d; the reference says it may go at %v", i/17, clamped, cost, r.OK(), at, wantAt)
				}
				if wantOK && cost > 0 {
					ref.tat = next
				}
			}
			if r.OK() {
				holds = append(holds, held{r: r, at: at, cost: cost})
			}
		case limCancel:
			if len(holds) == 0 {
				continue
			}
			h := &holds[uint64(y)%uint64(len(holds))]
			before := l.TokensAt(now)
			c := h.r // a copy is the same reservation
			c.CancelAt(now)
			after := l.TokensAt(now)
			if after < before-1e-6*math.Max(1, math.Abs(before)) {
				t.Fatalf("step %d: canceling a reservation took tokens: %v before, %v after", i/17, before, after)
			}
			if h.gaveBack && after != before {
				t.Fatalf("step %d: a reservation that gave tokens back gave back more: %v before, %v after", i/17, before, after)
			}
			h.gaveBack = h.gaveBack || after != before
			if clamped <= h.at && h.cost > 0 {
				h.canceled = true // it will not go
				exact = false
			}
		case limTokens:
			got := l.TokensAt(now)
			if got > float64(burst) {
				t.Fatalf("step %d: TokensAt = %v, above Burst %d", i/17, got, burst)
			}
			if exact {
				want := ref.tokens(clamped)
				if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want))+1e-6 {
					t.Fatalf("step %d at %d: TokensAt = %v, the reference says %v", i/17, clamped, got, want)
				}
			}
		}
	}
	for _, h := range holds {
		if !h.canceled && h.cost > 0 {
			gone = append(gone, went{h.at, h.cost})
		}
	}
	checkSpent(t, gone, int64(cfg.Limit), ref.per.Int64(), int64(burst))
}

// went is a call that went: at a time on the limiter's clock, spending
// cost tokens.
type went struct {
	at   int64
	cost int
}

// checkSpent fails the test if the calls spent more than the bucket allows
// over some span of time: over every closed span [s, e] between two calls,
// at most burst + limit·(e−s)/per tokens, in exact integers.
func checkSpent(t *testing.T, calls []went, limit, per, burst int64) {
	t.Helper()
	calls = slices.Clone(calls)
	slices.SortFunc(calls, func(a, b went) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		}
		return 0
	})
	L, P, B := big.NewInt(limit), big.NewInt(per), big.NewInt(burst)
	for i := range calls {
		spent := new(big.Int)
		for j := i; j < len(calls); j++ {
			spent.Add(spent, big.NewInt(int64(calls[j].cost)))
			// spent·per ≤ burst·per + limit·(e−s)
			lhs := new(big.Int).Mul(spent, P)
			span := new(big.Int).Sub(big.NewInt(calls[j].at), big.NewInt(calls[i].at))
			rhs := new(big.Int).Mul(B, P)
			rhs.Add(rhs, span.Mul(span, L))
			if lhs.Cmp(rhs) > 0 {
				t.Fatalf("%d tokens spent between %d and %d; a bucket of %d refilled at %d per %dns allows fewer", spent, calls[i].at, calls[j].at, burst, limit, per)
			}
		}
	}
}

// gcra is the token bucket in exact integers, with times scaled by Limit
// so that a token refills in Per (scaled) nanoseconds.
// newGCRA returns the reference for a limiter of cfg whose bucket holds
// burst tokens, and the longest step of time the programs take: twice the
// time to refill a full bucket (rounded up, at least 1ns), and 2ns.
func newGCRA(cfg ratelimit.Config, burst int) (ref *gcra, stepMax uint64) {
	per := int64(cmp.Or(cfg.Per, ratelimit.DefaultPer))
	ref = &gcra{
		limit: big.NewInt(int64(cfg.Limit)),
		per:   big.NewInt(per),
		tau:   new(big.Int).Mul(big.NewInt(int64(burst)), big.NewInt(per)),
	}
	refill := new(big.Int).Add(ref.tau, ref.limit)
	refill.Sub(refill, big.NewInt(1)).Div(refill, ref.limit)
	return ref, uint64(refill.Int64())*2 + 2
}

type gcra struct {
	limit, per, tau *big.Int
	tat             *big.Int // nil: full since ever
}

// decide returns when a call of cost tokens at now may go (a time in
// nanoseconds) and the tat once it has.
func (g *gcra) decide(now int64, cost int) (at, next *big.Int) {
	n := big.NewInt(now)
	if cost == 0 {
		return n, g.tat
	}
	c := new(big.Int).Mul(big.NewInt(int64(cost)), g.per)
	at = new(big.Int).Set(n)
	if g.tat != nil {
		// The first whole nanosecond at or after (tat + c − tau)/limit.
		ready := new(big.Int).Add(g.tat, c)
		ready.Sub(ready, g.tau)
		ready.Add(ready, g.limit).Sub(ready, big.NewInt(1))
		ready.Div(ready, g.limit) // Euclidean: rounds up here, as limit > 0
		if ready.Cmp(at) > 0 {
			at = ready
		}
	}
	startAt := new(big.Int).Mul(at, g.limit)
	if g.tat != nil && g.tat.Cmp(startAt) > 0 {
		startAt.Set(g.tat)
	}
	return at, startAt.Add(startAt, c)
}

// tokens returns how many tokens the bucket holds at now.
func (g *gcra) tokens(now int64) float64 {
	burst := new(big.Rat).SetFrac(g.tau, g.per)
	if g.tat == nil {
		f, _ := burst.Float64()
		return f
	}
	n := new(big.Int).Mul(big.NewInt(now), g.limit)
	if g.tat.Cmp(n) < 0 {
		f, _ := burst.Float64()
		return f
	}
	left := new(big.Int).Sub(g.tau, new(big.Int).Sub(g.tat, n))
	f, _ := new(big.Rat).SetFrac(left, g.per).Float64()
	return f
}

// FuzzLimiterWait checks the waits of Wait and Enter for any configuration,
// cost and deadline, against the same reference, in a synctest bubble whose
// clock only moves forward:
//
//   - a cost outside [0, Burst] fails at once with ErrBadCost; a cost of
//     zero goes at once;
//   - a call whose tokens are there goes at once;
//   - otherwise it is rejected at once, without spending tokens, with
//     Reason NoWait when MaxWait is zero, WaitTooLong when its tokens would
//     come later than MaxWait, and PastDeadline when they would come no
//     earlier than its context's deadline; the rejection's RetryAfterAt is
//     how long until they would come;
//   - or else it waits exactly until its tokens come, and spends them.
//
// The program is 25 bytes a step: an operation, 8 bytes of time to sleep
// first, 8 bytes of cost and 8 bytes of deadline.
func FuzzLimiterWait(f *testing.F) {
	step := func(op byte, sleep, n, deadline int64) []byte { return fuzzprog.Step(op, sleep, n, deadline) }
	prog := fuzzprog.Prog
	const enter, deadline, raw = waitEnter, waitDeadline, waitRawCost
	f.Add(10, int64(0), 0, int64(time.Second), prog(step(0, 0, 10, 0), step(0, 0, 1, 0), step(deadline, 0, 1, 50), step(enter, 0, 5, 0), step(enter|deadline, 0, 10, 1<<40)))
	f.Add(10, int64(0), 0, int64(0), prog(step(0, 0, 10, 0), step(enter, 0, 1, 0), step(raw, 0, -1, 0), step(raw|enter, 0, 11, 0), step(raw, 0, 0, 0)))
	f.Add(3, int64(7), 4, int64(2), prog(step(0, 0, 4, 0), step(0, 0, 1, 0), step(enter, 1, 2, 0), step(deadline, 0, 1, 3)))

	f.Fuzz(func(t *testing.T, limit int, per int64, burst int, maxWait int64, program []byte) {
		cfg := ratelimit.Config{Limit: limit, Per: time.Duration(per), Burst: burst, MaxWait: time.Duration(maxWait)}
		if _, err := ratelimit.New(cfg); err != nil {
			return // FuzzLimiter checks the validation
		}
		if len(program) > 25*100 {
			program = program[:25*100]
		}
		synctest.Test(t, func(t *testing.T) { runWaits(t, cfg, program) })
	})
}

// The operations of FuzzLimiterWait's programs: bit 0, Enter with the
// cost in the context (else Wait); bit 1, the context has a deadline; bit 2,
// the cost is taken as it is (else within [0, Burst]).
const waitEnter, waitDeadline, waitRawCost = 1, 2, 4

func runWaits(t *testing.T, cfg ratelimit.Config, program []byte) {
	start := time.Now()
	l := ratelimit.MustNew(cfg)
	burst := l.Burst()
	ref, span := newGCRA(cfg, burst)
	maxWait := min(int64(cfg.MaxWait), 1<<60)
	for i := 0; i+25 <= len(program); i += 25 {
		op := program[i]
		sleep := binary.LittleEndian.Uint64(program[i+1:]) % span
		y := int64(binary.LittleEndian.Uint64(program[i+9:]))
		dl := int64(binary.LittleEndian.Uint64(program[i+17:])%(2*span)) + 1
		time.Sleep(time.Duration(sleep))
		now := time.Since(start).Nanoseconds()
		if now > 1<<60 {
			break // the limiter's clock stops at 2^61ns, 73 years after New
		}
		cost := int(y)
		if op&waitRawCost == 0 {
			cost = int(uint64(y) % uint64(burst+1))
		}
		ctx := t.Context()
		if op&waitDeadline != 0 {
			var stop func()
			ctx, stop = context.WithDeadline(ctx, start.Add(time.Duration(now+dl)))
			defer stop()
		}
		var err error
		if op&waitEnter != 0 {
			_, err = l.Enter(l.WithCost(ctx, cost))
		} else {
			err = l.Wait(ctx, cost)
		}
		waited := time.Since(start).Nanoseconds() - now
		if cost < 0 || cost > burst {
			if !errors.Is(err, ratelimit.ErrBadCost) || waited != 0 {
				t.Fatalf("step %d: cost %d of a bucket of %d: %v after %dns", i/25, cost, burst, err, waited)
			}
			continue
		}
		at, next := ref.decide(now, cost)
		delay := new(big.Int).Sub(at, big.NewInt(now))
		var want ratelimit.Reason
		switch {
		case delay.Sign() == 0:
			if err != nil || waited != 0 {
				t.Fatalf("step %d: cost %d at %d, tokens there: %v after %dns", i/25, cost, now, err, waited)
			}
			if cost > 0 {
				ref.tat = next
			}
			continue
		case maxWait == 0:
			want = ratelimit.NoWait
		case delay.Cmp(big.NewInt(maxWait)) > 0:
			want = ratelimit.WaitTooLong
		case op&waitDeadline != 0 && delay.Cmp(big.NewInt(dl)) >= 0:
			want = ratelimit.PastDeadline
		default:
			if err != nil || waited != delay.Int64() {
				t.Fatalf("step %d: cost %d at %d, tokens in %v: %v after %dns", i/25, cost, now, delay, err, waited)
			}
			ref.tat = next
			continue
		}
		var le *ratelimit.Error
		if !errors.As(err, &le) || le.Reason != want || le.Cost != cost || waited != 0 {
			t.Fatalf("step %d: cost %d at %d, tokens in %v, MaxWait %v, deadline in %d: %v after %dns; want %v",
				i/25, cost, now, delay, cfg.MaxWait, dl, err, waited, want)
		}
		if got := le.RetryAfterAt(start.Add(time.Duration(now))); int64(got) != delay.Int64() {
			t.Fatalf("step %d: RetryAfterAt = %v, want %v", i/25, got, delay)
		}
	}
}

func TestCancelAtAnEarlierTimeAfterTheReservationWent(t *testing.T) {
	// A reservation whose time has come has gone, even when CancelAt is
	// given an earlier time: giving its tokens back then would let more
	// calls through than the bucket holds.
	l := mustNew(t, ratelimit.Config{Limit: 1, Burst: 10}) // a token a second
	r := l.ReserveAt(t0, 10)
	if !r.OK() || !r.Time().Equal(t0) {
		t.Fatalf("reservation of a full bucket: OK %v, at %v", r.OK(), r.Time())
	}
	at := t0.Add(9500 * time.Millisecond)
	if !l.AllowAt(at, 1) { // 9.5 tokens have come back since
		t.Fatal("1 token refused at 9.5s")
	}
	r.CancelAt(t0) // at the reservation's time, by the time given; but the limiter has admitted a call at 9.5s
	if l.AllowAt(at, 10) {
		t.Fatal("10 more tokens at 9.5s, after 10 at 0s and 1 at 9.5s: a bucket of 10 refilled at 1/s holds 8.5")
	}
	if got := l.TokensAt(at); math.Abs(got-8.5) > 1e-9 {
		t.Fatalf("TokensAt(9.5s) = %v, want 8.5", got)
	}
}

package ratelimit_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/netresilience/resilience/ratelimit"
)

// event is a call that went: at a time after the start, spending cost
// tokens.
type event struct {
	at   time.Duration
	cost int
}

// checkWindows fails the test if, over some span of time, the events spent
// more tokens than a bucket of burst tokens, full at the start and refilled
// at limit tokens per per, allows: over every closed window [s, e],
// at most burst + limit·(e-s)/per. It checks every window that begins and
// ends at an event, in exact integers.
func checkWindows(t *testing.T, events []event, limit int, per time.Duration, burst int) {
	t.Helper()
	events = slices.Clone(events)
	slices.SortFunc(events, func(a, b event) int { return int(a.at - b.at) })
	for i := range events {
		spent := 0
		for j := i; j < len(events); j++ {
			spent += events[j].cost
			// spent ≤ burst + limit·Δ/per, multiplied out by per.
			span := int64(events[j].at - events[i].at)
			if int64(spent)*int64(per) > int64(burst)*int64(per)+int64(limit)*span {
				t.Fatalf("%d tokens spent between %v and %v; a bucket of %d refilled at %d per %v allows %.3f",
					spent, events[i].at, events[j].at, burst, limit, per,
					float64(burst)+float64(limit)*float64(span)/float64(per))
			}
		}
	}
}

// reference is the token bucket the limiter must be, in exact integers:
// the generic cell rate algorithm with times scaled by limit, so that a
// token refills in per (scaled) nanoseconds.
type reference struct {
	limit, per, burst int64
	tat               int64
	started           bool
}

// allow reports whether a call of cost tokens conforms at time at, and if
// so counts it.
func (r *reference) allow(at time.Duration, cost int) bool {
	a := int64(at) * r.limit
	start := a
	if r.started && r.tat > a {
		start = r.tat
	}
	next := start + int64(cost)*r.per
	if next-a > r.burst*r.per {
		return false
	}
	r.tat, r.started = next, true
	return true
}

var modelConfigs = []ratelimit.Config{
	{Limit: 1, Per: time.Second, Burst: 1},
	{Limit: 3, Per: time.Second, Burst: 2},
	{Limit: 7, Per: 700 * time.Millisecond, Burst: 5},
	{Limit: 10, Per: time.Second, Burst: 10},
	{Limit: 3, Per: 7 * time.Nanosecond, Burst: 4}, // fractions of a nanosecond
	{Limit: 9, Per: 3 * time.Millisecond, Burst: 3},
}

func TestAllowIsTheReferenceBucket(t *testing.T) {
	// With calls alone, the limiter must be the exact token bucket: allow
	// every call that conforms, and no other.
	for ci, cfg := range modelConfigs {
		for seed := range uint64(20) {
			t.Run(fmt.Sprintf("config%d/seed%d", ci, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, uint64(ci)))
				l := mustNew(t, cfg)
				ref := &reference{limit: int64(cfg.Limit), per: int64(cfg.Per), burst: int64(cfg.Burst)}
				var now time.Duration
				var events []event
				for i := range 2000 {
					if rng.IntN(3) == 0 {
						now += time.Duration(rng.Int64N(int64(cfg.Per)/int64(cfg.Limit)*2 + 1))
					}
					cost := rng.IntN(cfg.Burst + 1)
					want := ref.allow(now, cost)
					if got := l.AllowAt(t0.Add(now), cost); got != want {
						t.Fatalf("call %d at %v, cost %d: AllowAt = %v, the reference bucket says %v", i, now, cost, got, want)
					}
					if want {
						events = append(events, event{now, cost})
					}
				}
				checkWindows(t, events, cfg.Limit, cfg.Per, cfg.Burst)
			})
		}
	}
}

func TestReservationsAndCancelsNeverExceedTheRate(t *testing.T) {
	// Calls that go at once, calls that reserve tokens and wait, and waits
	// given up: whatever the mix, the calls that went never spent more than
	// the bucket allows over any window.
	for ci, cfg := range modelConfigs {
		for seed := range uint64(20) {
			t.Run(fmt.Sprintf("config%d/seed%d", ci, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 100+uint64(ci)))
				l := mustNew(t, cfg)
				var (
					now      time.Duration
					events   []event
					pending  []ratelimit.Reservation
					costs    []int
					canceled int
				)
				tokenTime := int64(cfg.Per) / int64(cfg.Limit)
				for range 1500 {
					switch op := rng.IntN(10); {
					case op < 3:
						now += time.Duration(rng.Int64N(tokenTime*2 + 1))
					case op < 5:
						cost := rng.IntN(cfg.Burst) + 1
						if l.AllowAt(t0.Add(now), cost) {
							events = append(events, event{now, cost})
						}
					case op < 8:
						cost := rng.IntN(cfg.Burst) + 1
						r := l.ReserveAt(t0.Add(now), cost)
						if !r.OK() {
							t.Fatalf("reservation of %d refused", cost)
						}
						if r.Time().Before(t0.Add(now)) {
							t.Fatalf("a reservation at %v goes at %v, before it was made", now, r.Time().Sub(t0))
						}
						pending, costs = append(pending, r), append(costs, cost)
					default:
						if len(pending) == 0 {
							continue
						}
						i := rng.IntN(len(pending))
						r, cost := pending[i], costs[i]
						pending, costs = slices.Delete(pending, i, i+1), slices.Delete(costs, i, i+1)
						if at := r.Time().Sub(t0); at < now {
							events = append(events, event{at, cost}) // too late: it went
							continue
						}
						r.CancelAt(t0.Add(now))
						canceled++
					}
				}
				for i, r := range pending {
					events = append(events, event{r.Time().Sub(t0), costs[i]})
				}
				if canceled == 0 || len(events) == 0 {
					t.Fatalf("%d cancels, %d calls: the test exercised nothing", canceled, len(events))
				}
				checkWindows(t, events, cfg.Limit, cfg.Per, cfg.Burst)
			})
		}
	}
}

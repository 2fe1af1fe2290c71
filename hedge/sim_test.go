package hedge_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience/hedge"
)

// server is a simulated service with a heavy tail: latencies spread around a
// 10ms median, and 1% of calls take 500ms, 50 times the median — exactly one
// at a random place in each run of 100 calls, so that the share is 1% and not
// a binomial draw around it.
type server struct {
	mu    sync.Mutex
	rng   *rand.Rand
	calls int
	slow  int // the slow call of the current run of 100
}

func (s *server) latency() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls%100 == 0 {
		s.slow = s.rng.IntN(100)
	}
	s.calls++
	if (s.calls-1)%100 == s.slow {
		return 500 * time.Millisecond
	}
	// Log-normal around 10ms: p95 about 15ms.
	return time.Duration(float64(10*time.Millisecond) * math.Exp(0.25*s.rng.NormFloat64()))
}

func (s *server) call(ctx context.Context) (int, error) {
	return 0, sleep(ctx, s.latency())
}

// simulate runs calls from 10 clients at once, each calling 1000 times in a
// row, and returns their latencies and how many calls reached the server.
func simulate(t *testing.T, h *hedge.Hedger) (latencies []time.Duration, serverCalls int) {
	s := &server{rng: rand.New(rand.NewPCG(1, 2))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for range 1000 {
				start := time.Now()
				var err error
				if h == nil {
					_, err = s.call(t.Context())
				} else {
					_, err = hedge.Do(t.Context(), h, s.call)
				}
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				latencies = append(latencies, time.Since(start))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(latencies)
	return latencies, s.calls
}

// pct is the latency that a share 1-p of the sorted values reach or exceed:
// for p 0.99, the least of the slowest 1%. (The nearest-rank percentile would
// be the greatest of the fastest 99%, which misses a tail of exactly 1%.)
func pct(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(int(p*float64(len(sorted))), len(sorted)-1)]
}

// TestHeavyTail: hedging after the adaptive 95th percentile cuts the p99
// latency by 5 times or more, at under 10% extra calls.
func TestHeavyTail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plain, plainCalls := simulate(t, nil)
		h := hedge.MustNew(hedge.Config{})
		hedged, hedgedCalls := simulate(t, h)
		extra := float64(hedgedCalls-len(hedged)) / float64(len(hedged))
		t.Logf("without hedging: p50 %v p95 %v p99 %v p99.9 %v; %d server calls for %d calls",
			pct(plain, 0.5), pct(plain, 0.95), pct(plain, 0.99), pct(plain, 0.999), plainCalls, len(plain))
		t.Logf("with hedging:    p50 %v p95 %v p99 %v p99.9 %v; %d server calls for %d calls (%.1f%% extra); final delay %v",
			pct(hedged, 0.5), pct(hedged, 0.95), pct(hedged, 0.99), pct(hedged, 0.999), hedgedCalls, len(hedged), 100*extra, h.Delay())
		if pct(plain, 0.99) < 400*time.Millisecond {
			t.Fatalf("the simulated server lacks its tail: p99 %v", pct(plain, 0.99))
		}
		if ratio := float64(pct(plain, 0.99)) / float64(pct(hedged, 0.99)); ratio < 5 {
			t.Errorf("p99 fell %.1f times; want 5 or more", ratio)
		}
		// The delay followed the server's p95, about 15ms, away from the
		// initial 100ms.
		if d := h.Delay(); d < 12*time.Millisecond || d > 20*time.Millisecond {
			t.Errorf("adaptive delay %v; want near the server's p95 of 15ms", d)
		}
		if extra >= 0.10 {
			t.Errorf("%.1f%% extra calls; want under 10%%", 100*extra)
		}
	})
}

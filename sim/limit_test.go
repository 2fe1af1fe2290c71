package sim

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/bulkhead"
)

// limitScenario is one client sending a request every 4ms, offset by half
// a millisecond, for 4s, to an upstream whose calls take 20.3ms (so that
// no call ends at the instant another arrives), three times as long from
// 1s to 2s, and that refuses every call from 3s to 3.2s; with no capacity
// of its own, so that the client's limit alone refuses calls.
func limitScenario(p Policy) *Scenario {
	s := simple()
	s.Duration = Duration(4 * time.Second)
	s.Resolution = Duration(100 * time.Millisecond)
	lat := Duration(20300 * time.Microsecond)
	s.Upstream.Latency = Latency{Median: lat, P99: lat}
	s.Upstream.Windows = []Window{
		{From: Duration(time.Second), To: Duration(2 * time.Second), LatencyFactor: 3},
		{From: Duration(3 * time.Second), To: Duration(3200 * time.Millisecond), Down: true},
	}
	s.Load = Load{Clients: 1}
	for at := 500 * time.Microsecond; at < time.Duration(s.Duration); at += 4 * time.Millisecond {
		s.Load.Bursts = append(s.Load.Bursts, Burst{At: Duration(at), Requests: 1})
	}
	s.Policies = []Policy{p}
	return s
}

// callLimitScenario makes the calls of limitScenario's load through g, a
// bulkhead or an adaptive limiter, with resilience.Guarded, as a program
// does, under synctest: each call sleeps as long as the simulated upstream
// takes, or fails as it does. It returns the calls g admitted and refused.
func callLimitScenario(t *testing.T, s *Scenario, g resilience.Guard) (admitted, refused int) {
	var ok, limited atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for _, b := range s.Load.Bursts {
		time.Sleep(time.Until(start.Add(time.Duration(b.At))))
		wg.Go(func() {
			_, err := resilience.Guarded(t.Context(), g, func(context.Context) (struct{}, error) {
				now := time.Since(start)
				for _, w := range s.Upstream.Windows {
					if now >= time.Duration(w.From) && now < time.Duration(w.To) {
						if w.Down {
							time.Sleep(defaultRejectLatency)
							return struct{}{}, errRefused
						}
						time.Sleep(time.Duration(float64(s.Upstream.Latency.Median) * w.LatencyFactor))
						return struct{}{}, nil
					}
				}
				time.Sleep(time.Duration(s.Upstream.Latency.Median))
				return struct{}{}, nil
			})
			switch {
			case errors.Is(err, bulkhead.ErrFull):
				limited.Add(1)
			case err == nil || errors.Is(err, errRefused):
				ok.Add(1)
			default:
				t.Errorf("a call failed with %v", err)
			}
		})
	}
	wg.Wait()
	return int(ok.Load()), int(limited.Load())
}

// TestSameAsGuarded checks the simulator against the executor that users
// run: the bulkhead and the adaptive limiters (AIMD with a timeout, the
// gradient) admit and refuse the same calls, and the adaptive ones end at
// the same limit, in the simulator and through resilience.Guarded under
// synctest, on the same load and upstream. The load and the upstream's
// slow spell and outage push each of them to refuse calls.
func TestSameAsGuarded(t *testing.T) {
	for _, p := range []Policy{
		{Name: "bulkhead", Bulkhead: &BulkheadConfig{MaxConcurrent: 8}},
		{Name: "aimd", Adaptive: &AdaptiveConfig{Initial: 12, AIMD: AIMDConfig{Timeout: Duration(40 * time.Millisecond)}}},
		{Name: "gradient", Adaptive: &AdaptiveConfig{Algorithm: "gradient", Initial: 8, Min: 4}},
	} {
		t.Run(p.Name, func(t *testing.T) {
			s := limitScenario(p)
			sp := run1(t, s)
			last := sp.Series[len(sp.Series)-1].Limit
			if sp.Failures.Limited == 0 || sp.Calls+sp.Failures.Limited != sp.Requests {
				t.Fatalf("simulated: %d calls and %d refused of %d requests; want some refused, and the two to add up",
					sp.Calls, sp.Failures.Limited, sp.Requests)
			}
			synctest.Test(t, func(t *testing.T) {
				cs, err := p.configs(0, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				var g resilience.Guard
				var limit func() int
				if cs.bulkhead != nil {
					b := bulkhead.MustNew(*cs.bulkhead)
					g, limit = b, func() int { return b.Config().WithDefaults().MaxConcurrent }
				} else {
					l := adaptive.MustNew(*cs.adaptive)
					g, limit = l, l.Limit
				}
				admitted, refused := callLimitScenario(t, s, g)
				t.Logf("simulated: %d calls, %d refused, limit %d at the end; through Guarded: %d, %d, %d",
					sp.Calls, sp.Failures.Limited, last, admitted, refused, limit())
				if admitted != sp.Calls || refused != sp.Failures.Limited || limit() != last {
					t.Errorf("through Guarded: %d calls, %d refused, limit %d at the end; simulated: %d, %d, %d",
						admitted, refused, limit(), sp.Calls, sp.Failures.Limited, last)
				}
			})
		})
	}
}

// TestCapacityFactor checks the upstream's capacity windows: an upstream
// of 10 workers whose calls take 10ms serves 1,000 calls a second when
// they come faster; 500 while a window halves its capacity, 2,000 while
// one doubles it (the two overlap for a second, where they cancel out),
// and 1,000 again after them. Calls beyond it are refused, and the
// requests that succeed, bucket by bucket, follow the capacity, give or
// take the calls in flight when it changes (those the workers had begun
// and lined up before).
func TestCapacityFactor(t *testing.T) {
	s := simple()
	s.Duration = Duration(6 * time.Second)
	s.Upstream.Capacity = 10
	s.Upstream.MaxQueueDelay = Duration(5 * time.Millisecond)
	s.Upstream.Windows = []Window{
		{From: Duration(time.Second), To: Duration(3 * time.Second), CapacityFactor: 0.5},
		{From: Duration(2 * time.Second), To: Duration(4 * time.Second), CapacityFactor: 2},
	}
	s.Load.Rate = 3000
	p := run1(t, s)
	capacity := func(sec int) float64 { // calls a second
		f := 1.0
		for _, w := range s.Upstream.Windows {
			if time.Duration(sec)*time.Second >= time.Duration(w.From) && time.Duration(sec)*time.Second < time.Duration(w.To) {
				f *= w.CapacityFactor
			}
		}
		return float64(s.Upstream.Capacity) * f / time.Duration(s.Upstream.Latency.Median).Seconds()
	}
	inFlight := func(sec int) float64 { // at most, at the start of second sec
		if sec == 0 {
			return 0
		}
		return capacity(sec-1) * time.Duration(s.Upstream.Latency.Median+s.Upstream.MaxQueueDelay).Seconds()
	}
	for sec := range 6 {
		got, want := float64(p.Series[sec].Succeeded), capacity(sec)
		t.Logf("second %d: %.0f requests succeeded; capacity %.0f calls a second", sec, got, want)
		if got < 0.97*want || got > want+inFlight(sec) {
			t.Errorf("second %d: %.0f requests succeeded; want the capacity, %.0f", sec, got, want)
		}
	}
	if p.Failures.Exhausted == 0 {
		t.Error("no call was refused; the load is above every capacity of the run")
	}
}

// TestLimitSeries checks what the series say of a policy's concurrency
// limit: the bulkhead's MaxConcurrent times the clients in every bucket,
// the adaptive limiters' sum, which moves, and nothing for a policy
// without a limit; and that the text table lists the limits.
func TestLimitSeries(t *testing.T) {
	s := limitScenario(Policy{Name: "none"})
	s.Load.Clients = 3
	s.Policies = append(s.Policies,
		Policy{Name: "bulkhead", Bulkhead: &BulkheadConfig{MaxConcurrent: 4}},
		Policy{Name: "aimd", Adaptive: &AdaptiveConfig{Initial: 12, AIMD: AIMDConfig{Timeout: Duration(40 * time.Millisecond)}}})
	res, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	none, bh, aimd := policy(t, res, "none"), policy(t, res, "bulkhead"), policy(t, res, "aimd")
	if none.HasLimit || !bh.HasLimit || !aimd.HasLimit {
		t.Errorf("HasLimit: %v, %v, %v; want false, true, true", none.HasLimit, bh.HasLimit, aimd.HasLimit)
	}
	moved := false
	for i := range bh.Series {
		if none.Series[i].Limit != 0 || bh.Series[i].Limit != 3*4 {
			t.Fatalf("bucket %d: limits %d and %d; want 0 without a limit, 3 × 4 with the bulkhead", i, none.Series[i].Limit, bh.Series[i].Limit)
		}
		moved = moved || aimd.Series[i].Limit != 3*12
		if aimd.Series[i].Limit < 3 {
			t.Fatalf("bucket %d: the AIMD limiters' sum is %d, below one each", i, aimd.Series[i].Limit)
		}
	}
	if !moved {
		t.Error("the AIMD limiters' sum never left 3 × Initial")
	}
	var b strings.Builder
	if err := WriteText(&b, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"concurrency limit", "bulkhead  12 · 12 · 12 · 12", "limited "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the text table does not say %q:\n%s", want, b.String())
		}
	}
	countedOnce(t, s.Name, aimd)
}

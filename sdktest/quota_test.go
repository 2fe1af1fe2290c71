package sdktest

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience/pace"
	"github.com/netresilience/resilience/sdktest/internal/fakellm"
)

// quotaCalls makes n concurrent completions through s over rt, and returns
// how many failed.
func quotaCalls(t *testing.T, s sdk, rt http.RoundTripper, n int) int {
	t.Helper()
	var mu sync.Mutex
	failed := 0
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := s.complete(context.Background(), rt, sdkRetriesOff, "call"); err != nil {
				mu.Lock()
				failed++
				mu.Unlock()
				t.Logf("call %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	return failed
}

// Without pacing, ten calls at once against a quota of 4 requests a second
// burst into it: 6 are refused with 429, wait the Retry-After of a second,
// and 2 of them are refused again; all succeed in the end, at the cost of
// 8 refusals. (The fake enforces the quota as the providers report it.)
func TestQuotaWithoutPacingBursts(t *testing.T) {
	for _, s := range sdks {
		t.Run(s.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := &fakellm.Provider{Name: "fake", Quota: &fakellm.Quota{Requests: 4, Window: time.Second}}
				var seen events
				rt := newTransport(t, serve(t, fake, false), transportConfig(&seen))
				start := time.Now()
				if failed := quotaCalls(t, s, rt, 10); failed != 0 {
					t.Fatalf("%d calls failed; want none", failed)
				}
				if took, refused, admitted := time.Since(start), fake.Refused(), len(fake.Requests()); took != 2*time.Second || refused != 8 || admitted != 10 {
					t.Fatalf("took %v with %d requests refused and %d admitted; want 2s, 8 and 10", took, refused, admitted)
				}
			})
		})
	}
}

// workerCalls has workers callers each make calls completions in turn
// through s over rt, and returns how many failed.
func workerCalls(t *testing.T, s sdk, rt http.RoundTripper, workers, calls int) int {
	t.Helper()
	var mu sync.Mutex
	failed := 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range calls {
				if _, err := s.complete(context.Background(), rt, sdkRetriesOff, "call"); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					t.Logf("worker %d, call %d: %v", w, i, err)
				}
			}
		})
	}
	wg.Wait()
	return failed
}

// Completions against a quota of 4 requests a second, which the fake
// reports in OpenAI's or Anthropic's headers. With Config.Pace, the
// transport spreads the calls over the quota from the first answer on.
// One caller making 12 calls in turn: with pacing, none is refused; without,
// each window's first 4 pass and the fifth is refused and waits out the
// Retry-After: 2 refusals in all. Two callers making 6 calls each, whose
// order varies from run to run: with pacing at most one request is refused
// (two calls may go together at the first answers and at a reset), without
// it 3 or 4.
func TestPacedThroughTheSDK(t *testing.T) {
	for _, s := range sdks {
		for _, tc := range []struct {
			workers, calls int
			paced          bool
			refused        [2]int // the least and the most
		}{
			{1, 12, false, [2]int{2, 2}},
			{1, 12, true, [2]int{0, 0}},
			{2, 6, false, [2]int{3, 4}},
			{2, 6, true, [2]int{0, 1}},
		} {
			t.Run(fmt.Sprintf("%s/%dx%d/paced=%v", s.name, tc.workers, tc.calls, tc.paced), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					fake := &fakellm.Provider{Name: "fake", Quota: &fakellm.Quota{Requests: 4, Window: time.Second}}
					var seen events
					cfg := transportConfig(&seen)
					if tc.paced {
						cfg.Pace = &pace.Config{}
					}
					rt := newTransport(t, serve(t, fake, false), cfg)
					start := time.Now()
					if failed := workerCalls(t, s, rt, tc.workers, tc.calls); failed != 0 {
						t.Fatalf("%d calls failed; want none", failed)
					}
					took, refused, admitted := time.Since(start), fake.Refused(), len(fake.Requests())
					t.Logf("%d calls took %v: %d requests refused, %d admitted", tc.workers*tc.calls, took, refused, admitted)
					if refused < tc.refused[0] || refused > tc.refused[1] || admitted != 12 {
						t.Fatalf("%d requests refused and %d admitted; want %d to %d refused, 12 admitted",
							refused, admitted, tc.refused[0], tc.refused[1])
					}
				})
			})
		}
	}
}

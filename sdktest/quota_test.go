package sdktest

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

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

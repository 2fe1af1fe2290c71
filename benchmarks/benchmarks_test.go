// Package benchmarks compares this module with its peers: the same scenario
// runs through each library in one `go test -bench` run, as
// BenchmarkScenario/library, so that benchstat can put them side by side.
// TestScenariosAgree checks that every library really does what its scenario
// says, so that the comparison is honest.
package benchmarks

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	retrygo "github.com/avast/retry-go/v4"
	cenkalti "github.com/cenkalti/backoff/v5"
	"github.com/failsafe-go/failsafe-go"
	fsbudget "github.com/failsafe-go/failsafe-go/budget"
	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	fsbreaker "github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	fsratelimit "github.com/failsafe-go/failsafe-go/ratelimiter"
	fsretry "github.com/failsafe-go/failsafe-go/retrypolicy"
	fstimeout "github.com/failsafe-go/failsafe-go/timeout"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/sony/gobreaker/v2"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/ratelimit"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/timeout"
)

// Library names, the last part of every benchmark name.
const (
	ours      = "ours"
	direct    = "direct"
	failsafeN = "failsafe-go"
	gobreakN  = "gobreaker"
	cenkaltiN = "cenkalti-backoff"
	retrygoN  = "retry-go"
	rhttpN    = "go-retryablehttp"
	bareN     = "bare-transport"
	deadlineN = "bare-WithDeadline"
)

// calls, when set (by the tests only), counts the calls of the protected
// functions. During benchmarks it is nil and costs one load.
var calls *atomic.Int64

func count() {
	if c := calls; c != nil {
		c.Add(1)
	}
}

// errTransient is the failure of the flaky function. It is marked transient
// for our classifier; every peer retries any error by default.
var errTransient = resilience.Transient(errors.New("transient failure"))

// work is the protected call of every scenario: the same work in every
// library, never inlined.
//
//go:noinline
func work(context.Context) (int, error) {
	count()
	return 1, nil
}

// workNoCtx is work for the libraries whose functions take no context.
//
//go:noinline
func workNoCtx() (int, error) {
	count()
	return 1, nil
}

// workErr is work for the libraries whose functions return only an error.
//
//go:noinline
func workErr() error {
	count()
	return nil
}

// flaky fails twice with errTransient, then succeeds; reset sets it back.
type flaky struct{ n int }

func (f *flaky) reset() { f.n = 0 }

//go:noinline
func (f *flaky) call(context.Context) (int, error) {
	count()
	f.n++
	if f.n < 3 {
		return 0, errTransient
	}
	return 1, nil
}

//go:noinline
func (f *flaky) callNoCtx() (int, error) {
	count()
	f.n++
	if f.n < 3 {
		return 0, errTransient
	}
	return 1, nil
}

//go:noinline
func (f *flaky) callErr() error {
	count()
	f.n++
	if f.n < 3 {
		return errTransient
	}
	return nil
}

// impl is one library's way of running one call of a scenario.
type impl struct {
	lib string
	op  func() (int, error)
}

// zero-delay retry configurations, 3 attempts, for every library.
func ourRetry() *retry.Policy {
	return retry.MustNew(retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(0)})
}

func fsRetry() fsretry.RetryPolicy[int] {
	return fsretry.NewBuilder[int]().WithMaxAttempts(3).WithDelay(0).Build()
}

func cenkaltiOpts() []cenkalti.RetryOption {
	return []cenkalti.RetryOption{cenkalti.WithBackOff(&cenkalti.ZeroBackOff{}), cenkalti.WithMaxTries(3)}
}

func retrygoOpts() []retrygo.Option {
	return []retrygo.Option{retrygo.Attempts(3), retrygo.Delay(0), retrygo.DelayType(retrygo.FixedDelay),
		retrygo.LastErrorOnly(true)}
}

func gobreakerNew() *gobreaker.CircuitBreaker[int] {
	return gobreaker.NewCircuitBreaker[int](gobreaker.Settings{Name: "bench", Timeout: time.Hour})
}

func fsBreaker() fsbreaker.CircuitBreaker[int] {
	return fsbreaker.NewBuilder[int]().WithDelay(time.Hour).Build()
}

// Scenario 8: the floor.
func directImpls() []impl {
	ctx := context.Background()
	return []impl{{direct, func() (int, error) { return work(ctx) }}}
}

// Scenario 1: breaker closed, call succeeds.
func breakerClosedImpls() []impl {
	ctx := context.Background()
	br := breaker.MustNew(breaker.Config{})
	gb := gobreakerNew()
	fs := failsafe.With[int](fsBreaker())
	return []impl{
		{ours, func() (int, error) { return breaker.Do(ctx, br, work) }},
		{gobreakN, func() (int, error) { return gb.Execute(workNoCtx) }},
		{failsafeN, func() (int, error) { return fs.Get(workNoCtx) }},
	}
}

// Scenario 2: breaker open, call rejected.
func breakerOpenImpls() []impl {
	ctx := context.Background()
	br := breaker.MustNew(breaker.Config{RecoveryTimeout: time.Hour})
	br.ForceOpen()
	gb := gobreakerNew()
	for range 10 { // gobreaker has no way to force it open: trip it.
		gb.Execute(func() (int, error) { return 0, errTransient })
	}
	fcb := fsBreaker()
	fcb.Open()
	fs := failsafe.With[int](fcb)
	return []impl{
		{ours, func() (int, error) { return breaker.Do(ctx, br, work) }},
		{gobreakN, func() (int, error) { return gb.Execute(workNoCtx) }},
		{failsafeN, func() (int, error) { return fs.Get(workNoCtx) }},
	}
}

// Scenario 3: retry, first attempt succeeds.
func retrySuccessImpls() []impl {
	ctx := context.Background()
	rp := ourRetry()
	fs := failsafe.With[int](fsRetry())
	co, ro := cenkaltiOpts(), retrygoOpts()
	return []impl{
		{ours, func() (int, error) { return retry.Do(ctx, rp, work) }},
		{cenkaltiN, func() (int, error) { return cenkalti.Retry(ctx, workNoCtx, co...) }},
		{retrygoN, func() (int, error) { return retrygo.DoWithData(workNoCtx, ro...) }},
		{retrygoN + "-Do", func() (int, error) { return 1, retrygo.Do(workErr, ro...) }},
		{failsafeN, func() (int, error) { return fs.Get(workNoCtx) }},
	}
}

// Scenario 4: retry, two transient failures then success, no delay.
func retryTransientImpls() []impl {
	ctx := context.Background()
	rp := ourRetry()
	fs := failsafe.With[int](fsRetry())
	co, ro := cenkaltiOpts(), retrygoOpts()
	f := make([]flaky, 5)
	c0, c1, c2, c3, c4 := f[0].call, f[1].callNoCtx, f[2].callNoCtx, f[3].callErr, f[4].callNoCtx
	return []impl{
		{ours, func() (int, error) { f[0].reset(); return retry.Do(ctx, rp, c0) }},
		{cenkaltiN, func() (int, error) { f[1].reset(); return cenkalti.Retry(ctx, c1, co...) }},
		{retrygoN, func() (int, error) { f[2].reset(); return retrygo.DoWithData(c2, ro...) }},
		{retrygoN + "-Do", func() (int, error) { f[3].reset(); return 1, retrygo.Do(c3, ro...) }},
		{failsafeN, func() (int, error) { f[4].reset(); return fs.Get(c4) }},
	}
}

// Scenario 5: retry around breaker, call succeeds.
func retryBreakerImpls() []impl {
	ctx := context.Background()
	p := resilience.Compose(ourRetry(), breaker.MustNew(breaker.Config{}))
	fs := failsafe.With[int](fsRetry(), fsBreaker())
	gb1, gb2 := gobreakerNew(), gobreakerNew()
	viaGB1 := func() (int, error) { return gb1.Execute(workNoCtx) }
	viaGB2 := func() (int, error) { return gb2.Execute(workNoCtx) }
	co, ro := cenkaltiOpts(), retrygoOpts()
	return []impl{
		{ours, func() (int, error) { return resilience.Do(ctx, p, work) }},
		{failsafeN, func() (int, error) { return fs.Get(workNoCtx) }},
		{cenkaltiN + "+" + gobreakN, func() (int, error) { return cenkalti.Retry(ctx, viaGB1, co...) }},
		{retrygoN + "+" + gobreakN, func() (int, error) { return retrygo.DoWithData(viaGB2, ro...) }},
	}
}

// Scenario 6: the recommended stack — rate limit, bulkhead, retry with
// budget, breaker, timeout — with limits that reject nothing.
func stackImpls() []impl { return stack(true) }

// stackNoTimeoutImpls is the stack without its timeout, to show what the
// per-attempt timeout costs in each library.
func stackNoTimeoutImpls() []impl { return stack(false) }

func stack(withTimeout bool) []impl {
	ctx := context.Background()
	pols := []resilience.Policy{
		ratelimit.MustNew(ratelimit.Config{Limit: math.MaxInt32, Per: time.Millisecond}),
		bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 1024}),
		retry.MustNew(retry.Config{MaxAttempts: 3, Backoff: backoff.Constant(0), Budget: budget.MustNew(budget.Config{})}),
		breaker.MustNew(breaker.Config{}),
	}
	peer := []failsafe.Policy[int]{
		fsratelimit.NewBursty[int](math.MaxInt32, time.Millisecond),
		fsbulkhead.New[int](1024),
		fsretry.NewBuilder[int]().WithMaxAttempts(3).WithDelay(0).WithBudget(fsbudget.NewBuilder().Build()).Build(),
		fsBreaker(),
	}
	if withTimeout {
		pols = append(pols, timeout.MustNew(timeout.Config{Timeout: time.Minute}))
		peer = append(peer, fstimeout.New[int](time.Minute))
	}
	p := resilience.Compose(pols...)
	fs := failsafe.With(peer...)
	return []impl{
		{ours, func() (int, error) { return resilience.Do(ctx, p, work) }},
		{failsafeN, func() (int, error) { return fs.Get(workNoCtx) }},
	}
}

// The per-attempt timeout alone, call succeeds, beside its floor: the
// context.WithDeadline that gives the function its deadline, and its cancel,
// with nothing else.
func timeoutImpls() []impl {
	ctx := context.Background()
	tm := timeout.MustNew(timeout.Config{Timeout: time.Minute})
	fs := failsafe.With[int](fstimeout.New[int](time.Minute))
	return []impl{
		{ours, func() (int, error) { return timeout.Do(ctx, tm, work) }},
		{deadlineN, func() (int, error) {
			actx, cancel := context.WithDeadline(ctx, time.Now().Add(time.Minute))
			defer cancel()
			return work(actx)
		}},
		{failsafeN, func() (int, error) { return fs.Get(workNoCtx) }},
	}
}

// Scenario 7: a GET to a loopback server, body read and closed. Each library
// gets its own base transport, so that each keeps its own warm connections.
func httpImpls(url string) []impl {
	base := func() *http.Transport {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		return t
	}
	get := func(c *http.Client) func() (int, error) {
		return func() (int, error) {
			resp, err := c.Get(url)
			if err != nil {
				return 0, err
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return 0, errors.New(resp.Status)
			}
			return int(n), nil
		}
	}
	ourT, err := resiliencehttp.NewTransport(base(), resiliencehttp.Config{})
	if err != nil {
		panic(err)
	}
	rc := retryablehttp.NewClient()
	rc.HTTPClient.Transport = base()
	rc.Logger = nil
	fsT := failsafehttp.NewRoundTripper(base(), failsafehttp.NewRetryPolicyBuilder().Build())
	return []impl{
		{bareN, get(&http.Client{Transport: base()})},
		{ours, get(&http.Client{Transport: ourT})},
		{rhttpN, get(rc.StandardClient())},
		{failsafeN, get(&http.Client{Transport: fsT})},
	}
}

func newServer() (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	}))
	return srv, &hits
}

func bench(b *testing.B, impls []impl) {
	for _, im := range impls {
		b.Run(im.lib, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				im.op()
			}
		})
	}
}

func benchParallel(b *testing.B, impls []impl) {
	for _, im := range impls {
		b.Run(im.lib, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					im.op()
				}
			})
		})
	}
}

func BenchmarkDirect(b *testing.B)                { bench(b, directImpls()) }
func BenchmarkBreakerClosed(b *testing.B)         { bench(b, breakerClosedImpls()) }
func BenchmarkBreakerClosedParallel(b *testing.B) { benchParallel(b, breakerClosedImpls()) }
func BenchmarkBreakerOpen(b *testing.B)           { bench(b, breakerOpenImpls()) }
func BenchmarkRetrySuccess(b *testing.B)          { bench(b, retrySuccessImpls()) }
func BenchmarkRetryTransient(b *testing.B)        { bench(b, retryTransientImpls()) }
func BenchmarkRetryBreaker(b *testing.B)          { bench(b, retryBreakerImpls()) }
func BenchmarkRetryBreakerParallel(b *testing.B)  { benchParallel(b, retryBreakerImpls()) }
func BenchmarkStack(b *testing.B)                 { bench(b, stackImpls()) }
func BenchmarkStackParallel(b *testing.B)         { benchParallel(b, stackImpls()) }
func BenchmarkStackNoTimeout(b *testing.B)        { bench(b, stackNoTimeoutImpls()) }
func BenchmarkTimeout(b *testing.B)               { bench(b, timeoutImpls()) }

func BenchmarkHTTP(b *testing.B) {
	srv, _ := newServer()
	defer srv.Close()
	bench(b, httpImpls(srv.URL))
}

// TestScenariosAgree runs each scenario once per library and checks that it
// did what the scenario says: the right result, and the right number of calls
// of the protected function (three for the flaky retry, none through an open
// breaker, one request to the server per GET).
func TestScenariosAgree(t *testing.T) {
	var n atomic.Int64
	calls = &n
	defer func() { calls = nil }()
	check := func(t *testing.T, scenario string, impls []impl, wantCalls int64, wantV int, wantErr func(lib string, err error) bool) {
		t.Helper()
		for _, im := range impls {
			n.Store(0)
			v, err := im.op()
			if wantErr != nil {
				if !wantErr(im.lib, err) {
					t.Errorf("%s/%s: error %v, want the library's rejection", scenario, im.lib, err)
				}
			} else if err != nil || v != wantV {
				t.Errorf("%s/%s: got (%v, %v), want (%v, nil)", scenario, im.lib, v, err, wantV)
			}
			if got := n.Load(); got != wantCalls {
				t.Errorf("%s/%s: %d calls of the function, want %d", scenario, im.lib, got, wantCalls)
			}
		}
	}
	check(t, "Direct", directImpls(), 1, 1, nil)
	check(t, "BreakerClosed", breakerClosedImpls(), 1, 1, nil)
	check(t, "BreakerOpen", breakerOpenImpls(), 0, 0, func(lib string, err error) bool {
		switch lib {
		case ours:
			return errors.Is(err, breaker.ErrOpen)
		case gobreakN:
			return errors.Is(err, gobreaker.ErrOpenState)
		case failsafeN:
			return errors.Is(err, fsbreaker.ErrOpen)
		}
		return false
	})
	check(t, "RetrySuccess", retrySuccessImpls(), 1, 1, nil)
	check(t, "RetryTransient", retryTransientImpls(), 3, 1, nil)
	check(t, "RetryBreaker", retryBreakerImpls(), 1, 1, nil)
	check(t, "Stack", stackImpls(), 1, 1, nil)
	check(t, "StackNoTimeout", stackNoTimeoutImpls(), 1, 1, nil)
	check(t, "Timeout", timeoutImpls(), 1, 1, nil)

	// Every impl is built once and run twice more, as a benchmark does:
	// the flaky ones must reset and again take three attempts.
	for _, im := range retryTransientImpls() {
		for i := range 2 {
			n.Store(0)
			if v, err := im.op(); err != nil || v != 1 || n.Load() != 3 {
				t.Errorf("RetryTransient/%s run %d: got (%v, %v) after %d calls, want (1, nil) after 3",
					im.lib, i, v, err, n.Load())
			}
		}
	}

	srv, hits := newServer()
	defer srv.Close()
	for _, im := range httpImpls(srv.URL) {
		hits.Store(0)
		if v, err := im.op(); err != nil || v != 2 || hits.Load() != 1 {
			t.Errorf("HTTP/%s: got (%v, %v) after %d requests, want (2, nil) after 1", im.lib, v, err, hits.Load())
		}
	}
}

package resiliencehttp_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/internal/leakcheck"
	"github.com/netresilience/resilience/ratelimit"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/resiliencetest"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/timeout"
)

var (
	chaosDuration = flag.Duration("chaos.duration", 0,
		"how long each part of TestChaos runs (default 5s, 1s with -short; or $RESILIENCE_CHAOS_DURATION)")
	chaosSeed = flag.Uint64("chaos.seed", 1, "the seed of TestChaos's faults and phases")
)

// chaosRunTime is how long each part of the chaos test runs.
func chaosRunTime(t *testing.T) time.Duration {
	if *chaosDuration > 0 {
		return *chaosDuration
	}
	if v := os.Getenv("RESILIENCE_CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("RESILIENCE_CHAOS_DURATION=%q is not a positive duration", v)
		}
		return d
	}
	if testing.Short() {
		return time.Second
	}
	return 5 * time.Second
}

// TestChaos is the chaos soak test: many clients call loopback servers
// whose faults change at random, phase by phase — healthy, a brownout of
// 5xx, an outage of resets and closes, hangs, slow bodies, 429 and 503 with
// Retry-After, truncated bodies — through the HTTP transport to two hosts,
// over HTTP/1.1 and HTTP/2 (TestChaos/transport), and through the
// recommended stack of policies around a plain client (TestChaos/stack),
// with GETs, PUTs and POSTs, some callers giving up early. After the run
// it checks what must hold whatever the faults and their timing:
//
//   - no goroutine is left running, and no connection is left open (counted
//     on the client's dialer and on the servers);
//   - no more calls are in flight inside the stack than its bulkhead allows;
//   - the retries that the servers saw are within the retry budget's bound;
//   - every response body is delivered whole or with an error: the servers
//     send self-checking bodies (length and checksum), and a client that
//     reads a short or corrupt body without an error fails the test; so
//     does a request body that reaches the server short, on any attempt;
//   - every breaker changes state only along closed → open → half-open →
//     closed or open, each change starting from the state before it.
//
// By default each part runs for 5s (1s with -short). Run longer with the
// flag -chaos.duration, or the environment variable
// RESILIENCE_CHAOS_DURATION when testing several packages at once:
//
//	go test -race -run TestChaos ./resiliencehttp/ -chaos.duration=5m
//	RESILIENCE_CHAOS_DURATION=5m go test -race -run TestChaos ./...
//
// The faults and the phases come from -chaos.seed (default 1); their
// timing, and so the requests they hit, varies from run to run.
func TestChaos(t *testing.T) {
	d := chaosRunTime(t)
	t.Logf("each part runs %v with -chaos.seed=%d", d, *chaosSeed)
	t.Run("transport", func(t *testing.T) { chaosTransport(t, d, *chaosSeed) })
	t.Run("stack", func(t *testing.T) { chaosStack(t, d, *chaosSeed+1000) })
}

// The limits of the run: how long a call may take, how many attempts it
// makes, and how long an attempt may take.
const (
	chaosCallTimeout    = 3 * time.Second
	chaosMaxAttempts    = 4
	chaosAttemptTimeout = 200 * time.Millisecond
	chaosMaxRetryAfter  = 2 * time.Second
)

// The retry budget of each part: small, so that it binds during outages.
var chaosBudget = budget.Config{Name: "chaos", Ratio: 0.1, MinPerSecond: 2, Window: time.Second}

// chaosBackoff is the retries' backoff: short, so that retries pile up.
var chaosBackoff = backoff.Exponential{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}

// Headers that name a client's call and its attempt, for the servers'
// records.
const (
	callHeader    = "X-Chaos-Call"
	attemptHeader = "X-Chaos-Attempt"
)

// ---- Self-checking bodies ----

// A chaos body is a header of 16 hex digits — the length of the whole body,
// then the CRC-32 of what follows the header — and its content. A client
// that reads one can tell whether it got all of it, whatever the framing.
const chaosHeaderLen = 16

// chaosBody returns the body that carries content.
func chaosBody(content []byte) []byte {
	b := make([]byte, 0, chaosHeaderLen+len(content))
	b = fmt.Appendf(b, "%08x%08x", chaosHeaderLen+len(content), crc32.ChecksumIEEE(content))
	return append(b, content...)
}

// checkBody returns an error if b is not a whole chaos body.
func checkBody(b []byte) error {
	if len(b) < chaosHeaderLen {
		return fmt.Errorf("a body of %d bytes, shorter than its header", len(b))
	}
	n, err1 := strconv.ParseUint(string(b[:8]), 16, 32)
	sum, err2 := strconv.ParseUint(string(b[8:16]), 16, 32)
	switch {
	case err1 != nil || err2 != nil:
		return fmt.Errorf("a body whose header %q is not a chaos body's", b[:chaosHeaderLen])
	case uint64(len(b)) != n:
		return fmt.Errorf("a body of %d bytes whose header says %d", len(b), n)
	case crc32.ChecksumIEEE(b[chaosHeaderLen:]) != uint32(sum):
		return fmt.Errorf("a body of %d bytes whose checksum is wrong", len(b))
	}
	return nil
}

// answerContent is the content of the normal answer to a call: it names
// the call, and its length is the size the call asked for.
func answerContent(call uint64, size int) []byte {
	c := make([]byte, size)
	for i := range c {
		c[i] = byte('a' + (uint64(i)+call)%26)
	}
	copy(c, fmt.Sprintf("call %d;", call))
	return c
}

// chaosHandler is the service behind the faults: it answers a call with
// the chaos body of answerContent, in one piece with a Content-Length or
// in chunks without one. A request body (of a PUT or a POST), which
// clients send as a chaos body, must be whole: it answers 422 to one that
// is not.
var chaosHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut || r.Method == http.MethodPost {
		b, err := io.ReadAll(r.Body)
		if err == nil {
			err = checkBody(b)
		}
		if err != nil {
			http.Error(w, "request body: "+err.Error(), http.StatusUnprocessableEntity)
			return
		}
	}
	call, err1 := strconv.ParseUint(r.URL.Query().Get("call"), 10, 64)
	size, err2 := strconv.Atoi(r.URL.Query().Get("size"))
	if err1 != nil || err2 != nil || size < 0 {
		http.Error(w, "bad query "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	body := chaosBody(answerContent(call, size))
	if call%2 == 0 {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
		return
	}
	flusher, _ := w.(http.Flusher)
	for len(body) > 0 {
		n := min(len(body), 4096)
		w.Write(body[:n])
		if flusher != nil {
			flusher.Flush()
		}
		body = body[n:]
	}
})

// ---- The faults and their phases ----

// faultBody is a chaos body for a fault's answer.
func faultBody(size int) string {
	return string(chaosBody(bytes.Repeat([]byte("fault;"), size/6+1)[:size]))
}

// chaosStatus returns a Fault that answers code with a chaos body of the
// size, and the headers, given as name and value in turn.
func chaosStatus(code, size int, headers ...string) resiliencetest.Fault {
	f := resiliencetest.Fault{Status: code, Body: faultBody(size)}
	if len(headers) > 0 {
		f.Header = http.Header{}
		for i := 0; i+1 < len(headers); i += 2 {
			f.Header.Set(headers[i], headers[i+1])
		}
	}
	return f
}

// chaosKind is a kind of phase: the chances of its faults.
type chaosKind struct {
	name    string
	chances []resiliencetest.Chance
}

var (
	resetConn = resiliencetest.Fault{Break: resiliencetest.Reset}
	closed    = resiliencetest.Fault{Break: resiliencetest.Close}
	hang      = resiliencetest.Fault{Break: resiliencetest.Hang}
	truncate  = resiliencetest.Fault{Break: resiliencetest.Truncate}
)

func chance(p float64, f resiliencetest.Fault) resiliencetest.Chance {
	return resiliencetest.Chance{Probability: p, Fault: f}
}

// chaosKinds are the kinds of phase that the servers go through.
var chaosKinds = []chaosKind{
	{name: "healthy"},
	{name: "brownout", chances: []resiliencetest.Chance{
		chance(0.25, chaosStatus(503, 20)),
		chance(0.1, chaosStatus(500, 20)),
		chance(0.05, chaosStatus(502, 100<<10)), // longer than the transport drains
	}},
	{name: "outage", chances: []resiliencetest.Chance{
		chance(0.6, resetConn),
		chance(0.25, closed),
		chance(0.15, resiliencetest.Fault{Status: 503, Body: faultBody(20), Delay: 20 * time.Millisecond}),
	}},
	{name: "hangs", chances: []resiliencetest.Chance{
		chance(0.25, hang),
		chance(0.15, resiliencetest.Fault{Delay: 2 * chaosAttemptTimeout}),
		chance(0.1, resiliencetest.Fault{Delay: chaosAttemptTimeout / 4}),
	}},
	{name: "slow bodies", chances: []resiliencetest.Chance{
		chance(0.35, resiliencetest.Fault{SlowBody: 300 * time.Microsecond}),
		chance(0.15, resiliencetest.Fault{Delay: 30 * time.Millisecond, SlowBody: 100 * time.Microsecond}),
		chance(0.1, resiliencetest.Fault{Status: 503, Body: faultBody(400), SlowBody: time.Millisecond}),
	}},
	{name: "throttled", chances: []resiliencetest.Chance{
		chance(0.35, chaosStatus(429, 20, "Retry-After-Ms", "25")),
		chance(0.15, chaosStatus(503, 20, "Retry-After", "1")),
		chance(0.05, chaosStatus(429, 20, "Retry-After", "30")), // longer than MaxRetryAfter
		chance(0.05, chaosStatus(503, 20, "Retry-After", "soon")),
	}},
	{name: "truncations", chances: []resiliencetest.Chance{
		chance(0.3, truncate),
		chance(0.15, resiliencetest.Fault{Status: 503, Body: faultBody(40), Break: resiliencetest.Truncate}),
		chance(0.1, closed),
	}},
	{name: "everything", chances: []resiliencetest.Chance{
		chance(0.05, chaosStatus(503, 20)),
		chance(0.05, resetConn),
		chance(0.05, closed),
		chance(0.05, hang),
		chance(0.05, truncate),
		chance(0.05, resiliencetest.Fault{SlowBody: 200 * time.Microsecond}),
		chance(0.05, chaosStatus(429, 20, "Retry-After-Ms", "10")),
	}},
}

// chaosSchedule returns phases of every kind in a random order with random
// durations, repeated in new orders until they last d, after a healthy
// start (so that some calls succeed however few a slow machine makes). The
// phases are short enough that the first of every kind comes within about
// the first two thirds of the run (within 0.9s for a run of 1s), and last
// 0.5s to 1.5s in longer runs.
func chaosSchedule(rng *rand.Rand, d time.Duration) *resiliencetest.Schedule {
	mean := min(max(d*2/3/time.Duration(len(chaosKinds)), 100*time.Millisecond), time.Second)
	phases := []resiliencetest.Phase{{Name: "healthy", Duration: mean}}
	total := mean
	for total < d {
		for _, i := range rng.Perm(len(chaosKinds)) {
			k := chaosKinds[i]
			p := resiliencetest.Phase{
				Name:     k.name,
				Duration: mean/2 + time.Duration(rng.Int64N(int64(mean))),
			}
			if len(k.chances) > 0 {
				p.Mix = resiliencetest.MustNewMix(rng.Uint64(), k.chances...)
			}
			phases = append(phases, p)
			total += p.Duration
		}
	}
	return resiliencetest.MustNewSchedule(phases...)
}

// newChaosServer starts a fault server on a schedule drawn from rng, with
// keep-alive connections, so that clients reuse connections and must leave
// them clean: over HTTP/1.1, or with h2 over HTTP/2 and TLS.
func newChaosServer(t *testing.T, rng *rand.Rand, d time.Duration, h2 bool) *resiliencetest.Server {
	srv := resiliencetest.NewUnstartedServer()
	srv.Handler = chaosHandler
	srv.Schedule = chaosSchedule(rng, d)
	srv.KeepAlive = true
	if h2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// ---- Counting connections and goroutines ----

// connCounter dials loopback connections and counts those still open.
type connCounter struct {
	open   atomic.Int64
	dialed atomic.Int64
}

func (c *connCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		return nil, fmt.Errorf("chaos: dialing %s, not a loopback address", addr)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.open.Add(1)
	c.dialed.Add(1)
	return &countedConn{Conn: conn, c: c}, nil
}

type countedConn struct {
	net.Conn
	c    *connCounter
	once sync.Once
}

func (cc *countedConn) Close() error {
	err := cc.Conn.Close()
	cc.once.Do(func() { cc.c.open.Add(-1) })
	return err
}

// goroutineIDs returns the ids of the goroutines running other than the
// caller and the runtime's and testing package's own.
func goroutineIDs() map[string]string {
	ids := make(map[string]string)
	for _, g := range leakcheck.Running() {
		if f := strings.Fields(g); len(f) > 1 && f[0] == "goroutine" {
			ids[f[1]] = g
		}
	}
	return ids
}

// checkNoLeaks fails the test if connections are still open once the
// client has closed its idle ones — on its dialer or on the servers — or,
// once the servers are closed, if goroutines that were not running before
// are still running. It waits up to 20s for both: connections and
// goroutines end a little after the calls that used them.
func checkNoLeaks(t *testing.T, before map[string]string, conns *connCounter, closeIdle func(), servers ...*resiliencetest.Server) {
	t.Helper()
	open := func() (int64, []int) {
		var s []int
		for _, srv := range servers {
			s = append(s, srv.Conns())
		}
		return conns.open.Load(), s
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		closeIdle() // again: a connection dialed for a call that gave up may come in late
		client, server := open()
		if client == 0 && !slices.ContainsFunc(server, func(n int) bool { return n != 0 }) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("connection leak: after closing idle connections, %d of the client's %d connections are open; the servers have %v open",
				client, conns.dialed.Load(), server)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, srv := range servers {
		srv.Close()
	}
	for {
		var leaked []string
		for id, g := range goroutineIDs() {
			if _, ok := before[id]; !ok {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("goroutine leak: %d goroutines left running after the run:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ---- What the clients saw ----

// tally counts what calls ended with, and keeps examples of body failures.
type tally struct {
	mu       sync.Mutex
	outcomes map[string]int
	silent   []string // bodies short or corrupt without an error
}

func newTally() *tally { return &tally{outcomes: map[string]int{}} }

func (t *tally) add(outcome string) {
	t.mu.Lock()
	t.outcomes[outcome]++
	t.mu.Unlock()
}

// silentFailure records a body that was delivered short or corrupt without
// an error.
func (t *tally) silentFailure(what string) {
	t.mu.Lock()
	t.outcomes["silently bad body"]++
	if len(t.silent) < 10 {
		t.silent = append(t.silent, what)
	}
	t.mu.Unlock()
}

// errorKind names an error for the tally.
func errorKind(err error) string {
	var re *retry.Error
	switch {
	case errors.Is(err, breaker.ErrOpen):
		return "breaker open"
	case errors.Is(err, budget.ErrExhausted):
		return "budget exhausted"
	case errors.Is(err, bulkhead.ErrFull):
		return "bulkhead full"
	case errors.Is(err, ratelimit.ErrLimited):
		return "rate limited"
	case errors.As(err, &re):
		return "retry: " + re.Reason.String()
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	}
	return "error: " + resilience.Classify(err).String()
}

// pause makes a client that a policy turned away wait a little before its
// next call, as a real one would, rather than spin.
func pause(err error) {
	if resilience.Classify(err) == resilience.ClassIgnored { // a local rejection
		d, _ := resilience.RetryAfter(err)
		time.Sleep(min(max(d, time.Millisecond), 20*time.Millisecond))
	}
}

// checkResponse reads resp's body whole, closes it, and reports what the
// client got: a read error, or a body that must be the whole chaos body —
// for a 200, the answer to the call; else a fault's. A body short or
// corrupt without an error is recorded as a silent failure.
func checkResponse(tl *tally, resp *http.Response, call uint64, size int) (body []byte, err error) {
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnprocessableEntity || resp.StatusCode == http.StatusBadRequest {
		tl.silentFailure(fmt.Sprintf("call %d: the server got a bad request: %s", call, bytes.TrimSpace(body)))
		return nil, errSilent
	}
	if err := checkBody(body); err != nil {
		tl.silentFailure(fmt.Sprintf("call %d: %s: %v", call, resp.Status, err))
		return nil, errSilent
	}
	if resp.StatusCode == http.StatusOK && !bytes.Equal(body, chaosBody(answerContent(call, size))) {
		tl.silentFailure(fmt.Sprintf("call %d: %s: a whole body that is not the call's answer: %.40q", call, resp.Status, body))
		return nil, errSilent
	}
	return body, nil
}

var errSilent = errors.New("chaos: a body short or corrupt without an error")

// newCall returns a request for a call: a GET; a PUT with a chaos body,
// with GetBody or without it (so that the transport must buffer it); or a
// POST with an Idempotency-Key (so that the transport may replay it) —
// asking for a body of a random size, mostly small.
func newCall(ctx context.Context, rng *rand.Rand, url string, call uint64) (*http.Request, int, error) {
	var size int
	switch p := rng.Float64(); {
	case p < 0.8:
		size = rng.IntN(2 << 10)
	case p < 0.95:
		size = 2<<10 + rng.IntN(30<<10)
	default:
		size = 32<<10 + rng.IntN(224<<10)
	}
	url = fmt.Sprintf("%s/data?call=%d&size=%d", url, call, size)
	var req *http.Request
	var err error
	switch rng.IntN(8) {
	case 0:
		req, err = http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(chaosBody(answerContent(call, rng.IntN(4<<10)))))
	case 1:
		body := io.NopCloser(bytes.NewReader(chaosBody(answerContent(call, rng.IntN(4<<10)))))
		req, err = http.NewRequestWithContext(ctx, http.MethodPut, url, body)
	case 2:
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(chaosBody(answerContent(call, rng.IntN(4<<10)))))
		if err == nil {
			req.Header.Set("Idempotency-Key", "call-"+strconv.FormatUint(call, 10))
		}
	default:
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	}
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set(callHeader, strconv.FormatUint(call, 10))
	return req, size, nil
}

// callContext returns the context of a call: most calls may take
// chaosCallTimeout, but one in ten gives up sooner, at any point of its
// attempts or of reading the body.
func callContext(rng *rand.Rand) (context.Context, context.CancelFunc) {
	d := chaosCallTimeout
	if rng.IntN(10) == 0 {
		d = time.Duration(1 + rng.Int64N(int64(2*chaosAttemptTimeout)))
	}
	return context.WithTimeout(context.Background(), d)
}

// ---- Checks on what the servers and the breakers saw ----

// serverRetries counts the retries that the servers saw: the attempts after
// the first of each call, each counted once. net/http itself sends a
// request again, unseen by the retry policy, when a connection it reused
// fails before answering; such a repeat carries the same attempt number,
// and is counted apart.
func serverRetries(t *testing.T, servers ...*resiliencetest.Server) (requests, retries, repeats int, phases map[string]int) {
	t.Helper()
	type attempt struct{ call, n string }
	seen := make(map[attempt]bool)
	phases = make(map[string]int)
	for _, srv := range servers {
		for _, r := range srv.Received() {
			requests++
			phases[r.Phase]++
			a := attempt{r.Header.Get(callHeader), r.Header.Get(attemptHeader)}
			n, err := strconv.Atoi(a.n)
			if a.call == "" || err != nil || n < 1 {
				t.Errorf("a request without a call or an attempt number: %v", r.Header)
				continue
			}
			if n > chaosMaxAttempts {
				t.Errorf("call %s made attempt %d; MaxAttempts is %d", a.call, n, chaosMaxAttempts)
			}
			switch {
			case seen[a]:
				repeats++
			case n > 1:
				retries++
			}
			seen[a] = true
		}
	}
	return requests, retries, repeats, phases
}

// budgetBound is the most retries a budget with cfg can allow over a run of
// elapsed with the number of calls: the budget starts with a window's
// floor (MinPerSecond × Window), and then earns Ratio of a retry per call or
// MinPerSecond a second, whichever earns more at each step (see package
// budget's doc) — so at most Ratio × calls + MinPerSecond × elapsed in all.
// One more allows for rounding.
func budgetBound(cfg budget.Config, calls int64, elapsed time.Duration) int {
	floor := cfg.MinPerSecond * cfg.Window.Seconds()
	return int(floor+cfg.Ratio*float64(calls)+cfg.MinPerSecond*elapsed.Seconds()) + 1
}

// transitions records the breakers' changes of state.
type transitions struct {
	mu      sync.Mutex
	changes []resilience.Event
}

// observer returns an observer that records the state changes.
func (tr *transitions) observer() *resilience.Observer {
	return &resilience.Observer{StateChange: func(c resilience.Event) {
		tr.mu.Lock()
		tr.changes = append(tr.changes, c)
		tr.mu.Unlock()
	}}
}

// check fails the test unless each breaker's changes, in the order they
// were reported, go from the state the one before went to (a breaker starts
// closed), along a valid edge, one generation at a time. It returns how
// many times the breakers opened.
func (tr *transitions) check(t *testing.T) (opened int) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	closed, open, halfOpen := breaker.Closed.String(), breaker.Open.String(), breaker.HalfOpen.String()
	valid := map[[2]string]bool{
		{closed, open}:     true,
		{open, halfOpen}:   true,
		{halfOpen, closed}: true,
		{halfOpen, open}:   true,
	}
	type last struct {
		state string
		gen   int
	}
	lasts := make(map[string]last)
	for i, c := range tr.changes {
		l, ok := lasts[c.Policy]
		if !ok {
			l = last{closed, 0}
		}
		switch {
		case c.Kind != resilience.KindBreaker:
			t.Errorf("state change %d from a %v", i, c.Kind)
		case c.From != l.state:
			t.Errorf("breaker %s, change %d: %v → %v, but it was %v", c.Policy, i, c.From, c.To, l.state)
		case !valid[[2]string{c.From, c.To}]:
			t.Errorf("breaker %s, change %d: %v → %v is not a valid change", c.Policy, i, c.From, c.To)
		case c.Attempt != l.gen+1:
			t.Errorf("breaker %s, change %d: %v → %v in generation %d after generation %d", c.Policy, i, c.From, c.To, c.Attempt, l.gen)
		}
		if c.To == open {
			opened++
		}
		lasts[c.Policy] = last{c.To, c.Attempt}
	}
	return opened
}

// ---- The two parts ----

// chaosTransport runs clients through resiliencehttp.Transport, with
// retries under a budget, a breaker per host and a timeout per attempt,
// against two servers (two hosts, each with its breaker) for d: one over
// HTTP/1.1, the other over HTTP/2 and TLS.
func chaosTransport(t *testing.T, d time.Duration, seed uint64) {
	before := goroutineIDs()
	rng := rand.New(rand.NewPCG(seed, 0))
	servers := []*resiliencetest.Server{newChaosServer(t, rng, d, false), newChaosServer(t, rng, d, true)}

	var conns connCounter
	// The HTTP/2 server's client trusts its certificate and speaks HTTP/2
	// to it, and HTTP/1.1 to the other.
	base := servers[1].Client().Transport.(*http.Transport).Clone()
	base.DialContext = conns.dial
	base.MaxIdleConnsPerHost = 8
	var changes transitions
	start := time.Now()
	bu := budget.MustNew(chaosBudget)
	rt, err := resiliencehttp.NewTransport(base, resiliencehttp.Config{
		Retry: retry.Config{
			MaxAttempts:   chaosMaxAttempts,
			Backoff:       chaosBackoff,
			MaxRetryAfter: chaosMaxRetryAfter,
			Budget:        bu,
		},
		Breaker: &breaker.Config{
			FailureThreshold:   8,
			RecoveryTimeout:    100 * time.Millisecond,
			MaxRecoveryTimeout: 300 * time.Millisecond,
			HalfOpenProbes:     2,
			Seed:               seed,
		},
		AttemptTimeout: chaosAttemptTimeout,
		AttemptHeader:  attemptHeader,
		Observer:       changes.observer(), // reaches every host's breaker
	})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: rt}
	// The clients are paced, so that the run's work and the servers'
	// records grow with its length, not with the machine's speed.
	pace := ratelimit.MustNew(ratelimit.Config{Limit: 400, Burst: 10, MaxWait: time.Minute})

	tl := newTally()
	var calls atomic.Int64
	var nextCall atomic.Uint64
	end := start.Add(d)
	var wg sync.WaitGroup
	for g := range 16 {
		rng := rand.New(rand.NewPCG(seed, uint64(g)+1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				if pace.Wait(context.Background(), 1) != nil {
					continue
				}
				call := nextCall.Add(1)
				srv := servers[rng.IntN(len(servers))]
				ctx, cancel := callContext(rng)
				req, size, err := newCall(ctx, rng, srv.URL, call)
				if err != nil {
					cancel()
					t.Error(err)
					return
				}
				calls.Add(1)
				resp, err := client.Do(req)
				switch {
				case err != nil:
					tl.add(errorKind(err))
					pause(err)
				default:
					_, err := checkResponse(tl, resp, call, size)
					switch {
					case err == errSilent:
					case err != nil:
						tl.add("body read failed")
					default:
						tl.add(resp.Status)
					}
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	requests, retries, repeats, phases := serverRetries(t, servers...)
	bound := budgetBound(chaosBudget, calls.Load(), elapsed)
	opened := changes.check(t)
	t.Logf("%d calls in %v; the servers saw %d requests: %d retries (the budget allows at most %d), %d repeats by net/http; phases %v",
		calls.Load(), elapsed.Round(time.Millisecond), requests, retries, bound, repeats, phases)
	t.Logf("outcomes: %v; breakers opened %d times; %d connections dialed", tl.outcomes, opened, conns.dialed.Load())
	if retries > bound {
		t.Errorf("the servers saw %d retries for %d calls in %v; the budget %+v allows at most %d",
			retries, calls.Load(), elapsed, chaosBudget, bound)
	}
	if len(tl.silent) > 0 {
		t.Errorf("%d bodies (of responses, or of requests as the server got them) were short or corrupt without an error, such as:\n%s",
			tl.outcomes["silently bad body"], strings.Join(tl.silent, "\n"))
	}
	// A breaker per host opens after 8 failures in a row: a run of many
	// times that many failed requests to one host means it did not.
	outage, _ := longestOutage(servers...)
	checkExercised(t, tl, requests, retries, opened, outage >= 8*8)
	checkNoLeaks(t, before, &conns, client.CloseIdleConnections, servers...)
}

// chaosStack runs clients through the recommended stack — rate limit,
// bulkhead, retry with a budget, breaker, per-attempt timeout — around
// calls made with a plain client, against one server for d.
func chaosStack(t *testing.T, d time.Duration, seed uint64) {
	const maxConcurrent = 6
	before := goroutineIDs()
	rng := rand.New(rand.NewPCG(seed, 0))
	srv := newChaosServer(t, rng, d, false)

	var conns connCounter
	client := &http.Client{Transport: &http.Transport{DialContext: conns.dial, MaxIdleConnsPerHost: 8}}
	var changes transitions
	var admitted atomic.Int64
	start := time.Now()
	bu := budget.MustNew(chaosBudget)
	p := resilience.Compose(
		ratelimit.MustNew(ratelimit.Config{Name: "quota", Limit: 400, Burst: 20, MaxWait: 20 * time.Millisecond}),
		bulkhead.MustNew(bulkhead.Config{
			Name: "pool", MaxConcurrent: maxConcurrent, MaxWait: 20 * time.Millisecond,
			Observer: &resilience.Observer{Admit: func(resilience.Event) { admitted.Add(1) }},
		}),
		retry.MustNew(retry.Config{
			MaxAttempts:   chaosMaxAttempts,
			Backoff:       chaosBackoff,
			MaxRetryAfter: chaosMaxRetryAfter,
			Budget:        bu,
		}),
		breaker.MustNew(breaker.Config{
			Name:            "api",
			Window:          time.Second,
			FailureRate:     0.5,
			MinCalls:        10,
			RecoveryTimeout: 100 * time.Millisecond,
			HalfOpenProbes:  2,
			Observer:        changes.observer(),
		}),
		timeout.MustNew(timeout.Config{Name: "attempt", Timeout: chaosAttemptTimeout}),
	)

	tl := newTally()
	var inFlight, maxInFlight atomic.Int64
	var nextCall atomic.Uint64
	end := start.Add(d)
	var wg sync.WaitGroup
	for g := range 24 {
		rng := rand.New(rand.NewPCG(seed, uint64(g)+1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				call := nextCall.Add(1)
				var size, attempt int
				// fn is one attempt: it reads the whole body and returns an
				// error unless the body is whole.
				fn := func(ctx context.Context) ([]byte, error) {
					n := inFlight.Add(1)
					defer inFlight.Add(-1)
					for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
					}
					attempt++
					var req *http.Request
					var err error
					req, size, err = newCall(ctx, rng, srv.URL, call)
					if err != nil {
						return nil, resilience.Permanent(err)
					}
					req.Header.Set(attemptHeader, strconv.Itoa(attempt))
					resp, err := client.Do(req)
					if err != nil {
						if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
							err = resilience.Transient(err) // closed before answering: a GET or PUT may be sent again
						}
						return nil, err
					}
					body, err := checkResponse(tl, resp, call, size)
					switch {
					case err == errSilent:
						return nil, resilience.Permanent(err)
					case err != nil:
						return nil, resilience.Transient(fmt.Errorf("reading the body: %w", err))
					case resp.StatusCode == http.StatusOK:
						return body, nil
					}
					err = errors.New(resp.Status)
					if hint, ok := resiliencehttp.ParseRetryAfter(resp.Header, time.Now()); ok {
						err = resilience.WithRetryAfter(err, hint)
					}
					if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
						return nil, resilience.Transient(err)
					}
					return nil, resilience.Permanent(err)
				}
				ctx, cancel := callContext(rng)
				body, err := resilience.Do(ctx, p, fn)
				cancel()
				switch {
				case err != nil:
					tl.add(errorKind(err))
					pause(err)
				case !bytes.Equal(body, chaosBody(answerContent(call, size))):
					tl.silentFailure(fmt.Sprintf("call %d: the stack returned a body that is not the call's answer: %.40q", call, body))
				default:
					tl.add("200 OK")
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	requests, retries, repeats, phases := serverRetries(t, srv)
	bound := budgetBound(chaosBudget, admitted.Load(), elapsed)
	opened := changes.check(t)
	t.Logf("%d calls admitted in %v, at most %d in flight; the server saw %d requests: %d retries (the budget allows at most %d), %d repeats by net/http; phases %v",
		admitted.Load(), elapsed.Round(time.Millisecond), maxInFlight.Load(), requests, retries, bound, repeats, phases)
	t.Logf("outcomes: %v; the breaker opened %d times; %d connections dialed", tl.outcomes, opened, conns.dialed.Load())
	if m := maxInFlight.Load(); m > maxConcurrent {
		t.Errorf("%d calls were in flight at once inside a bulkhead of %d", m, maxConcurrent)
	}
	if retries > bound {
		t.Errorf("the server saw %d retries for %d calls in %v; the budget %+v allows at most %d",
			retries, admitted.Load(), elapsed, chaosBudget, bound)
	}
	if len(tl.silent) > 0 {
		t.Errorf("%d bodies (of responses, or of requests as the server got them) were short or corrupt without an error, such as:\n%s",
			tl.outcomes["silently bad body"], strings.Join(tl.silent, "\n"))
	}
	// The breaker opens when half the calls of its 1s window fail, from 10
	// calls: an outage that fills its window, and a bucket more, means it
	// did not.
	outage, span := longestOutage(srv)
	checkExercised(t, tl, requests, retries, opened, outage >= 10 && span >= 1100*time.Millisecond)
	checkNoLeaks(t, before, &conns, client.CloseIdleConnections, srv)
}

// checkExercised fails the test if the run cannot have exercised the
// policies: if no request reached the servers, if, over many calls, none
// failed (the faults were not served), or if no breaker opened though a
// server saw an outage that a working breaker would have cut short
// (outageLongEnough). That no call succeeded or that nothing was retried it
// only logs: a machine starved of CPU can time out every call of a short
// run, and the test must not flake.
func checkExercised(t *testing.T, tl *tally, requests, retries, opened int, outageLongEnough bool) {
	t.Helper()
	tl.mu.Lock()
	defer tl.mu.Unlock()
	total := 0
	for _, n := range tl.outcomes {
		total += n
	}
	ok := tl.outcomes["200 OK"]
	switch {
	case requests == 0:
		t.Errorf("the run did not exercise the policies: %d calls, and no request reached a server", total)
	case total >= 50 && ok == total:
		t.Errorf("the run did not exercise the policies: all %d calls succeeded", total)
	case outageLongEnough && opened == 0:
		t.Errorf("no breaker opened, though a server saw an outage long enough to open one")
	}
	if ok == 0 || retries == 0 || opened == 0 {
		t.Logf("note: a tame run: %d of %d calls succeeded, %d retries, the breakers opened %d times", ok, total, retries, opened)
	}
}

// longestOutage returns the most requests that one server received in a
// row in an outage phase, each of which failed, and the time from the first
// of them to the last. A breaker that opens stops the requests but for its
// probes, so the run stays short; one that never opens lets the whole
// phase's requests through.
func longestOutage(servers ...*resiliencetest.Server) (requests int, span time.Duration) {
	for _, srv := range servers {
		n, first := 0, time.Time{}
		for _, r := range srv.Received() {
			if r.Phase != "outage" {
				n = 0
				continue
			}
			if n == 0 {
				first = r.Time
			}
			n++
			if n > requests {
				requests, span = n, r.Time.Sub(first)
			}
		}
	}
	return requests, span
}

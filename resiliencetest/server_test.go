package resiliencetest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netresilience/resilience/resiliencetest"
)

func TestServerScript(t *testing.T) {
	srv := resiliencetest.NewServer(
		resiliencetest.Status(503),
		resiliencetest.RetryAfter(429, "2"),
		resiliencetest.OK("hello"),
		resiliencetest.Fault{Status: 204},
		resiliencetest.Fault{Status: 599, Body: "odd"},
		resiliencetest.Fault{Body: "body only"},
		resiliencetest.Fault{Status: 500, Header: http.Header{"x-custom": {"a", "b"}}},
	)
	defer srv.Close()
	for i, want := range []struct {
		status     string
		body       string
		retryAfter string
		custom     []string
	}{
		{status: "503 Service Unavailable", body: "Service Unavailable"},
		{status: "429 Too Many Requests", body: "Too Many Requests", retryAfter: "2"},
		{status: "200 OK", body: "hello"},
		{status: "204 No Content"},
		{status: "599 status code 599", body: "odd"},
		{status: "200 OK", body: "body only"},
		{status: "500 Internal Server Error", custom: []string{"a", "b"}},
		{status: "200 OK", body: "ok"}, // after the script
		{status: "200 OK", body: "ok"},
	} {
		resp, body, err := get(context.Background(), srv.Client(), srv.URL+"/x")
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		if resp.Status != want.status || body != want.body || resp.Header.Get("Retry-After") != want.retryAfter ||
			strings.Join(resp.Header.Values("X-Custom"), ",") != strings.Join(want.custom, ",") {
			t.Errorf("request %d: got %q %q Retry-After %q X-Custom %q; want %+v", i+1, resp.Status, body,
				resp.Header.Get("Retry-After"), resp.Header.Values("X-Custom"), want)
		}
		if resp.ContentLength != int64(len(want.body)) && resp.StatusCode != 204 {
			t.Errorf("request %d: ContentLength %d; want %d", i+1, resp.ContentLength, len(want.body))
		}
	}
	if got := srv.Requests(); got != 9 {
		t.Errorf("Requests() = %d; want 9", got)
	}
}

func TestServerReset(t *testing.T) {
	srv := resiliencetest.NewServer(resiliencetest.Fault{Break: resiliencetest.Reset}, resiliencetest.OK("after"))
	defer srv.Close()
	_, _, err := get(context.Background(), srv.Client(), srv.URL)
	var ue *url.Error
	if !errors.As(err, &ue) || !errors.Is(err, errConnReset) {
		t.Fatalf("err = %v; want a *url.Error whose chain holds ECONNRESET", err)
	}
	if _, body, err := get(context.Background(), srv.Client(), srv.URL); err != nil || body != "after" {
		t.Fatalf("second request: %q, %v; want the script's next answer", body, err)
	}
}

func TestServerClose(t *testing.T) {
	srv := resiliencetest.NewServer(resiliencetest.Fault{Break: resiliencetest.Close})
	defer srv.Close()
	_, _, err := get(context.Background(), srv.Client(), srv.URL)
	var ue *url.Error
	if !errors.As(err, &ue) || ue.Err != io.EOF {
		t.Fatalf("err = %#v; want a *url.Error holding io.EOF", err)
	}
}

func TestServerTruncate(t *testing.T) {
	srv := resiliencetest.NewServer(resiliencetest.Fault{Status: 200, Body: "partial", Break: resiliencetest.Truncate})
	defer srv.Close()
	resp, body, err := get(context.Background(), srv.Client(), srv.URL)
	if resp == nil || resp.StatusCode != 200 || resp.ContentLength != int64(len("partial")+1) {
		t.Fatalf("response = %+v; want 200 with Content-Length 8", resp)
	}
	if body != "partial" || err != io.ErrUnexpectedEOF {
		t.Fatalf("body %q, err %v; want %q and io.ErrUnexpectedEOF", body, err, "partial")
	}
}

func TestServerHang(t *testing.T) {
	srv := resiliencetest.NewServer(resiliencetest.Fault{Break: resiliencetest.Hang}, resiliencetest.OK("after"))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := get(ctx, srv.Client(), srv.URL)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want the client's deadline", err)
	}
	if _, body, err := get(context.Background(), srv.Client(), srv.URL); err != nil || body != "after" {
		t.Fatalf("second request: %q, %v; want the script's next answer", body, err)
	}
}

func TestServerDelay(t *testing.T) {
	const delay = 100 * time.Millisecond
	srv := resiliencetest.NewServer(resiliencetest.Fault{Status: 503, Delay: delay}, resiliencetest.Fault{Delay: time.Hour})
	defer srv.Close()
	start := time.Now()
	resp, _, err := get(context.Background(), srv.Client(), srv.URL)
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("got %v, %v; want 503", resp, err)
	}
	if elapsed := time.Since(start); elapsed < delay {
		t.Errorf("answered after %v; want at least %v", elapsed, delay)
	}

	// A client that gives up during a Delay ends the handler's wait: the
	// leak check at the end of the tests would find it otherwise, and Close
	// would wait for it.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := get(ctx, srv.Client(), srv.URL); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want the client's deadline", err)
	}
	within(t, "Close", srv.Close)
}

func TestServerSlowBody(t *testing.T) {
	const gap = 20 * time.Millisecond
	const text = "hello"
	srv := resiliencetest.NewServer(resiliencetest.Fault{Body: text, SlowBody: gap})
	defer srv.Close()
	start := time.Now()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	headers := time.Now()
	var got []byte
	buf := make([]byte, 64)
	for {
		n, err := resp.Body.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	end := time.Now()
	if string(got) != text {
		t.Fatalf("body %q; want %q", got, text)
	}
	// Lower bounds only: the headers came first, then the bytes apart.
	all, afterFirst := time.Duration(len(text))*gap, time.Duration(len(text)-1)*gap
	if d := end.Sub(start); d < all {
		t.Errorf("body took %v in all; want at least %v", d, all)
	}
	if d := end.Sub(headers); d < afterFirst {
		t.Errorf("body took %v after the headers; want at least %v", d, afterFirst)
	}
}

func TestServerCloseReleasesWaitingRequests(t *testing.T) {
	srv := resiliencetest.NewServer(
		resiliencetest.Fault{Break: resiliencetest.Hang},
		resiliencetest.Fault{Status: 503, Delay: time.Hour},
		resiliencetest.Fault{Body: "slow", SlowBody: time.Hour},
		resiliencetest.Fault{Break: resiliencetest.Reset, Delay: time.Hour},
		resiliencetest.Fault{Break: resiliencetest.Truncate, SlowBody: time.Hour},
	)
	const n = 5
	client := srv.Client()
	var wg sync.WaitGroup
	results := make([]error, n)
	answers := make([]string, n)
	for i := range n {
		wg.Go(func() {
			// No deadline: only Close can end these requests.
			resp, body, err := get(context.Background(), client, srv.URL)
			results[i] = err
			if resp != nil {
				answers[i] = resp.Status + " " + body
			}
		})
	}
	waitFor(t, "every request to arrive", func() bool { return srv.Requests() == n })
	within(t, "Close", srv.Close)
	wg.Wait()
	for i, err := range results {
		if err == nil {
			t.Errorf("client %d got %q; want an error: a released request must not get an answer", i, answers[i])
		}
	}
}

func TestServerScriptInArrivalOrder(t *testing.T) {
	const n = 16
	var script []resiliencetest.Fault
	for i := range n {
		script = append(script, resiliencetest.OK("answer "+strconv.Itoa(i+1)))
	}
	srv := resiliencetest.NewServer(script...)
	defer srv.Close()
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			req.Header.Set("X-Client", strconv.Itoa(i))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			got[i] = string(b)
		})
	}
	wg.Wait()
	checkArrivalOrder(t, srv.Received(), script, got)
}

// checkArrivalOrder checks that the records are numbered 1..n in order and
// that each client got the fault of the number its request arrived with.
func checkArrivalOrder(t *testing.T, received []resiliencetest.Request, script []resiliencetest.Fault, got []string) {
	t.Helper()
	if len(received) != len(script) {
		t.Fatalf("%d requests received; want %d", len(received), len(script))
	}
	for i, r := range received {
		if r.N != i+1 {
			t.Errorf("Received()[%d].N = %d; want %d", i, r.N, i+1)
		}
		client, err := strconv.Atoi(r.Header.Get("X-Client"))
		if err != nil {
			t.Fatalf("request %d has no X-Client header", r.N)
		}
		if want := script[r.N-1].Body; got[client] != want || r.Fault.Body != want {
			t.Errorf("client %d arrived %d and got %q, recorded as %v; want %q", client, r.N, got[client], r.Fault, want)
		}
	}
}

func TestServerReceived(t *testing.T) {
	srv := resiliencetest.NewServer(resiliencetest.Status(503))
	defer srv.Close()
	before := time.Now()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat?model=small", strings.NewReader(`{"prompt":"hi"}`))
	req.Header.Set("Idempotency-Key", "key-1")
	req.Header.Set("Retry-Attempt", "2")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, _, err := get(context.Background(), srv.Client(), srv.URL+"/health"); err != nil {
		t.Fatal(err)
	}
	after := time.Now()

	rs := srv.Received()
	if len(rs) != 2 {
		t.Fatalf("%d requests received; want 2", len(rs))
	}
	r := rs[0]
	if r.N != 1 || r.Method != "POST" || r.Path != "/v1/chat" || r.Query != "model=small" ||
		string(r.Body) != `{"prompt":"hi"}` || r.Header.Get("Idempotency-Key") != "key-1" ||
		r.Header.Get("Retry-Attempt") != "2" || r.Fault.Status != 503 {
		t.Errorf("first record = %+v", r)
	}
	if r.Time.Before(before) || r.Time.After(after) || rs[1].Time.Before(r.Time) {
		t.Errorf("arrival times %v, %v; want in [%v, %v], in order", r.Time, rs[1].Time, before, after)
	}
	if r := rs[1]; r.N != 2 || r.Method != "GET" || r.Path != "/health" || r.Body != nil || r.Fault.Status != 0 {
		t.Errorf("second record = %+v; want GET /health with no body and the zero fault", r)
	}

	// The records are copies.
	rs[0].Header.Set("Idempotency-Key", "changed")
	rs[0].Body[0] = 'X'
	if r := srv.Received()[0]; r.Header.Get("Idempotency-Key") != "key-1" || r.Body[0] != '{' {
		t.Errorf("changing a record changed the server's: %+v", r)
	}
}

func TestServerHandler(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Handler", "yes")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b)+" "+r.Header.Get("X-In"))
	})
	srv := resiliencetest.NewUnstartedServer(
		resiliencetest.Fault{Header: http.Header{"X-Fault": {"1"}}},
		resiliencetest.Status(503),
		resiliencetest.Fault{Break: resiliencetest.Truncate},
		resiliencetest.Fault{SlowBody: time.Millisecond},
	)
	srv.Handler = handler
	srv.Default = resiliencetest.Fault{Header: http.Header{"X-Default": {"d"}}}
	srv.Start()
	defer srv.Close()

	post := func() (*http.Response, string, error) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/p", strings.NewReader("data"))
		req.Header.Set("X-In", "in")
		resp, err := srv.Client().Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}
	const handled = "POST /p data in"
	resp, body, err := post()
	if err != nil || resp.StatusCode != 201 || body != handled || resp.Header.Get("X-Fault") != "1" || resp.Header.Get("X-Handler") != "yes" {
		t.Errorf("request 1: %v %q %v; want the handler's answer with X-Fault added", resp, body, err)
	}
	if resp, body, err := post(); err != nil || resp.StatusCode != 503 || resp.Header.Get("X-Handler") != "" {
		t.Errorf("request 2: %v %q %v; want the fault's 503, not the handler's", resp, body, err)
	}
	if resp, body, err := post(); err != io.ErrUnexpectedEOF || resp.StatusCode != 201 || body != handled {
		t.Errorf("request 3: %v %q %v; want the handler's answer truncated", resp, body, err)
	}
	if resp, body, err := post(); err != nil || resp.StatusCode != 201 || body != handled || resp.Header.Get("X-Handler") != "yes" {
		t.Errorf("request 4: %v %q %v; want the handler's answer, slowly", resp, body, err)
	}
	if resp, body, err := post(); err != nil || resp.StatusCode != 201 || body != handled || resp.Header.Get("X-Default") != "d" {
		t.Errorf("request 5: %v %q %v; want the handler's answer with Default's header", resp, body, err)
	}
	if got := string(srv.Received()[0].Body); got != "data" {
		t.Errorf("recorded body %q; want %q", got, "data")
	}
}

func TestServerDefaultAndRandom(t *testing.T) {
	srv := resiliencetest.NewUnstartedServer(resiliencetest.OK("scripted"))
	srv.Default = resiliencetest.Status(500)
	srv.Random = resiliencetest.MustNewMix(7, resiliencetest.Chance{Probability: 0.5, Fault: resiliencetest.Status(503)})
	srv.Start()
	defer srv.Close()
	tr := resiliencetest.NewTransport(resiliencetest.OK("scripted"))
	tr.Default = srv.Default
	tr.Random = srv.Random

	var fromServer, fromTransport []int
	for range 40 {
		resp, _, err := get(context.Background(), srv.Client(), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		fromServer = append(fromServer, resp.StatusCode)
		resp, _, err = get(context.Background(), tr.Client(), "http://example.com/")
		if err != nil {
			t.Fatal(err)
		}
		fromTransport = append(fromTransport, resp.StatusCode)
	}
	counts := map[int]int{}
	for _, s := range fromServer {
		counts[s]++
	}
	if fromServer[0] != 200 || counts[503] == 0 || counts[500] == 0 || counts[200] != 1 || counts[503]+counts[500] != 39 {
		t.Errorf("statuses %v; want 200, then a mix of 503 and 500", fromServer)
	}
	if !slicesEqual(fromServer, fromTransport) {
		t.Errorf("server and transport with the same Mix differ:\n%v\n%v", fromServer, fromTransport)
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// reused sends a GET and reports whether it went over a reused connection
// (net/http may try it on more than one).
func reused(t *testing.T, srv *resiliencetest.Server) (bool, error) {
	t.Helper()
	var got bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { got = got || info.Reused },
	})
	_, _, err := get(ctx, srv.Client(), srv.URL)
	return got, err
}

func TestServerConnectionPerRequest(t *testing.T) {
	// Without KeepAlive, a broken connection hits the request it was
	// scripted for, even for a GET that net/http would send again.
	srv := resiliencetest.NewServer(resiliencetest.OK("first"), resiliencetest.Fault{Break: resiliencetest.Close})
	defer srv.Close()
	if r, err := reused(t, srv); err != nil || r {
		t.Fatalf("first request: reused %v, %v", r, err)
	}
	if r, err := reused(t, srv); !errors.Is(err, io.EOF) || r {
		t.Fatalf("second request: reused %v, err %v; want a new connection and io.EOF", r, err)
	}
	if got := srv.Requests(); got != 2 {
		t.Errorf("Requests() = %d; want 2", got)
	}
}

func TestServerKeepAlive(t *testing.T) {
	// With KeepAlive, connections are reused, and net/http sends a GET
	// again when a reused connection closes without an answer: the client
	// never sees the fault, and the next fault is spent on the retry.
	srv := resiliencetest.NewUnstartedServer(resiliencetest.OK("first"), resiliencetest.Fault{Break: resiliencetest.Close})
	srv.KeepAlive = true
	srv.Start()
	defer srv.Close()
	if r, err := reused(t, srv); err != nil || r {
		t.Fatalf("first request: reused %v, %v", r, err)
	}
	if r, err := reused(t, srv); err != nil || !r {
		t.Fatalf("second request: reused %v, err %v; want a reused connection, and no error", r, err)
	}
	if got := srv.Requests(); got != 3 {
		t.Errorf("Requests() = %d; want 3: net/http sent the second request again", got)
	}
}

func TestServerTLS(t *testing.T) {
	srv := resiliencetest.NewUnstartedServer(resiliencetest.Fault{Break: resiliencetest.Reset}, resiliencetest.OK("secure"))
	srv.StartTLS()
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") || srv.Certificate() == nil {
		t.Fatalf("URL %q, certificate %v; want https on 127.0.0.1 and a certificate", srv.URL, srv.Certificate())
	}
	if _, _, err := get(context.Background(), srv.Client(), srv.URL); !errors.Is(err, errConnReset) {
		t.Fatalf("err = %v; want ECONNRESET", err)
	}
	if _, body, err := get(context.Background(), srv.Client(), srv.URL); err != nil || body != "secure" {
		t.Fatalf("second request: %q, %v", body, err)
	}
}

func TestServerInvalidFault(t *testing.T) {
	srv := resiliencetest.NewServer(resiliencetest.Fault{Status: 42})
	defer srv.Close()
	resp, body, err := get(context.Background(), srv.Client(), srv.URL)
	if err != nil || resp.StatusCode != 500 || body != "resiliencetest: request 1: Status 42 is not in 200-999\n" {
		t.Fatalf("got %v %q %v; want 500 saying what is wrong", resp, body, err)
	}
}

func TestServerStartTwicePanics(t *testing.T) {
	srv := resiliencetest.NewServer()
	defer srv.Close()
	defer func() {
		if recover() == nil {
			t.Error("second Start did not panic")
		}
	}()
	srv.Start()
}

func TestNilServer(t *testing.T) {
	var srv *resiliencetest.Server
	srv.Close()
	if srv.Requests() != 0 || srv.Received() != nil {
		t.Error("a nil Server reports requests")
	}
}

func TestUnstartedServerClose(t *testing.T) {
	srv := resiliencetest.NewUnstartedServer()
	within(t, "Close", srv.Close)
	if srv.Client() != nil || srv.URL != "" {
		t.Error("an unstarted server has a client or a URL")
	}
}

// waitConns polls until the server has n connections open.
func waitConns(t *testing.T, srv *resiliencetest.Server, n int) {
	t.Helper()
	waitFor(t, "the server's open connections to be "+strconv.Itoa(n), func() bool { return srv.Conns() == n })
}

func TestServerConns(t *testing.T) {
	srv := resiliencetest.NewUnstartedServer(
		resiliencetest.OK("kept"),
		resiliencetest.OK("left open"),
		resiliencetest.Fault{Break: resiliencetest.Reset},
		resiliencetest.Fault{Break: resiliencetest.Close},
	)
	srv.KeepAlive = true
	srv.Start()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	if srv.Conns() != 0 {
		t.Fatalf("Conns() = %d before any request", srv.Conns())
	}

	// An idle connection is open until the client closes it.
	if _, body, err := get(context.Background(), client, srv.URL); err != nil || body != "kept" {
		t.Fatalf("GET = %q, %v", body, err)
	}
	if got := srv.Conns(); got != 1 {
		t.Fatalf("Conns() = %d with one idle connection; want 1", got)
	}
	client.CloseIdleConnections()
	waitConns(t, srv, 0)

	// A response whose body is never closed keeps its connection open,
	// whatever the client's idle connections do.
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	client.CloseIdleConnections()
	if got := srv.Conns(); got != 1 {
		t.Fatalf("Conns() = %d with a response body left open; want 1", got)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	client.CloseIdleConnections()
	waitConns(t, srv, 0)

	// Resets and closes end their connections.
	for range 2 {
		if _, err := client.Get(srv.URL); err == nil {
			t.Fatal("GET of a broken exchange succeeded")
		}
		waitConns(t, srv, 0)
	}

	var none *resiliencetest.Server
	if none.Conns() != 0 {
		t.Error("a nil Server has connections")
	}
}

func TestServerConnsUnderTLS(t *testing.T) {
	srv := resiliencetest.NewUnstartedServer(resiliencetest.Fault{Break: resiliencetest.Reset}, resiliencetest.OK("secure"))
	srv.KeepAlive = true
	srv.StartTLS()
	defer srv.Close()
	client := srv.Client()
	for range 2 {
		resp, err := client.Get(srv.URL)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	if !strings.HasPrefix(srv.URL, "https://") {
		t.Fatalf("URL %q", srv.URL)
	}
	client.CloseIdleConnections()
	waitConns(t, srv, 0)
}

func TestServerHTTP2(t *testing.T) {
	srv := resiliencetest.NewUnstartedServer(
		resiliencetest.OK("one"),
		resiliencetest.Fault{Break: resiliencetest.Reset},
		resiliencetest.Fault{Break: resiliencetest.Close},
		resiliencetest.Fault{Body: "cut", Break: resiliencetest.Truncate},
		resiliencetest.OK("two"),
	)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	client := srv.Client()
	// The stream's reset is what the client sees: net/http does not export
	// its type, so its text tells.
	streamReset := func(err error) bool { return err != nil && strings.Contains(err.Error(), "INTERNAL_ERROR") }

	resp, body, err := get(context.Background(), client, srv.URL)
	if err != nil || body != "one" || resp.ProtoMajor != 2 {
		t.Fatalf("first request: %v %q %v; want HTTP/2 and %q", resp, body, err, "one")
	}
	for _, b := range []string{"reset", "close"} {
		if _, _, err := get(context.Background(), client, srv.URL); !streamReset(err) {
			t.Fatalf("a %s: %v; want the stream reset", b, err)
		}
	}
	if resp, _, err := get(context.Background(), client, srv.URL); resp == nil || !streamReset(err) {
		t.Fatalf("a truncate: %v, %v; want a response whose body ends in the stream's reset", resp, err)
	}
	if _, body, err := get(context.Background(), client, srv.URL); err != nil || body != "two" {
		t.Fatalf("last request: %q, %v", body, err)
	}
	if got := srv.Conns(); got != 1 {
		t.Errorf("Conns() = %d after five requests over HTTP/2; want the one connection they shared", got)
	}
	client.CloseIdleConnections()
	waitConns(t, srv, 0)
}

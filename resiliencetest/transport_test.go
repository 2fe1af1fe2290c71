package resiliencetest_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience/resiliencetest"
)

const apiURL = "https://api.example.com/v1/chat"

func newRequest(t *testing.T, ctx context.Context, method, body string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, apiURL, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// answerFaults are faults that answer, for comparing a Transport with a
// Server.
var answerFaults = []resiliencetest.Fault{
	resiliencetest.Status(503),
	resiliencetest.RetryAfter(429, "2"),
	resiliencetest.OK("hello"),
	{},
	{Status: 204},
	{Status: 304},
	{Status: 599, Body: "odd"},
	{Body: "body only"},
	{Status: 200},
	{Status: 500, Header: http.Header{"x-custom": {"a", "b"}, "Content-Type": {"application/json"}}},
	{Status: 200, Body: "cut", Break: resiliencetest.Truncate},
	{Break: resiliencetest.Truncate},
}

// seen is what a client sees of a response.
type seen struct {
	Status        string
	StatusCode    int
	Proto         string
	ContentLength int64
	Header        string
	Body          string
	Err           string
}

// see reads what a client sees of the response, but the Date header.
func see(resp *http.Response, method string) seen {
	var h []string
	for _, k := range []string{"Content-Length", "Content-Type", "Retry-After", "X-Custom"} {
		if vs := resp.Header.Values(k); len(vs) > 0 {
			h = append(h, k+"="+strings.Join(vs, ","))
		}
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	s := seen{resp.Status, resp.StatusCode, resp.Proto, resp.ContentLength, strings.Join(h, " "), string(b), ""}
	if err != nil {
		s.Err = err.Error()
	}
	return s
}

func TestTransportAnswersAsTheServer(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		srv := resiliencetest.NewServer(answerFaults...)
		tr := resiliencetest.NewTransport(answerFaults...)
		for i, f := range answerFaults {
			sreq, _ := http.NewRequest(method, srv.URL, nil)
			sresp, err := srv.Client().Do(sreq)
			if err != nil {
				t.Fatalf("%s %v: server: %v", method, f, err)
			}
			treq, _ := http.NewRequest(method, apiURL, nil)
			tresp, err := tr.RoundTrip(treq)
			if err != nil {
				t.Fatalf("%s %v: transport: %v", method, f, err)
			}
			if tresp.Request != treq || tresp.Body == nil || tresp.ProtoMajor != 1 || tresp.ProtoMinor != 1 ||
				tresp.Header.Get("Date") == "" {
				t.Errorf("%s %v: transport response %+v lacks a field", method, f, tresp)
			}
			fromServer, fromTransport := see(sresp, method), see(tresp, method)
			if fromServer != fromTransport {
				t.Errorf("%s fault %d (%v):\nserver    %+v\ntransport %+v", method, i, f, fromServer, fromTransport)
			}
		}
		srv.Close()
	}
}

func TestTransportReset(t *testing.T) {
	tr := resiliencetest.NewTransport(resiliencetest.Fault{Break: resiliencetest.Reset}, resiliencetest.Fault{Break: resiliencetest.Reset})
	resp, err := tr.RoundTrip(newRequest(t, context.Background(), "GET", ""))
	var oe *net.OpError
	if resp != nil || !errors.As(err, &oe) || !errors.Is(err, errConnReset) || oe.Op != "read" || oe.Net != "tcp" {
		t.Fatalf("RoundTrip = %v, %#v; want a *net.OpError holding ECONNRESET", resp, err)
	}
	if got, want := err.Error(), "read tcp api.example.com:443: read: connection reset by peer"; got != want {
		t.Errorf("error %q; want %q", got, want)
	}
	_, err = tr.Client().Get("http://example.com:8080/")
	var ue *url.Error
	if !errors.As(err, &ue) || !errors.Is(err, errConnReset) || !strings.Contains(err.Error(), "example.com:8080") {
		t.Fatalf("through a client: %v; want a *url.Error holding ECONNRESET", err)
	}
}

func TestTransportClose(t *testing.T) {
	tr := resiliencetest.NewTransport(resiliencetest.Fault{Break: resiliencetest.Close}, resiliencetest.Fault{Break: resiliencetest.Close})
	if resp, err := tr.RoundTrip(newRequest(t, context.Background(), "GET", "")); resp != nil || err != io.EOF {
		t.Fatalf("RoundTrip = %v, %v; want io.EOF itself, as net/http's Transport returns", resp, err)
	}
	_, err := tr.Client().Get(apiURL)
	var ue *url.Error
	if !errors.As(err, &ue) || ue.Err != io.EOF {
		t.Fatalf("through a client: %#v; want a *url.Error holding io.EOF", err)
	}
}

func TestTransportTruncate(t *testing.T) {
	tr := resiliencetest.NewTransport(resiliencetest.Fault{Status: 200, Body: "partial", Break: resiliencetest.Truncate})
	resp, err := tr.RoundTrip(newRequest(t, context.Background(), "GET", ""))
	if err != nil || resp.ContentLength != 8 {
		t.Fatalf("RoundTrip = %+v, %v; want a response promising 8 bytes", resp, err)
	}
	b, err := io.ReadAll(resp.Body)
	if string(b) != "partial" || err != io.ErrUnexpectedEOF {
		t.Fatalf("body %q, %v; want %q and io.ErrUnexpectedEOF", b, err, "partial")
	}
	if n, err := resp.Body.Read(make([]byte, 1)); n != 0 || err != io.ErrUnexpectedEOF {
		t.Fatalf("Read again = %d, %v; want io.ErrUnexpectedEOF again", n, err)
	}
}

func TestTransportDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := resiliencetest.NewTransport(
			resiliencetest.Fault{Status: 503, Delay: 3 * time.Second},
			resiliencetest.Fault{Delay: 3 * time.Second},
			resiliencetest.Fault{Delay: 3 * time.Second},
			resiliencetest.Fault{Break: resiliencetest.Reset, Delay: 2 * time.Second},
		)
		start := time.Now()
		resp, err := tr.RoundTrip(newRequest(t, context.Background(), "GET", ""))
		if err != nil || resp.StatusCode != 503 || time.Since(start) != 3*time.Second {
			t.Fatalf("RoundTrip = %v, %v after %v; want 503 after exactly 3s", resp, err, time.Since(start))
		}
		resp.Body.Close()

		// A deadline before the delay ends it.
		start = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := tr.RoundTrip(newRequest(t, ctx, "GET", "")); err != context.DeadlineExceeded || time.Since(start) != time.Second {
			t.Fatalf("RoundTrip = %v after %v; want context.DeadlineExceeded after exactly 1s", err, time.Since(start))
		}

		// So does a cancellation, which reports its cause.
		start = time.Now()
		cause := errors.New("the user left")
		ctx, cancelCause := context.WithCancelCause(context.Background())
		time.AfterFunc(2*time.Second, func() { cancelCause(cause) })
		if _, err := tr.RoundTrip(newRequest(t, ctx, "GET", "")); err != cause || time.Since(start) != 2*time.Second {
			t.Fatalf("RoundTrip = %v after %v; want the cause after exactly 2s", err, time.Since(start))
		}

		start = time.Now()
		if _, err := tr.RoundTrip(newRequest(t, context.Background(), "GET", "")); !errors.Is(err, errConnReset) || time.Since(start) != 2*time.Second {
			t.Fatalf("RoundTrip = %v after %v; want a reset after exactly 2s", err, time.Since(start))
		}
	})
}

func TestTransportHang(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := resiliencetest.NewTransport(resiliencetest.Fault{Break: resiliencetest.Hang}, resiliencetest.Fault{Break: resiliencetest.Hang})
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := tr.Client().Do(newRequest(t, ctx, "GET", ""))
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 5*time.Second {
			t.Fatalf("Do = %v after %v; want the deadline after exactly 5s", err, time.Since(start))
		}

		// Canceled by another goroutine.
		ctx, cancel = context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, err := tr.RoundTrip(newRequest(t, ctx, "GET", ""))
			done <- err
		}()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("RoundTrip returned %v before its context ended", err)
		default:
		}
		cancel()
		if err := <-done; err != context.Canceled {
			t.Fatalf("RoundTrip = %v; want context.Canceled", err)
		}
		if got := tr.Requests(); got != 2 {
			t.Errorf("Requests() = %d; want 2", got)
		}
	})
}

func TestTransportSlowBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const gap = 100 * time.Millisecond
		tr := resiliencetest.NewTransport(
			resiliencetest.Fault{Body: "hello", SlowBody: gap},
			resiliencetest.Fault{Body: "hello", SlowBody: gap},
			resiliencetest.Fault{Body: "hello", SlowBody: gap},
		)
		start := time.Now()
		resp, err := tr.RoundTrip(newRequest(t, context.Background(), "GET", ""))
		if err != nil || time.Since(start) != 0 {
			t.Fatalf("RoundTrip = %v after %v; want the headers at once", err, time.Since(start))
		}
		buf := make([]byte, 64)
		var got []byte
		for i := range 5 {
			n, err := resp.Body.Read(buf)
			if n != 1 || err != nil || time.Since(start) != time.Duration(i+1)*gap {
				t.Fatalf("Read %d = %d, %v after %v; want 1 byte after %v", i, n, err, time.Since(start), time.Duration(i+1)*gap)
			}
			got = append(got, buf[:n]...)
		}
		if n, err := resp.Body.Read(buf); n != 0 || err != io.EOF || string(got) != "hello" {
			t.Fatalf("body %q, then %d, %v; want %q then io.EOF", got, n, err, "hello")
		}
		resp.Body.Close()

		// The request's deadline ends a read that waits.
		start = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		resp, err = tr.RoundTrip(newRequest(t, ctx, "GET", ""))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		if string(b) != "he" || err != context.DeadlineExceeded || time.Since(start) != 250*time.Millisecond {
			t.Fatalf("body %q, %v after %v; want %q and the deadline after exactly 250ms", b, err, time.Since(start), "he")
		}

		// Closing the body ends a read that waits, as net/http's does.
		start = time.Now()
		resp, err = tr.RoundTrip(newRequest(t, context.Background(), "GET", ""))
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(150*time.Millisecond, func() { resp.Body.Close() })
		b, err = io.ReadAll(resp.Body)
		if string(b) != "h" || err == nil || time.Since(start) != 150*time.Millisecond {
			t.Fatalf("body %q, %v after %v; want %q and an error after exactly 150ms", b, err, time.Since(start), "h")
		}
		if _, err := resp.Body.Read(buf); err == nil || err == io.EOF {
			t.Fatalf("Read after Close = %v; want an error", err)
		}
	})
}

func TestTransportBodyAfterCancel(t *testing.T) {
	tr := resiliencetest.NewTransport(resiliencetest.OK("hello"), resiliencetest.OK("hello"))
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := tr.RoundTrip(newRequest(t, ctx, "GET", ""))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := resp.Body.Read(make([]byte, 10)); err != context.Canceled {
		t.Fatalf("Read after the request's context ended = %v; want context.Canceled", err)
	}

	// A body read to its end stays read to its end.
	ctx, cancel = context.WithCancel(context.Background())
	resp, err = tr.RoundTrip(newRequest(t, ctx, "GET", ""))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(resp.Body); string(b) != "hello" || err != nil {
		t.Fatalf("body %q, %v", b, err)
	}
	cancel()
	if _, err := resp.Body.Read(make([]byte, 10)); err != io.EOF {
		t.Fatalf("Read at the end after cancel = %v; want io.EOF", err)
	}
}

func TestTransportClosesRequestBody(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name  string
		fault resiliencetest.Fault
		edit  func(*http.Request) *http.Request
		ok    bool
	}{
		{name: "answer", ok: true},
		{name: "reset", fault: resiliencetest.Fault{Break: resiliencetest.Reset}},
		{name: "invalid fault", fault: resiliencetest.Fault{Delay: -1}},
		{name: "nil URL", edit: func(r *http.Request) *http.Request { r.URL = nil; return r }},
		{name: "nil Header", edit: func(r *http.Request) *http.Request { r.Header = nil; return r }},
		{name: "no host", edit: func(r *http.Request) *http.Request { r.URL.Host = ""; return r }},
		{name: "scheme", edit: func(r *http.Request) *http.Request { r.URL.Scheme = "ftp"; return r }},
		{name: "canceled", edit: func(r *http.Request) *http.Request { return r.WithContext(canceled) }},
	} {
		tr := resiliencetest.NewTransport(c.fault)
		body := newBody("payload")
		req := newRequest(t, context.Background(), "POST", "")
		req.Body = body
		if c.edit != nil {
			req = c.edit(req)
		}
		resp, err := tr.RoundTrip(req)
		if (err == nil) != c.ok || (resp != nil) != c.ok {
			t.Errorf("%s: RoundTrip = %v, %v", c.name, resp, err)
		}
		if !body.closed {
			t.Errorf("%s: the request body was not closed", c.name)
		}
		if c.name == "canceled" && (err != context.Canceled || tr.Requests() != 0) {
			t.Errorf("canceled: %v, %d requests; want context.Canceled and no request arriving", err, tr.Requests())
		}
	}
	var nilTransport *resiliencetest.Transport
	body := newBody("payload")
	req := newRequest(t, context.Background(), "POST", "")
	req.Body = body
	if _, err := nilTransport.RoundTrip(req); err == nil || !body.closed {
		t.Errorf("nil Transport: %v, body closed %v; want an error and the body closed", err, body.closed)
	}
	if _, err := resiliencetest.NewTransport().RoundTrip(nil); err == nil {
		t.Error("nil Request: no error")
	}
	if nilTransport.Requests() != 0 || nilTransport.Received() != nil {
		t.Error("a nil Transport reports requests")
	}
}

// failingReader is a request body whose reads fail.
type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestTransportRequestBodyError(t *testing.T) {
	errRead := errors.New("disk gone")
	tr := resiliencetest.NewTransport()
	body := &closeTracker{Reader: failingReader{errRead}}
	req := newRequest(t, context.Background(), "POST", "")
	req.Body = body
	if _, err := tr.RoundTrip(req); err != errRead || !body.closed || tr.Requests() != 0 {
		t.Fatalf("RoundTrip = %v, closed %v, %d requests; want the read error, the body closed, no request", err, body.closed, tr.Requests())
	}
}

func TestZeroTransport(t *testing.T) {
	var tr resiliencetest.Transport
	resp, body, err := get(context.Background(), tr.Client(), apiURL)
	if err != nil || resp.StatusCode != 200 || body != "ok" || tr.Requests() != 1 {
		t.Fatalf("got %v %q %v, %d requests; want 200 ok", resp, body, err, tr.Requests())
	}
}

func TestTransportHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seenReq *http.Request
		var seenBody string
		tr := resiliencetest.NewTransport(
			resiliencetest.Fault{Header: http.Header{"X-Fault": {"1"}}, Delay: time.Second},
			resiliencetest.Status(503),
			resiliencetest.Fault{SlowBody: time.Second},
			resiliencetest.Fault{Break: resiliencetest.Truncate},
		)
		tr.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			seenReq, seenBody = r, string(b)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"id":1}`)
		})
		start := time.Now()
		req, _ := http.NewRequest(http.MethodPost, "https://api.example.com/v1/items?x=1", strings.NewReader("data"))
		resp, err := tr.RoundTrip(req)
		if err != nil || resp.StatusCode != 201 || resp.Header.Get("X-Fault") != "1" ||
			resp.Header.Get("Content-Type") != "application/json" || time.Since(start) != time.Second {
			t.Fatalf("RoundTrip = %+v, %v after %v; want the handler's 201 with X-Fault, after 1s", resp, err, time.Since(start))
		}
		if b, _ := io.ReadAll(resp.Body); string(b) != `{"id":1}` {
			t.Errorf("body %q", b)
		}
		if seenBody != "data" || seenReq.RequestURI != "/v1/items?x=1" || seenReq.URL.Path != "/v1/items" ||
			seenReq.URL.Host != "" || seenReq.Host != "api.example.com" || seenReq.RemoteAddr == "" {
			t.Errorf("the handler saw %+v with body %q; want a server's view of the request", seenReq, seenBody)
		}

		seenReq = nil
		resp, err = tr.RoundTrip(newRequest(t, context.Background(), "GET", ""))
		if err != nil || resp.StatusCode != 503 || seenReq != nil {
			t.Fatalf("RoundTrip = %v, %v; want the fault's own 503, without the handler", resp, err)
		}

		start = time.Now()
		resp, err = tr.RoundTrip(newRequest(t, context.Background(), "GET", ""))
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(resp.Body); string(b) != `{"id":1}` || err != nil || time.Since(start) != 8*time.Second {
			t.Errorf("slow handler body %q, %v after %v; want it whole after 8s", b, err, time.Since(start))
		}

		resp, err = tr.RoundTrip(newRequest(t, context.Background(), "GET", ""))
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(resp.Body); string(b) != `{"id":1}` || err != io.ErrUnexpectedEOF {
			t.Errorf("truncated handler body %q, %v", b, err)
		}
	})
}

func TestTransportScriptInArrivalOrder(t *testing.T) {
	const n = 64
	var script []resiliencetest.Fault
	for i := range n {
		script = append(script, resiliencetest.OK("answer "+strconv.Itoa(i+1)))
	}
	tr := resiliencetest.NewTransport(script...)
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req := newRequest(t, context.Background(), "GET", "")
			req.Header.Set("X-Client", strconv.Itoa(i))
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			got[i] = string(b)
		})
	}
	wg.Wait()
	checkArrivalOrder(t, tr.Received(), script, got)
}

func TestTransportReceivedTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A client that retries after the server's Retry-After: the records
		// show the exact gaps.
		tr := resiliencetest.NewTransport(resiliencetest.RetryAfter(503, "2"), resiliencetest.RetryAfter(503, "5"))
		for {
			req := newRequest(t, context.Background(), "PUT", "doc")
			req.Header.Set("Idempotency-Key", "k1")
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
			secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			time.Sleep(time.Duration(secs) * time.Second)
		}
		rs := tr.Received()
		if len(rs) != 3 {
			t.Fatalf("%d requests; want 3", len(rs))
		}
		if g1, g2 := rs[1].Time.Sub(rs[0].Time), rs[2].Time.Sub(rs[1].Time); g1 != 2*time.Second || g2 != 5*time.Second {
			t.Errorf("gaps %v, %v; want 2s, 5s", g1, g2)
		}
		for _, r := range rs {
			if r.Method != "PUT" || r.Path != "/v1/chat" || string(r.Body) != "doc" || r.Header.Get("Idempotency-Key") != "k1" {
				t.Errorf("record %+v", r)
			}
		}
		if rs[0].Fault.Header.Get("Retry-After") != "2" || rs[2].Fault.Status != 0 {
			t.Errorf("recorded faults %v, %v, %v", rs[0].Fault, rs[1].Fault, rs[2].Fault)
		}
	})
}

func TestInvalidFaults(t *testing.T) {
	for _, c := range []struct {
		fault resiliencetest.Fault
		want  string
	}{
		{resiliencetest.Fault{Status: 42}, "Status 42 is not in 200-999"},
		{resiliencetest.Fault{Status: 100}, "Status 100 is not in 200-999"},
		{resiliencetest.Fault{Status: 1000}, "Status 1000 is not in 200-999"},
		{resiliencetest.Fault{Status: -1}, "Status -1 is not in 200-999"},
		{resiliencetest.Fault{Delay: -time.Second}, "Delay is negative: -1s"},
		{resiliencetest.Fault{SlowBody: -time.Second}, "SlowBody is negative: -1s"},
		{resiliencetest.Fault{Break: 9}, "Break(9) is not a Break"},
		{resiliencetest.Fault{Break: resiliencetest.Reset, Status: 503}, "a reset sends no answer, so Status, Header, Body and SlowBody must be unset"},
		{resiliencetest.Fault{Break: resiliencetest.Close, Body: "x"}, "a close sends no answer, so Status, Header, Body and SlowBody must be unset"},
		{resiliencetest.Fault{Break: resiliencetest.Hang, Header: http.Header{}}, "a hang sends no answer, so Status, Header, Body and SlowBody must be unset"},
		{resiliencetest.Fault{Break: resiliencetest.Hang, SlowBody: 1}, "a hang sends no answer, so Status, Header, Body and SlowBody must be unset"},
		{resiliencetest.Fault{Status: 204, Body: "x"}, "Status 204 allows no Body"},
		{resiliencetest.Fault{Status: 304, Break: resiliencetest.Truncate}, "Status 304 has no body to truncate"},
	} {
		// In a bubble, with a deadline: were the fault taken for valid, a
		// Hang or a Delay would end at once, with the wrong error.
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			tr := resiliencetest.NewTransport(resiliencetest.OK("first"), c.fault)
			if _, err := tr.RoundTrip(newRequest(t, ctx, "GET", "")); err != nil {
				t.Fatal(err)
			}
			_, err := tr.RoundTrip(newRequest(t, ctx, "GET", ""))
			if want := "resiliencetest: request 2: " + c.want; err == nil || err.Error() != want {
				t.Errorf("%#v: err = %v; want %q", c.fault, err, want)
			}
		})
		_, err := resiliencetest.NewMix(1, resiliencetest.Chance{Probability: 0.5}, resiliencetest.Chance{Probability: 0.5, Fault: c.fault})
		if want := "resiliencetest: chance 1: " + c.want; err == nil || err.Error() != want {
			t.Errorf("NewMix with %#v: err = %v; want %q", c.fault, err, want)
		}
	}
}

package resiliencehttp_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
)

// memListener is an in-memory network for a synctest bubble: a transport
// dials it and a server accepts from it, over net.Pipe, so that real
// net/http clients and servers run on virtual time.
type memListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	peers map[net.Conn]net.Conn // the server's end of each client's
}

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "mem" }

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr{} }

func (l *memListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		l.mu.Lock()
		l.peers[client] = server
		l.mu.Unlock()
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// peer returns the server's end of the client's connection c.
func (l *memListener) peer(c net.Conn) net.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peers[c]
}

// serveInMemory serves h in the bubble and returns a transport that reaches
// it at any http:// URL; with h2c, both speak HTTP/2 without TLS.
func serveInMemory(t *testing.T, h http.Handler, h2c bool) *http.Transport {
	tr, _ := serveInMemoryListener(t, h, h2c)
	return tr
}

func serveInMemoryListener(t *testing.T, h http.Handler, h2c bool) (*http.Transport, *memListener) {
	l := &memListener{conns: make(chan net.Conn), done: make(chan struct{}), peers: make(map[net.Conn]net.Conn)}
	srv := &http.Server{Handler: h}
	tr := &http.Transport{DialContext: l.dial}
	if h2c {
		srv.Protocols, tr.Protocols = new(http.Protocols), new(http.Protocols)
		srv.Protocols.SetUnencryptedHTTP2(true)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	served := make(chan struct{})
	go func() {
		srv.Serve(l)
		close(served)
	}()
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
		<-served
	})
	return tr, l
}

var protocols = []struct {
	name string
	h2c  bool
}{{"HTTP/1.1", false}, {"HTTP/2", true}}

// A body that never comes: the request's context must end the call, as it
// does through the bare transport, even though the transport would replay
// the request. Before, the body was read ahead of sending, deaf to the
// context, and the call never returned.
func TestStalledBodyTheContextWins(t *testing.T) {
	for _, p := range protocols {
		for _, attemptTimeout := range []time.Duration{0, 100 * time.Millisecond} {
			t.Run(fmt.Sprintf("%s/AttemptTimeout=%v", p.name, attemptTimeout), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					var requests int
					var mu sync.Mutex
					base := serveInMemory(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						mu.Lock()
						requests++
						mu.Unlock()
						io.Copy(io.Discard, r.Body)
					}), p.h2c)
					c, _ := newClient(t, base, resiliencehttp.Config{
						Retry:          retry.Config{MaxAttempts: 5, Backoff: backoff.Constant(time.Millisecond)},
						AttemptTimeout: attemptTimeout,
					})
					body, stalled := io.Pipe()
					defer stalled.Close()
					// So that a transport deaf to the context fails here
					// rather than deadlocking the bubble.
					giveUp := time.AfterFunc(10*time.Second, func() { stalled.CloseWithError(errors.New("the test gave up")) })
					defer giveUp.Stop()

					ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
					defer cancel()
					req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://mem.test/", body)
					start := time.Now()
					_, err := c.Do(req)
					if took := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || took != 300*time.Millisecond {
						t.Fatalf("Do = %v after %v; want the context's deadline after 300ms", err, took)
					}
					mu.Lock()
					defer mu.Unlock()
					want := 1 // the one attempt, stalled until the deadline
					if attemptTimeout > 0 {
						want += int(300 * time.Millisecond / (attemptTimeout + time.Millisecond + 1))
					}
					if requests != want {
						t.Errorf("the server saw %d requests; want %d, one per attempt", requests, want)
					}
				})
			})
		}
	}
}

// The transport sends a body as it comes: a server that answers before the
// body ends gets the first part of it with the first attempt, and when that
// attempt fails, the replay carries the whole body (the part recorded, then
// the rest of the original).
func TestBodyStreamsAndIsReplayedWhole(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				var got []string
				base := serveInMemory(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.NewResponseController(w).EnableFullDuplex()
					mu.Lock()
					n := len(got)
					got = append(got, "")
					mu.Unlock()
					var b []byte
					if n == 0 {
						// Read the first part only, and fail.
						b = make([]byte, len("hello "))
						io.ReadFull(r.Body, b)
						w.WriteHeader(http.StatusServiceUnavailable)
					} else {
						b, _ = io.ReadAll(r.Body)
					}
					mu.Lock()
					got[n] = string(b)
					mu.Unlock()
				}), p.h2c)
				c, _ := newClient(t, base, resiliencehttp.Config{Retry: fast})
				body, w := io.Pipe()
				req, _ := http.NewRequest(http.MethodPut, "http://mem.test/", body)
				type result struct {
					resp *http.Response
					err  error
				}
				done := make(chan result, 1)
				go func() {
					resp, err := c.Do(req)
					done <- result{resp, err}
				}()
				w.Write([]byte("hello "))
				time.Sleep(time.Second) // for the first attempt, its backoff, and the second's start
				synctest.Wait()
				mu.Lock()
				sentEarly := len(got) == 2 && got[0] == "hello "
				mu.Unlock()
				if !sentEarly {
					t.Errorf("after the first part of the body, the server saw %q; want the first attempt with that part, "+
						"and the second under way: the body must stream, not be read ahead", got)
				}
				w.Write([]byte("world"))
				w.Close()
				r := <-done
				if r.err != nil {
					t.Fatal(r.err)
				}
				read(t, r.resp)
				mu.Lock()
				defer mu.Unlock()
				if r.resp.StatusCode != 200 || len(got) != 2 || got[1] != "hello world" {
					t.Fatalf("got %d, the server saw %q; want the replay to carry the whole body", r.resp.StatusCode, got)
				}
			})
		})
	}
}

// echoLines answers at once, then echoes each line of the request body as
// it comes: a server that answers while the body streams.
func echoLines(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	if r.ProtoMajor == 1 {
		if err := rc.EnableFullDuplex(); err != nil {
			panic(err)
		}
	}
	w.WriteHeader(http.StatusOK)
	rc.Flush()
	lines := bufio.NewScanner(r.Body)
	for lines.Scan() {
		fmt.Fprintf(w, "echo %s\n", lines.Text())
		rc.Flush()
	}
}

// A full-duplex exchange through the transport, as through the bare one:
// the response comes before the request body has begun, and each line sent
// is echoed before the next is written. Before, the transport read the body
// ahead of sending it, so the call blocked until the body ended — here,
// until the context's deadline.
func TestFullDuplex(t *testing.T) {
	h1 := httptest.NewServer(http.HandlerFunc(echoLines))
	defer h1.Close()
	h2 := httptest.NewUnstartedServer(http.HandlerFunc(echoLines))
	h2.EnableHTTP2 = true
	h2.StartTLS()
	defer h2.Close()
	for _, tc := range []struct {
		name  string
		url   string
		base  *http.Transport
		proto int
	}{
		{"HTTP/1.1", h1.URL, h1.Client().Transport.(*http.Transport), 1},
		{"HTTP/2+TLS", h2.URL, h2.Client().Transport.(*http.Transport), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newClient(t, tc.base, resiliencehttp.Config{Retry: fast, AttemptTimeout: time.Minute})
			defer tc.base.CloseIdleConnections()
			// Generous: the exchange takes milliseconds; the deadline only
			// bounds a transport that blocks.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			body, w := io.Pipe()
			defer w.Close()
			stop := context.AfterFunc(ctx, func() { w.CloseWithError(context.Cause(ctx)) })
			defer stop()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPut, tc.url, body)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("Do: %v; want the response before the request body has begun", err)
			}
			defer resp.Body.Close()
			if resp.ProtoMajor != tc.proto {
				t.Fatalf("spoke %s, want HTTP/%d", resp.Proto, tc.proto)
			}
			echoes := bufio.NewReader(resp.Body)
			for _, line := range []string{"ping", "pong"} {
				fmt.Fprintln(w, line)
				if got, err := echoes.ReadString('\n'); got != "echo "+line+"\n" {
					t.Fatalf("after %q, read %q, %v; want the echo", line, got, err)
				}
			}
			w.Close()
			if rest, err := io.ReadAll(echoes); len(rest) != 0 || err != nil {
				t.Fatalf("after the body ended: %q, %v; want the response's end", rest, err)
			}
		})
	}
}

// bodyEater is a base transport that reads part of each request's body
// before it fails, as a connection that drops mid-upload does, and records
// what it read; the attempt numbered last reads all of it and answers 200.
type bodyEater struct {
	mu    sync.Mutex
	reads []int // bytes to read on each attempt; -1 for all
	got   [][]byte
}

func (e *bodyEater) RoundTrip(r *http.Request) (*http.Response, error) {
	e.mu.Lock()
	n := len(e.got)
	limit := -1
	if n < len(e.reads) {
		limit = e.reads[n]
	}
	e.mu.Unlock()
	var b []byte
	var err error
	if limit < 0 {
		b, err = io.ReadAll(r.Body)
	} else {
		b = make([]byte, limit)
		var k int
		k, err = io.ReadFull(r.Body, b)
		b = b[:k]
	}
	r.Body.Close()
	e.mu.Lock()
	e.got = append(e.got, b)
	e.mu.Unlock()
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if limit >= 0 {
		return nil, syscall.ECONNRESET
	}
	return answer(r, 200), nil
}

// Every attempt is sent either the whole body or nothing — never a short one
// — whatever part of it the attempts before read, and a body beyond
// MaxBodyBuffer is not replayed.
func TestReplayedBodiesAreWhole(t *testing.T) {
	const limit = 16
	for _, size := range []int{0, 1, 15, 16, 17, 40} {
		for _, reads := range [][]int{{}, {0}, {3}, {0, 5}, {5, 3}, {limit, limit + 1}, {7, limit + 3}} {
			t.Run(fmt.Sprintf("size %d, reads %v", size, reads), func(t *testing.T) {
				orig := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), 2)[:size]
				base := &bodyEater{reads: reads}
				c, _ := newClient(t, base, resiliencehttp.Config{
					Retry:         retry.Config{MaxAttempts: 5, Backoff: backoff.Constant(0)},
					MaxBodyBuffer: limit,
				})
				src := &closeCounter{Reader: onlyReader{bytes.NewReader(orig)}}
				req, _ := http.NewRequest(http.MethodPut, "http://api.example/", src)
				resp, err := c.Do(req)
				if resp != nil {
					read(t, resp)
				}
				for i, b := range base.got {
					var k int
					if i < len(reads) {
						k = reads[i]
					} else {
						k = size
					}
					if want := orig[:min(k, size)]; !bytes.Equal(b, want) {
						t.Fatalf("attempt %d read %q, want %q: the body from its start", i+1, b, want)
					}
				}
				// How many attempts: the body read so far must fit the
				// buffer for the next one to be made.
				want := len(reads) + 1
				for i, k := range reads {
					if min(k, size) > limit {
						want = i + 1
						break
					}
				}
				if len(base.got) != want {
					t.Fatalf("%d attempts, want %d", len(base.got), want)
				}
				if want == len(reads)+1 && (err != nil || resp.StatusCode != 200) {
					t.Fatalf("Do = %v, %v; want the last attempt's 200", resp, err)
				}
				if want < len(reads)+1 && !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("Do = %v, %v; want the attempt's reset, as it came", resp, err)
				}
				if src.closed != 1 {
					t.Fatalf("the original body was closed %d times, want once", src.closed)
				}
			})
		}
	}
}

// streamedPayload is the body of request id: its size varies up to twice
// the buffer used below.
func streamedPayload(id int) []byte {
	size := (id * 7919) % (64 << 10)
	b := make([]byte, size)
	for i := range b {
		b[i] = byte('a' + (i+id)%26)
	}
	return b
}

// Many requests at once, each streaming its body through a pipe, against a
// server that fails some attempts after reading only part of the body, over
// HTTP/1.1 and HTTP/2: every body the server reads to its end is the whole
// body, every call ends in the 200 of an attempt that got it — or, for a
// body longer than MaxBodyBuffer, which a failed attempt may have sent past
// the limit,
// in a failed attempt's 503 — and no goroutine is left (the leak check).
func TestConcurrentStreamedBodies(t *testing.T) {
	const limit = 32 << 10
	handler := func(t *testing.T) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			http.NewResponseController(w).EnableFullDuplex()
			var id, attempt int
			fmt.Sscan(r.Header.Get("X-Body"), &id)
			fmt.Sscan(r.Header.Get("X-Attempt"), &attempt)
			want := streamedPayload(id)
			if attempt <= id%3 {
				// Fail after a part of the body: none, some, or all of it.
				part := make([]byte, []int{0, len(want) / 3, len(want)}[(id+attempt)%3])
				io.ReadFull(r.Body, part)
				w.WriteHeader(http.StatusServiceUnavailable)
				if r.ProtoMajor == 1 {
					// Answered; now let the rest come, or the client give
					// up: net/http's server must not be left with the body
					// unread in full-duplex mode. (Over HTTP/2 the client
					// stops sending at a status of 300 or more.)
					http.NewResponseController(w).Flush()
					io.Copy(io.Discard, r.Body)
				}
				return
			}
			got, err := io.ReadAll(r.Body)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("request %d, attempt %d: read %d bytes, %v; want the %d of its body", id, attempt, len(got), err, len(want))
				w.WriteHeader(http.StatusBadRequest)
			}
		}
	}
	for _, p := range []string{"HTTP/1.1", "HTTP/2"} {
		t.Run(p, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(handler(t))
			if p == "HTTP/2" {
				srv.EnableHTTP2 = true
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			base := srv.Client().Transport.(*http.Transport).Clone()
			defer base.CloseIdleConnections()
			c, _ := newClient(t, base, resiliencehttp.Config{
				Retry:         retry.Config{MaxAttempts: 4, Backoff: backoff.Constant(time.Millisecond)},
				MaxBodyBuffer: limit,
				AttemptHeader: "X-Attempt",
			})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			for id := range 24 {
				wg.Go(func() {
					payload := streamedPayload(id)
					body, w := io.Pipe()
					go func() {
						for rest := payload; len(rest) > 0; {
							n := min(len(rest), 1+id*131%9000)
							if _, err := w.Write(rest[:n]); err != nil {
								return // the transport closed the body: it will not be sent again
							}
							rest = rest[n:]
						}
						w.Close()
					}()
					req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL, body)
					req.Header.Set("X-Body", fmt.Sprint(id))
					resp, err := c.Do(req)
					if err != nil {
						t.Errorf("request %d: %v", id, err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					// A failed attempt may have sent more of a body above
					// the limit than the server read, and so made it not
					// replayable.
					switch {
					case resp.StatusCode == 200:
					case resp.StatusCode == 503 && len(payload) > limit && id%3 > 0:
					default:
						t.Errorf("request %d (%d bytes): %s", id, len(payload), resp.Status)
					}
				})
			}
			wg.Wait()
		})
	}
}

// When the base transport rewinds a body itself through GetBody (net/http
// does after a lost connection, and on a refused HTTP/2 stream), the view it
// got is the one that goes on streaming: if the transport then gives up —
// here the retries run out on the 503 — and hands back the response while
// the request still streams, that view must still get the whole body, even
// past MaxBodyBuffer.
func TestBodyRewoundByTheBaseStreamsOn(t *testing.T) {
	type result struct {
		body []byte
		err  error
	}
	streamed := make(chan result, 1)
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r.Body.Close() // net/http closes the body it gives up, then rewinds
		b, err := r.GetBody()
		if err != nil {
			return nil, err
		}
		go func() { // the request goes on streaming after the response
			got, err := io.ReadAll(b)
			b.Close()
			streamed <- result{got, err}
		}()
		return answer(r, 503), nil
	})
	c, _ := newClient(t, base, resiliencehttp.Config{Retry: retry.Config{MaxAttempts: 1}, MaxBodyBuffer: 16})
	body, w := io.Pipe()
	req, _ := http.NewRequest(http.MethodPut, "http://api.example/", body)
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("Do = %v, %v; want the 503", resp, err)
	}
	read(t, resp)
	want := strings.Repeat("0123456789", 4)
	for i := 0; i < len(want); i += 10 {
		if _, err := io.WriteString(w, want[i:i+10]); err != nil {
			t.Fatalf("writing the body after the response: %v", err)
		}
	}
	w.Close()
	if r := <-streamed; r.err != nil || string(r.body) != want {
		t.Fatalf("the request streamed %q, %v; want all %d bytes", r.body, r.err, len(want))
	}
}

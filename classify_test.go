// The system errors these tests build and expect (syscall.ECONNRESET and the
// rest) do not exist on Plan 9, whose network errors are strings.

//go:build !plan9

package resilience_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netresilience/resilience"
)

// netBound limits every network operation in these tests; a test that reaches
// it has failed.
const netBound = 3 * time.Second

// wantClass fails the test if Classify(err) is not want.
func wantClass(t *testing.T, err error, want resilience.Class) {
	t.Helper()
	if got := resilience.Classify(err); got != want {
		t.Errorf("Classify = %v, want %v, for the error %v\nchain:%s", got, want, err, errChain(err))
	}
}

// errChain describes err and every error it wraps, one per line with its type,
// for failure messages.
func errChain(err error) string {
	var b strings.Builder
	var visit func(e error, depth int)
	visit = func(e error, depth int) {
		for e != nil {
			fmt.Fprintf(&b, "\n%s%T: %v", strings.Repeat("  ", depth+1), e, e)
			switch u := e.(type) {
			case interface{ Unwrap() error }:
				e = u.Unwrap()
				depth++
			case interface{ Unwrap() []error }:
				for _, x := range u.Unwrap() {
					visit(x, depth+1)
				}
				return
			default:
				return
			}
		}
	}
	visit(err, 0)
	return b.String()
}

// onLinux reports whether the exact system error of a real network failure
// can be asserted: these tests observed it on Linux, and other systems may
// report the same failure with a neighbouring errno (Windows uses Winsock's).
func onLinux() bool { return runtime.GOOS == "linux" }

// serveTCP accepts connections on a free loopback port and hands each to
// handle in the accepting goroutine. handle must return once stop is closed.
// When the test ends, stop is closed, the listener is closed and serveTCP
// waits for the goroutine, so nothing outlives the test.
func serveTCP(t *testing.T, handle func(c *net.TCPConn, stop <-chan struct{})) (addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			handle(c.(*net.TCPConn), stop)
		}
	}()
	t.Cleanup(func() {
		close(stop)
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// dialTCP connects to addr with every later operation bounded; the
// connection is closed when the test ends.
func dialTCP(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, netBound)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(netBound)); err != nil {
		t.Fatalf("set deadline: %v", err)
	}
	return c.(*net.TCPConn)
}

// newHTTPClient returns a client with a transport of its own, which trusts only
// the system's roots and uses no proxy; its idle connections are closed when
// the test ends.
func newHTTPClient(t *testing.T, timeout time.Duration) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

// mustFailGet fetches u and returns the error; a response, which none of
// the tests expects, fails the test.
func mustFailGet(t *testing.T, c *http.Client, u string) error {
	t.Helper()
	resp, err := c.Get(u)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET %s: got %s, want an error", u, resp.Status)
	}
	return err
}

// quietTLSServer starts a TLS server that does not log the handshakes its
// clients abandon, and closes it when the test ends.
func quietTLSServer(t *testing.T, configure func(*tls.Config)) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	if configure != nil {
		configure(ts.TLS)
	}
	t.Cleanup(ts.Close)
	return ts
}

func TestClassifyRealClosedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()

	c, err := net.DialTimeout("tcp", addr, netBound)
	if err == nil {
		c.Close()
		t.Fatalf("dial %s after closing its listener: connected, want a refusal", addr)
	}
	// Observed: *net.OpError "dial tcp 127.0.0.1:N: connect: connection
	// refused" around *os.SyscallError around syscall.ECONNREFUSED.
	t.Logf("observed %T: %v%s", err, err, errChain(err))
	if onLinux() && !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial a closed port: got %v, want ECONNREFUSED%s", err, errChain(err))
	}
	wantClass(t, err, resilience.ClassTransient)
}

func TestClassifyRealResetOnRead(t *testing.T) {
	// The server waits for a byte before it resets: a reset that comes
	// straight after the accept can reach the client while its dial is still
	// checking the connection, and fail the dial instead of the read.
	addr := serveTCP(t, func(c *net.TCPConn, _ <-chan struct{}) {
		c.SetDeadline(time.Now().Add(netBound))
		c.Read(make([]byte, 1))
		c.SetLinger(0) // Close now sends RST instead of FIN.
		c.Close()
	})
	c := dialTCP(t, addr)
	if _, err := c.Write([]byte{'x'}); err != nil {
		t.Fatalf("write to the server before it resets: %v", err)
	}

	_, err := c.Read(make([]byte, 1))
	if err == nil {
		t.Fatal("read from a connection the server reset: no error")
	}
	// Observed: *net.OpError "read tcp 127.0.0.1:A->127.0.0.1:B: read:
	// connection reset by peer" around *os.SyscallError around
	// syscall.ECONNRESET.
	t.Logf("observed %T: %v%s", err, err, errChain(err))
	if onLinux() && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after a reset: got %v, want ECONNRESET%s", err, errChain(err))
	}
	wantClass(t, err, resilience.ClassTransient)
}

func TestClassifyRealResetOnHTTPGet(t *testing.T) {
	// The server resets every connection as soon as it has read the start of
	// the request, so the client's request is written and its read of the
	// response meets the reset.
	addr := serveTCP(t, func(c *net.TCPConn, _ <-chan struct{}) {
		c.SetDeadline(time.Now().Add(netBound))
		c.Read(make([]byte, 1))
		c.SetLinger(0)
		c.Close()
	})

	err := mustFailGet(t, newHTTPClient(t, netBound), "http://"+addr+"/")
	// Observed: *url.Error `Get "http://127.0.0.1:N/": read tcp
	// 127.0.0.1:A->127.0.0.1:N: read: connection reset by peer`, with
	// syscall.ECONNRESET at the bottom of its chain.
	t.Logf("observed %T: %v%s", err, err, errChain(err))
	if onLinux() && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("GET from a server that resets: got %v, want ECONNRESET%s", err, errChain(err))
	}
	wantClass(t, err, resilience.ClassTransient)
}

func TestClassifyRealHTTPGetClosedWithoutAnswer(t *testing.T) {
	// A server that closes the connection in order (FIN, not RST) without
	// answering gives the client a bare io.EOF inside *url.Error. Classify
	// reports bare io.EOF as permanent by design: only io.ErrUnexpectedEOF is
	// listed as transient. The test pins that documented behaviour.
	addr := serveTCP(t, func(c *net.TCPConn, _ <-chan struct{}) {
		c.SetDeadline(time.Now().Add(netBound))
		readRequestHead(c)
		c.Close()
	})

	err := mustFailGet(t, newHTTPClient(t, netBound), "http://"+addr+"/")
	// Observed: *url.Error `Get "http://127.0.0.1:N/": EOF`.
	t.Logf("observed %T: %v%s", err, err, errChain(err))
	if !errors.Is(err, io.EOF) {
		t.Fatalf("GET from a server that closes without answering: got %v, want io.EOF%s", err, errChain(err))
	}
	wantClass(t, err, resilience.ClassPermanent)
}

// readRequestHead reads from c until the blank line that ends an HTTP
// request's head, so that closing c afterwards sends FIN rather than RST.
func readRequestHead(c net.Conn) {
	var head []byte
	buf := make([]byte, 512)
	for !strings.Contains(string(head), "\r\n\r\n") {
		n, err := c.Read(buf)
		head = append(head, buf[:n]...)
		if err != nil {
			return
		}
	}
}

func TestClassifyRealReadDeadline(t *testing.T) {
	addr := serveTCP(t, func(c *net.TCPConn, stop <-chan struct{}) {
		<-stop // Never answer.
		c.Close()
	})
	c := dialTCP(t, addr)
	if err := c.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatalf("set read deadline: %v", err)
	}

	_, err := c.Read(make([]byte, 1))
	// Observed: *net.OpError "read tcp ...: i/o timeout" around
	// os.ErrDeadlineExceeded.
	t.Logf("observed %T: %v%s", err, err, errChain(err))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past its deadline: got %v, want a net.Error that timed out%s", err, errChain(err))
	}
	wantClass(t, err, resilience.ClassTransient)
}

// silentHTTPServer starts a server whose handler never answers; the handler
// returns when its client goes away or the test ends. entered receives a
// value each time a request reaches the handler.
func silentHTTPServer(t *testing.T) (ts *httptest.Server, entered <-chan struct{}) {
	t.Helper()
	stop := make(chan struct{})
	in := make(chan struct{}, 16)
	ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case in <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(func() { close(stop) }) // Runs first: unblocks the handlers.
	return ts, in
}

func TestClassifyRealHTTPClientTimeout(t *testing.T) {
	ts, _ := silentHTTPServer(t)

	err := mustFailGet(t, newHTTPClient(t, 100*time.Millisecond), ts.URL)
	// Observed: *url.Error `Get "http://127.0.0.1:N": context deadline
	// exceeded (Client.Timeout exceeded while awaiting headers)` around
	// net/http's *timeoutError, which wraps nothing and whose Timeout method
	// reports true.
	t.Logf("observed %T: %v%s", err, err, errChain(err))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("GET past Client.Timeout: got %v, want a net.Error that timed out%s", err, errChain(err))
	}
	wantClass(t, err, resilience.ClassTransient)
}

// mustFailRequest sends a GET with ctx and returns its error, failing the
// test if there is none.
func mustFailRequest(t *testing.T, ctx context.Context, url string) error {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := newHTTPClient(t, netBound).Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET %s: got %s, want an error", url, resp.Status)
	}
	return err
}

func TestClassifyRealHTTPContextDeadline(t *testing.T) {
	ts, _ := silentHTTPServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := mustFailRequest(t, ctx, ts.URL)
	t.Logf("observed %T: %v%s", err, err, errChain(err))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GET past its context's deadline: got %v, want context.DeadlineExceeded%s", err, errChain(err))
	}
	wantClass(t, err, resilience.ClassTransient)
}

func TestClassifyRealHTTPContextCanceled(t *testing.T) {
	ts, entered := silentHTTPServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-entered: // Cancel once the request is in flight.
		case <-ctx.Done():
		case <-time.After(netBound):
		}
		cancel()
	}()
	err := mustFailRequest(t, ctx, ts.URL)
	// Observed: *url.Error `Get "http://127.0.0.1:N": context canceled`.
	t.Logf("observed %T: %v%s", err, err, errChain(err))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("GET canceled by its caller: got %v, want context.Canceled%s", err, errChain(err))
	}
	wantClass(t, err, resilience.ClassIgnored)
}

func TestClassifyRealDialCanceled(t *testing.T) {
	addr := serveTCP(t, func(c *net.TCPConn, _ <-chan struct{}) { c.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		c.Close()
		t.Fatal("dial with a canceled context: connected, want an error")
	}
	// Observed: *net.OpError "dial tcp 127.0.0.1:N: operation was canceled"
	// around net's canceledError, which is context.Canceled by errors.Is.
	t.Logf("observed %T: %v%s", err, err, errChain(err))
	wantClass(t, err, resilience.ClassIgnored)
}

func TestClassifyRealDialDeadline(t *testing.T) {
	addr := serveTCP(t, func(c *net.TCPConn, _ <-chan struct{}) { c.Close() })
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()

	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		c.Close()
		t.Fatal("dial with an expired context: connected, want an error")
	}
	// Observed: *net.OpError "dial tcp 127.0.0.1:N: i/o timeout".
	t.Logf("observed %T: %v%s", err, err, errChain(err))
	wantClass(t, err, resilience.ClassTransient)
}

func TestClassifyRealUntrustedCertificate(t *testing.T) {
	ts := quietTLSServer(t, nil)

	err := mustFailGet(t, newHTTPClient(t, netBound), ts.URL)
	// Observed: *url.Error `Get "https://127.0.0.1:N": tls: failed to verify
	// certificate: x509: certificate signed by unknown authority` around
	// *tls.CertificateVerificationError around x509.UnknownAuthorityError.
	t.Logf("observed %T: %v%s", err, err, errChain(err))
	var verr *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &verr) || !errors.As(err, &unknown) {
		t.Fatalf("GET from a self-signed server: got %v, want a certificate verification error%s", err, errChain(err))
	}
	wantClass(t, err, resilience.ClassPermanent)
}

func TestClassifyRealHostnameMismatch(t *testing.T) {
	ts := quietTLSServer(t, nil)
	// Trust the server's certificate, but expect it to be for another name.
	tr := ts.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.ServerName = "other.invalid"
	t.Cleanup(tr.CloseIdleConnections)

	err := mustFailGet(t, &http.Client{Transport: tr, Timeout: netBound}, ts.URL)
	// Observed: *url.Error `... tls: failed to verify certificate: x509:
	// certificate is valid for example.com, *.example.com, not
	// other.invalid` around *tls.CertificateVerificationError around
	// x509.HostnameError.
	t.Logf("observed %T: %v%s", err, err, errChain(err))
	var host x509.HostnameError
	if !errors.As(err, &host) {
		t.Fatalf("GET with the wrong server name: got %v, want x509.HostnameError%s", err, errChain(err))
	}
	wantClass(t, err, resilience.ClassPermanent)
}

func TestClassifyRealTLSAlertFromServer(t *testing.T) {
	ts := quietTLSServer(t, func(c *tls.Config) { c.ClientAuth = tls.RequireAnyClientCert })
	// The client trusts the server but has no certificate to show.
	tr := ts.Client().Transport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)

	err := mustFailGet(t, &http.Client{Transport: tr, Timeout: netBound}, ts.URL)
	// Observed: *url.Error `... remote error: tls: certificate required`
	// around crypto/tls's *permanentError around *net.OpError{Op: "remote
	// error"} around crypto/tls's unexported alert type. That type is not tls.AlertError (which crypto/tls uses only
	// for QUIC), so Classify reports it permanent by its last rule, "anything
	// else", not by its TLS rule.
	t.Logf("observed %T: %v%s", err, err, errChain(err))
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" {
		t.Fatalf("GET without the client certificate the server requires: got %v, want a remote TLS alert%s", err, errChain(err))
	}
	wantClass(t, err, resilience.ClassPermanent)
}

func TestClassifyRealBrokenPipe(t *testing.T) {
	addr := serveTCP(t, func(c *net.TCPConn, _ <-chan struct{}) { c.Close() })
	c := dialTCP(t, addr)

	// Wait for the server's FIN, so the client's later writes meet a peer
	// that is gone: the first write draws a RST, the next ones fail.
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read from a connection the server closed: got %v, want io.EOF", err)
	}
	var err error
	buf := make([]byte, 4096)
	for i := 0; i < 1000 && err == nil; i++ {
		_, err = c.Write(buf)
	}
	if err == nil {
		t.Fatal("1000 writes to a connection the peer closed all succeeded")
	}
	// Observed: *net.OpError "write tcp 127.0.0.1:A->127.0.0.1:B: write:
	// broken pipe" around *os.SyscallError around syscall.EPIPE.
	t.Logf("observed %T: %v%s", err, err, errChain(err))
	// Linux reports EPIPE for a reset that finds the socket in CLOSE_WAIT,
	// which the read of the server's FIN above ensures.
	if onLinux() && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write to a closed peer: got %v, want EPIPE%s", err, errChain(err))
	}
	wantClass(t, err, resilience.ClassTransient)
}

func TestClassifyRealUnsupportedScheme(t *testing.T) {
	resp, err := http.Get("ftp://127.0.0.1/")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET ftp://: got %s, want an error", resp.Status)
	}
	// Observed: *url.Error `Get "ftp://127.0.0.1/": unsupported protocol
	// scheme "ftp"`.
	t.Logf("observed %T: %v%s", err, err, errChain(err))
	var uerr *url.Error
	if !errors.As(err, &uerr) || !strings.Contains(err.Error(), "unsupported protocol scheme") {
		t.Fatalf("GET ftp://: got %v, want an unsupported scheme error%s", err, errChain(err))
	}
	wantClass(t, err, resilience.ClassPermanent)
}

func TestClassifyRealContextErrors(t *testing.T) {
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()

	for _, tc := range []struct {
		name string
		err  error
		want resilience.Class
	}{
		{"deadline", expired.Err(), resilience.ClassTransient},
		{"deadline wrapped", fmt.Errorf("call: %w", expired.Err()), resilience.ClassTransient},
		{"canceled", canceled.Err(), resilience.ClassIgnored},
		{"canceled wrapped", fmt.Errorf("call: %w", canceled.Err()), resilience.ClassIgnored},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("the context is not done")
			}
			wantClass(t, tc.err, tc.want)
		})
	}
}

// fakeTimeout has a Timeout method, as net.Error does, without being one.
type fakeTimeout struct{ timeout bool }

func (e fakeTimeout) Error() string { return fmt.Sprintf("timeout=%v", e.timeout) }
func (e fakeTimeout) Timeout() bool { return e.timeout }

// timeoutWrapper wraps err and has a Timeout method of its own.
type timeoutWrapper struct {
	timeout bool
	err     error
}

func (w timeoutWrapper) Error() string { return "wrapped: " + w.err.Error() }
func (w timeoutWrapper) Timeout() bool { return w.timeout }
func (w timeoutWrapper) Unwrap() error { return w.err }

// opError wraps errno as the net package reports a failed system call.
func syscallOpError(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Err: os.NewSyscallError(op, errno)}
}

func TestClassifyTable(t *testing.T) {
	a, b := errors.New("a"), errors.New("b")
	notFound := &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}
	reset := syscallOpError("read", syscall.ECONNRESET)
	untrusted := &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}

	for _, tc := range []struct {
		name string
		err  error
		want resilience.Class
	}{
		{"nil", nil, resilience.ClassSuccess},

		// A mark wins over whatever it wraps.
		{"Transient plain", resilience.Transient(errors.New("x")), resilience.ClassTransient},
		{"Permanent plain", resilience.Permanent(errors.New("x")), resilience.ClassPermanent},
		{"Permanent canceled", resilience.Permanent(context.Canceled), resilience.ClassPermanent},
		{"Transient canceled", resilience.Transient(context.Canceled), resilience.ClassTransient},
		{"Permanent reset", resilience.Permanent(reset), resilience.ClassPermanent},
		{"Permanent unexpected EOF", resilience.Permanent(io.ErrUnexpectedEOF), resilience.ClassPermanent},
		{"Permanent deadline", resilience.Permanent(context.DeadlineExceeded), resilience.ClassPermanent},
		{"Permanent timeout", resilience.Permanent(fakeTimeout{true}), resilience.ClassPermanent},
		{"Transient no such host", resilience.Transient(notFound), resilience.ClassTransient},
		{"Transient untrusted", resilience.Transient(untrusted), resilience.ClassTransient},
		{"Transient around Permanent", resilience.Transient(resilience.Permanent(a)), resilience.ClassTransient},
		{"Permanent around Transient", resilience.Permanent(resilience.Transient(a)), resilience.ClassPermanent},
		{"zero NetworkError", &resilience.NetworkError{}, resilience.ClassTransient},
		{"zero ProtocolError", &resilience.ProtocolError{}, resilience.ClassPermanent},

		// Marks deep in a chain; the first in errors.Is order wins.
		{"Permanent under %w", fmt.Errorf("b: %w", fmt.Errorf("a: %w", resilience.Permanent(reset))), resilience.ClassPermanent},
		{"Transient under %w", fmt.Errorf("b: %w", fmt.Errorf("a: %w", resilience.Transient(a))), resilience.ClassTransient},
		{"Join Permanent first", errors.Join(resilience.Permanent(a), resilience.Transient(b)), resilience.ClassPermanent},
		{"Join Transient first", errors.Join(resilience.Transient(a), resilience.Permanent(b)), resilience.ClassTransient},
		{"Join mark second", errors.Join(a, resilience.Transient(b)), resilience.ClassTransient},
		{"Join mark beats canceled", errors.Join(context.Canceled, resilience.Permanent(b)), resilience.ClassPermanent},
		{"Join depth first", errors.Join(errors.Join(a, resilience.Permanent(a)), resilience.Transient(b)), resilience.ClassPermanent},
		{"Join under %w", fmt.Errorf("x: %w", errors.Join(a, fmt.Errorf("y: %w", resilience.Permanent(b)))), resilience.ClassPermanent},
		{"two %w", fmt.Errorf("%w, %w", resilience.Transient(a), resilience.Permanent(b)), resilience.ClassTransient},

		// The caller's cancellation.
		{"canceled", context.Canceled, resilience.ClassIgnored},
		{"canceled wrapped", fmt.Errorf("call: %w", context.Canceled), resilience.ClassIgnored},
		{"canceled joined", errors.Join(a, context.Canceled), resilience.ClassIgnored},
		{"canceled beats reset", errors.Join(reset, context.Canceled), resilience.ClassIgnored},
		{"canceled beats no such host", errors.Join(notFound, context.Canceled), resilience.ClassIgnored},
		{"canceled inside DNS error", &net.DNSError{Err: "lookup", Name: "x.invalid", UnwrapErr: context.Canceled}, resilience.ClassIgnored},

		// Anything unknown is permanent.
		{"plain", errors.New("x"), resilience.ClassPermanent},
		{"plain wrapped", fmt.Errorf("call: %w", errors.New("x")), resilience.ClassPermanent},
		{"bare EOF", io.EOF, resilience.ClassPermanent},
		{"closed", net.ErrClosed, resilience.ClassPermanent},
		{"other errno", syscallOpError("open", syscall.EACCES), resilience.ClassPermanent},

		// Truncated reads and timeouts.
		{"unexpected EOF", io.ErrUnexpectedEOF, resilience.ClassTransient},
		{"unexpected EOF wrapped", fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), resilience.ClassTransient},
		{"unexpected EOF joined", errors.Join(a, io.ErrUnexpectedEOF), resilience.ClassTransient},
		{"deadline", context.DeadlineExceeded, resilience.ClassTransient},
		{"deadline wrapped", fmt.Errorf("call: %w", context.DeadlineExceeded), resilience.ClassTransient},
		{"os deadline", os.ErrDeadlineExceeded, resilience.ClassTransient},
		{"Timeout true", fakeTimeout{true}, resilience.ClassTransient},
		{"Timeout false", fakeTimeout{false}, resilience.ClassPermanent},
		{"Timeout inside a wrapper that says false", timeoutWrapper{false, fakeTimeout{true}}, resilience.ClassTransient},
		{"wrapper says true", timeoutWrapper{true, a}, resilience.ClassTransient},
		{"both false", timeoutWrapper{false, fakeTimeout{false}}, resilience.ClassPermanent},
		{"Timeout joined", errors.Join(a, fmt.Errorf("x: %w", fakeTimeout{true})), resilience.ClassTransient},

		// DNS.
		{"no such host", notFound, resilience.ClassPermanent},
		{"no such host in dial", &net.OpError{Op: "dial", Net: "tcp", Err: notFound}, resilience.ClassPermanent},
		{"DNS timeout", &net.DNSError{Err: "i/o timeout", Name: "x.invalid", IsTimeout: true}, resilience.ClassTransient},
		{"DNS temporary", &net.DNSError{Err: "server misbehaving", Name: "x.invalid", IsTemporary: true}, resilience.ClassTransient},
		{"DNS temporary in dial", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "server misbehaving", Name: "x.invalid", IsTemporary: true}}, resilience.ClassTransient},
		{"DNS other", &net.DNSError{Err: "bad name", Name: "x.invalid"}, resilience.ClassPermanent},

		// Certificates and TLS.
		{"unknown authority", x509.UnknownAuthorityError{}, resilience.ClassPermanent},
		{"hostname", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "x.invalid"}, resilience.ClassPermanent},
		{"invalid", x509.CertificateInvalidError{Cert: &x509.Certificate{}, Reason: x509.Expired}, resilience.ClassPermanent},
		{"verification", untrusted, resilience.ClassPermanent},
		{"verification wrapped", &url.Error{Op: "Get", URL: "https://x.invalid", Err: untrusted}, resilience.ClassPermanent},
		{"record header", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, resilience.ClassPermanent},
		{"alert", fmt.Errorf("handshake: %w", tls.AlertError(40)), resilience.ClassPermanent},

		// Certificate, TLS and "no such host" failures stay permanent under a
		// wrapper that says it timed out: Classify applies its permanent
		// network rules before its transient ones.
		{"verification under a timeout", timeoutWrapper{true, &tls.CertificateVerificationError{Err: errors.New("x")}}, resilience.ClassPermanent},
		{"unknown authority under a timeout", timeoutWrapper{true, x509.UnknownAuthorityError{}}, resilience.ClassPermanent},
		{"hostname under a timeout", timeoutWrapper{true, x509.HostnameError{Certificate: &x509.Certificate{}, Host: "x.invalid"}}, resilience.ClassPermanent},
		{"invalid under a timeout", timeoutWrapper{true, x509.CertificateInvalidError{Cert: &x509.Certificate{}, Reason: x509.Expired}}, resilience.ClassPermanent},
		{"record header under a timeout", timeoutWrapper{true, tls.RecordHeaderError{Msg: "bad record"}}, resilience.ClassPermanent},
		{"alert under a timeout", timeoutWrapper{true, tls.AlertError(40)}, resilience.ClassPermanent},
		{"no such host under a timeout", timeoutWrapper{true, notFound}, resilience.ClassPermanent},
		// A TLS alert from the peer arrives as crypto/tls's unexported alert
		// inside a *net.OpError whose Op is "remote error".
		{"remote TLS alert under a timeout", timeoutWrapper{true, &net.OpError{Op: "remote error", Err: errors.New("tls: bad certificate")}}, resilience.ClassPermanent},
		{"local TLS alert under a timeout", timeoutWrapper{true, &net.OpError{Op: "local error", Err: errors.New("tls: internal error")}}, resilience.ClassPermanent},
		{"read timeout stays transient", &net.OpError{Op: "read", Err: fakeTimeout{true}}, resilience.ClassTransient},
		{"untrusted joined with a reset", errors.Join(reset, untrusted), resilience.ClassPermanent},
	} {
		t.Run(tc.name, func(t *testing.T) { wantClass(t, tc.err, tc.want) })
	}
}

func TestClassifyTransientErrnos(t *testing.T) {
	for _, errno := range []syscall.Errno{
		syscall.ECONNREFUSED,
		syscall.ECONNRESET,
		syscall.EPIPE,
		syscall.ECONNABORTED,
		syscall.EHOSTUNREACH,
		syscall.ENETUNREACH,
		syscall.ETIMEDOUT,
	} {
		t.Run(errno.Error(), func(t *testing.T) {
			wantClass(t, errno, resilience.ClassTransient)
			wantClass(t, os.NewSyscallError("write", errno), resilience.ClassTransient)
			wantClass(t, syscallOpError("write", errno), resilience.ClassTransient)
			wantClass(t, fmt.Errorf("call: %w", syscallOpError("write", errno)), resilience.ClassTransient)
			wantClass(t, errors.Join(errors.New("x"), syscallOpError("write", errno)), resilience.ClassTransient)
			wantClass(t, &url.Error{Op: "Get", URL: "http://127.0.0.1/", Err: syscallOpError("read", errno)}, resilience.ClassTransient)
		})
	}
}

func TestClassifyNilAllocatesNothing(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { resilience.Classify(nil) }); n != 0 {
		t.Errorf("Classify(nil) allocates %v times, want 0", n)
	}
}

func TestClassString(t *testing.T) {
	for _, tc := range []struct {
		c    resilience.Class
		want string
	}{
		{resilience.ClassSuccess, "success"},
		{resilience.ClassTransient, "transient"},
		{resilience.ClassPermanent, "permanent"},
		{resilience.ClassIgnored, "ignored"},
		{resilience.Class(4), "Class(4)"},
		{resilience.Class(9), "Class(9)"},
		{resilience.Class(255), "Class(255)"},
	} {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("Class(%d).String() = %q, want %q", uint8(tc.c), got, tc.want)
		}
	}
}

type localRefusal struct{ local bool }

func (e localRefusal) Error() string        { return "refused here" }
func (e localRefusal) LocalRejection() bool { return e.local }

func TestLocalRejectionIsIgnored(t *testing.T) {
	wantClass(t, localRefusal{true}, resilience.ClassIgnored)
	wantClass(t, fmt.Errorf("call: %w", localRefusal{true}), resilience.ClassIgnored)
	wantClass(t, localRefusal{false}, resilience.ClassPermanent)
	// An explicit mark still wins.
	wantClass(t, resilience.Transient(localRefusal{true}), resilience.ClassTransient)
}

// streamError has the shape of an HTTP/2 stream error, as net/http's bundled
// HTTP/2 and golang.org/x/net/http2 report one.
type streamError struct {
	StreamID uint32
	Code     errCode
	Cause    error
}

type errCode uint32

func (e streamError) Error() string { return "stream error: stream ID " + fmt.Sprint(e.StreamID) }

func TestHTTP2StreamResets(t *testing.T) {
	for code, want := range map[errCode]resilience.Class{
		0x2: resilience.ClassTransient, // INTERNAL_ERROR
		0x7: resilience.ClassTransient, // REFUSED_STREAM
		0x8: resilience.ClassTransient, // CANCEL
		0xb: resilience.ClassTransient, // ENHANCE_YOUR_CALM
		0x1: resilience.ClassPermanent, // PROTOCOL_ERROR
		0x3: resilience.ClassPermanent, // FLOW_CONTROL_ERROR
		0xd: resilience.ClassPermanent, // HTTP_1_1_REQUIRED
	} {
		err := streamError{StreamID: 1, Code: code, Cause: errors.New("received from peer")}
		wantClass(t, err, want)
		wantClass(t, &err, want)
		wantClass(t, &url.Error{Op: "Post", URL: "https://127.0.0.1/", Err: err}, want)
		wantClass(t, errors.Join(errors.New("x"), fmt.Errorf("round trip: %w", err)), want)
	}
	// A struct that only looks alike is not one.
	wantClass(t, lookalike{StreamID: 1, Code: "INTERNAL_ERROR"}, resilience.ClassPermanent)
}

type lookalike struct {
	StreamID uint32
	Code     string
	Cause    error
}

func (lookalike) Error() string { return "not a stream error" }

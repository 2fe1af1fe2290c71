// Package redistest runs a real redis-server for the module's tests, and a
// TCP proxy between a client and it that can black-hole, delay or cut the
// traffic, to test partitions.
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a redis-server process on a loopback port.
type Server struct {
	t       testing.TB
	bin     string
	Port    int
	Addr    string // 127.0.0.1:Port
	cluster bool   // started by StartCluster
	dir     string // the cluster's config folder

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Binary returns the path of redis-server, or skips the test with a clear
// message when it is missing — or fails it when CI is "true".
func Binary(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"redis-server", "/usr/bin/redis-server", "/usr/sbin/redis-server"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := "redis-server not found: install it (apt-get install -y redis-server; scripts/test.sh does) to run the Redis tests"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Start starts a redis-server on a free loopback port, without persistence,
// waits until it answers PING, and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), Port: freePort(t)}
	s.Addr = "127.0.0.1:" + strconv.Itoa(s.Port)
	s.start()
	t.Cleanup(s.stop)
	return s
}

// StartCluster starts a redis-server in cluster mode that holds every slot
// itself — a one-node Redis Cluster — so that tests run the commands and
// scripts a Cluster client sends, with Redis checking that the keys of one
// command share a slot.
func StartCluster(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), Port: freePort(t), cluster: true, dir: t.TempDir()}
	s.Addr = "127.0.0.1:" + strconv.Itoa(s.Port)
	s.start()
	t.Cleanup(s.stop)
	if err := command(s.Addr, "CLUSTER", "ADDSLOTSRANGE", "0", "16383"); err != nil {
		t.Fatalf("redistest: assign slots: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for command(s.Addr, "SET", "{redistest}probe", "1") != nil {
		if time.Now().After(deadline) {
			t.Fatal("redistest: the one-node cluster does not come up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *Server) start() {
	s.t.Helper()
	args := []string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no"}
	if s.cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", s.dir+"/nodes-"+strconv.Itoa(s.Port)+".conf")
	}
	cmd := exec.Command(s.bin, args...)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redistest: start redis-server: %v", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(s.Addr) == nil {
			return
		}
		if time.Now().After(deadline) {
			s.stop()
			s.t.Fatalf("redistest: redis-server on %s does not answer PING", s.Addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ping sends PING and waits for PONG.
func ping(addr string) error { return command(addr, "PING") }

// command sends one command in RESP on a new connection and returns an
// error unless Redis answers with a simple string (+OK, +PONG).
func command(addr string, args ...string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	req := "*" + strconv.Itoa(len(args)) + "\r\n"
	for _, a := range args {
		req += "$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n"
	}
	if _, err := io.WriteString(c, req); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+") {
		return fmt.Errorf("redistest: %s answered %q", args[0], strings.TrimSpace(line))
	}
	return nil
}

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatalf("redistest: redis-server is not running")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redistest: signal %v: %v", sig, err)
	}
}

// Pause stops the server with SIGSTOP: connections stay open, nothing answers.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume lets a paused server go on with SIGCONT.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

// Kill ends the server with SIGKILL and waits for it to be gone; its data
// is lost.
func (s *Server) Kill() {
	s.t.Helper()
	s.signal(syscall.SIGKILL)
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	_ = cmd.Wait()
}

// Restart starts a new server on the same port after Kill.
func (s *Server) Restart() { s.t.Helper(); s.start() }

func (s *Server) stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// Proxy forwards TCP connections from its own loopback address to a target.
type Proxy struct {
	Addr   string
	target string
	ln     net.Listener

	mu        sync.Mutex
	blackhole bool
	delay     time.Duration
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
}

// NewProxy starts a proxy to target, closed when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Blackhole makes the proxy swallow every byte both ways while on, as a
// partition does: connections stay open, nothing arrives.
func (p *Proxy) Blackhole(on bool) { p.mu.Lock(); p.blackhole = on; p.mu.Unlock() }

// Delay holds every chunk of traffic for d before forwarding it.
func (p *Proxy) Delay(d time.Duration) { p.mu.Lock(); p.delay = d; p.mu.Unlock() }

// Drop closes every open connection, as a reset would.
func (p *Proxy) Drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

func (p *Proxy) track(c net.Conn, on bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		if p.conns == nil {
			return false
		}
		p.conns[c] = struct{}{}
	} else if p.conns != nil {
		delete(p.conns, c)
	}
	return true
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		if !p.track(c, true) || !p.track(u, true) {
			_ = c.Close()
			_ = u.Close()
			return
		}
		p.wg.Add(2)
		go p.pipe(c, u)
		go p.pipe(u, c)
	}
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer func() { _ = dst.Close(); _ = src.Close(); p.track(dst, false); p.track(src, false) }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			hole, d := p.blackhole, p.delay
			p.mu.Unlock()
			if d > 0 {
				time.Sleep(d)
			}
			if !hole {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

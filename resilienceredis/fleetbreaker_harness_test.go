package resilienceredis

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/netresilience/resilience/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// fleetRedis is a real redis-server on a free loopback port, owned by one
// test.
type fleetRedis struct {
	t    testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
	Addr string
}

// startFleetRedis starts a redis-server, or skips the test when the binary
// is missing and CI is not set (under CI it fails instead).
func startFleetRedis(t testing.TB) *fleetRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is not installed (CI=true): %v", err)
		}
		t.Skip("redis-server is not installed; apt-get install -y redis-server to run the Redis tests")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &fleetRedis{t: t, port: port, dir: t.TempDir(), Addr: "127.0.0.1:" + strconv.Itoa(port)}
	r.start()
	t.Cleanup(func() {
		if r.cmd != nil {
			r.cmd.Process.Signal(syscall.SIGCONT)
			r.cmd.Process.Kill()
			r.cmd.Wait()
		}
	})
	return r
}

func (r *fleetRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer c.Close()
	for range 500 {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.t.Fatal("redis-server did not answer PING within 5s")
}

func (r *fleetRedis) signal(s syscall.Signal) {
	if err := r.cmd.Process.Signal(s); err != nil {
		r.t.Fatal(err)
	}
}

// Stop freezes the server (SIGSTOP): connections stay open, nothing answers.
func (r *fleetRedis) Stop() { r.signal(syscall.SIGSTOP) }

// Cont thaws a stopped server.
func (r *fleetRedis) Cont() { r.signal(syscall.SIGCONT) }

// Kill ends the server at once, losing its data.
func (r *fleetRedis) Kill() {
	r.signal(syscall.SIGKILL)
	r.cmd.Wait()
	r.cmd = nil
}

// Restart starts a killed server again on the same port, empty.
func (r *fleetRedis) Restart() { r.start() }

// Client returns a client of the server, closed when the test ends.
func (r *fleetRedis) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
	r.t.Cleanup(func() { c.Close() })
	return c
}

// eventually polls cond until it holds, failing the test after limit.
func eventually(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", limit, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

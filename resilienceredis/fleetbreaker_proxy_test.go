package resilienceredis

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/netresilience/resilience/breaker"
)

// fleetProxy forwards TCP between clients and Redis, and can delay or drop
// what passes, as a slow or partitioned network would.
type fleetProxy struct {
	ln     net.Listener
	target string
	drop   atomic.Bool
	delay  atomic.Int64 // nanoseconds added to every chunk
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startFleetProxy(t *testing.T, target string) *fleetProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &fleetProxy{ln: ln, target: target}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *fleetProxy) Addr() string { return p.ln.Addr().String() }

func (p *fleetProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(u, c) })
		p.wg.Go(func() { p.pipe(c, u) })
	}
}

func (p *fleetProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.drop.Load() {
			if d := time.Duration(p.delay.Load()); d > 0 {
				time.Sleep(d)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func TestPartitionedAndSlowRedisLeaveCallsLocal(t *testing.T) {
	r := startFleetRedis(t)
	px := startFleetProxy(t, r.Addr)
	client := func() *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: px.Addr(), DialTimeout: 200 * time.Millisecond,
			ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
		t.Cleanup(func() { c.Close() })
		return c
	}
	fbs, evs := newFleet(t, r, 2, func(i int, c *BreakerConfig) { c.Client = client() })
	openFleet(t, fbs)

	for _, mode := range []string{"dropped", "delayed"} {
		if mode == "dropped" {
			px.drop.Store(true)
		} else {
			px.delay.Store(int64(10 * tick)) // far above the round trip's Timeout
		}
		before := evs[0].fallbacks.Load()
		eventually(t, 3*time.Second, mode+": fallback", func() bool {
			return evs[0].fallbacks.Load() > before && allIn(fbs, breaker.Closed)
		})
		p, err := fbs[0].Allow()
		if err != nil {
			t.Fatalf("%s: rejected after the fallback: %v", mode, err)
		}
		p.Done(nil)
		px.drop.Store(false)
		px.delay.Store(0)
		eventually(t, 5*time.Second, mode+": the fleet state merges back", func() bool { return allIn(fbs, breaker.Open) })
	}
}

func TestNewBreakerDoesNotWaitForAStoppedRedis(t *testing.T) {
	r := startFleetRedis(t)
	r.Stop()
	defer r.Cont()
	start := time.Now()
	fb, err := NewBreaker(BreakerConfig{Client: r.Client(), Name: t.Name(), Interval: tick, Timeout: tick / 2,
		Breaker: breaker.Config{FailureRate: 0.5, Window: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > tick/2 {
		t.Errorf("NewBreaker took %v with Redis stopped", d)
	}
	p, err := fb.Allow()
	if err != nil {
		t.Fatal(err)
	}
	p.Done(errors.New("x"))
	fb.Close()
}

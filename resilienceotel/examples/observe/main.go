// Command observe shows the library's policies at work and how to watch
// them: traffic flows through a bulkhead, a retry policy and a per-host
// circuit breaker (package resiliencehttp) to a local server that goes down
// for a while and comes back, and the program serves what the policies do:
//
//   - /metrics, the OpenTelemetry instruments of package resilienceotel,
//     exported for Prometheus;
//   - /debug/resilience, the live page of package debugpage (add
//     ?format=json for the same as JSON).
//
// It prints a line per second (the server's phase, the calls that
// succeeded and failed, the breaker's state), and at the end the main
// metrics as a Prometheus scrape shows them. Open the two addresses it
// prints while it runs to watch the breaker open during the outage and
// close after it.
//
// Usage:
//
//	go run ./examples/observe                  # from the resilienceotel folder; 30s
//	go run ./examples/observe -for 2m -addr 127.0.0.1:8080
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/debugpage"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/resilienceotel"
	"github.com/netresilience/resilience/retry"
)

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:0", "where to serve /metrics and /debug/resilience (loopback by default; port 0 picks a free one)")
	flag.DurationVar(&o.run, "for", 30*time.Second, "how long to send traffic")
	flag.DurationVar(&o.cycle, "cycle", 20*time.Second, "the server's cycle: up for 40% of it, down for 30%, up again")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "observe:", err)
		os.Exit(1)
	}
}

type options struct {
	addr       string
	run, cycle time.Duration
	tick       time.Duration // between status lines; default 1s
}

// upstream is the server the traffic goes to: it answers 503 while down.
type upstream struct {
	start time.Time
	cycle time.Duration
	hits  atomic.Int64
}

func (u *upstream) down(now time.Time) bool {
	at := now.Sub(u.start) % u.cycle
	return at >= u.cycle*4/10 && at < u.cycle*7/10
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.hits.Add(1)
	if u.down(time.Now()) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	time.Sleep(5 * time.Millisecond)
	io.WriteString(w, "ok")
}

func run(ctx context.Context, o options, out io.Writer) error {
	if o.run <= 0 || o.cycle <= 0 || o.tick < 0 {
		return errors.New("-for and -cycle must be positive")
	}
	tick := o.tick
	if tick == 0 {
		tick = time.Second
	}

	// The upstream, on a loopback port of its own.
	up := &upstream{start: time.Now(), cycle: o.cycle}
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	upSrv := &http.Server{Handler: up}
	go upSrv.Serve(upLn)
	defer upSrv.Close()

	// Metrics: an OpenTelemetry MeterProvider exported for Prometheus.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(context.Background())
	tel, err := resilienceotel.New(resilienceotel.Config{MeterProvider: mp})
	if err != nil {
		return err
	}

	// The policies, each told to report to the exporter.
	rt, err := resiliencehttp.NewTransport(http.DefaultTransport.(*http.Transport).Clone(), resiliencehttp.Config{
		Retry: retry.Config{Name: "upstream", MaxAttempts: 3,
			Backoff: backoff.Exponential{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond}},
		Breaker:  &breaker.Config{FailureThreshold: 5, RecoveryTimeout: o.cycle / 10},
		Observer: tel.Observer(),
	})
	if err != nil {
		return err
	}
	defer rt.CloseIdleConnections()
	client := &http.Client{Transport: rt}
	pool, err := bulkhead.New(bulkhead.Config{Name: "client pool", MaxConcurrent: 4, Observer: tel.Observer()})
	if err != nil {
		return err
	}
	unregister, err := tel.Register(rt, pool)
	if err != nil {
		return err
	}
	defer unregister()

	// The debug page, sampling every half second.
	page, err := debugpage.New(ctx, debugpage.Config{Interval: 500 * time.Millisecond, Title: "observe"})
	if err != nil {
		return err
	}
	defer page.Close()
	if _, err := debugpage.RegisterGroup(page, "upstream breakers", rt.Breakers); err != nil {
		return err
	}
	if _, err := debugpage.Register(page, "client pool", pool); err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/debug/resilience", page)
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "metrics:    %s/metrics\ndebug page: %s/debug/resilience\n", base, base)
	fmt.Fprintf(out, "traffic for %v; the upstream is down from %v to %v of every %v\n\n",
		o.run, o.cycle*4/10, o.cycle*7/10, o.cycle)

	// The traffic: four workers through the bulkhead and the transport.
	runCtx, cancel := context.WithTimeout(ctx, o.run)
	defer cancel()
	var ok, failed atomic.Int64
	target := "http://" + upLn.Addr().String() + "/"
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for runCtx.Err() == nil {
				err := bulkhead.Run(runCtx, pool, func(ctx context.Context) error { return get(ctx, client, target) })
				switch {
				case runCtx.Err() != nil:
				case err == nil:
					ok.Add(1)
				default:
					failed.Add(1)
					sleep(runCtx, 20*time.Millisecond) // a failed call is not retried at once by the caller
				}
				sleep(runCtx, 10*time.Millisecond)
			}
		}()
	}

	host := upLn.Addr().String()
	t := time.NewTicker(tick)
	defer t.Stop()
	for runCtx.Err() == nil {
		select {
		case <-runCtx.Done():
		case now := <-t.C:
			phase := "up"
			if up.down(now) {
				phase = "down"
			}
			fmt.Fprintf(out, "%5.1fs upstream %-4s  calls ok %5d  failed %5d  requests sent %5d  breaker %s\n",
				now.Sub(up.start).Seconds(), phase, ok.Load(), failed.Load(), up.hits.Load(), rt.Breaker(host).State())
		}
	}
	for range 4 {
		<-done
	}

	// What a scrape shows now, for the main instruments.
	fmt.Fprintln(out, "\nfrom "+base+"/metrics:")
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, name := range []string{"resilience_retry_calls_total{", "resilience_breaker_transitions_total{", "resilience_breaker_state{", "resilience_bulkhead_active_calls{"} {
			if strings.HasPrefix(line, name) {
				fmt.Fprintln(out, "  "+trimScope(line))
			}
		}
	}
	return sc.Err()
}

// get makes one request and reads its answer.
func get(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// trimScope drops the exporter's scope labels from a metric line, which
// are the same on every line.
func trimScope(line string) string {
	for _, l := range []string{"otel_scope_name", "otel_scope_schema_url", "otel_scope_version"} {
		i := strings.Index(line, l+`="`)
		if i < 0 {
			continue
		}
		j := strings.Index(line[i+len(l)+2:], `"`)
		if j < 0 {
			continue
		}
		end := i + len(l) + 2 + j + 1
		if end < len(line) && line[end] == ',' {
			end++
		}
		line = line[:i] + line[end:]
	}
	return line
}

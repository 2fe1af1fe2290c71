// Package debugpage serves a live page of the policies a program registers
// with it, in the manner of net/http/pprof and expvar: every registered
// breaker, budget, bulkhead, adaptive limiter, throttle, rate limiter, hedger
// and timeout with its state and the numbers of its Snapshot, and small
// sparklines of the last minutes.
//
// A [Registry] is an http.Handler. Make one with [New], register policies
// with [Register], and families of policies keyed by a string (one breaker
// per host, one limiter per model) with [RegisterGroup], then mount it:
//
//	reg, err := debugpage.New(ctx, debugpage.Config{})
//	...
//	defer reg.Close()
//	unregister, err := debugpage.Register(reg, "payments", paymentsBreaker)
//	debugpage.RegisterGroup(reg, "upstream hosts", transport.Breakers)
//	mux.Handle("/debug/resilience", reg)
//
// An adaptive.Limiter's panel draws its limit beside the calls in flight
// and waiting, and for a Gradient limiter its baseline and window latency
// (an AIMD limiter has none, and its panel leaves those sparklines out);
// it lists its settings (algorithm, min, max, max wait, shadow mode) and
// its counts of admitted, rejected and shadow-rejected calls.
//
// The page is HTML without JavaScript or external assets, so it works from
// any browser and through any proxy; with ?format=json the same data comes
// as JSON, for scripts.
//
// # Sampling
//
// A background goroutine samples every policy at a fixed interval
// (Config.Interval) into fixed-size rings (Config.Samples points per
// series), which the sparklines draw: memory stays bounded however long the
// program runs. The goroutine ends when [Registry.Close] is called or when
// the context given to New ends. A negative Interval turns it off;
// [Registry.Sample] and [Registry.SampleAt] then take samples on demand,
// which is also how tests and simulators drive a registry on virtual time.
//
// # Cost
//
// Registering costs an allocation or two and a lock; a registered policy
// costs nothing on its calls: the registry only reads its Snapshot when it
// samples or serves the page. No lock of the registry is held while a
// policy is read, a group's members are listed or the page is rendered.
// Policy and member names are user input and are escaped on the page.
package debugpage

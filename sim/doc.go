// Package sim simulates clients that call an upstream through the library's
// policies, on virtual time, and measures what each policy configuration
// does to the clients and to the upstream: the upstream calls per request
// (amplification), the success ratio, latency percentiles, the time to
// recover after trouble, the peak load. It is what "resilience sim" runs,
// and a library for tests: a team can assert, in its own go test, what its
// production configuration does to an outage, and have CI catch the change
// that breaks it.
//
//	s := &sim.Scenario{ ... an upstream that is down for a minute ... ,
//		Policies: []sim.Policy{{Name: "ours", Retry: ..., Budget: ..., Breaker: ...}}}
//	res, err := sim.Run(s)
//	p := res.Policy("ours")
//	if p.TroubleAmplification > 1.2 || !p.Recovered || p.Recovery > 5*time.Second { t.Error(...) }
//
// (ExampleRun runs such a scenario.) A [Scenario] is built in Go, read from
// JSON with [Parse] or taken from [Builtins]; [Run] runs it and returns a
// [Result], with one [PolicyResult] per policy holding the numbers of a row
// of the table that [WriteText] prints; a [Report] makes an HTML page with
// charts of the results. Run does not change the Scenario, and may be
// called from any number of goroutines at once.
//
// # What is stable
//
// The scenario format — the fields of Scenario and of its parts, their JSON
// names (the Go names) and meaning — and the fields of Result, PolicyResult,
// Failures and Point, their meaning and units, change only compatibly: new
// fields may come, with zero values that keep the old behaviour. A run is
// reproducible: the same scenario and seed give the same results, byte for
// byte, with one version of this module. The exact numbers are not stable
// across versions: a better model of the upstream, or a policy that decides
// better, changes them, as may a different use of the random draws — assert
// bounds (at most 1.2 times the load), not figures. Neither is the layout
// of the text table nor the HTML page, which are for people. The limits
// below may be raised.
//
// # How it works
//
// Every decision is the library's: a request starts the retry policy's
// count in its budget (retry.Policy.BeginRetriesAt), a failed attempt goes
// to retry.Policy.NextRetry (the retry decision, then the token bucket's
// Failure and Allow and the budget's WithdrawAt; told by
// breaker.Breaker.Foresee when the breaker would certainly refuse the next
// attempt, as resilience.Compose tells a retry right outside a breaker,
// unless a throttle stands between), a successful one to
// retry.Policy.Succeeded when the policy has a token bucket (which it
// refills); each attempt takes room in the concurrency limit with
// bulkhead.Bulkhead.TryAcquire or adaptive.Limiter.TryAcquireAt (refused at
// once if there is none) and gives it back when it ends with
// bulkhead.Permit.Release or adaptive.Permit.ReleaseAt and its outcome,
// from which the adaptive limiter learns; each attempt goes to
// throttle.Throttle.AllowAt and breaker.Breaker.AllowAt and its outcome to
// their permits' DoneAt; a hedged attempt starts with
// hedge.Hedger.StartAt, each hedge asks hedge.Hedger.AllowHedgeAt, the
// first call's outcome goes to hedge.Hedger.ObserveFirstAt, and each call's
// outcome to hedge.Hedger.AfterSuccess or AfterFailure, whose decision (the
// next hedge now, no more hedges, a fatal failure) the simulator carries
// out — the same calls the executors make (Do, the HTTP transport), on
// times the simulator gives them. Per attempt, the limit stands outside
// the throttle and the breaker (see Policy). The simulator is an executor:
// it keeps requests, attempts and timers, and decides nothing a policy
// decides.
//
// The simulation is a discrete-event loop: a queue of timed events (a request
// arrives, an upstream call answers, a backoff ends, a hedge is due, an
// attempt runs out of time), processed in order of time and, for equal times,
// of scheduling. Every random draw comes from generators seeded by the
// scenario's seed — the load's, the upstream's and the clients' draws from
// three separate streams, so that every policy of a scenario meets the same
// arrivals — and the policies read no clock of their own here, so a run is
// reproducible byte for byte. The policies of a scenario run concurrently,
// as many at once as fit in the memory bound below, each on its own
// instances.
//
// The upstream: a log-normal latency given by its median and 99th
// percentile, with an optional heavy tail; an error rate; a capacity of
// workers, beyond which calls wait in line, first come first served, and are
// refused when they would wait longer than MaxQueueDelay; and trouble
// windows that take it down, raise its error rate, slow it or change its
// capacity. A call that a client abandons (its attempt timed out, its
// deadline passed, a hedge won) goes on holding its worker until it ends,
// as on a server that does not notice.
//
// # Fleets
//
// Load.Clients are the replicas of a fleet, each with its own instances of
// the policies and a share of the load; a window's Clients limits its
// trouble to the first few of them (one replica whose network fails). A
// Policy's Fleet makes its clients' breakers one fleet breaker, modelled on
// resilienceredis.Breaker, whose algorithm this package copies rather than
// imports (that module needs a Redis client): each replica's own
// breaker.Breaker takes every decision; every Fleet.Interval, each replica
// at its own phase (drawn from the seed) publishes its window's calls and
// failures (breaker.Breaker.SnapshotAt) and reads the sum of the replicas'
// windows. The fleet opens when the sum meets the Breaker's FailureRate with
// at least its MinCalls calls and Fleet.Quorum replicas reporting failures,
// or, with Quorum 1, when a replica's own breaker opens (seen by its
// observer, as the fleet breaker sees it); the opening replica holds its
// breaker open (ForceOpenAt) and the others do when the transition reaches
// them, Fleet.RoundTrip later. When the Breaker's RecoveryTimeout has
// passed, the first replica to sync takes the single probe (ResetAt, then
// TripAt with the recovery over, so that its next call probes); the others
// stay open until its result closes the fleet everywhere (ResetAt) or opens
// it again. Windows published before the fleet closed no longer count. The
// model leaves out what Redis's trouble does (the fall back to local
// decisions) and clock skew: Redis answers every sync at once. The
// built-in scenarios fleet-outage and fleet-trickle compare local breakers
// with a fleet breaker of the same Config.
//
// # Limits
//
// A scenario file is input from users, so the simulator refuses what would
// not end in minutes or fit in memory. Parse and Check refuse it before
// anything runs, with an error naming the field and the limit:
//
//   - an input above 4 MiB (Parse reads no more), or of more than 32
//     scenarios: the command reads a file whole, and runs its scenarios one
//     after another;
//   - any duration above a year (8760h): virtual time is an int64 of
//     nanoseconds, and sums of a few durations a year long stay far from its
//     end, so that no arithmetic on it overflows;
//   - more than 100,000 buckets, (Duration + Load.Deadline) / Resolution:
//     every policy keeps a series of them;
//   - Load.Clients above 10,000, Load.Rate above 1e7 per second,
//     Upstream.Capacity above 1,000,000: each client holds its own policy
//     instances, each worker a slot;
//   - more than 1e8 requests, Load.Rate × Duration and the bursts' requests
//     together; more than 1,000 bursts, or 200,000 burst requests in all,
//     since a burst's requests are all in flight at once;
//   - more than 100 trouble windows, or 16 policies: each policy runs the
//     whole load again, and keeps a series;
//   - Retry.MaxAttempts above 1,000, Breaker.HalfOpenProbes above 100 (each
//     client's breaker holds a slot per probe); Hedge.MaxHedges is at most
//     16, as package hedge says;
//   - more than 5e8 upstream calls at most, requests × attempts × (1 +
//     hedges) summed over the policies (and over the scenarios of an input):
//     the work of a run;
//   - more than 1e8 breaker states (or adaptive limits) to sample,
//     Load.Clients × buckets summed over the policies with a breaker or an
//     adaptive limit (and the scenarios of an input): each client's breaker
//     and limiter are sampled at the end of every bucket;
//   - more than 1e8 fleet syncs, Load.Clients × (Duration + Load.Deadline)
//     / Fleet.Interval summed over the policies with a Fleet, whose
//     Interval is at least 1ms and RoundTrip at most Interval/2.
//
// Two limits only a run can know: a policy's run stops, and Run returns an
// error naming it, past 400,000 requests in flight at once or 1,600,000
// events pending at once (timers, and upstream calls that outlast the
// attempts that gave up on them).
//
// Virtual time saturates rather than overflows: a call's latency times the
// windows' factors that reaches the horizon, Duration + Load.Deadline (or
// is not a number), ends after every request has ended, as any longer call
// would; a wait between arrivals drawn beyond the end of the load means no
// more arrivals. Calls that end after the horizon do not extend the series.
//
// With these limits a run's memory is bounded: a policy's run holds at most
// 64 KiB per client (a breaker, budget and throttle with 600-bucket windows,
// a hedger's histogram, an adaptive limiter, the probe slots), the requests
// and events in flight up to their limits (about 232 MiB: the requests in
// chunks that never move, the events with the slack of a growing slice), 64
// bytes per bucket and 8 per upstream worker — 873 MiB for the largest
// scenario accepted — and the results 64 bytes per bucket and policy, about
// 100 MiB at most. Run runs as many policies at once as fit beside the
// results in 1 GiB (four of a built-in scenario's; the largest scenario's
// one at a time), so a run of a scenario holds at most 1 GiB of live
// memory. The work is bounded too: at most 5e8 upstream calls, half a
// microsecond to a microsecond each on this project's 2-core machine
// (hedged calls cost the most), and 1e8 breaker (or limit) samples of some
// 25 ns, so the largest scenario accepted runs for minutes, not hours: 4 to
// 8 CPU-minutes. The built-in suite runs in a few seconds.
package sim

// Package resilienceotel exports what the resilience policies do as
// OpenTelemetry metrics and traces.
//
// It only builds a resilience.Observer and reads the policies' Snapshot
// methods: make a [Telemetry] with [New] from the providers you choose (the
// global ones only if you pass them), give [Telemetry.Observer] to every
// policy's Config, and [Telemetry.Register] the stateful policies whose
// gauges you want:
//
//	tel, err := resilienceotel.New(resilienceotel.Config{MeterProvider: mp, TracerProvider: tp})
//	b := breaker.MustNew(breaker.Config{Name: "payments", Observer: tel.Observer()})
//	unregister, err := tel.Register(b)
//
// No OpenTelemetry semantic conventions exist for resilience policies; this
// package keeps to the general naming rules: one namespace, "resilience.",
// durations in seconds, and low-cardinality attributes only.
//
// # Metrics
//
// The instruments, on the meter named [ScopeName]. Every one has the
// attribute resilience.policy.name, the policy's Config.Name (for the
// breakers and limiters of resiliencehttp.Transport, the host); the others
// are listed.
// The counters and histograms are fed by events, for every policy that has
// the Observer; the observable instruments are read, at each collection,
// from the Snapshot of the policies registered.
//
//	Name                                       Instrument               Unit          Attributes
//	resilience.retry.calls                     Counter                  {call}        resilience.outcome, resilience.retried, resilience.reason
//	resilience.retry.attempts                  Histogram                {attempt}     as resilience.retry.calls
//	resilience.retry.delay                     Histogram                s
//	resilience.rejections                      Counter                  {call}        resilience.policy.kind, resilience.reason
//	resilience.breaker.state                   ObservableGauge          {state}       resilience.breaker.state
//	resilience.breaker.transitions             Counter                  {transition}  resilience.breaker.from_state, resilience.breaker.to_state
//	resilience.bulkhead.active_calls           ObservableUpDownCounter  {call}
//	resilience.bulkhead.queued_calls           ObservableUpDownCounter  {call}
//	resilience.bulkhead.limit                  ObservableUpDownCounter  {call}
//	resilience.bulkhead.wait_time              Histogram                s
//	resilience.adaptive.limit                  ObservableUpDownCounter  {call}
//	resilience.adaptive.active_calls           ObservableUpDownCounter  {call}
//	resilience.adaptive.queued_calls           ObservableUpDownCounter  {call}
//	resilience.adaptive.baseline_latency       ObservableGauge          s
//	resilience.adaptive.window_latency         ObservableGauge          s
//	resilience.adaptive.wait_time              Histogram                s
//	resilience.adaptive.limit_changes          Counter                  {change}      resilience.adaptive.direction
//	resilience.fleet.mode_changes              Counter                  {change}      resilience.fleet.mode
//	resilience.budget.balance                  ObservableGauge          {retry}
//	resilience.throttle.rejection_probability  ObservableGauge          1
//	resilience.ratelimit.tokens                ObservableGauge          {token}
//	resilience.ratelimit.queued_calls          ObservableUpDownCounter  {call}
//	resilience.ratelimit.wait_time             Histogram                s
//	resilience.hedge.sent                      Counter                  {hedge}
//	resilience.hedge.won                       ObservableCounter        {hedge}
//	resilience.fallback.calls                  Counter                  {call}        resilience.reason
//	resilience.timeout.timeouts                Counter                  {attempt}
//	resilience.timeout.abandoned_returns       Counter                  {call}        resilience.reason ("panicked"), if any
//	resilience.timeout.abandoned_calls         ObservableUpDownCounter  {call}
//	resilience.pace.wait_time                  Histogram                s
//	resilience.reconnect.state                 ObservableGauge          {state}       resilience.reconnect.state
//	resilience.reconnect.connections           Counter                  {connection}
//	resilience.reconnect.downtime              Histogram                s
//	resilience.reconnect.losses                Counter                  {connection}  resilience.reason ("early"), if any
//	resilience.reconnect.uptime                Histogram                s             as resilience.reconnect.losses
//	resilience.reconnect.dial_failures         Counter                  {dial}
//
// What each counts:
//
//   - resilience.retry.calls: calls through a retry policy (or a
//     resiliencehttp.Transport) that ended, once each. resilience.outcome is
//     "success", or how the call failed: "transient" (its last failure was
//     worth retrying, but the attempts, the time, the deadline, the budget
//     or the server's hint ran out), "permanent" or "ignored" (the error was
//     not retryable; Config.Classifier tells which), "rejected" (a policy
//     inside refused the attempt, such as an open breaker, or would
//     certainly refuse the next one), "canceled" (by the caller).
//     resilience.retried is true when the call made more than one attempt:
//     outcome "success" with retried true counts the calls that succeeded
//     only after retries. resilience.reason, on failures only, is the
//     policy's reason to give up, such as "attempts exhausted" or "not
//     retryable" (retry.Reason's String), or the transport's own, such as
//     "request body not replayable".
//   - resilience.retry.attempts: the attempts of each of those calls.
//   - resilience.retry.delay: the wait before each retry.
//   - resilience.rejections: calls a policy refused to run: an open or full
//     half-open breaker (reasons "open", "half-open full"), a full bulkhead
//     ("queue full", ...), an adaptive limiter (kind "adaptive", reasons
//     "no wait allowed", "queue full", "wait timed out"), a throttle
//     ("throttled"), a rate limiter, an exhausted retry budget (kind
//     "budget"), a hedge the budget refused (kind "hedge").
//   - resilience.breaker.state: for each registered breaker, one series per
//     state ("closed", "open", "half-open"), 1 for the current one and 0 for
//     the others; a breaker that never changed state reports closed. A
//     registered resiliencehttp.Transport reports the breaker of every host
//     it holds at the time, named after the host.
//   - resilience.breaker.transitions: each change of a breaker's state.
//   - resilience.bulkhead.*: calls holding a slot, calls waiting for one, the
//     number of slots (registered bulkheads), and the wait of every admitted
//     call (zero for one admitted at once).
//   - resilience.adaptive.*: for an adaptive.Limiter, its limit now, the
//     calls it admitted that have not ended and the calls waiting for room
//     (registered limiters, and the limiter of every host of a registered
//     resiliencehttp.Transport with Config.Limit); for a Gradient limiter also its baseline (the
//     service's latency without load) and the mean latency of its last
//     window, once it has them (registered limiters; none for AIMD); the
//     wait of every admitted call (zero for one admitted at once); and the
//     changes of its limit as its StateChange events report them, at most
//     once a second, with resilience.adaptive.direction "increase" or
//     "decrease" (the old and new limits are no attributes: the limit is
//     the gauge). Its rejections are in resilience.rejections; a shadow
//     limiter's would-be rejections carry resilience.shadow=true.
//   - resilience.fleet.mode_changes: each change of mode of a fleet policy
//     of module resilienceredis (its StateChange events of Kind fleet),
//     with resilience.fleet.mode the mode entered: "local" when Redis
//     failed it (down, slow, bad data) and it decides alone, "fleet" when
//     it shares state again. Alert on a rise of the "local" series.
//   - resilience.budget.balance: the retries the budget allows now (below 1,
//     none).
//   - resilience.throttle.rejection_probability: between 0 and 1.
//   - resilience.ratelimit.*: the tokens in the bucket and the calls waiting
//     for tokens (registered limiters), and the wait of every admitted call.
//   - resilience.hedge.sent, resilience.hedge.won: hedges sent (events) and
//     hedges that won their call (registered hedgers).
//   - resilience.fallback.calls: failures that fell back, by their class
//     ("transient", "permanent", ...).
//   - resilience.timeout.*: attempts whose timeout fired, abandoned calls
//     that returned later, and abandoned calls still running (registered
//     timeouts).
//   - resilience.pace.wait_time: the wait of every call paced to a
//     provider's quota, by key (the host, for resiliencehttp.Transport).
//   - resilience.reconnect.*: for a connection supervisor, its state (one
//     series per state, "idle", "dialing", "connected", "waiting", as for a
//     breaker; registered supervisors), the connections it made and how
//     long it had been without one, the connections lost and how long they
//     had been up (reason "early" for one lost within MinUptime), and its
//     failed dials.
//
// An event of a type this package does not know is not recorded. A
// Prometheus exporter shows the names with underscores and its own suffixes:
// resilience_retry_calls_total, resilience_retry_delay_seconds,
// resilience_breaker_state, resilience_throttle_rejection_probability_ratio.
//
// Recording an event's measurement allocates nothing once its attribute set
// has been seen (up to Config.MaxAttributeSets sets are kept); with the
// no-op MeterProvider, the Observer allocates nothing at all.
//
// # Traces
//
// [Telemetry.TraceAttempts] wraps the base RoundTripper of a
// resiliencehttp.Transport so that each attempt is a client span, as the
// OpenTelemetry HTTP client conventions ask (one span per attempt, with
// http.request.resend_count on those after the first), and
// [Telemetry.TraceCalls] wraps the Transport so that attempts know their
// number:
//
//	rt, err := resiliencehttp.NewTransport(tel.TraceAttempts(http.DefaultTransport),
//		resiliencehttp.Config{Observer: tel.Observer()})
//	client := &http.Client{Transport: tel.TraceCalls(rt)}
//
// The Observer adds span events to the span of the event's context — the
// caller's span, for the HTTP transport and for the executors that take a
// context — when it is recording: resilience.retry (attempt, delay,
// error.type), resilience.give_up (attempts, reason), resilience.reject
// (kind, reason), resilience.hedge (hedge number, delay), resilience.timeout
// and resilience.fallback. A breaker's state changes belong to no call: they
// are in the metrics, not in spans.
package resilienceotel

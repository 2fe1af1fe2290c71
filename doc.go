// Package resilience keeps calls to unreliable things — HTTP APIs such as LLM
// providers, message brokers, databases, gRPC services — working through
// transient failures without amplifying an outage.
//
// This package holds what every policy shares:
//
//   - the two error marks of the original design, [NetworkError] (transient,
//     worth retrying) and [ProtocolError] (permanent, never retried), made with
//     [Transient] and [Permanent];
//   - the [Classifier] that sorts any error into a [Class], and the default,
//     [Classify], which knows Go's network errors;
//   - server hints: any error with a RetryAfter() time.Duration method carries
//     one, [WithRetryAfter] attaches one and [RetryAfter] finds it
//     ([RetryAfterAt] at a given time, for virtual time);
//   - the [Policy] interface, [Compose] to stack policies, and the executors
//     [Do] and [Run] that run a function through a policy;
//   - the extension points through which executors drive a policy's
//     decisions themselves, without allocating: [Retrier] (decide after each
//     failure whether and when to try again; run by [Retry]), [Guard]
//     (admit a pass, then hear how it ended; run by [Guarded]) and [Scope]
//     (give each pass a context of its own, as a per-attempt timeout does);
//   - the one observer model of every policy: an [Observer] of optional
//     funcs, one per [EventType], each taking an [Event] by value, which any
//     policy's Config takes, and [Observers] to join several. An exporter
//     (logs, metrics, traces) is an Observer, and reads the policies'
//     gauges from their Snapshot methods.
//
// The policies themselves live in their own packages: retry (with delay
// strategies from package backoff and retry budgets from package budget),
// breaker, and the load-safety policies.
//
// Every policy is split into a decision, a small state machine that never
// blocks or sleeps and takes the current time as an argument, and an executor
// that sleeps, honours the context and runs the caller's function. [Do] is the
// general executor; it runs the policies of this module without allocating.
package resilience

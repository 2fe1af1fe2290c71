// Package resilience keeps calls to unreliable things — HTTP APIs such as LLM
// providers, message brokers, databases, gRPC services — working through
// transient failures without amplifying an outage.
//
// The policies live in their own packages: retry (with delay strategies from
// package backoff and retry budgets from package budget), breaker, and the
// load-safety policies. Make each once, stack them with [Compose], the
// outermost first, and run calls through the stack with [Do], or [Run] for
// a function that returns only an error:
//
//	policy := resilience.Compose(retryPolicy, breaker)
//	reply, err := resilience.Do(ctx, policy, callTheAPI)
//
// A long-lived connection, such as a message broker's, is kept alive by
// package reconnect's Supervisor, which dials through a backoff and a
// breaker and dials again when the connection is lost.
//
// This package holds what every policy shares:
//
//   - the [Policy] interface, [Compose] to stack policies, and the executors
//     [Do] and [Run] that run a function through a policy, without
//     allocating for the policies of this module;
//   - the two error marks of the original design, [NetworkError] (transient,
//     worth retrying) and [ProtocolError] (permanent, never retried), made with
//     [Transient] and [Permanent];
//   - the [Classifier] that sorts any error into a [Class], and the default,
//     [Classify], which knows Go's network errors;
//   - server hints: any error with a RetryAfter() time.Duration method carries
//     one, [WithRetryAfter] attaches one and [RetryAfter] finds it
//     ([RetryAfterAt] at a given time, for virtual time);
//   - the one observer model of every policy: an [Observer] of optional
//     funcs, one per [EventType], each taking an [Event] by value, which any
//     policy's Config takes, and [Observers] to join several. An exporter
//     (logs, metrics, traces) is an Observer, and reads the policies'
//     gauges from their Snapshot methods; [LogObserver] is the one for
//     log/slog, and the module resilienceotel holds the OpenTelemetry one;
//   - the errors for calls that cannot run: [ErrNilContext], [ErrNilPolicy],
//     [ErrNilFunc].
//
// Every policy is split into a decision, a small state machine that never
// blocks or sleeps and takes the current time as an argument, and an executor
// that sleeps, honours the context and runs the caller's function.
//
// # Writing your own policy
//
// Any type with an Execute method is a [Policy], and works in [Compose], [Do]
// and [Run] at the cost of one allocation per call. A policy that lets the
// executors drive its decisions runs without one, as this module's policies
// do. There are three such extension points:
//
//   - a [Guard] admits each pass through it ([Guard.Enter]) and is told how the
//     pass ended ([Guard.Exit], with an [Outcome]); the [Ticket] it issues on
//     admission carries what it needs from one to the other. A
//     [ForeseeingGuard] can also tell that it would reject every pass for a
//     while, so that a retry policy right outside it stops rather than wait
//     for an attempt it would reject.
//   - a [Retrier] decides after each failed attempt, from a [RetryState],
//     whether to try again and after how long ([RetryPlan] says what it
//     needs of the executor, and Succeeded hears of each call's success).
//   - a [Scope] gives each pass a context of its own, as a per-attempt
//     timeout does ([Scope.Begin], then [Scope.End]).
//
// [Guarded] and [Retry] run a function through one Guard or one Retrier. They
// never store the function, so a closure passed to them stays on the
// caller's stack: a policy package's own Do runs as they do (retry.Do is
// Retry; breaker.Do drives its Guard as Guarded would). The Guard example writes a small guard and
// stacks it under a retry policy.
package resilience

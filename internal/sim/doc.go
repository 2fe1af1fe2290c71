// Package sim is the simulator behind "resilience sim": it runs simulated
// clients against a simulated upstream on virtual time, through the
// library's own decisions, and measures what each policy configuration did
// to the clients and to the upstream.
//
// Every decision is the library's: a failed attempt goes to
// retry.Policy.NextRetry (the retry decision, then the budget's
// WithdrawAt), each request to budget.Budget.DepositAt, each attempt to
// throttle.Throttle.AllowAt and breaker.Breaker.AllowAt and its outcome to
// their permits' DoneAt, and hedges wait for hedge.Hedger.DelayAt and report
// to ObserveAt — the same calls the executors make (Do, the HTTP transport),
// on times the simulator gives them. The simulator is an executor: it keeps
// requests, attempts and timers, and decides nothing a policy decides.
//
// The simulation is a discrete-event loop: a queue of timed events (a request
// arrives, an upstream call answers, a backoff ends, a hedge is due, an
// attempt runs out of time), processed in order of time and, for equal times,
// of scheduling. Every random draw comes from generators seeded by the
// scenario's seed — the load's, the upstream's and the clients' draws from
// three separate streams, so that every policy of a scenario meets the same
// arrivals — and the policies read no clock of their own here, so a run is
// reproducible byte for byte. The policies of a scenario run concurrently,
// each on its own instances.
//
// The upstream: a log-normal latency given by its median and 99th
// percentile, with an optional heavy tail; an error rate; a capacity of
// workers, beyond which calls wait in line, first come first served, and are
// refused when they would wait longer than MaxQueueDelay; and trouble windows
// that take it down, raise its error rate or slow it. A call that a client
// abandons (its attempt timed out, its deadline passed, a hedge won) goes on
// holding its worker until it ends, as on a server that does not notice.
//
// A Scenario is read from JSON with Parse or taken from Builtins; Run runs it
// and returns a Result, which WriteText prints as a table and WriteHTML as a
// page with SVG charts.
package sim

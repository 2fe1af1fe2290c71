// Package backoff holds the delay strategies of retry policies: how long to
// wait after the n-th failure in a row.
//
// Strategies are stateless values, safe for concurrent use, and take their
// randomness as an argument, so the same strategy gives the same delays
// under a seeded simulator and random ones in production. [Exponential] is
// what most callers want; its zero value grows from 100ms, doubling, up to
// 10s, with full jitter.
//
// Each jitter mode's formula is in its doc comment. Every delay lies in
// [0, Max] for every attempt number, and jitter still spreads delays once the
// exponential has reached the cap.
package backoff

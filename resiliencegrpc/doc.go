// Package resiliencegrpc brings the policies of module resilience to gRPC
// clients, as gRFC A6 ("gRPC Retry Design") describes retries, hedging and
// retry throttling, in interceptors for grpc-go.
//
// Make a [Client] from a [Config] and install it on a ClientConn:
//
//	c, err := resiliencegrpc.NewClient(resiliencegrpc.Config{
//		Retry:      retry.Config{MaxAttempts: 4},
//		Breaker:    &breaker.Config{},
//		Throttling: &budget.TokensConfig{},
//	})
//	...
//	conn, err := grpc.NewClient(target, append(c.DialOptions(), creds)...)
//
// # What is retried
//
// A failed attempt is retried when its class, by [Codes], is transient:
// UNAVAILABLE by default; RESOURCE_EXHAUSTED when the server sent a
// pushback; DEADLINE_EXCEEDED when the client's own AttemptTimeout ended
// the attempt, never when the caller's deadline did. CANCELED, and the
// codes that say the request itself is wrong (INVALID_ARGUMENT, NOT_FOUND,
// ALREADY_EXISTS, PERMISSION_DENIED, UNAUTHENTICATED, FAILED_PRECONDITION,
// OUT_OF_RANGE, UNIMPLEMENTED), are ignored: never retried, and never
// counted by a breaker. Every other code is permanent: not retried, and
// counted by a breaker. Errors that carry no gRPC status are classified by
// the retry config's Classifier, resilience.Classify by default.
//
// A call is never retried once it has committed: the server sent response
// headers or a message, or a client stream sent more than BufferLimit
// bytes. A server stream is so retried only before its first message, and
// the caller never receives a message twice.
//
// # Pushback
//
// A server may say when to retry, in the trailer grpc-retry-pushback-ms or
// in a google.rpc.RetryInfo detail of its status. A pushback of zero or
// more is the exact wait before the next attempt, after which the backoff
// starts again from its base; a pushback longer than the retry config's
// MaxRetryAfter ends the retries, as an HTTP Retry-After does, where gRFC
// A6 knows no such cap; and the caller's deadline always wins. A negative,
// malformed or repeated pushback asks for no retry at all.
//
// # Where it differs from gRFC A6
//
// The retry policy is the retry package's: its attempts are not capped at
// 5, and its backoff is its own (full jitter by default, not A6's ±20%);
// pass a backoff.Strategy to match A6 exactly. The status codes to retry
// have a default (UNAVAILABLE), where A6 requires a list. A pushback above
// MaxRetryAfter stops the retries. An AttemptTimeout, which A6 does not
// have, is offered; on a stream, it applies only until the stream commits.
// Hedged attempts are not committed by their headers: the first to
// succeed wins.
//
// gRPC's own retries are turned off by [Client.DialOptions]
// (grpc.WithDisableRetry): under the interceptors they would multiply the
// attempts. grpc-go still retries, transparently, an attempt that never
// left the client.
package resiliencegrpc

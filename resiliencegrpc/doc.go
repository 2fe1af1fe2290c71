// Package resiliencegrpc brings the policies of module resilience to gRPC,
// in interceptors for grpc-go: to clients, which retry, hedge and throttle
// their retries as gRFC A6 ("gRPC Retry Design") describes, behind a
// circuit breaker per target ([Client]); and to servers, which shed load
// with answers that such clients retry ([Server]).
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
//
// # Shedding load on a server
//
// A [Server] sheds load in front of a gRPC server's handlers, with the
// policies a [ServerConfig] gives it: a bulkhead.Bulkhead bounds the calls
// in the handlers at once, an adaptive.Limiter bounds them to a limit it
// learns from the handlers' latency and failures, and a throttle.Throttle
// sheds calls with the adaptive probability that the handlers' recent
// failures call for. Install it with [Server.ServerOptions]:
//
//	shed, err := resiliencegrpc.NewServer(resiliencegrpc.ServerConfig{
//		Bulkhead: bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 64, MaxWait: 50 * time.Millisecond, MaxQueue: 64}),
//		Throttle: throttle.MustNew(throttle.Config{}),
//	})
//	...
//	srv := grpc.NewServer(shed.ServerOptions()...)
//
// A shed call is answered before its handler runs, so that the answer is
// Trailers-Only — the status and the trailers in one HEADERS frame, no
// response header before them —, which is the only answer gRFC A6 lets a
// client retry: UNAVAILABLE by default (or RESOURCE_EXHAUSTED), with a
// grpc-retry-pushback-ms trailer (1s by default) after which a client that
// follows A6, such as grpc-go with a retryPolicy in its service config,
// retries it. The handlers' answers are reported to the throttle and the
// adaptive limiter by their status code ([ServerClassifyCode]): the codes
// of overload count against the server, those of a client's mistake as
// calls it accepted, and the client's cancellation not at all. The gRPC health service and server
// reflection are exempt by default ([ServerConfig].Skip).
//
// It is the gRPC twin of resiliencehttp's Shed: the same policies, in the
// same order (the throttle, then the adaptive limiter, then the bulkhead),
// and the same rules for what they are told.
package resiliencegrpc

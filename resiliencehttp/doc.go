// Package resiliencehttp makes net/http calls resilient in one line, and
// protects net/http servers from overload.
//
// On the client side, [NewTransport] wraps an http.RoundTripper with a retry
// policy and, optionally, one circuit breaker per host:
//
//	t, err := resiliencehttp.NewTransport(http.DefaultTransport, resiliencehttp.Config{
//		Retry:              retry.Config{MaxAttempts: 4},
//		Breaker:            &breaker.Config{},
//		RetryNonIdempotent: true, // LLM completion calls are POSTs that are safe to repeat
//	})
//	client := &http.Client{Transport: t}
//
// The transport keeps the standard library's contracts: it replays only
// requests that are safe to replay (idempotent methods, a request with an
// Idempotency-Key header, or POSTs when allowed), gives every attempt a fresh
// copy of the body through GetBody (buffering a body without GetBody up to a
// limit, and sending a larger one once), drains and closes every response it
// discards so that connections are reused, honours Retry-After and
// retry-after-ms (capped by the retry policy's MaxRetryAfter), and when the
// retries run out on a status, hands back the last response with a nil
// error, as a transport without retries would.
//
// On the server side, [Shed] is middleware that sheds load with a bulkhead
// and the adaptive throttle, answering 503 with a Retry-After header.
package resiliencehttp

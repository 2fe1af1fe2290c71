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
// requests that are safe to replay — by default those whose method RFC 9110
// defines as idempotent, GET, HEAD, OPTIONS, TRACE, PUT and DELETE (narrow
// the list with Config.ReplayMethods, say to GET and HEAD, for a server
// whose PUT or DELETE is not idempotent in fact), a request with an
// Idempotency-Key header, or POSTs when allowed — gives every attempt a fresh
// copy of the body through GetBody (a body without GetBody streams as it
// would through the bare transport, and a copy of what was sent, up to a
// limit, serves the next attempt; a longer body is not replayed), drains and
// closes every response it discards so that connections are reused, honours
// Retry-After and retry-after-ms (capped by the retry policy's
// MaxRetryAfter), and when the retries run out on a status, hands back the
// last response with a nil error, as a transport without retries would. The
// request's context always wins, even over a request body that stalls; a
// protocol upgrade (101 Switching Protocols) comes back as net/http gives
// it, its Body writable. It speaks HTTP/1.1 and HTTP/2, over TLS or not, as
// its base transport does.
//
// One thing it does that the http.RoundTripper contract advises against, and
// does on purpose: it interprets status codes, since a 503 or a 429 is how
// most services say "try again later". Config.RetryStatuses lists the
// statuses that are transient failures, retried and counted by the breaker:
// by default [DefaultRetryStatuses], 408, 429, 500, 502, 503, 504 and 529
// (Anthropic's "overloaded"). Any other 5xx status is a failure that the
// breaker counts but that is not retried; any other status is an answer. Set
// RetryStatuses to change the list, or to an empty, non-nil list to retry no
// status at all. Whatever the status, the caller gets the response, never an
// error made of it, as the contract requires.
//
// Streams, such as the server-sent events of a streaming LLM completion, are
// retried only until their headers arrive: the transport returns the
// response then, and never replays a request whose answer has begun. A body
// that breaks midway makes the caller's Read fail with the error the base
// transport reported (net/http reports a chunked body cut before its last
// chunk, a body shorter than its Content-Length, and an HTTP/2 stream reset,
// never io.EOF), and counts as a failure for the host's breaker.
//
// A client library that retries on its own multiplies the transport's
// attempts, and waits its own backoff after each rejection of an open
// breaker: turn its retries off (option.WithMaxRetries(0) in openai-go and
// anthropic-sdk-go). Where a request shows that the library retries anyway
// (the header [StackedRetryHeader] above zero), the Observer's StackedRetries
// func hears it, once per Transport.
//
// With Config.Pace set, it also paces the requests to each host to the quota
// that the host's answers report (OpenAI's, Anthropic's or the IETF's
// headers, read by package pace): before each attempt it waits for the
// attempt's turn, so that what remains is spent evenly until the reset
// rather than in a burst that ends in 429s.
//
// With Config.Limit set, it bounds the attempts in flight to each host by
// an adaptive concurrency limit (package adaptive) that it learns from the
// host's answers: every attempt takes a permit of the host's limiter before
// it goes, inside the retries and outside the breaker, and gives it back
// with its outcome. A 429, a 529 or another transient failure is a drop,
// which cuts the limit; a success lets it grow while the calls fill it. A
// streamed answer holds its permit until its body ends, so a stream of
// server-sent events is one call in flight for as long as it streams, and a
// stream broken midway is a drop. Use the AIMD algorithm, which reads
// drops, not latency (a stream's length is not the provider's latency):
//
//	Limit: &adaptive.Config{Initial: 8, Max: 64, MaxWait: time.Minute,
//		AIMD: adaptive.AIMDConfig{Backoff: 0.7}},
//
// MaxWait makes the calls beyond the limit queue for room; without it they
// fail at once with an error matching adaptive.ErrLimited, which the
// retries do not retry. [Transport.Limiter] returns a host's limiter, for
// its Limit and Snapshot.
//
// On the server side, [Shed] is middleware that sheds load with a bulkhead,
// an adaptive concurrency limit (package adaptive; the Gradient algorithm,
// which reads the handler's latency) and the adaptive throttle, answering
// 503 with a Retry-After header.
//
// Config fields follow the standard library's convention (net.Dialer's
// KeepAlive): zero means the documented default, and for a field whose
// default can be turned off — the field's doc says so — a negative value
// turns it off; any other negative value is an error.
package resiliencehttp

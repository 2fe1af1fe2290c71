// Package resiliencetest helps test code that calls HTTP services: it
// serves the failures that such code must survive — error statuses,
// Retry-After, slow answers, reset and closed connections, requests that
// hang, bodies that trickle or stop short — in an order a test writes down,
// or at random from a seed.
//
// A test describes what happens to each request as a [Fault] and hands a
// script of them to one of two fakes:
//
//   - [Server], shaped like net/http/httptest.Server: a real HTTP server on
//     127.0.0.1, for tests that go through a real client and a real
//     network stack;
//   - [Transport], an http.RoundTripper that answers in memory with the
//     same faults and fails requests with the errors net/http's Transport
//     returns for them, for tests that run inside a testing/synctest
//     bubble, where delays take virtual time and are exact.
//
// The nth request to arrive gets the nth fault of the script. After the
// script, requests get a fault picked at random by a [Mix], if one is set,
// or else the Default fault, whose zero value answers normally: 200 "ok",
// or through a Handler that plays the real service. A [Schedule] changes
// the Mix over time, phase by phase — healthy, a brownout, an outage — for
// soak tests. [Status], [RetryAfter] and [OK] build the common answers:
//
//	srv := resiliencetest.NewServer(
//		resiliencetest.Status(503),
//		resiliencetest.RetryAfter(429, "2"),
//		resiliencetest.Fault{Break: resiliencetest.Reset},
//	)
//	defer srv.Close()
//	// three failures, then 200 "ok"
//
// Both fakes count the requests that arrive and record them — method, path,
// headers such as Idempotency-Key, body, arrival time and the fault given —
// for a test to assert on: how many attempts a retry policy made, that it
// sent the same Idempotency-Key each time, how long it waited between them.
// A Server also counts its open connections ([Server.Conns]), so that a
// test can check that a client closes every one it opened.
//
// Servers, transports and mixes are safe for concurrent use once their
// fields are set.
package resiliencetest

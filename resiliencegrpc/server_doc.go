// The section below belongs in the package documentation (doc.go), after
// the client's sections.
//
// # Shedding load on a server
//
// A [Server] sheds load in front of a gRPC server's handlers, with the
// policies a [ServerConfig] gives it: a bulkhead.Bulkhead bounds the calls
// in the handlers at once, and a throttle.Throttle sheds calls with the
// adaptive probability that the handlers' recent failures call for. Install
// it with [Server.ServerOptions]:
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
// retries it. The handlers' answers are reported to the throttle by their
// status code ([ServerClassifyCode]): the codes of overload count against
// the server, those of a client's mistake as calls it accepted, and the
// client's cancellation not at all. The gRPC health service and server
// reflection are exempt by default ([ServerConfig].Skip).
//
// It is the gRPC twin of resiliencehttp's Shed: the same policies, in the
// same order (the throttle, then the bulkhead), and the same rules for what
// the throttle is told.

package resiliencegrpc

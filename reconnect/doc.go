// Package reconnect keeps a long-lived connection — to a message broker
// (MQTT, NATS, AMQP), a database, a stream — alive: a [Supervisor] dials it,
// hands it to the caller while it lives, and when it is lost dials again,
// through the project's policies, until the caller's context ends.
//
// Between failed dials it waits as a backoff.Strategy says, with jitter, and
// a connection that lasts resets the wait. With a [Config].Breaker (the
// caller's *breaker.Breaker, which several supervisors may share) it asks
// the breaker before each dial; while the breaker is open it waits out the
// breaker's open time instead of dialing, so a dead broker sees one dial per
// recovery timeout. A connection that dies within MinUptime of its handshake
// counts as a failed dial, for the backoff and for the breaker, so a broker
// that accepts connections and drops them at once is not hammered.
//
// The breaker's permit is reported at the handshake, never held for the
// connection's life: a half-open breaker counts a probe that has not
// reported within its ProbeTimeout as failed, so a permit held by a healthy
// connection would reopen it. A successful handshake releases the permit
// (breaker.Permit.Release); the connection's verdict reaches the breaker
// through breaker.Breaker.Record once it is known: a failure if it died
// within MinUptime, a success when it has lasted MinUptime.
//
// Most callers make one Supervisor per connection with [New] and call
// [Supervisor.Run] on a goroutine of their own; code that needs the live
// connection reads it with [Supervisor.Conn], which allocates nothing.
// Client libraries with their own reconnect logic must have it turned off
// (paho.mqtt.golang: SetAutoReconnect(false) and SetConnectRetry(false);
// nats.go: nats.NoReconnect()): a client that reconnects under the
// supervisor multiplies the dials and hides the failures from the breaker.
//
// Config fields follow the standard library's convention (net.Dialer's
// KeepAlive): zero means the documented default, and for a field whose
// default can be turned off — the field's doc says so — a negative value
// turns it off; any other negative value is an error.
package reconnect

// Package brokertest tests package reconnect against real message brokers:
// a mosquitto process driven through paho.mqtt.golang, and an embedded
// nats-server driven through nats.go, both on 127.0.0.1. The tests start,
// kill and restart the brokers, and put between client and broker listeners
// that drop connections, to check that a Supervisor reconnects, that its
// breaker opens and probes once per recovery timeout, and that a connection
// dropped right after its handshake counts as a failure.
//
// It is a module of its own so that the core module needs nothing outside
// the standard library. The program in examples/hsp shows a supervised NATS
// connection surviving a broker restart.
//
// The mosquitto tests need the mosquitto binary (Debian package mosquitto,
// which scripts/test.sh installs when it can). Without it they are skipped,
// unless the environment variable CI is "true", when they fail.
package brokertest

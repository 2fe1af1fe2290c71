package brokertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/reconnect"
)

const topic = "hsp/test"

// mosquitto is a mosquitto process listening on 127.0.0.1.
type mosquitto struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  string
}

// mosquittoBinary finds mosquitto, or skips the test (fails it where CI is
// "true").
func mosquittoBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"mosquitto", "/usr/sbin/mosquitto"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("mosquitto is not installed (Debian package mosquitto; scripts/test.sh installs it where it can)")
	}
	t.Skip("mosquitto is not installed (Debian package mosquitto)")
	return ""
}

// startMosquitto runs mosquitto on 127.0.0.1:port with a generated config,
// and waits until it accepts connections.
func startMosquitto(t *testing.T, port int) *mosquitto {
	t.Helper()
	bin := mosquittoBinary(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	text := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n", port)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "mosquitto.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	m := &mosquitto{cmd: exec.Command(bin, "-c", conf), done: make(chan struct{}), log: logPath}
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = m.cmd.Wait()
		close(m.done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := netDial(hostPort(port))
		if err == nil {
			c.Close()
			return m
		}
		select {
		case <-m.done:
			out, _ := os.ReadFile(logPath)
			t.Fatalf("mosquitto exited: %s", out)
		default:
		}
		if time.Now().After(deadline) {
			m.kill()
			out, _ := os.ReadFile(logPath)
			t.Fatalf("mosquitto not listening within 5s: %s", out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// kill kills the process (SIGKILL: no goodbye to the clients) and waits for
// it to exit.
func (m *mosquitto) kill() {
	_ = m.cmd.Process.Kill()
	<-m.done
}

// mqttDial connects a paho client with its own reconnecting turned off, and
// reports the connection's loss to the supervisor.
func mqttDial(addr, clientID string) func(context.Context, func(error)) (mqtt.Client, error) {
	return func(ctx context.Context, lost func(error)) (mqtt.Client, error) {
		opts := mqtt.NewClientOptions().
			AddBroker("tcp://" + addr).
			SetClientID(clientID).
			SetAutoReconnect(false).
			SetConnectRetry(false).
			SetProtocolVersion(4). // else a failed handshake is tried again with MQTT 3.1: two dials
			SetConnectTimeout(time.Second).
			SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost(err) })
		c := mqtt.NewClient(opts)
		tok := c.Connect()
		tok.Wait() // bounded by the connect timeout
		if err := tok.Error(); err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			c.Disconnect(0)
			return nil, ctx.Err()
		}
		return c, nil
	}
}

// mqttServe subscribes each new connection to topic, delivering to msgs, and
// disconnects when the connection ends.
func mqttServe(msgs chan<- string) func(context.Context, mqtt.Client) error {
	return func(ctx context.Context, c mqtt.Client) error {
		defer c.Disconnect(50)
		tok := c.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
			select {
			case msgs <- string(m.Payload()):
			default:
			}
		})
		if !tok.WaitTimeout(2 * time.Second) {
			return errors.New("subscribe: no answer within 2s")
		}
		if err := tok.Error(); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	}
}

// mqttRoundTrip publishes on the supervisor's connection until the message
// comes back through the subscription, for up to 3s.
func mqttRoundTrip(t *testing.T, sup *reconnect.Supervisor[mqtt.Client], msgs <-chan string, text string) {
	t.Helper()
	deadline := time.After(3 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, ok := sup.Conn(); ok {
			c.Publish(topic, 1, false, text).WaitTimeout(time.Second)
		}
		select {
		case got := <-msgs:
			if got == text {
				return
			}
		case <-tick.C:
		case <-deadline:
			t.Fatalf("no round trip of %q within 3s", text)
		}
	}
}

// TestMQTTDownStartedKilledRestarted: mosquitto is down at start, so the
// breaker opens and probes once per recovery timeout; once it is started the
// supervisor connects within a probe interval; when it is killed (SIGKILL)
// and started again on the same port, paho's connection-lost callback tells
// the supervisor, which reconnects, and the round trip works again.
func TestMQTTDownStartedKilledRestarted(t *testing.T) {
	mosquittoBinary(t)
	port := freePort(t)
	w := newWatch()
	br := newBreaker(t, "mqtt")
	sup := reconnect.MustNew[mqtt.Client](supervisorConfig("mqtt", br, w))
	msgs := make(chan string, 16)
	dial := mqttDial(hostPort(port), "resilience-brokertest")
	start := time.Now()
	stop := runSupervisor(sup, func(ctx context.Context, lost func(error)) (mqtt.Client, error) {
		w.dialed()
		return dial(ctx, lost)
	}, mqttServe(msgs))
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	// Down at start.
	waitFor(t, 5*time.Second, "the breaker's probes", func() bool { return len(w.dialTimes()) >= threshold+3 })
	checkProbes(t, w.dialTimes(), time.Since(start))
	if st := br.State(); st == breaker.Closed {
		t.Fatalf("breaker %v after the broker was down; want open or half-open", st)
	}
	if n := br.Snapshot().Rejected; n != 0 {
		t.Errorf("the breaker rejected %d dials; the supervisor should wait until it allows a probe", n)
	}

	// Started: connected within one probe interval.
	m := startMosquitto(t, port)
	if d := w.waitConnected(t, 3*time.Second); d > recovery+300*time.Millisecond {
		t.Errorf("connected %v after the broker started; want within the %v probe interval", d, recovery)
	}
	mqttRoundTrip(t, sup, msgs, "before the kill")
	waitFor(t, 2*time.Second, "the breaker closing after MinUptime", func() bool { return br.State() == breaker.Closed })

	// Killed, and started again on the same port.
	m.kill()
	m = startMosquitto(t, port)
	defer m.kill()
	w.waitConnected(t, 5*time.Second)
	mqttRoundTrip(t, sup, msgs, "after the restart")
	if lost := w.losses(); len(lost) != 1 || lost[0].Reason != "" {
		t.Errorf("losses %+v; want one, not early", lost)
	}
	stopped = true
	if err := stop(); err != context.Canceled {
		t.Errorf("Run = %v; want context.Canceled", err)
	}
}

// TestMQTTAcceptAndDrop: a plain TCP listener that closes every connection
// at once: each dial fails, the breaker opens, and the listener sees exactly
// the supervisor's dials (paho does not retry on its own).
func TestMQTTAcceptAndDrop(t *testing.T) {
	d := newDropper(t, "", 0)
	w := newWatch()
	br := newBreaker(t, "mqtt-drop")
	sup := reconnect.MustNew[mqtt.Client](supervisorConfig("mqtt-drop", br, w))
	dial := mqttDial(d.addr(), "resilience-brokertest-drop")
	start := time.Now()
	stop := runSupervisor(sup, func(ctx context.Context, lost func(error)) (mqtt.Client, error) {
		w.dialed()
		return dial(ctx, lost)
	}, mqttServe(make(chan string, 1)))
	waitFor(t, 5*time.Second, "the breaker's probes", func() bool { return len(w.dialTimes()) >= threshold+3 })
	span := time.Since(start)
	stop()
	dials := w.dialTimes()
	checkProbes(t, dials, span)
	if n := d.accepted.Load(); n != int64(len(dials)) {
		t.Errorf("the listener accepted %d connections for %d dials", n, len(dials))
	}
	if snap := sup.Snapshot(); snap.Connections != 0 || snap.LastErr == nil {
		t.Errorf("snapshot %+v; want no connection and the last dial's error", snap)
	}
}

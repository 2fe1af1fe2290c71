package resilienceotel_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/reconnect"
)

// TestReconnectMetrics supervises a connection whose first dial fails and
// which is lost after 10s, and reads the supervisor's counters and state.
func TestReconnectMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tel, reader := newTelemetry(t)
		sup := reconnect.MustNew[string](reconnect.Config{
			Name: "broker", Backoff: backoff.Constant(time.Second), MinUptime: time.Second,
			Observer: tel.Observer(),
		})
		if _, err := tel.Register(sup); err != nil {
			t.Fatal(err)
		}
		dials := 0
		dial := func(context.Context, func(error)) (string, error) {
			if dials++; dials == 1 {
				return "", errors.New("connection refused")
			}
			return "conn", nil
		}
		serve := func(ctx context.Context, _ string) error {
			select {
			case <-time.After(10 * time.Second):
				return errors.New("connection reset")
			case <-ctx.Done():
				return nil
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- sup.Run(ctx, dial, serve) }()

		time.Sleep(5 * time.Second) // failed at 0s, connected at 1s
		synctest.Wait()
		got := collected(t, reader)
		compare(t, got, map[string]map[string]string{
			"resilience.reconnect.dial_failures": {"resilience.policy.name=broker": "1"},
			"resilience.reconnect.connections":   {"resilience.policy.name=broker": "1"},
			"resilience.reconnect.downtime":      {"resilience.policy.name=broker": "count 1 sum 1.000"},
			"resilience.reconnect.state": {
				"resilience.policy.name=broker,resilience.reconnect.state=idle":      "0",
				"resilience.policy.name=broker,resilience.reconnect.state=dialing":   "0",
				"resilience.policy.name=broker,resilience.reconnect.state=connected": "1",
				"resilience.policy.name=broker,resilience.reconnect.state=waiting":   "0",
			},
		})

		time.Sleep(10 * time.Second) // lost at 11s, and connected again
		synctest.Wait()
		got = collected(t, reader)
		if got["resilience.reconnect.losses"]["resilience.policy.name=broker"] != "1" ||
			got["resilience.reconnect.uptime"]["resilience.policy.name=broker"] != "count 1 sum 10.000" {
			t.Errorf("losses %v, uptime %v", got["resilience.reconnect.losses"], got["resilience.reconnect.uptime"])
		}
		if got["resilience.reconnect.connections"]["resilience.policy.name=broker"] != "2" {
			t.Errorf("connections %v", got["resilience.reconnect.connections"])
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
		if got := collected(t, reader)["resilience.reconnect.state"]["resilience.policy.name=broker,resilience.reconnect.state=idle"]; got != "1" {
			t.Errorf("state idle = %s after Run returned", got)
		}
	})
}

// TestPaceWait checks the wait histogram of a pacer's admissions.
func TestPaceWait(t *testing.T) {
	tel, reader := newTelemetry(t)
	tel.Observer().Admit(resilience.Event{Type: resilience.EventAdmit, Kind: resilience.KindPace, Policy: "api.openai.com", Context: context.Background(), Delay: 250 * time.Millisecond})
	compare(t, collected(t, reader), map[string]map[string]string{
		"resilience.pace.wait_time": {"resilience.policy.name=api.openai.com": "count 1 sum 0.250"},
	})
}

package resilienceredis

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/netresilience/resilience/breaker"
)

// TestFarOpenKeyIsBadData: an open key whose end lies far beyond any
// recovery timeout, left without an expiry, is bad data: it must not hold
// the fleet open for months.
func TestFarOpenKeyIsBadData(t *testing.T) {
	r := startFleetRedis(t)
	fbs, evs := newFleet(t, r, 1, nil) // RecoveryTimeout: an hour
	c := r.Client()
	ctx := context.Background()
	now, err := c.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	until := now.Add(300 * 24 * time.Hour).UnixMilli()
	if err := c.Set(ctx, key(DefaultPrefix, t.Name(), "open"), strconv.FormatInt(until, 10)+" r9", 0).Err(); err != nil {
		t.Fatal(err)
	}
	wantFallback(t, fbs[0], evs[0], "bad data")
}

// TestOpenKeyWithinTwiceTheRecoveryHolds: an open key that ends within
// twice the recovery timeout, as a replica configured with a longer one
// writes it, holds the fleet open.
func TestOpenKeyWithinTwiceTheRecoveryHolds(t *testing.T) {
	r := startFleetRedis(t)
	fbs, evs := newFleet(t, r, 1, nil) // RecoveryTimeout: an hour
	c := r.Client()
	ctx := context.Background()
	now, err := c.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	until := now.Add(90 * time.Minute).UnixMilli()
	if err := c.Set(ctx, key(DefaultPrefix, t.Name(), "open"), strconv.FormatInt(until, 10)+" r9", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "held open", func() bool { return fbs[0].Snapshot().Fleet == FleetOpen })
	if n := evs[0].fallbacks.Load(); n != 0 {
		t.Fatalf("%d fallbacks on a valid open key", n)
	}
}

// TestWindowOfTheWrongTypeIsBadData: another replica's window key of the
// wrong type is an error event, not a replica taken for gone.
func TestWindowOfTheWrongTypeIsBadData(t *testing.T) {
	r := startFleetRedis(t)
	fbs, evs := newFleet(t, r, 1, nil)
	c := r.Client()
	ctx := context.Background()
	if err := c.SAdd(ctx, key(DefaultPrefix, t.Name(), "replicas"), "x").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.LPush(ctx, key(DefaultPrefix, t.Name(), "w:x"), "x").Err(); err != nil {
		t.Fatal(err)
	}
	wantFallback(t, fbs[0], evs[0], "WRONGTYPE")
}

// TestFutureClosingHidesNoWindows: a closing stamped in the future (a stray
// message, a prober's clock estimate) counts as a closing now: windows
// published after it still open the fleet.
func TestFutureClosingHidesNoWindows(t *testing.T) {
	r := startFleetRedis(t)
	fbs, _ := newFleet(t, r, 3, nil)
	c := r.Client()
	ctx := context.Background()
	now, err := c.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	ahead := strconv.FormatInt(now.Add(50*time.Second).UnixMilli(), 10)
	if err := c.Publish(ctx, channelOf(t.Name()), "closed r9 "+ahead).Err(); err != nil {
		t.Fatal(err)
	}
	for _, fb := range fbs {
		waitTicks(t, fb, 2) // the message has been taken
	}
	for _, fb := range fbs {
		fail(t, fb.Local(), 3) // below MinCalls alone, 9 together
	}
	eventually(t, 3*time.Second, "the fleet opens on the windows' sum", func() bool { return allIn(fbs, breaker.Open) })
}

// TestNoProbeAfterANewOpening: a replica that read the fleet's open time as
// over takes no probe if the fleet opened again before its race for the
// probe: the race compares the open key with what the round read.
func TestNoProbeAfterANewOpening(t *testing.T) {
	r := startFleetRedis(t)
	c := r.Client()
	ctx := context.Background()
	keys := func(name string) []string {
		return []string{key(DefaultPrefix, name, "probe"), key(DefaultPrefix, name, "closed"), key(DefaultPrefix, name, "open")}
	}
	k := keys(t.Name())
	stale := "1000 r1"                                                              // what the round read: an opening long over
	if err := c.Set(ctx, k[2], "9000000000000 r2", time.Minute).Err(); err != nil { // a new opening since
		t.Fatal(err)
	}
	res, err := probeScript.Run(ctx, c, k, "r0", 60000, stale).Slice()
	if err != nil {
		t.Fatal(err)
	}
	if res[0].(int64) != 0 {
		t.Fatalf("the probe was taken after a new opening: %v", res)
	}
	if n, _ := c.Exists(ctx, k[0]).Result(); n != 0 {
		t.Fatal("the probe key was set")
	}
	// The open key as read: the race is on, and won.
	res, err = probeScript.Run(ctx, c, k, "r0", 60000, "9000000000000 r2").Slice()
	if err != nil {
		t.Fatal(err)
	}
	if res[0].(int64) != 1 {
		t.Fatalf("the probe was not taken with the open key as read: %v", res)
	}
	// No open key, and none read: won too (a fleet whose key expired).
	k = keys(t.Name() + "-expired")
	if res, err = probeScript.Run(ctx, c, k, "r0", 60000, "").Slice(); err != nil || res[0].(int64) != 1 {
		t.Fatalf("with no open key: %v, %v; want the probe taken", res, err)
	}
}

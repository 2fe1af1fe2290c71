package resiliencetest_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience/resiliencetest"
)

// always returns a Mix that gives every request the fault.
func always(f resiliencetest.Fault) *resiliencetest.Mix {
	return resiliencetest.MustNewMix(1, resiliencetest.Chance{Probability: 1, Fault: f})
}

func TestSchedulePhasesOverTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := resiliencetest.NewTransport(resiliencetest.Status(500)) // a script comes first
		tr.Default = resiliencetest.OK("default")
		tr.Random = always(resiliencetest.Status(418)) // replaced by the schedule
		tr.Schedule = resiliencetest.MustNewSchedule(
			resiliencetest.Phase{Name: "healthy", Duration: time.Second},
			resiliencetest.Phase{Name: "outage", Duration: 2 * time.Second, Mix: always(resiliencetest.Status(503))},
			resiliencetest.Phase{Name: "brownout", Duration: time.Second, Mix: always(resiliencetest.Status(502))},
		)
		// The schedule's time starts at the first request (the script's),
		// and it repeats every 4s.
		for _, step := range []struct {
			at     time.Duration // since the first request
			status string
			phase  string
		}{
			{0, "500 Internal Server Error", ""},
			{500 * time.Millisecond, "200 OK", "healthy"},
			{999 * time.Millisecond, "200 OK", "healthy"},
			{time.Second, "503 Service Unavailable", "outage"},
			{2999 * time.Millisecond, "503 Service Unavailable", "outage"},
			{3 * time.Second, "502 Bad Gateway", "brownout"},
			{4 * time.Second, "200 OK", "healthy"},
			{5500 * time.Millisecond, "503 Service Unavailable", "outage"},
			{7 * time.Second, "502 Bad Gateway", "brownout"},
			{40 * time.Second, "200 OK", "healthy"},
		} {
			start := time.Now()
			if n := tr.Requests(); n > 0 {
				start = tr.Received()[0].Time
			}
			time.Sleep(start.Add(step.at).Sub(time.Now()))
			if got := outcome(t, tr); got != step.status {
				t.Errorf("at %v: %s; want %s", step.at, got, step.status)
			}
			recs := tr.Received()
			if got := recs[len(recs)-1].Phase; got != step.phase {
				t.Errorf("at %v: recorded phase %q; want %q", step.at, got, step.phase)
			}
		}
	})
}

func TestScheduleOnServer(t *testing.T) {
	srv := resiliencetest.NewUnstartedServer()
	srv.Random = always(resiliencetest.Status(418)) // replaced by the schedule
	srv.Schedule = resiliencetest.MustNewSchedule(
		resiliencetest.Phase{Name: "outage", Duration: time.Hour, Mix: always(resiliencetest.Fault{Break: resiliencetest.Reset})},
	)
	srv.Start()
	defer srv.Close()
	if _, _, err := get(context.Background(), srv.Client(), srv.URL); !errors.Is(err, errConnReset) {
		t.Fatalf("GET: %v; want a reset", err)
	}
	recs := srv.Received()
	if len(recs) != 1 || recs[0].Phase != "outage" || recs[0].Fault.Break != resiliencetest.Reset {
		t.Fatalf("Received() = %+v; want one request in phase outage, reset", recs)
	}
}

func TestSchedulePhaseAt(t *testing.T) {
	s := resiliencetest.MustNewSchedule(
		resiliencetest.Phase{Name: "a", Duration: time.Second},
		resiliencetest.Phase{Name: "b", Duration: time.Nanosecond},
		resiliencetest.Phase{Name: "c", Duration: 2 * time.Second},
	)
	for _, c := range []struct {
		elapsed time.Duration
		want    string
	}{
		{-time.Hour, "a"},
		{0, "a"},
		{time.Second - 1, "a"},
		{time.Second, "b"},
		{time.Second + 1, "c"},
		{3*time.Second + 1 - 1, "c"},
		{3*time.Second + 1, "a"},
		{1<<63 - 1, "c"}, // (2^63-1) mod 3000000001 = 1854775807 ≥ 1000000001
	} {
		if got := s.PhaseAt(c.elapsed).Name; got != c.want {
			t.Errorf("PhaseAt(%v) = %q; want %q", c.elapsed, got, c.want)
		}
	}
	var none *resiliencetest.Schedule
	if got := none.PhaseAt(time.Second); got != (resiliencetest.Phase{}) {
		t.Errorf("nil Schedule: PhaseAt = %+v; want the zero Phase", got)
	}
}

func TestScheduleKeepsItsPhases(t *testing.T) {
	phases := []resiliencetest.Phase{{Name: "a", Duration: time.Second}}
	s := resiliencetest.MustNewSchedule(phases...)
	phases[0].Name = "changed"
	if got := s.PhaseAt(0).Name; got != "a" {
		t.Errorf("PhaseAt(0) = %q after the caller changed its slice; want %q", got, "a")
	}
}

func TestNewScheduleErrors(t *testing.T) {
	const max = time.Duration(1<<63 - 1)
	for _, c := range []struct {
		phases []resiliencetest.Phase
		want   string
	}{
		{nil, "resiliencetest: a Schedule needs at least one Phase"},
		{[]resiliencetest.Phase{{Name: "x"}}, `resiliencetest: phase 0 "x" has Duration 0s; it must be positive`},
		{[]resiliencetest.Phase{{Duration: 1}, {Name: "y", Duration: -time.Second}},
			`resiliencetest: phase 1 "y" has Duration -1s; it must be positive`},
		{[]resiliencetest.Phase{{Duration: max}, {Duration: 1}},
			"resiliencetest: the phases last longer than 2562047h47m16.854775807s in all"},
	} {
		s, err := resiliencetest.NewSchedule(c.phases...)
		if s != nil || err == nil || err.Error() != c.want {
			t.Errorf("NewSchedule(%+v) = %v, %v; want the error %q", c.phases, s, err, c.want)
		}
	}
	if _, err := resiliencetest.NewSchedule(resiliencetest.Phase{Duration: max}); err != nil {
		t.Errorf("NewSchedule of one phase of the longest Duration: %v", err)
	}
}

func TestMustNewSchedulePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustNewSchedule did not panic without phases")
		}
	}()
	resiliencetest.MustNewSchedule()
}

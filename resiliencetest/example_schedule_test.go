package resiliencetest_test

import (
	"fmt"
	"io"
	"time"

	"github.com/netresilience/resilience/resiliencetest"
)

func ExampleNewSchedule() {
	// A service that is healthy for a minute, then fails a third of its
	// requests for 30s, then resets every connection for 10s; and again.
	brownout := resiliencetest.MustNewMix(1, resiliencetest.Chance{Probability: 0.3, Fault: resiliencetest.Status(503)})
	outage := resiliencetest.MustNewMix(1, resiliencetest.Chance{Probability: 1, Fault: resiliencetest.Fault{Break: resiliencetest.Reset}})
	s, err := resiliencetest.NewSchedule(
		resiliencetest.Phase{Name: "healthy", Duration: time.Minute},
		resiliencetest.Phase{Name: "brownout", Duration: 30 * time.Second, Mix: brownout},
		resiliencetest.Phase{Name: "outage", Duration: 10 * time.Second, Mix: outage},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, at := range []time.Duration{0, 70 * time.Second, 95 * time.Second, 100 * time.Second} {
		fmt.Printf("after %v: %s\n", at, s.PhaseAt(at).Name)
	}

	srv := resiliencetest.NewUnstartedServer()
	srv.Schedule = s
	srv.Start()
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL) // the first request starts the schedule
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("%s %q in phase %s\n", resp.Status, body, srv.Received()[0].Phase)
	// Output:
	// after 0s: healthy
	// after 1m10s: brownout
	// after 1m35s: outage
	// after 1m40s: healthy
	// 200 OK "ok" in phase healthy
}

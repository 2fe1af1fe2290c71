package debugpage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/debugpage"
)

// A breaker registered with a debug page, read back as JSON after it
// opened. A program mounts the registry on its mux instead, as
// mux.Handle("/debug/resilience", reg), and opens the page in a browser.
func Example() {
	// Interval -1: no background sampler, so that the example is exact;
	// a program leaves Interval zero to sample every five seconds.
	reg, err := debugpage.New(context.Background(), debugpage.Config{Interval: -1})
	if err != nil {
		panic(err)
	}
	defer reg.Close()

	payments := breaker.MustNew(breaker.Config{FailureThreshold: 2})
	unregister, err := debugpage.Register(reg, "payments", payments)
	if err != nil {
		panic(err)
	}
	defer unregister()

	for range 2 {
		if p, err := payments.Allow(); err == nil {
			p.Done(errors.New("connection refused"))
		}
	}
	reg.Sample()

	rec := httptest.NewRecorder()
	reg.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/resilience?format=json", nil))
	var page struct {
		Policies []struct {
			Name, Kind, State string
			History           map[string][]float64
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
		panic(err)
	}
	for _, p := range page.Policies {
		fmt.Println(p.Name, p.Kind, p.State, "state samples:", p.History["state"])
	}
	// Output:
	// payments breaker open state samples: [1]
}

package resilienceredis_test

import (
	"context"
	"fmt"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/resilienceredis"
	"github.com/netresilience/resilience/retry"
	"github.com/redis/go-redis/v9"
)

// A fleet of replicas shares one retry budget: together they retry at most
// 10% of the fleet's calls, or 10 retries a second for the whole fleet,
// whichever allows more. The retry policy spends the replica's local
// budget, which never waits on Redis. (This example needs a Redis on
// localhost:6379, so it is compiled but not run by the tests.)
func ExampleNewBudget() {
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer client.Close()
	fb, err := resilienceredis.NewBudget(resilienceredis.BudgetConfig{
		Client: client,
		Name:   "payments",
		Budget: budget.Config{Ratio: 0.1, MinPerSecond: 10, Window: 10 * time.Second},
		Observer: &resilience.Observer{StateChange: func(e resilience.Event) {
			fmt.Println("budget", e.Policy, e.From, "->", e.To, e.Err)
		}},
	})
	if err != nil {
		panic(err)
	}
	defer fb.Close()
	policy, err := retry.New(retry.Config{Budget: fb.Local()})
	if err != nil {
		panic(err)
	}
	_, _ = retry.Do(context.Background(), policy, func(ctx context.Context) (string, error) {
		return "call the payments service", nil
	})
}

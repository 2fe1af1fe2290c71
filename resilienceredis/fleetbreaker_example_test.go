package resilienceredis_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/resilienceredis"
)

// Every replica makes the same fleet breaker, and calls through its local
// breaker as without a fleet. Here Redis is unreachable (a closed port), so
// the replica decides alone: a Redis outage never becomes an outage of the
// service.
func ExampleNewBreaker() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}) // your Redis
	defer client.Close()
	fb, err := resilienceredis.NewBreaker(resilienceredis.BreakerConfig{
		Client: client,
		Name:   "payments",
		Quorum: 2, // open the fleet only when two replicas see failures
		Breaker: breaker.Config{
			FailureRate: 0.5,
			Window:      10 * time.Second,
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer fb.Close()

	err = breaker.Run(context.Background(), fb.Local(), func(ctx context.Context) error {
		return nil // the call to the service
	})
	fmt.Println(err, fb.Local().State(), fb.Snapshot().Fleet)
	// Output: <nil> closed closed
}

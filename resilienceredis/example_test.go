package resilienceredis_test

import (
	"fmt"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/resilienceredis"
	"github.com/redis/go-redis/v9"
)

// A fleet of 20 replicas shares an LLM API key's quota of 500 requests a
// minute. Each replica leases 10 requests at once from Redis and spends them
// without waiting on it. (This example needs a Redis on localhost:6379, so
// it is compiled but not run by the tests.)
func ExampleNewQuota() {
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer client.Close()
	q, err := resilienceredis.NewQuota(resilienceredis.QuotaConfig{
		Client:   client,
		Name:     "openai-requests",
		Limit:    500,
		Per:      time.Minute,
		Lease:    10,
		Replicas: 20, // while Redis is down, each replica allows 25 a minute
		Observer: &resilience.Observer{StateChange: func(e resilience.Event) {
			fmt.Println("quota", e.Policy, e.From, "->", e.To, e.Err)
		}},
	})
	if err != nil {
		panic(err)
	}
	defer q.Close()
	if q.Allow(1) {
		// send the request
	}
}

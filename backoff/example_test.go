package backoff_test

import (
	"fmt"
	"time"

	"github.com/netresilience/resilience/backoff"
)

func ExampleExponential() {
	e := backoff.Exponential{
		Base:       100 * time.Millisecond,
		Multiplier: 2,
		Max:        time.Second,
		Jitter:     backoff.NoJitter,
	}
	var prev time.Duration
	for n := 1; n <= 6; n++ {
		prev = e.Delay(n, prev, 0)
		fmt.Printf("failure %d: wait %v\n", n, prev)
	}
	// Output:
	// failure 1: wait 100ms
	// failure 2: wait 200ms
	// failure 3: wait 400ms
	// failure 4: wait 800ms
	// failure 5: wait 1s
	// failure 6: wait 1s
}

// Jitter draws from the u argument, so the same arguments always give the
// same delay. In production u comes from a random source such as
// math/rand/v2's Float64; here it is fixed.
func ExampleExponential_fullJitter() {
	e := backoff.Exponential{Base: 100 * time.Millisecond, Max: time.Second} // FullJitter is the default
	const u = 0.5
	for n := 1; n <= 6; n++ {
		fmt.Printf("failure %d: wait %v\n", n, e.Delay(n, 0, u))
	}
	first, again := e.Delay(3, 0, u), e.Delay(3, 0, u)
	fmt.Println(first == again)
	// Output:
	// failure 1: wait 50ms
	// failure 2: wait 100ms
	// failure 3: wait 200ms
	// failure 4: wait 400ms
	// failure 5: wait 500ms
	// failure 6: wait 500ms
	// true
}

func ExampleExponential_Validate() {
	fmt.Println(backoff.Exponential{}.Validate())
	fmt.Println(backoff.Exponential{Multiplier: 0.5}.Validate())
	// Output:
	// <nil>
	// backoff: Exponential.Multiplier must be a finite number of at least 1, not 0.5
}

func ExampleConstant() {
	s := backoff.Constant(250 * time.Millisecond)
	for n := 1; n <= 3; n++ {
		fmt.Println(s.Delay(n, 0, 0.9))
	}
	// Output:
	// 250ms
	// 250ms
	// 250ms
}

func ExampleJitter_String() {
	for _, j := range []backoff.Jitter{backoff.FullJitter, backoff.EqualJitter, backoff.DecorrelatedJitter, backoff.NoJitter} {
		fmt.Println(j)
	}
	// Output:
	// full
	// equal
	// decorrelated
	// none
}

package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/netresilience/resilience"
)

func ExampleClassify() {
	for _, err := range []error{
		nil,
		fmt.Errorf("read reply: %w", io.ErrUnexpectedEOF),
		fmt.Errorf("call: %w", context.DeadlineExceeded),
		&net.DNSError{Err: "no such host", Name: "api.example.invalid", IsNotFound: true},
		errors.New("400 Bad Request"),
		fmt.Errorf("call: %w", context.Canceled),
	} {
		fmt.Printf("%-9v  %v\n", resilience.Classify(err), err)
	}
	// Output:
	// success    <nil>
	// transient  read reply: unexpected EOF
	// transient  call: context deadline exceeded
	// permanent  lookup api.example.invalid: no such host
	// permanent  400 Bad Request
	// ignored    call: context canceled
}

func ExampleClassifier() {
	errQuota := errors.New("quota exceeded")

	// A classifier of one's own decides the errors it knows about and leaves
	// the rest to the default.
	var classify resilience.Classifier = func(err error) resilience.Class {
		if errors.Is(err, errQuota) {
			return resilience.ClassIgnored
		}
		return resilience.Classify(err)
	}

	fmt.Println(classify(fmt.Errorf("call: %w", errQuota)))
	fmt.Println(classify(io.ErrUnexpectedEOF))
	// Output:
	// ignored
	// transient
}

func ExampleTransient() {
	// The service answered 503: worth another try, though Classify could not
	// know that from the error alone.
	err := resilience.Transient(errors.New("503 Service Unavailable"))
	fmt.Println(err)
	fmt.Println(resilience.Classify(fmt.Errorf("call: %w", err)))

	// A nil error stays nil.
	fmt.Println(resilience.Transient(nil) == nil)
	// Output:
	// network error: 503 Service Unavailable
	// transient
	// true
}

func ExamplePermanent() {
	// The mark wins over what it wraps: a timeout that must not be retried.
	err := resilience.Permanent(context.DeadlineExceeded)
	fmt.Println(err)
	fmt.Println(resilience.Classify(err))

	var pe *resilience.ProtocolError
	if errors.As(err, &pe) {
		fmt.Println(pe.Err == context.DeadlineExceeded)
	}
	// Output:
	// protocol error: context deadline exceeded
	// permanent
	// true
}

func ExampleWithRetryAfter() {
	// A 429 with "Retry-After: 2": retry, but not before two seconds.
	err := resilience.WithRetryAfter(resilience.Transient(errors.New("429 Too Many Requests")), 2*time.Second)
	err = fmt.Errorf("call api: %w", err)

	d, ok := resilience.RetryAfter(err)
	fmt.Println(err)
	fmt.Println(d, ok, resilience.Classify(err))
	// Output:
	// call api: network error: 429 Too Many Requests (retry after 2s)
	// 2s true transient
}

// throttledError is an error type of a client library that knows nothing of
// resilience, yet carries a hint.
type throttledError struct{ wait time.Duration }

func (e *throttledError) Error() string             { return "throttled" }
func (e *throttledError) RetryAfter() time.Duration { return e.wait }

func ExampleRetryAfter() {
	err := fmt.Errorf("send: %w", &throttledError{wait: 500 * time.Millisecond})
	fmt.Println(resilience.RetryAfter(err))
	fmt.Println(resilience.RetryAfter(errors.New("no hint")))
	// Output:
	// 500ms true
	// 0s false
}

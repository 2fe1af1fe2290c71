//go:build !plan9

package resiliencetest_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"

	"github.com/netresilience/resilience/resiliencetest"
)

func ExampleNewServer() {
	// The service fails twice, then answers.
	srv := resiliencetest.NewServer(
		resiliencetest.Status(503),
		resiliencetest.RetryAfter(429, "1"),
	)
	defer srv.Close()

	// A client that tries up to three times.
	for attempt := 1; attempt <= 3; attempt++ {
		resp, err := srv.Client().Get(srv.URL + "/v1/models")
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("attempt %d: %s %q\n", attempt, resp.Status, body)
		if resp.StatusCode == http.StatusOK {
			break
		}
	}
	fmt.Println("requests:", srv.Requests())
	// Output:
	// attempt 1: 503 Service Unavailable "Service Unavailable"
	// attempt 2: 429 Too Many Requests "Too Many Requests"
	// attempt 3: 200 OK "ok"
	// requests: 3
}

func ExampleNewUnstartedServer() {
	// A fake of the real service, behind two faults.
	srv := resiliencetest.NewUnstartedServer(
		resiliencetest.Fault{Break: resiliencetest.Reset},
		resiliencetest.Status(502),
	)
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
	})
	srv.Start()
	defer srv.Close()

	for range 3 {
		resp, err := srv.Client().Get(srv.URL + "/v1/items")
		if err != nil {
			fmt.Println("error; connection reset:", errors.Is(err, syscall.ECONNRESET))
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.Status, string(body))
	}
	// Output:
	// error; connection reset: true
	// 502 Bad Gateway Bad Gateway
	// 200 OK {"path":"/v1/items"}
}

func ExampleNewTransport() {
	// The same faults in memory: no network, and the errors net/http's
	// Transport returns for them.
	tr := resiliencetest.NewTransport(
		resiliencetest.Fault{Break: resiliencetest.Reset},
		resiliencetest.Fault{Break: resiliencetest.Close},
		resiliencetest.Fault{Status: 200, Body: "part", Break: resiliencetest.Truncate},
	)
	client := tr.Client()
	for range 4 {
		resp, err := client.Get("https://api.example.com/v1/chat")
		if err != nil {
			fmt.Println(err)
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s %q %v\n", resp.Status, body, err)
	}
	// Output:
	// Get "https://api.example.com/v1/chat": read tcp api.example.com:443: read: connection reset by peer
	// Get "https://api.example.com/v1/chat": EOF
	// 200 OK "part" unexpected EOF
	// 200 OK "ok" <nil>
}

func ExampleNewMix() {
	// One request in five fails with 503 and one in twenty is reset: the
	// same ones for the same seed, every run.
	tr := resiliencetest.NewTransport()
	tr.Random = resiliencetest.MustNewMix(42,
		resiliencetest.Chance{Probability: 0.2, Fault: resiliencetest.Status(503)},
		resiliencetest.Chance{Probability: 0.05, Fault: resiliencetest.Fault{Break: resiliencetest.Reset}},
	)
	counts := map[string]int{}
	for range 1000 {
		resp, err := tr.Client().Get("https://api.example.com/")
		if err != nil {
			counts["reset"]++
			continue
		}
		resp.Body.Close()
		counts[resp.Status]++
	}
	fmt.Println(counts)
	// Output:
	// map[200 OK:727 503 Service Unavailable:223 reset:50]
}

func ExampleServer_Received() {
	srv := resiliencetest.NewServer(resiliencetest.Status(503))
	defer srv.Close()

	// A client that retries a POST with the same Idempotency-Key.
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/payments", strings.NewReader(`{"amount":10}`))
		req.Header.Set("Idempotency-Key", "pay-7")
		resp, err := srv.Client().Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
	}
	for _, r := range srv.Received() {
		fmt.Println(r.N, r.Method, r.Path, r.Header.Get("Idempotency-Key"), string(r.Body), "->", r.Fault)
	}
	// Output:
	// 1 POST /v1/payments pay-7 {"amount":10} -> 503
	// 2 POST /v1/payments pay-7 {"amount":10} -> normal answer
}

func ExampleRetryAfter() {
	f := resiliencetest.RetryAfter(429, "2")
	fmt.Println(f.Status, f.Header.Get("Retry-After"), f.Body)
	// Output: 429 2 Too Many Requests
}

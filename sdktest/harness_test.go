package sdktest

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/backoff"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/sdktest/internal/fakellm"
)

// memListener is an in-memory network for a synctest bubble: the client's
// base transport dials it and the fake's server accepts from it, over
// net.Pipe, so that the SDKs, the transport and the server all run on the
// bubble's virtual time: a wait of the transport's backoff or of a
// server's Retry-After takes no real time, and is measured exactly.
type memListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "mem" }

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr{} }

func (l *memListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// serve serves h in the bubble, over HTTP/1.1, or HTTP/2 without TLS when
// h2 is set, and returns the base transport that reaches it at any http://
// URL. The server and the connections close when the test ends.
func serve(t *testing.T, h http.Handler, h2 bool) *http.Transport {
	l := &memListener{conns: make(chan net.Conn), done: make(chan struct{})}
	srv := &http.Server{Handler: h}
	tr := &http.Transport{DialContext: l.dial}
	if h2 {
		srv.Protocols, tr.Protocols = new(http.Protocols), new(http.Protocols)
		srv.Protocols.SetUnencryptedHTTP2(true)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	served := make(chan struct{})
	go func() {
		srv.Serve(l)
		close(served)
	}()
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
		<-served
	})
	return tr
}

// fakeURL is the base URL the SDKs are given: the in-memory network
// answers at any host.
const fakeURL = "http://llm.test"

// backoffStep is the transport's wait between attempts in these tests.
const backoffStep = 100 * time.Millisecond

// transportConfig is the transport of these tests: 4 attempts, a constant
// backoff, completions replayed, events recorded in log.
func transportConfig(log *events) resiliencehttp.Config {
	return resiliencehttp.Config{
		Retry:              retry.Config{MaxAttempts: 4, Backoff: backoff.Constant(backoffStep)},
		RetryNonIdempotent: true, // a completion POST is safe to repeat
		Observer:           log.observer(),
	}
}

// events records the events of a transport.
type events struct {
	mu  sync.Mutex
	all []resilience.Event
}

func (l *events) observer() *resilience.Observer {
	return resilience.ObserveAll(func(e resilience.Event) {
		l.mu.Lock()
		l.all = append(l.all, e)
		l.mu.Unlock()
	})
}

// of returns the events of type ty.
func (l *events) of(ty resilience.EventType) []resilience.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []resilience.Event
	for _, e := range l.all {
		if e.Type == ty {
			out = append(out, e)
		}
	}
	return out
}

// newTransport returns our transport over base, configured by cfg.
func newTransport(t *testing.T, base http.RoundTripper, cfg resiliencehttp.Config) *resiliencehttp.Transport {
	t.Helper()
	rt, err := resiliencehttp.NewTransport(base, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// sdkRetries says whether a client keeps its SDK's own retries (the
// default, 2) or turns them off, as it should over our transport.
type sdkRetries bool

const (
	sdkRetriesOff sdkRetries = false
	sdkRetriesOn  sdkRetries = true
)

// newOpenAI returns an openai-go client over rt, at the fake at url.
func newOpenAI(rt http.RoundTripper, url string, retries sdkRetries) openai.Client {
	opts := []option.RequestOption{
		option.WithHTTPClient(&http.Client{Transport: rt}),
		option.WithBaseURL(url + "/v1/"),
		option.WithAPIKey("test-key"),
	}
	if !retries {
		opts = append(opts, option.WithMaxRetries(0))
	}
	return openai.NewClient(opts...)
}

// newAnthropic returns an anthropic-sdk-go client over rt, at the fake at
// url.
func newAnthropic(rt http.RoundTripper, url string, retries sdkRetries) anthropic.Client {
	opts := []aoption.RequestOption{
		aoption.WithHTTPClient(&http.Client{Transport: rt}),
		aoption.WithBaseURL(url),
		aoption.WithAPIKey("test-key"),
	}
	if !retries {
		opts = append(opts, aoption.WithMaxRetries(0))
	}
	return anthropic.NewClient(opts...)
}

// sdk is one of the two SDKs, behind the calls the tests make.
type sdk struct {
	name string
	// complete makes one completion and returns its text.
	complete func(ctx context.Context, rt http.RoundTripper, retries sdkRetries, prompt string) (string, error)
	// streamAt makes one streamed completion at the fake at url, and
	// returns the text of its deltas and the stream's error.
	streamAt func(ctx context.Context, rt http.RoundTripper, url, prompt string) (string, error)
}

// stream makes one streamed completion at the in-memory fake.
func (s sdk) stream(ctx context.Context, rt http.RoundTripper, prompt string) (string, error) {
	return s.streamAt(ctx, rt, fakeURL, prompt)
}

var sdks = []sdk{
	{
		name: "openai-go",
		complete: func(ctx context.Context, rt http.RoundTripper, retries sdkRetries, prompt string) (string, error) {
			c := newOpenAI(rt, fakeURL, retries)
			res, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model:    openai.ChatModelGPT4oMini,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
			})
			if err != nil {
				return "", err
			}
			return res.Choices[0].Message.Content, nil
		},
		streamAt: func(ctx context.Context, rt http.RoundTripper, url, prompt string) (string, error) {
			c := newOpenAI(rt, url, sdkRetriesOff)
			s := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
				Model:    openai.ChatModelGPT4oMini,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
			})
			defer s.Close()
			var text string
			for s.Next() {
				if ch := s.Current().Choices; len(ch) > 0 {
					text += ch[0].Delta.Content
				}
			}
			return text, s.Err()
		},
	},
	{
		name: "anthropic-sdk-go",
		complete: func(ctx context.Context, rt http.RoundTripper, retries sdkRetries, prompt string) (string, error) {
			c := newAnthropic(rt, fakeURL, retries)
			res, err := c.Messages.New(ctx, anthropic.MessageNewParams{
				Model:     "claude-test",
				MaxTokens: 64,
				Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(prompt))},
			})
			if err != nil {
				return "", err
			}
			var text string
			for _, b := range res.Content {
				text += b.Text
			}
			return text, nil
		},
		streamAt: func(ctx context.Context, rt http.RoundTripper, url, prompt string) (string, error) {
			c := newAnthropic(rt, url, sdkRetriesOff)
			s := c.Messages.NewStreaming(ctx, anthropic.MessageNewParams{
				Model:     "claude-test",
				MaxTokens: 64,
				Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(prompt))},
			})
			defer s.Close()
			var text string
			for s.Next() {
				if e := s.Current(); e.Type == "content_block_delta" {
					text += e.Delta.Text
				}
			}
			return text, s.Err()
		},
	},
}

// retryCounts returns the X-Stainless-Retry-Count of each request the
// provider received.
func retryCounts(p *fakellm.Provider) []string {
	var out []string
	for _, r := range p.Requests() {
		out = append(out, r.Header.Get(resiliencehttp.StackedRetryHeader))
	}
	return out
}

// Package fakellm plays LLM providers over HTTP for tests and examples: an
// OpenAI-style chat completions endpoint and an Anthropic-style messages
// endpoint that answer with the JSON bodies, error bodies, headers and
// server-sent event streams the providers send, so that the real SDKs decode
// them, and that fail as a script says.
package fakellm

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The paths a Provider serves, below its base URL.
const (
	OpenAIPath    = "/v1/chat/completions" // openai-go with option.WithBaseURL(url + "/v1/")
	AnthropicPath = "/v1/messages"         // anthropic-sdk-go with option.WithBaseURL(url)
	ModelsPath    = "/v1/models"           // GET: the OpenAI-style list of models
)

// Step is what a Provider does with one request.
type Step struct {
	// Status, if not zero and not 200, is the status of an error answer,
	// with the provider's error body.
	Status int
	// Header holds headers to set on the answer, such as Retry-After.
	Header map[string]string
	// BreakAfter, if above zero, cuts a streamed answer after that many
	// text deltas: the connection closes before the stream's end (on
	// HTTP/2, the stream is reset).
	BreakAfter int
}

// Request is what a Provider records of a request it received.
type Request struct {
	Path   string
	Header http.Header
	Stream bool   // the request asked for a stream
	Prompt string // the text of the last user message
}

// Provider is an http.Handler that plays an LLM provider. Its zero value
// answers every request at once; Script queues steps for the next requests.
// Safe for concurrent use.
type Provider struct {
	// Name is put in the answers' text: "<Name> says: <prompt>", and in
	// the models listed: "<name>-large" and "<name>-small", in lower case.
	Name string

	// SlowListings is how many of the first GET ModelsPath requests hang
	// until the client gives up on them: a slow replica.
	SlowListings int

	// Quota, if set, is a quota of completion requests that the provider
	// enforces and reports in every completion's answer, as the provider
	// does: OpenAI's x-ratelimit-*-requests headers on OpenAIPath,
	// Anthropic's anthropic-ratelimit-requests-* on AnthropicPath. A
	// request over it is answered 429 with Retry-After, before the script
	// is consulted.
	Quota *Quota

	mu       sync.Mutex
	window   time.Time // the start of the quota's current window
	used     int       // requests counted in the window
	refused  int       // requests refused for the quota
	listings int       // GET ModelsPath requests received
	script   []Step
	fallback *Step // once the script is spent, if set; else a success
	requests []Request
}

// Script queues steps: the next requests are answered by them, in order;
// after them, by the step given to Then, or with success.
func (p *Provider) Script(steps ...Step) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.script = append(p.script, steps...)
}

// Then makes every request after the script be answered by s: for a
// provider that goes down for good.
func (p *Provider) Then(s Step) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fallback = &s
}

// Requests returns what the provider received so far.
func (p *Provider) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// Quota is a number of requests per window of time, the window starting at
// the first request and then at each reset.
type Quota struct {
	Requests int
	Window   time.Duration
}

// Refused returns how many requests the provider refused for its quota.
func (p *Provider) Refused() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}

// admit counts a request against the quota and sets the quota's headers
// on w; it reports whether the request is within the quota.
func (p *Provider) admit(w http.ResponseWriter, anthropic bool) bool {
	if p.Quota == nil {
		return true
	}
	p.mu.Lock()
	now := time.Now()
	if p.window.IsZero() || !now.Before(p.window.Add(p.Quota.Window)) {
		p.window, p.used = now, 0
	}
	ok := p.used < p.Quota.Requests
	if ok {
		p.used++
	} else {
		p.refused++
	}
	remaining := p.Quota.Requests - p.used
	reset := p.window.Add(p.Quota.Window)
	p.mu.Unlock()
	h := w.Header()
	if anthropic {
		h.Set("Anthropic-Ratelimit-Requests-Limit", strconv.Itoa(p.Quota.Requests))
		h.Set("Anthropic-Ratelimit-Requests-Remaining", strconv.Itoa(remaining))
		h.Set("Anthropic-Ratelimit-Requests-Reset", reset.UTC().Format(time.RFC3339Nano)) // RFC 3339, with the fraction a short window needs
	} else {
		h.Set("X-Ratelimit-Limit-Requests", strconv.Itoa(p.Quota.Requests))
		h.Set("X-Ratelimit-Remaining-Requests", strconv.Itoa(remaining))
		h.Set("X-Ratelimit-Reset-Requests", reset.Sub(now).String())
	}
	if !ok {
		h.Set("Retry-After", strconv.Itoa(int((reset.Sub(now)+time.Second-1)/time.Second)))
	}
	return ok
}

// Listings returns how many GET ModelsPath requests the provider received.
func (p *Provider) Listings() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.listings
}

// list answers a GET ModelsPath, after hanging if it is one of the first
// SlowListings.
func (p *Provider) list(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.listings++
	slow := p.listings <= p.SlowListings
	p.mu.Unlock()
	if slow {
		<-r.Context().Done()
		return
	}
	name := strings.ToLower(p.Name)
	var data []any
	for _, m := range []string{name + "-large", name + "-small"} {
		data = append(data, map[string]any{"id": m, "object": "model", "created": 1, "owned_by": name})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// next records req and returns the step that answers it.
func (p *Provider) next(r Request) Step {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = append(p.requests, r)
	if len(p.script) > 0 {
		s := p.script[0]
		p.script = p.script[1:]
		return s
	}
	if p.fallback != nil {
		return *p.fallback
	}
	return Step{}
}

// body is what the fake reads of a request: both APIs send a model, a list
// of messages and, for a stream, "stream": true.
type body struct {
	Model    string `json:"model"`
	Stream   bool   `json:"stream"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
}

// prompt returns the text of the last message: a string, or the text of
// its blocks.
func (b *body) prompt() string {
	if len(b.Messages) == 0 {
		return ""
	}
	c := b.Messages[len(b.Messages)-1].Content
	var s string
	if json.Unmarshal(c, &s) == nil {
		return s
	}
	var blocks []struct {
		Text string `json:"text"`
	}
	json.Unmarshal(c, &blocks)
	var parts []string
	for _, bl := range blocks {
		parts = append(parts, bl.Text)
	}
	return strings.Join(parts, "")
}

// ServeHTTP answers a chat completion (OpenAIPath) or a message
// (AnthropicPath) as the script says, and lists models (ModelsPath); any
// other path is not found.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == ModelsPath && r.Method == http.MethodGet {
		p.list(w, r)
		return
	}
	anthropic := r.URL.Path == AnthropicPath
	if !anthropic && r.URL.Path != OpenAIPath || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	var b body
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &b); err != nil {
		writeError(w, anthropic, http.StatusBadRequest, "invalid_request_error", "body: "+err.Error())
		return
	}
	if !p.admit(w, anthropic) {
		writeError(w, anthropic, http.StatusTooManyRequests, "rate_limit_error", "Rate limit reached for requests")
		return
	}
	s := p.next(Request{Path: r.URL.Path, Header: r.Header.Clone(), Stream: b.Stream, Prompt: b.prompt()})
	for k, v := range s.Header {
		w.Header().Set(k, v)
	}
	if s.Status != 0 && s.Status != http.StatusOK {
		kind, msg := "api_error", http.StatusText(s.Status)
		switch s.Status {
		case http.StatusTooManyRequests:
			kind, msg = "rate_limit_error", "Rate limit reached"
		case 529:
			kind, msg = "overloaded_error", "Overloaded"
		}
		writeError(w, anthropic, s.Status, kind, msg)
		return
	}
	text := fmt.Sprintf("%s says: %s", p.Name, b.prompt())
	model := b.Model
	switch {
	case b.Stream && anthropic:
		streamAnthropic(w, model, text, s.BreakAfter)
	case b.Stream:
		streamOpenAI(w, model, text, s.BreakAfter)
	case anthropic:
		writeJSON(w, http.StatusOK, map[string]any{
			"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
			"content":     []any{map[string]any{"type": "text", "text": text}},
			"stop_reason": "end_turn", "stop_sequence": nil,
			"usage": map[string]any{"input_tokens": 1, "output_tokens": len(words(text))},
		})
	default:
		writeJSON(w, http.StatusOK, map[string]any{
			"id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": model,
			"choices": []any{map[string]any{
				"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": text},
			}},
			"usage": map[string]any{"prompt_tokens": 1, "completion_tokens": len(words(text)), "total_tokens": 1 + len(words(text))},
		})
	}
}

// writeError writes a provider's error body.
func writeError(w http.ResponseWriter, anthropic bool, status int, kind, msg string) {
	if anthropic {
		writeJSON(w, status, map[string]any{"type": "error", "error": map[string]any{"type": kind, "message": msg}})
		return
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": kind, "param": nil, "code": nil}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// words splits text into the deltas of a stream: each word with the space
// after it.
func words(text string) []string {
	return strings.SplitAfter(text, " ")
}

// sse starts a stream of server-sent events and returns the function that
// sends one: an event name (none if empty) and its data, flushed at once.
func sse(w http.ResponseWriter) func(event string, data any) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	return func(event string, data any) {
		if event != "" {
			fmt.Fprintf(w, "event: %s\n", event)
		}
		if s, ok := data.(string); ok {
			fmt.Fprintf(w, "data: %s\n\n", s)
		} else {
			b, _ := json.Marshal(data)
			fmt.Fprintf(w, "data: %s\n\n", b)
		}
		rc.Flush()
	}
}

// cut ends a stream midway: net/http's server closes the connection before
// the last chunk (HTTP/1.1), or resets the stream (HTTP/2).
func cut() { panic(http.ErrAbortHandler) }

func streamOpenAI(w http.ResponseWriter, model, text string, breakAfter int) {
	send := sse(w)
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{
			"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
		}
	}
	send("", chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	for i, word := range words(text) {
		if breakAfter > 0 && i == breakAfter {
			cut()
		}
		send("", chunk(map[string]any{"content": word}, nil))
	}
	send("", chunk(map[string]any{}, "stop"))
	send("", "[DONE]")
}

func streamAnthropic(w http.ResponseWriter, model, text string, breakAfter int) {
	send := sse(w)
	send("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": map[string]any{"input_tokens": 1, "output_tokens": 0},
	}})
	send("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
		"content_block": map[string]any{"type": "text", "text": ""}})
	ws := words(text)
	for i, word := range ws {
		if breakAfter > 0 && i == breakAfter {
			cut()
		}
		send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "text_delta", "text": word}})
	}
	send("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	send("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": len(ws)}})
	send("message_stop", map[string]any{"type": "message_stop"})
}

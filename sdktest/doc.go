// Package sdktest holds the tests of the resiliencehttp transport under the
// real LLM client libraries, openai-go and anthropic-sdk-go, against
// loopback fakes that answer as the providers do (package
// internal/fakellm); and, in multillm, the original design's MultiLLMService
// on those libraries. It is a module of its own so that the core module
// never depends on them. It has no API: its tests are its content.
//
// Each client is built as a user of the transport should build it:
//
//	client := openai.NewClient(
//		option.WithHTTPClient(&http.Client{Transport: transport}),
//		option.WithMaxRetries(0), // the transport retries; two layers multiply
//	)
package sdktest

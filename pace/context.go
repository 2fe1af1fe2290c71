package pace

import "context"

// tokensKey marks a context with a call's tokens.
type tokensKey struct{}

// WithTokens returns a context that says a call costs n model tokens, for
// an executor that reserves the call's turn ([TokensFrom]): the request's
// prompt and its max_tokens, say, which a provider that counts tokens as
// they are asked for (OpenAI does) charges before it answers.
func WithTokens(ctx context.Context, n int64) context.Context {
	return context.WithValue(ctx, tokensKey{}, n)
}

// TokensFrom returns the tokens that ctx says a call costs, or zero if it
// says nothing: the pacer then counts the call for its estimate.
func TokensFrom(ctx context.Context) int64 {
	n, _ := ctx.Value(tokensKey{}).(int64)
	return max(n, 0)
}

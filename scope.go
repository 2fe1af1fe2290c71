package resilience

import "context"

// Scope is a [Policy] that gives each pass through it a context of its own,
// derived from the caller's: a per-attempt timeout, for one. The executors
// ([Do] and [Run]) drive a Scope themselves — Begin before the pass, End
// after it — so a Scope inside a [Compose] costs nothing beyond the context
// that Begin makes. Package timeout's *Timeout is a Scope.
type Scope interface {
	Policy

	// Begin returns the context for one pass, derived from ctx (or ctx
	// itself), and the function that releases it, or nil if there is
	// nothing to release: the executor calls it once the pass has returned,
	// or panicked. Begin must not block. If ok is false, the executor runs
	// the pass through Execute instead, as for any Policy.
	Begin(ctx context.Context) (pctx context.Context, release context.CancelFunc, ok bool)

	// End returns the error of a pass that Begin began with ctx and that
	// returned err with the context pctx: err itself, or what the scope
	// makes of it. It is called once the pass has returned (not after a
	// panic), before the context is released.
	End(ctx, pctx context.Context, err error) error
}

// scoped runs a through the scope s of the policy p, and then through the
// layers inside it.
func scoped[T any, A attempt[T]](ctx context.Context, p Policy, s Scope, inner []layer, a A) (v T, err error) {
	pctx, release, ok := s.Begin(ctx)
	if !ok {
		return execute[T](ctx, p, inner, a)
	}
	if release != nil {
		defer release()
	}
	// The pass's context may have ended already, if the scope's limit is
	// tiny: the layers inside check it.
	v, err = runChain[T](pctx, inner, a, false)
	return v, s.End(ctx, pctx, err)
}

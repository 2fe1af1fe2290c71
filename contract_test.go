package resilience_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/fallback"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/ratelimit"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/throttle"
	"github.com/netresilience/resilience/timeout"
)

// contractCase is one policy of this module, with every way to run a call
// through it: its package's Do and Run, and its Execute method. Every type
// of the module with an Execute method must have a case (see
// TestContractCoversEveryPolicy).
type contractCase struct {
	name   string // package.Type, as TestContractCoversEveryPolicy finds it
	policy func() resilience.Policy
	do     func(ctx context.Context, p resilience.Policy, fn func(context.Context) (int, error)) (int, error)
	run    func(ctx context.Context, p resilience.Policy, fn func(context.Context) error) error
}

func contractCases() []contractCase {
	return []contractCase{
		{
			name:   "retry.Policy",
			policy: func() resilience.Policy { return retry.MustNew(retry.Config{MaxAttempts: 3}) },
			do: func(ctx context.Context, p resilience.Policy, fn func(context.Context) (int, error)) (int, error) {
				return retry.Do(ctx, p.(*retry.Policy), fn)
			},
			run: func(ctx context.Context, p resilience.Policy, fn func(context.Context) error) error {
				return retry.Run(ctx, p.(*retry.Policy), fn)
			},
		},
		{
			name:   "breaker.Breaker",
			policy: func() resilience.Policy { return breaker.MustNew(breaker.Config{}) },
			do: func(ctx context.Context, p resilience.Policy, fn func(context.Context) (int, error)) (int, error) {
				return breaker.Do(ctx, p.(*breaker.Breaker), fn)
			},
			run: func(ctx context.Context, p resilience.Policy, fn func(context.Context) error) error {
				return breaker.Run(ctx, p.(*breaker.Breaker), fn)
			},
		},
		{
			name:   "bulkhead.Bulkhead",
			policy: func() resilience.Policy { return bulkhead.MustNew(bulkhead.Config{MaxConcurrent: 2}) },
			do: func(ctx context.Context, p resilience.Policy, fn func(context.Context) (int, error)) (int, error) {
				return bulkhead.Do(ctx, p.(*bulkhead.Bulkhead), fn)
			},
			run: func(ctx context.Context, p resilience.Policy, fn func(context.Context) error) error {
				return bulkhead.Run(ctx, p.(*bulkhead.Bulkhead), fn)
			},
		},
		{
			name:   "adaptive.Limiter",
			policy: func() resilience.Policy { return adaptive.MustNew(adaptive.Config{Initial: 2}) },
			do: func(ctx context.Context, p resilience.Policy, fn func(context.Context) (int, error)) (int, error) {
				return adaptive.Do(ctx, p.(*adaptive.Limiter), fn)
			},
			run: func(ctx context.Context, p resilience.Policy, fn func(context.Context) error) error {
				return adaptive.Run(ctx, p.(*adaptive.Limiter), fn)
			},
		},
		{
			name:   "throttle.Throttle",
			policy: func() resilience.Policy { return throttle.MustNew(throttle.Config{}) },
			do: func(ctx context.Context, p resilience.Policy, fn func(context.Context) (int, error)) (int, error) {
				return throttle.Do(ctx, p.(*throttle.Throttle), fn)
			},
			run: func(ctx context.Context, p resilience.Policy, fn func(context.Context) error) error {
				return throttle.Run(ctx, p.(*throttle.Throttle), fn)
			},
		},
		{
			name:   "timeout.Timeout",
			policy: func() resilience.Policy { return timeout.MustNew(timeout.Config{Timeout: time.Hour}) },
			do: func(ctx context.Context, p resilience.Policy, fn func(context.Context) (int, error)) (int, error) {
				return timeout.Do(ctx, p.(*timeout.Timeout), fn)
			},
			run: func(ctx context.Context, p resilience.Policy, fn func(context.Context) error) error {
				return timeout.Run(ctx, p.(*timeout.Timeout), fn)
			},
		},
		{
			name: "timeout.Timeout (abandon)",
			policy: func() resilience.Policy {
				return timeout.MustNew(timeout.Config{Timeout: time.Hour, Abandon: true})
			},
			do: func(ctx context.Context, p resilience.Policy, fn func(context.Context) (int, error)) (int, error) {
				return timeout.Do(ctx, p.(*timeout.Timeout), fn)
			},
			run: func(ctx context.Context, p resilience.Policy, fn func(context.Context) error) error {
				return timeout.Run(ctx, p.(*timeout.Timeout), fn)
			},
		},
		{
			name: "fallback.Fallback",
			policy: func() resilience.Policy {
				return fallback.MustNew(fallback.Config{Alternative: func(context.Context, error) error { return nil }})
			},
			do: func(ctx context.Context, p resilience.Policy, fn func(context.Context) (int, error)) (int, error) {
				return fallback.Do(ctx, p.(*fallback.Fallback), fn, func(context.Context, error) (int, error) { return 7, nil })
			},
			run: func(ctx context.Context, p resilience.Policy, fn func(context.Context) error) error {
				return fallback.Run(ctx, p.(*fallback.Fallback), fn, func(context.Context, error) error { return nil })
			},
		},
		{
			name: "fallback.Fallback (Value)",
			policy: func() resilience.Policy {
				return fallback.MustNew(fallback.Config{Alternative: func(context.Context, error) error { return nil }})
			},
			do: func(ctx context.Context, p resilience.Policy, fn func(context.Context) (int, error)) (int, error) {
				return fallback.Value(ctx, p.(*fallback.Fallback), fn, 7)
			},
			run: nil, // Value has no Run form
		},
		{
			name:   "hedge.Hedger",
			policy: func() resilience.Policy { return hedge.MustNew(hedge.Config{Delay: time.Millisecond}) },
			do: func(ctx context.Context, p resilience.Policy, fn func(context.Context) (int, error)) (int, error) {
				return hedge.Do(ctx, p.(*hedge.Hedger), fn)
			},
			run: func(ctx context.Context, p resilience.Policy, fn func(context.Context) error) error {
				return hedge.Run(ctx, p.(*hedge.Hedger), fn)
			},
		},
		{
			name:   "ratelimit.Limiter",
			policy: func() resilience.Policy { return ratelimit.MustNew(ratelimit.Config{Limit: 10}) },
			do: func(ctx context.Context, p resilience.Policy, fn func(context.Context) (int, error)) (int, error) {
				return ratelimit.Do(ctx, p.(*ratelimit.Limiter), fn)
			},
			run: func(ctx context.Context, p resilience.Policy, fn func(context.Context) error) error {
				return ratelimit.Run(ctx, p.(*ratelimit.Limiter), fn)
			},
		},
		{
			name:   "resilience.chain",
			policy: func() resilience.Policy { return resilience.Compose() },
		},
	}
}

// TestDoneContextStartsNoAttempt checks the Policy contract's rule for a
// context that ended before the call: no attempt runs, and the error wraps
// the context's cause — through the package's Do and Run, Execute,
// resilience.Do and Run, and inside a composition. Every policy of the module
// must be in contractCases.
func TestDoneContextStartsNoAttempt(t *testing.T) {
	cause := errors.New("the caller gave up")
	canceled, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	expired, stop := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer stop()
	contexts := []struct {
		name  string
		ctx   context.Context
		cause error
	}{
		{"canceled", canceled, cause},
		{"expired", expired, context.DeadlineExceeded},
	}

	for _, c := range contractCases() {
		for _, cc := range contexts {
			type way struct {
				name string
				call func(p resilience.Policy, fn func(context.Context) (int, error)) error
			}
			ways := []way{
				{"Execute", func(p resilience.Policy, fn func(context.Context) (int, error)) error {
					return p.Execute(cc.ctx, resilience.OperationFunc(func(ctx context.Context) error {
						_, err := fn(ctx)
						return err
					}))
				}},
				{"resilience.Do", func(p resilience.Policy, fn func(context.Context) (int, error)) error {
					_, err := resilience.Do(cc.ctx, p, fn)
					return err
				}},
				{"resilience.Run", func(p resilience.Policy, fn func(context.Context) (int, error)) error {
					return resilience.Run(cc.ctx, p, func(ctx context.Context) error { _, err := fn(ctx); return err })
				}},
				{"Compose(retry, p)", func(p resilience.Policy, fn func(context.Context) (int, error)) error {
					outer := retry.MustNew(retry.Config{MaxAttempts: 2})
					_, err := resilience.Do(cc.ctx, resilience.Compose(outer, p), fn)
					return err
				}},
				{"Compose(p, breaker)", func(p resilience.Policy, fn func(context.Context) (int, error)) error {
					_, err := resilience.Do(cc.ctx, resilience.Compose(p, breaker.MustNew(breaker.Config{})), fn)
					return err
				}},
			}
			if c.do != nil {
				ways = append(ways, way{"package Do", func(p resilience.Policy, fn func(context.Context) (int, error)) error {
					_, err := c.do(cc.ctx, p, fn)
					return err
				}})
			}
			if c.run != nil {
				ways = append(ways, way{"package Run", func(p resilience.Policy, fn func(context.Context) (int, error)) error {
					return c.run(cc.ctx, p, func(ctx context.Context) error { _, err := fn(ctx); return err })
				}})
			}
			for _, w := range ways {
				t.Run(c.name+"/"+cc.name+"/"+w.name, func(t *testing.T) {
					calls := 0
					err := w.call(c.policy(), func(context.Context) (int, error) {
						calls++
						return 1, nil
					})
					if calls != 0 {
						t.Errorf("the function ran %d times with a context that had ended", calls)
					}
					if !errors.Is(err, cc.cause) {
						t.Errorf("error %v does not wrap the context's cause %v", err, cc.cause)
					}
				})
			}
		}
	}
}

// TestContractCoversEveryPolicy fails when a type of the module has an
// Execute method (so is a resilience.Policy) but no case in contractCases:
// a new policy must join the contract's test.
func TestContractCoversEveryPolicy(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range contractCases() {
		covered[strings.Fields(c.name)[0]] = true
	}
	var missing, found []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "internal" ||
				name == "cmd" || name == "examples") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); path != "." && err == nil {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Name.Name != "Execute" || len(fn.Type.Params.List) != 2 {
				continue
			}
			recv := fn.Recv.List[0].Type
			if star, ok := recv.(*ast.StarExpr); ok {
				recv = star.X
			}
			if idx, ok := recv.(*ast.IndexListExpr); ok {
				recv = idx.X
			}
			if idx, ok := recv.(*ast.IndexExpr); ok {
				recv = idx.X
			}
			id, ok := recv.(*ast.Ident)
			if !ok {
				continue
			}
			name := f.Name.Name + "." + id.Name
			found = append(found, name)
			if !covered[name] {
				missing = append(missing, name+" ("+path+")")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) < 9 {
		t.Fatalf("found only %d policies (%v): the search is broken", len(found), found)
	}
	slices.Sort(missing)
	for _, m := range missing {
		t.Errorf("%s has an Execute method but no case in contractCases", m)
	}
}

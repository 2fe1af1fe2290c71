package resilience_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/fallback"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/pace"
	"github.com/netresilience/resilience/ratelimit"
	"github.com/netresilience/resilience/resiliencehttp"
	"github.com/netresilience/resilience/retry"
	"github.com/netresilience/resilience/throttle"
	"github.com/netresilience/resilience/timeout"
)

// TestNilPolicyError checks that every policy of the module, called through a
// nil pointer, returns an error matching resilience.ErrNilPolicy and runs
// nothing — through its package's Do and Run, its Execute method,
// resilience.Do and Run, and inside a composition.
func TestNilPolicyError(t *testing.T) {
	ctx := context.Background()
	for _, c := range contractCases() {
		if c.name == "resilience.chain" {
			continue // unexported: no caller can hold a nil one
		}
		nilPolicy := reflect.Zero(reflect.TypeOf(c.policy())).Interface().(resilience.Policy)
		ways := map[string]func(fn func(context.Context) (int, error)) error{
			"Execute": func(fn func(context.Context) (int, error)) error {
				return nilPolicy.Execute(ctx, resilience.OperationFunc(func(ctx context.Context) error {
					_, err := fn(ctx)
					return err
				}))
			},
			"resilience.Do": func(fn func(context.Context) (int, error)) error {
				_, err := resilience.Do(ctx, nilPolicy, fn)
				return err
			},
			"resilience.Run": func(fn func(context.Context) (int, error)) error {
				return resilience.Run(ctx, nilPolicy, func(ctx context.Context) error { _, err := fn(ctx); return err })
			},
			"Compose(retry, p)": func(fn func(context.Context) (int, error)) error {
				_, err := resilience.Do(ctx, resilience.Compose(retry.MustNew(retry.Config{}), nilPolicy), fn)
				return err
			},
		}
		if c.do != nil {
			ways["package Do"] = func(fn func(context.Context) (int, error)) error {
				_, err := c.do(ctx, nilPolicy, fn)
				return err
			}
		}
		if c.run != nil {
			ways["package Run"] = func(fn func(context.Context) (int, error)) error {
				return c.run(ctx, nilPolicy, func(ctx context.Context) error { _, err := fn(ctx); return err })
			}
		}
		ways["Compose(p, nil)"] = func(fn func(context.Context) (int, error)) error {
			_, err := resilience.Do(ctx, resilience.Compose(c.policy(), nil), fn)
			return err
		}
		for way, call := range ways {
			t.Run(c.name+"/"+way, func(t *testing.T) {
				calls := 0
				err := call(func(context.Context) (int, error) { calls++; return 1, nil })
				if calls != 0 || !errors.Is(err, resilience.ErrNilPolicy) {
					t.Errorf("through a nil %T: the function ran %d times, error %v; want no call and an error matching ErrNilPolicy",
						nilPolicy, calls, err)
				}
				if prefix := strings.Split(c.name, ".")[0] + ": "; err != nil && way != "Compose(p, nil)" && !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("error %q is not prefixed with its package's name", err)
				}
			})
		}
	}
}

// TestNilReceivers calls every exported method of every policy type through
// a nil pointer, and of the values they hand out (permits, reservations) on
// their zero value, with ordinary arguments. None may panic or run the
// caller's function; every error must match resilience.ErrNilPolicy; every
// other result must be the zero value — an accessor reports nothing, a
// decision refuses — but for the documented exceptions listed here.
func TestNilReceivers(t *testing.T) {
	receivers := []any{
		(*retry.Policy)(nil),
		(*breaker.Breaker)(nil), breaker.Permit{},
		(*budget.Budget)(nil),
		(*bulkhead.Bulkhead)(nil), bulkhead.Permit{},
		(*adaptive.Limiter)(nil), adaptive.Permit{},
		(*throttle.Throttle)(nil), throttle.Permit{},
		(*ratelimit.Limiter)(nil), ratelimit.Reservation{},
		(*timeout.Timeout)(nil),
		(*hedge.Hedger)(nil),
		(*fallback.Fallback)(nil),
		(*resiliencehttp.Transport)(nil),
		(*pace.Pacer)(nil), pace.Reservation{},
	}
	ctx := context.Background()
	notZero := map[string][]any{
		// A nil *Budget is no budget: it allows every retry.
		"budget.Budget.Withdraw":   {true},
		"budget.Budget.WithdrawAt": {true},
		// A nil *Policy allows no retry.
		"retry.Policy.Decide": {retry.Decision{Reason: retry.Exhausted}},
		// A nil *Limiter adds no cost: the context comes back as it was.
		"ratelimit.Limiter.WithCost": {ctx},
	}
	seen := map[string]bool{}
	for _, recv := range receivers {
		v := reflect.ValueOf(recv)
		typ := v.Type()
		if typ.NumMethod() == 0 {
			t.Fatalf("%v has no methods", typ)
		}
		for i := range typ.NumMethod() {
			m := typ.Method(i)
			name := strings.TrimPrefix(typ.String(), "*") + "." + m.Name
			seen[name] = true
			ran := false
			args := make([]reflect.Value, m.Type.NumIn()-1)
			for j := range args {
				args[j] = nilTestArg(ctx, m.Type.In(j+1), &ran)
			}
			var out []reflect.Value
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%s on a nil receiver panicked: %v", name, p)
					}
				}()
				out = v.Method(i).Call(args)
			}()
			if ran {
				t.Errorf("%s on a nil receiver ran the caller's function", name)
			}
			want, exception := notZero[name]
			for k, r := range out {
				if r.Type() == reflect.TypeFor[error]() {
					if err, _ := r.Interface().(error); !errors.Is(err, resilience.ErrNilPolicy) {
						t.Errorf("%s on a nil receiver returned the error %v, not one matching ErrNilPolicy", name, err)
					}
					continue
				}
				switch {
				case exception && !reflect.DeepEqual(r.Interface(), want[k]):
					t.Errorf("%s on a nil receiver: result %d is %#v, want %#v", name, k, r.Interface(), want[k])
				case !exception && !r.IsZero():
					t.Errorf("%s on a nil receiver: result %d is %#v, not the zero value", name, k, r.Interface())
				}
			}
		}
	}
	for name := range notZero {
		if !seen[name] {
			t.Errorf("exception %s names no method", name)
		}
	}
}

// nilTestArg returns an ordinary argument of type typ for TestNilReceivers;
// a function it returns sets *ran when called.
func nilTestArg(ctx context.Context, typ reflect.Type, ran *bool) reflect.Value {
	var v any
	switch typ {
	case reflect.TypeFor[context.Context]():
		v = ctx
	case reflect.TypeFor[resilience.Operation]():
		v = resilience.OperationFunc(func(context.Context) error { *ran = true; return nil })
	case reflect.TypeFor[*http.Request]():
		v = httptest.NewRequest(http.MethodGet, "http://api.example/", nil)
	case reflect.TypeFor[time.Time]():
		v = time.Now()
	case reflect.TypeFor[time.Duration]():
		v = time.Second
	case reflect.TypeFor[error]():
		v = errors.New("the call failed")
	case reflect.TypeFor[resilience.RetryState]():
		v = resilience.RetryState{Attempts: 1, Err: resilience.Transient(errors.New("down")), Now: time.Now()}
	case reflect.TypeFor[int]():
		v = 1
	case reflect.TypeFor[float64]():
		v = 0.5
	case reflect.TypeFor[string]():
		v = "api.example"
	default:
		return reflect.Zero(typ)
	}
	return reflect.ValueOf(v)
}

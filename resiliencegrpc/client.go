package resiliencegrpc

import (
	"cmp"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/hedge"
	"github.com/netresilience/resilience/retry"
)

// Defaults of [Config]'s zero fields.
const (
	// DefaultBufferLimit is how many bytes of the messages a client stream
	// sends are kept for a replay, as grpc-go's own retries keep per call.
	DefaultBufferLimit = 256 << 10
	// DefaultMaxTargets bounds how many targets' breakers and token
	// buckets are kept.
	DefaultMaxTargets = 1024
)

// Config configures a [Client]. Each zero field means its documented
// default, so Config{} retries UNAVAILABLE up to 3 attempts with the retry
// package's default backoff, and adds nothing else.
type Config struct {
	// Retry is the retry policy of every method that Methods does not
	// override, as for retry.New: attempts, backoff, MaxRetryAfter (the cap
	// on a server's pushback: a longer one ends the retries), a budget, an
	// observer. Its Classifier, if set, classifies the errors that carry
	// no gRPC status; Codes classifies those that do. Default retry.Config{}:
	// 3 attempts.
	Retry retry.Config

	// Breaker, if set, gives each target (ClientConn.Target) a circuit
	// breaker made from this config, named after the target. A call to a
	// target whose breaker is open fails at once, without a connection
	// attempt, with an error whose gRPC status is UNAVAILABLE and that
	// matches breaker.ErrOpen. Its Classifier, if set, classifies the
	// errors that carry no gRPC status. Default: no breaker.
	Breaker *breaker.Config

	// Budget, if set, is the retry budget of every method (and of every
	// hedged method's hedges) whose own config has none. Default: none.
	Budget *budget.Budget

	// Throttling, if set, gives each target a gRFC A6 retry-throttling
	// token bucket (budget.Tokens) made from this config, which its retry
	// policies and hedgers share (as retry.Config.Tokens and
	// hedge.Config.Tokens, unless their own config sets one): every
	// transient failure, or a server's "do not retry" pushback, costs a
	// token, every success gives TokenRatio back, and retries and hedges
	// stop while half the tokens or fewer are left; a throttled call ends
	// with the last attempt's status, in an error that matches
	// budget.ErrExhausted. Default: none.
	Throttling *budget.TokensConfig

	// Hedge, if set, hedges the unary calls of every method that Methods
	// does not override, instead of retrying them: a method is either
	// retried or hedged, never both, as in gRFC A6. Streams are never
	// hedged; they are retried by Retry. A hedged call's reply must be a
	// proto.Message (each attempt decodes into its own); a call whose reply
	// is not is retried instead. Unless the config sets its own Failures,
	// the hedger follows gRFC A6's rules on failures by the client's
	// classification: a transient failure sends the next hedge at once (or
	// after the server's pushback, and a "do not retry" pushback ends the
	// hedging), and any other failure, an ignored code such as
	// INVALID_ARGUMENT included, is fatal: the other attempts are canceled
	// and the call returns it. Default: no hedging.
	Hedge *hedge.Config

	// AttemptTimeout, if set, limits each attempt, inside the caller's
	// deadline: an attempt that it ends failed with DEADLINE_EXCEEDED, which
	// is transient (the caller's own deadline is not). A unary attempt
	// carries it as its deadline; a stream attempt is limited only until
	// it commits (its first response header or message), after which the
	// stream is the caller's. Default: none.
	AttemptTimeout time.Duration

	// BufferLimit is how many bytes of the messages that a client-streaming
	// or bidirectional call sends are kept so that the call can be replayed
	// on another attempt; once they exceed it, the call is committed and
	// never retried. Sizes are proto.Size; a message that is not a
	// proto.Message commits the call. Zero means [DefaultBufferLimit],
	// 256 KiB; negative keeps nothing, so a client stream is committed by
	// its first message. The one request of a unary or server-streaming
	// call is always kept.
	BufferLimit int

	// Codes classifies the failures that carry a gRPC status. Default: see
	// [Codes].
	Codes Codes

	// Methods overrides the policies of some methods. A key is a full
	// method name, "/pkg.Service/Method" or "pkg.Service/Method", or
	// "pkg.Service/*" for every method of a service; an exact name wins
	// over its service's entry.
	Methods map[string]MethodConfig

	// MaxTargets bounds how many targets' breakers and token buckets are
	// kept: past it, those made first are dropped (and made again, fresh,
	// if their target is called again). Zero means [DefaultMaxTargets],
	// 1024; negative turns the bound off, for a client that calls a known
	// set of targets.
	MaxTargets int

	// Observer, if set, receives the events of the retry policies (Kind
	// resilience.KindRetry), of the hedgers (KindHedge) and of every
	// target's breaker (KindBreaker, with the target as Policy), after the
	// observer of their own config, if any; and a GiveUp event with Kind
	// resilience.KindTransport when a call fails after it committed, which
	// no policy is asked about. Default: none.
	Observer *resilience.Observer
}

// MethodConfig overrides the policies of the methods it is given for in
// Config.Methods. A zero field keeps the Config's.
type MethodConfig struct {
	// Retry, if set, is the method's retry policy, instead of
	// Config.Retry; the method is retried, not hedged.
	Retry *retry.Config
	// Hedge, if set, hedges the method's unary calls with this config,
	// instead of Config.Hedge or retries. Retry and Hedge cannot both be
	// set.
	Hedge *hedge.Config
	// AttemptTimeout, if set, is the method's attempt timeout instead of
	// Config.AttemptTimeout; negative turns it off.
	AttemptTimeout time.Duration
}

// Client holds the policies that its interceptors apply to gRPC calls, and
// the state they keep per target. Make one with [NewClient] and install it
// with [Client.DialOptions]; one Client may serve any number of
// ClientConns. It is safe for concurrent use. A nil *Client has no
// breakers nor tokens, and its interceptors answer every call with
// INTERNAL, as a nil [Server]'s do.
type Client struct {
	classes       classTable
	bufferLimit   int
	maxTargets    int
	obs           *resilience.Observer
	breakerConfig *breaker.Config
	throttling    *budget.TokensConfig
	methods       map[string]int // "pkg.Service/Method" → index in specs
	services      map[string]int // "pkg.Service" → index in specs
	specs         []policySpec   // 0: the Config's own
	mu            sync.RWMutex
	targets       map[string]*target
	made          []string              // targets in the order their state was made
	other         resilience.Classifier // Config.Retry's, for errors without a status
}

// policySpec is what a target's policy for some methods is made from.
type policySpec struct {
	name           string
	retry          retry.Config
	hedge          *hedge.Config
	attemptTimeout time.Duration
}

// policy is a target's policy for some methods.
type policy struct {
	retry          *retry.Policy
	hedge          *hedge.Hedger
	attemptTimeout time.Duration
}

// target is the state the client keeps for one target.
type target struct {
	name     string
	breaker  *breaker.Breaker
	tokens   *budget.Tokens
	policies []policy // by index in Client.specs
}

// NewClient returns a Client configured by cfg, or an error if cfg makes no
// sense: a field that its own package's New would refuse, a negative
// AttemptTimeout, a bad code in Codes, a malformed key in Methods, or a
// MethodConfig with both Retry and Hedge.
func NewClient(cfg Config) (*Client, error) {
	if cfg.AttemptTimeout < 0 {
		return nil, errors.New("resiliencegrpc: AttemptTimeout is negative: " + cfg.AttemptTimeout.String())
	}
	classes, err := cfg.Codes.table()
	if err != nil {
		return nil, err
	}
	c := &Client{
		classes:     classes,
		bufferLimit: cmp.Or(cfg.BufferLimit, DefaultBufferLimit),
		maxTargets:  cmp.Or(cfg.MaxTargets, DefaultMaxTargets),
		obs:         cfg.Observer,
		targets:     make(map[string]*target),
		other:       cfg.Retry.Classifier,
	}
	if c.other == nil {
		c.other = resilience.Classify
	}
	c.specs = append(c.specs, c.spec("", cfg.Retry, cfg.Hedge, cfg.AttemptTimeout, cfg))
	for key, mc := range cfg.Methods {
		name, err := methodKey(key)
		if err != nil {
			return nil, err
		}
		if mc.Retry != nil && mc.Hedge != nil {
			return nil, errors.New("resiliencegrpc: Methods[" + strconv.Quote(key) + "]: Retry and Hedge are both set; a method is retried or hedged, not both")
		}
		rc, hc := cfg.Retry, cfg.Hedge
		if mc.Retry != nil {
			rc, hc = *mc.Retry, nil
		}
		if mc.Hedge != nil {
			hc = mc.Hedge
		}
		at := cfg.AttemptTimeout
		switch {
		case mc.AttemptTimeout > 0:
			at = mc.AttemptTimeout
		case mc.AttemptTimeout < 0:
			at = 0
		}
		i := len(c.specs)
		c.specs = append(c.specs, c.spec(name, rc, hc, at, cfg))
		if svc, ok := strings.CutSuffix(name, "/*"); ok {
			if c.services == nil {
				c.services = make(map[string]int)
			}
			if _, dup := c.services[svc]; dup {
				return nil, errors.New("resiliencegrpc: Methods has two keys for " + strconv.Quote(name))
			}
			c.services[svc] = i
			continue
		}
		if c.methods == nil {
			c.methods = make(map[string]int)
		}
		if _, dup := c.methods[name]; dup {
			return nil, errors.New("resiliencegrpc: Methods has two keys for " + strconv.Quote(name))
		}
		c.methods[name] = i
	}
	if cfg.Breaker != nil {
		bc := *cfg.Breaker
		bc.Observer = resilience.Observers(cfg.Breaker.Observer, cfg.Observer)
		bc.Classifier = c.classifier(cfg.Breaker.Classifier)
		if _, err := breaker.New(bc); err != nil {
			return nil, errors.New("resiliencegrpc: Breaker: " + err.Error())
		}
		c.breakerConfig = &bc
	}
	if cfg.Throttling != nil {
		tc := *cfg.Throttling
		if _, err := budget.NewTokens(tc); err != nil {
			return nil, errors.New("resiliencegrpc: Throttling: " + err.Error())
		}
		c.throttling = &tc
	}
	// Make every policy once, so that a bad config fails here.
	if _, err := c.newTarget(""); err != nil {
		return nil, err
	}
	return c, nil
}

// MustNewClient is [NewClient] for configurations known to be valid, such
// as literals in package variables; it panics on an invalid one.
func MustNewClient(cfg Config) *Client {
	c, err := NewClient(cfg)
	if err != nil {
		panic(err)
	}
	return c
}

// spec returns the spec of a policy: its retry config readied for the
// client.
func (c *Client) spec(name string, rc retry.Config, hc *hedge.Config, at time.Duration, cfg Config) policySpec {
	rc.Classifier = c.classifier(rc.Classifier)
	rc.Observer = resilience.Observers(rc.Observer, cfg.Observer)
	if rc.Budget == nil {
		rc.Budget = cfg.Budget
	}
	if rc.Name == "" {
		rc.Name = name
	}
	if hc != nil {
		h := *hc
		h.Observer = resilience.Observers(hc.Observer, cfg.Observer)
		if h.Budget == nil && cfg.Budget != nil {
			h.Budget, h.Deposit = cfg.Budget, true // no retry policy counts a hedged call
		}
		if h.Name == "" {
			h.Name = name
		}
		if h.Failures == nil {
			h.Failures = c.hedgeClassifier(rc.Classifier)
		}
		hc = &h
	}
	return policySpec{name: name, retry: rc, hedge: hc, attemptTimeout: at}
}

// methodKey checks a key of Config.Methods and returns it without its
// leading slash.
func methodKey(key string) (string, error) {
	name := strings.TrimPrefix(key, "/")
	svc, m, ok := strings.Cut(name, "/")
	if !ok || svc == "" || m == "" || strings.Contains(m, "/") || (strings.Contains(m, "*") && m != "*") {
		return "", errors.New("resiliencegrpc: Methods key " + strconv.Quote(key) + " is not \"/pkg.Service/Method\", \"pkg.Service/Method\" or \"pkg.Service/*\"")
	}
	return name, nil
}

// newTarget makes the state of the target name.
func (c *Client) newTarget(name string) (*target, error) {
	t := &target{name: name, policies: make([]policy, len(c.specs))}
	if c.breakerConfig != nil {
		bc := *c.breakerConfig
		bc.Name = name
		b, err := breaker.New(bc)
		if err != nil {
			return nil, errors.New("resiliencegrpc: Breaker: " + err.Error())
		}
		t.breaker = b
	}
	if c.throttling != nil {
		tk, err := budget.NewTokens(*c.throttling)
		if err != nil {
			return nil, errors.New("resiliencegrpc: Throttling: " + err.Error())
		}
		t.tokens = tk
	}
	for i, s := range c.specs {
		where := "Retry"
		if s.name != "" {
			where = "Methods[" + strconv.Quote(s.name) + "].Retry"
		}
		rc := s.retry
		if rc.Tokens == nil {
			rc.Tokens = t.tokens
		}
		p, err := retry.New(rc)
		if err != nil {
			return nil, errors.New("resiliencegrpc: " + where + ": " + err.Error())
		}
		t.policies[i] = policy{retry: p, attemptTimeout: s.attemptTimeout}
		if s.hedge != nil {
			hc := *s.hedge
			if hc.Tokens == nil {
				hc.Tokens = t.tokens
			}
			h, err := hedge.New(hc)
			if err != nil {
				return nil, errors.New("resiliencegrpc: " + strings.Replace(where, "Retry", "Hedge", 1) + ": " + err.Error())
			}
			t.policies[i].hedge = h
		}
	}
	return t, nil
}

// target returns the state of the target name, making it if needed. It
// fails only if a config that NewClient accepted fails now, which it does
// not.
func (c *Client) target(name string) (*target, error) {
	c.mu.RLock()
	t := c.targets[name]
	c.mu.RUnlock()
	if t != nil {
		return t, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t = c.targets[name]; t != nil {
		return t, nil
	}
	t, err := c.newTarget(name)
	if err != nil {
		return nil, err
	}
	c.targets[name] = t
	if c.maxTargets < 0 {
		return t, nil
	}
	if len(c.made) >= c.maxTargets {
		delete(c.targets, c.made[0])
		c.made = c.made[1:]
	}
	c.made = append(c.made, name)
	return t, nil
}

// targetOf returns the target of cc, "" for a nil ClientConn, which only
// a caller that runs an interceptor by hand can pass.
func targetOf(cc *grpc.ClientConn) string {
	if cc == nil {
		return ""
	}
	return cc.Target()
}

// Errors of calls that cannot run: through a nil *Client, as through a nil
// *Server, with no invoker or streamer to run them, or with no reply to
// decode into.
var (
	errNilClient   = status.Error(codes.Internal, "resiliencegrpc: nil *Client")
	errNilInvoker  = status.Error(codes.Internal, "resiliencegrpc: nil invoker")
	errNilStreamer = status.Error(codes.Internal, "resiliencegrpc: nil streamer or stream description")
	errNilReply    = status.Error(codes.Internal, "resiliencegrpc: nil reply")
)

// policyIndex returns the index of the spec that applies to method, a full
// method name such as "/pkg.Service/Method".
func (c *Client) policyIndex(method string) int {
	if c.methods == nil && c.services == nil {
		return 0
	}
	name := strings.TrimPrefix(method, "/")
	if i, ok := c.methods[name]; ok {
		return i
	}
	if j := strings.LastIndexByte(name, '/'); j >= 0 {
		if i, ok := c.services[name[:j]]; ok {
			return i
		}
	}
	return 0
}

// Breaker returns the breaker of target (as ClientConn.Target reports it),
// or nil if it has none yet or the client has no breakers: for metrics and
// manual control.
func (c *Client) Breaker(target string) *breaker.Breaker {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if t := c.targets[target]; t != nil {
		return t.breaker
	}
	return nil
}

// Tokens returns the retry-throttling token bucket of target, or nil if it
// has none yet or Config.Throttling is not set.
func (c *Client) Tokens(target string) *budget.Tokens {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if t := c.targets[target]; t != nil {
		return t.tokens
	}
	return nil
}

// DialOptions returns the options that install the client on a ClientConn:
// its unary and stream interceptors, and grpc.WithDisableRetry, since
// grpc-go's own retries (from a service config) would run under the
// interceptors and multiply the attempts. grpc-go still retries an attempt
// transparently when it never left the client, as gRFC A6 allows.
func (c *Client) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(c.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(c.StreamClientInterceptor()),
		grpc.WithDisableRetry(),
	}
}

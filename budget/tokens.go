package budget

import (
	"errors"
	"math"
	"strconv"
	"sync/atomic"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/internal/observe"
)

// Defaults of [TokensConfig]'s zero fields: those of gRFC A6's example.
const (
	DefaultMaxTokens  = 10.0
	DefaultTokenRatio = 0.1
)

// maxMaxTokens is the largest MaxTokens that gRFC A6 allows.
const maxMaxTokens = 1000

// milli is the unit the token count is kept in: A6 gives TokenRatio three
// decimals, so thousandths of a token keep every count exact.
const milli = 1000

// TokensConfig configures a [Tokens] bucket. Each zero field means its
// documented default, so TokensConfig{} is A6's example: 10 tokens, 0.1
// given back per success.
type TokensConfig struct {
	// Name names the bucket in its events and snapshots.
	Name string
	// MaxTokens is how many tokens the bucket holds, and starts with, in
	// (0, 1000], to three decimals (more are rounded). Retries are allowed
	// while more than half of them are left. Default 10.
	MaxTokens float64
	// TokenRatio is what each success gives back, above zero, to three
	// decimals (more are rounded; a ratio that rounds to zero is an error).
	// Default 0.1.
	TokenRatio float64
	// Observer, if set, receives a Reject event, with Kind
	// resilience.KindBudget, Reason "throttled" and ErrExhausted as Err,
	// for every retry or hedge the bucket refuses, on the goroutine that
	// asked. The policy that asked reports the refusal too. Default: none.
	Observer *resilience.Observer
}

// WithDefaults returns c with each zero field set to its default.
func (c TokensConfig) WithDefaults() TokensConfig {
	if c.MaxTokens == 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	if c.TokenRatio == 0 {
		c.TokenRatio = DefaultTokenRatio
	}
	return c
}

// Tokens is the retry throttling of gRFC A6, exactly: a bucket that starts
// full with MaxTokens tokens; each failed attempt takes one (never below
// zero), each successful one gives back TokenRatio (never above
// MaxTokens); and retries and hedges are allowed only while more than
// MaxTokens/2 tokens are left. When a service fails, its clients soon stop
// retrying it, and start again once enough calls succeed.
//
// It is a model beside the ratio [Budget], not a kind of it: the Budget
// bounds retries to a share of recent calls over a window of time; Tokens
// has no time at all and stops all retries once failures outweigh
// successes by the margin MaxTokens/2. Use Tokens to behave as gRPC clients
// do (one bucket per server, in package resiliencegrpc), the Budget for a
// bound on the load retries add. A retry policy may have both
// (retry.Config.Budget and retry.Config.Tokens).
//
// The count is kept in thousandths of a token in one atomic integer, so it
// is exact (0.1 added ten times is one token) and every method is
// lock-free and allocates nothing. As its state does not depend on time,
// it has no At forms: a simulator calls the same methods on virtual time.
//
// Make one with [NewTokens]; it is safe for concurrent use. A nil *Tokens
// allows every retry and counts nothing.
type Tokens struct {
	name      string
	max       int64 // thousandths
	ratio     int64 // thousandths
	threshold int64 // thousandths: max/2 rounded down; count > threshold is count > max/2 exactly
	obs       *resilience.Observer

	count   atomic.Int64 // thousandths
	refused atomic.Uint64
}

// NewTokens returns a full bucket configured by cfg, or an error if cfg is
// invalid.
func NewTokens(cfg TokensConfig) (*Tokens, error) {
	c := cfg.WithDefaults()
	maxT, okMax := toMilli(c.MaxTokens)
	ratio, okRatio := toMilli(c.TokenRatio)
	switch {
	case !okMax || maxT <= 0 || maxT > maxMaxTokens*milli:
		return nil, errors.New("budget: MaxTokens must be in (0, 1000], to three decimals; not " + ftoa(cfg.MaxTokens))
	case !okRatio || ratio <= 0:
		return nil, errors.New("budget: TokenRatio must be at least 0.001 (three decimals); not " + ftoa(cfg.TokenRatio))
	}
	t := &Tokens{name: c.Name, max: maxT, ratio: ratio, threshold: maxT / 2, obs: c.Observer}
	t.count.Store(maxT)
	return t, nil
}

// MustNewTokens is [NewTokens] for a configuration known to be valid: it
// panics if cfg is invalid.
func MustNewTokens(cfg TokensConfig) *Tokens {
	t, err := NewTokens(cfg)
	if err != nil {
		panic(err)
	}
	return t
}

// toMilli converts v to thousandths, rounded; ok is false for a value that
// is not a number or too large to be a count of tokens.
func toMilli(v float64) (int64, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e12 {
		return 0, false
	}
	return int64(math.Round(v * milli)), true
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Allow reports whether a retry or a hedge may go now: whether more than
// MaxTokens/2 tokens are left. It takes nothing: a failure is paid for by
// [Tokens.Failure]. A refusal counts in Snapshot.Refused and goes to the
// Observer.
func (t *Tokens) Allow() bool {
	if t == nil {
		return true
	}
	if t.count.Load() > t.threshold {
		return true
	}
	t.refused.Add(1)
	if t.obs != nil && t.obs.Reject != nil {
		observe.Call(t.obs.Reject, resilience.Event{
			Type:   resilience.EventReject,
			Kind:   resilience.KindBudget,
			Policy: t.name,
			Reason: "throttled",
			Err:    ErrExhausted,
		})
	}
	return false
}

// Failure takes a token for an attempt that failed in a way a retry could
// fix: a transient failure, or one whose server asked not to be retried
// (gRFC A6 counts both). The count does not go below zero.
func (t *Tokens) Failure() {
	if t == nil {
		return
	}
	for {
		c := t.count.Load()
		n := max(c-milli, 0)
		if n == c || t.count.CompareAndSwap(c, n) {
			return
		}
	}
}

// Failed counts a failed attempt as gRFC A6 does, given its class: a
// transient failure, or one whose server asked not to be retried (a
// negative resilience.Pushback) unless it is ignored, takes a token
// ([Tokens.Failure]); any other failure takes nothing. Every executor that
// counts attempts in a bucket — the retry policy, the hedger, the gRPC
// interceptors — counts them through Failed.
func (t *Tokens) Failed(c resilience.Class, err error) {
	if t == nil {
		return
	}
	switch c {
	case resilience.ClassTransient:
	case resilience.ClassPermanent:
		if d, ok := resilience.Pushback(err); !ok || d >= 0 {
			return
		}
	default:
		return
	}
	t.Failure()
}

// Success gives back TokenRatio for an attempt that succeeded. The count
// does not go above MaxTokens.
func (t *Tokens) Success() {
	if t == nil {
		return
	}
	for {
		c := t.count.Load()
		n := min(c+t.ratio, t.max)
		if n == c || t.count.CompareAndSwap(c, n) {
			return
		}
	}
}

// TokensSnapshot is a bucket's state at one moment, for metrics: a plain
// value, whose zero value is the snapshot of a nil *Tokens.
type TokensSnapshot struct {
	Name       string
	Tokens     float64 // tokens left
	MaxTokens  float64
	TokenRatio float64
	Allowed    bool   // whether a retry would be allowed now
	Refused    uint64 // retries and hedges refused since NewTokens
}

// Snapshot returns the bucket's state now.
func (t *Tokens) Snapshot() TokensSnapshot {
	if t == nil {
		return TokensSnapshot{}
	}
	c := t.count.Load()
	return TokensSnapshot{
		Name:       t.name,
		Tokens:     float64(c) / milli,
		MaxTokens:  float64(t.max) / milli,
		TokenRatio: float64(t.ratio) / milli,
		Allowed:    c > t.threshold,
		Refused:    t.refused.Load(),
	}
}

package fallback

import (
	"context"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/internal/observe"
)

// all is the class set On defaults to.
const all = 1<<resilience.ClassTransient | 1<<resilience.ClassPermanent | 1<<resilience.ClassIgnored

// Fallback decides when a failed call falls back to an alternative, and runs
// calls that way through [Do], [Value], [Run] or, as a resilience.Policy,
// [Fallback.Execute]. Make one with [New]; the zero Fallback is not valid, and
// a nil *Fallback never panics: a method that would run or admit a call
// refuses it, with an error matching resilience.ErrNilPolicy where it returns
// one, and the other methods do nothing and report zero values. A Fallback is
// immutable and safe for concurrent use.
type Fallback struct {
	name     string
	classify resilience.Classifier
	on       uint8 // bit c set: class c falls back
	alt      func(context.Context, error) error
	obs      *resilience.Observer
}

// New returns a Fallback configured by cfg, or an error if cfg.On lists
// ClassSuccess or an unknown class.
func New(cfg Config) (*Fallback, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	f := &Fallback{
		name:     cfg.Name,
		classify: cfg.Classifier,
		on:       all,
		alt:      cfg.Alternative,
		obs:      cfg.Observer,
	}
	if f.classify == nil {
		f.classify = resilience.Classify
	}
	if cfg.On != nil {
		f.on = 0
		for _, c := range cfg.On {
			f.on |= 1 << c
		}
	}
	return f, nil
}

// MustNew is [New] for configurations known to be valid; it panics on an
// invalid one.
func MustNew(cfg Config) *Fallback {
	f, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return f
}

// Name returns the fallback's name.
func (f *Fallback) Name() string {
	if f == nil {
		return ""
	}
	return f.name
}

// Handles reports whether a call that failed with err falls back, by its
// class alone: the executors also check that the caller's context was not
// canceled. It is false for a nil err and for a nil *Fallback. It never
// blocks.
func (f *Fallback) Handles(err error) bool {
	if f == nil || err == nil {
		return false
	}
	_, ok := f.handles(err)
	return ok
}

// handles classifies err and reports whether its class falls back.
func (f *Fallback) handles(err error) (resilience.Class, bool) {
	c := f.classify(err)
	return c, c != resilience.ClassSuccess && f.on&(1<<c) != 0
}

// falls reports whether the failure err of a call under ctx falls back, and
// tells the observer.
func (f *Fallback) falls(ctx context.Context, err error) bool {
	if ctx.Err() == context.Canceled {
		return false // the caller's own cancellation
	}
	c, ok := f.handles(err)
	if ok && f.obs != nil && f.obs.Fallback != nil {
		observe.Call(f.obs.Fallback, resilience.Event{
			Type:    resilience.EventFallback,
			Kind:    resilience.KindFallback,
			Policy:  f.name,
			Context: ctx,
			Time:    time.Now(),
			Err:     err,
			Reason:  c.String(),
		})
	}
	return ok
}

// join returns what a call that failed with err returns after its
// alternative returned altErr.
func (f *Fallback) join(err, altErr error) error {
	if altErr == nil {
		return nil
	}
	return &Error{Name: f.name, Err: err, Alternative: altErr}
}

// Execute runs op, and if it fails in a class of Config.On while the
// caller's context is not canceled, runs Config.Alternative with the
// failure: its nil error is a success, its failure is returned as an *[Error]
// that holds both. It makes a Fallback a resilience.Policy. Without an
// Alternative it returns [ErrNoAlternative] and op does not run.
//
// Run through resilience.Do, a success of the alternative is a success with
// the zero value of the call's type, since a Policy sees no values: to fall
// back to a value, use [Do] or [Value], or let the Alternative store its
// result where the caller reads it.
func (f *Fallback) Execute(ctx context.Context, op resilience.Operation) error {
	switch {
	case f == nil:
		return errNilFallback
	case ctx == nil:
		return resilience.ErrNilContext
	case op == nil:
		return resilience.ErrNilFunc
	case f.alt == nil:
		return ErrNoAlternative
	case ctx.Err() != nil:
		return context.Cause(ctx)
	}
	err := op.Call(ctx)
	if err == nil || !f.falls(ctx, err) {
		return err
	}
	return f.join(err, f.alt(ctx, err))
}

// Do runs fn, and if it fails in a class of Config.On while ctx is not
// canceled, returns alt's result for the failure instead: alt's value with
// a nil error, or alt's value with an *[Error] holding both failures. Any
// other failure is returned as fn left it. Panics in fn or alt go on up the
// stack. A nil ctx, fn or alt is reported as an error, not a panic; so is a
// ctx that has already ended, with its [context.Cause], and neither fn nor alt
// runs. Do never stores fn or alt, and a call where fn succeeds allocates
// nothing.
func Do[T any](ctx context.Context, f *Fallback, fn func(context.Context) (T, error), alt func(ctx context.Context, err error) (T, error)) (T, error) {
	var zero T
	if err := badArgs(ctx, f, fn == nil || alt == nil); err != nil {
		return zero, err
	}
	v, err := fn(ctx)
	if err == nil || !f.falls(ctx, err) {
		return v, err
	}
	v, altErr := alt(ctx, err)
	return v, f.join(err, altErr)
}

// Value is [Do] with a fixed alternative: a call that falls back returns v
// and no error.
func Value[T any](ctx context.Context, f *Fallback, fn func(context.Context) (T, error), v T) (T, error) {
	var zero T
	if err := badArgs(ctx, f, fn == nil); err != nil {
		return zero, err
	}
	got, err := fn(ctx)
	if err == nil || !f.falls(ctx, err) {
		return got, err
	}
	return v, nil
}

// Run is [Do] for functions that return only an error.
func Run(ctx context.Context, f *Fallback, fn func(context.Context) error, alt func(ctx context.Context, err error) error) error {
	if err := badArgs(ctx, f, fn == nil || alt == nil); err != nil {
		return err
	}
	err := fn(ctx)
	if err == nil || !f.falls(ctx, err) {
		return err
	}
	return f.join(err, alt(ctx, err))
}

// badArgs returns the error for a missing context, fallback or function, or
// the cause of a context that has ended: a call that may not begin.
func badArgs(ctx context.Context, f *Fallback, noFunc bool) error {
	switch {
	case f == nil:
		return errNilFallback
	case ctx == nil:
		return resilience.ErrNilContext
	case noFunc:
		return resilience.ErrNilFunc
	case ctx.Err() != nil:
		return context.Cause(ctx)
	}
	return nil
}

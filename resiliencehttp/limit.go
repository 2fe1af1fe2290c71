package resiliencehttp

import (
	"context"
	"errors"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/adaptive"
)

// setLimit checks cfg.Limit, if set, and keeps the config that each host's
// limiter is made from: the given one, with the transport's Observer after
// its own, and a classifier that knows the transport's statuses.
func (t *Transport) setLimit(cfg Config) error {
	if cfg.Limit == nil {
		return nil
	}
	lc := *cfg.Limit
	lc.Observer = resilience.Observers(cfg.Limit.Observer, cfg.Observer)
	classify := lc.Classify
	if classify == nil {
		classify = resilience.Classify
	}
	lc.Classify = func(err error) resilience.Class {
		if err == errBrokenBody {
			return resilience.ClassTransient
		}
		if se, ok := findStatus(err); ok {
			return t.limitClass(se.StatusCode)
		}
		return classify(err)
	}
	if _, err := adaptive.New(lc); err != nil { // check it once, here
		return errors.New("resiliencehttp: Limit: " + err.Error())
	}
	t.limitConfig = &lc
	return nil
}

// limitClass classifies a response's status for the limiter: as for the
// retries, except that a status the breaker ignores (a 4xx the client is
// to blame for) is an answer all the same, whose latency counts.
func (t *Transport) limitClass(code int) resilience.Class {
	c := t.statusClass(code)
	if c == resilience.ClassIgnored {
		return resilience.ClassPermanent
	}
	return c
}

// errBrokenBody is the outcome, for the limiter, of a response body that
// broke midway: a drop, whatever the Read's error was.
var errBrokenBody = errors.New("resiliencehttp: response body broken midway")

// bodyOutcome is what the end of a response's body, with the outcome that
// outcomeBody.ended gives, tells the limiter: nothing after the caller's
// cancellation, and a drop after any error.
func bodyOutcome(err error) resilience.Outcome {
	switch {
	case err == nil:
		return resilience.Outcome{}
	case err == context.Canceled:
		return resilience.Outcome{Canceled: true}
	}
	return resilience.Outcome{Err: errBrokenBody}
}

// limitOutcome is what an attempt's outcome for the breaker (see
// breakerOutcome) tells the limiter: the caller's cancellation, nothing.
func limitOutcome(err error) resilience.Outcome {
	if err == context.Canceled {
		return resilience.Outcome{Canceled: true}
	}
	return resilience.Outcome{Err: err}
}

// Limiter returns the adaptive limiter of host (host and port, as in a
// URL's Host), or nil if it has none yet or the transport has no Limit: for
// metrics (its Limit, InFlight and Snapshot) and to reconfigure one host's.
func (t *Transport) Limiter(host string) *adaptive.Limiter {
	return t.guardsOf(host).lim
}

// Limiters calls yield with each of the transport's per-host limiters, as
// (host, limiter) pairs sorted by host, until yield returns false, as
// [Transport.Breakers] does with breakers. A transport without Limit, or a
// nil one, yields nothing.
func (t *Transport) Limiters(yield func(host string, l *adaptive.Limiter) bool) {
	eachHost(t, func(g hostGuards) *adaptive.Limiter { return g.lim }, yield)
}

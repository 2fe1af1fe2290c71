package resiliencehttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/breaker"
	"github.com/netresilience/resilience/internal/clock"
	"github.com/netresilience/resilience/internal/observe"
	"github.com/netresilience/resilience/pace"
)

// setPace gives t a pacer made from cfg.Pace, if set.
func (t *Transport) setPace(cfg Config) error {
	if cfg.Pace == nil {
		return nil
	}
	pc := *cfg.Pace
	pc.Observer = resilience.Observers(cfg.Pace.Observer, cfg.Observer)
	p, err := pace.New(pc)
	if err != nil {
		return errors.New("resiliencehttp: Pace: " + err.Error())
	}
	t.pacer = p
	return nil
}

// Pacer returns the transport's pacer, or nil if it has none: for metrics
// (its Snapshot of a host), and to feed it the answers of calls made
// elsewhere to the same hosts (its Update).
func (t *Transport) Pacer() *pace.Pacer {
	if t == nil {
		return nil
	}
	return t.pacer
}

// attempt sends r, one attempt of req: after its turn in the quota of req's
// host, if the transport paces requests, and within the host's limit and
// through its breaker.
func (t *Transport) attempt(req, r *http.Request, g hostGuards, replay bool) (*http.Response, error) {
	if t.pacer == nil {
		resp, _, err := t.guarded(req, r, g, replay)
		return resp, err
	}
	ctx := req.Context()
	start := time.Now()
	if g.br != nil {
		if _, err := g.br.Foresee(ctx, start); err != nil {
			resp, _, err := t.guarded(req, r, g, replay) // which the breaker rejects: no turn to wait for
			return resp, err
		}
	}
	host := req.URL.Host
	deadline, _ := ctx.Deadline()
	res, err := t.pacer.Reserve(host, pace.TokensFrom(ctx), deadline)
	if err != nil {
		closeBody(r) // not sent
		t.paceRejected(ctx, host, err, start)
		return nil, err
	}
	if d := res.Delay(); d > 0 {
		if cause := clock.Sleep(ctx, d); cause != nil {
			res.Cancel()
			closeBody(r)
			return nil, fmt.Errorf("resiliencehttp: request not sent: gave up waiting for its turn in the quota of %s: %w", host, cause)
		}
	}
	t.paceAdmitted(ctx, host, res)
	resp, sent, err := t.guarded(req, r, g, replay)
	switch {
	case resp != nil:
		q, _ := pace.Parse(resp.Header, time.Now()) // what is malformed is ignored
		res.Done(q)
	case !sent:
		res.Cancel() // the limiter or the breaker rejected it
	default:
		res.Done(pace.Quota{}) // sent, and no answer
	}
	return resp, err
}

func (t *Transport) paceAdmitted(ctx context.Context, host string, res pace.Reservation) {
	obs := t.pacer.Observer()
	if obs == nil || obs.Admit == nil {
		return
	}
	observe.Call(obs.Admit, resilience.Event{
		Type:    resilience.EventAdmit,
		Kind:    resilience.KindPace,
		Policy:  host,
		Context: ctx,
		Time:    time.Now(),
		Delay:   res.Delay(),
		Cost:    int(res.Tokens()),
	})
}

func (t *Transport) paceRejected(ctx context.Context, host string, err error, now time.Time) {
	obs := t.pacer.Observer()
	if obs == nil || obs.Reject == nil {
		return
	}
	e := resilience.Event{
		Type:    resilience.EventReject,
		Kind:    resilience.KindPace,
		Policy:  host,
		Context: ctx,
		Time:    now,
		Err:     err,
		Cost:    int(t.pacer.Estimate(host)),
	}
	var pe *pace.Error
	if errors.As(err, &pe) {
		e.Reason, e.Delay = pe.Reason.String(), pe.RetryAfterAt(now)
	}
	if n := pace.TokensFrom(ctx); n > 0 {
		e.Cost = int(n)
	}
	observe.Call(obs.Reject, e)
}

// ahead returns what the retries of req foresee of the next attempt's
// rejection: the host's breaker's, then the pacer's.
func (t *Transport) ahead(req *http.Request, br *breaker.Breaker) *foreseePaced {
	return &foreseePaced{br: br, p: t.pacer, host: req.URL.Host, tokens: pace.TokensFrom(req.Context())}
}

// foreseePaced foresees the rejection of a host's next attempt, by its
// breaker or its pacer.
type foreseePaced struct {
	br     *breaker.Breaker
	p      *pace.Pacer
	host   string
	tokens int64
}

func (f *foreseePaced) Foresee(ctx context.Context, now time.Time) (time.Time, error) {
	if f.br != nil {
		if until, err := f.br.Foresee(ctx, now); err != nil {
			return until, err
		}
	}
	return f.p.Foresee(f.host, f.tokens, now)
}

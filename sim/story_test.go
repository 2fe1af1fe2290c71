package sim_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/netresilience/resilience/budget"
	"github.com/netresilience/resilience/sim"
)

// withinBounds is what a team promises of its configuration: in a full
// outage it multiplies the upstream's load by at most 1.2, and its clients
// see the recovery within 5s.
func withinBounds(p *sim.PolicyResult) error {
	switch {
	case p.TroubleAmplification > 1.2:
		return fmt.Errorf("%s: ×%.2f upstream calls per request during the outage; want at most ×1.2", p.Name, p.TroubleAmplification)
	case !p.Recovered || p.Recovery > 5*time.Second:
		return fmt.Errorf("%s: recovered %v after the outage (recovered: %v); want within 5s", p.Name, p.Recovery, p.Recovered)
	}
	return nil
}

// TestOutageWithinBounds is the test a team writes to hold its production
// settings — three attempts, a 10% retry budget, a breaker that opens on
// five failures in a row and probes every 2s — to withinBounds, so that CI
// catches the change that breaks them. The same assertion fails retries
// without a budget, which triple the load: it can fail.
func TestOutageWithinBounds(t *testing.T) {
	res, err := sim.Run(outage())
	if err != nil {
		t.Fatal(err)
	}
	production, naive := res.Policy("retry+budget+breaker"), res.Policy("retry")
	if err := withinBounds(production); err != nil {
		t.Error(err)
	}
	if err := withinBounds(naive); err == nil {
		t.Errorf("retries without a budget (×%.2f during the outage) pass the bounds", naive.TroubleAmplification)
	} else {
		t.Logf("as it should, the naive configuration fails: %v", err)
	}
}

// TestOutageTokensBound holds gRFC A6 retry throttling to the bound that
// its token bucket guarantees. A retry goes only if more than MaxTokens/2
// tokens are left once its failure has taken one, and only successes, of
// TokenRatio each, put tokens back; a bucket holds at most MaxTokens. So in
// any span of time a client's retries are fewer than MaxTokens/2 plus
// TokenRatio times its successes in the span: each retry's failure takes a
// token, from the at most MaxTokens/2 above the threshold at the start, or
// from those its successes earned back. (A failure that finds less than a
// token leaves zero, not less, but to climb from there above MaxTokens/2
// takes more successes than that spared.) Over the clients:
//
//	retries ≤ Clients × MaxTokens/2 + TokenRatio × successes
//
// In a full outage nothing succeeds, so the bound is a fixed count of
// retries, whatever the load: here 20 clients × 5 = 100 retries for the
// 60,000 requests of the minute. The 10% budget, which bounds retries to a
// share of the calls instead, breaks it, so the assertion can fail.
func TestOutageTokensBound(t *testing.T) {
	s, _ := sim.Builtin("retry-throttling")
	w := s.Upstream.Windows[0]
	s.Duration = w.To + sim.Duration(10*time.Second)
	var tokens, budgeted sim.Policy
	for _, p := range s.Policies {
		switch p.Name {
		case "retry+tokens":
			tokens = p
		case "retry+budget":
			budgeted = p
		}
	}
	s.Policies = []sim.Policy{tokens, budgeted}
	res, err := sim.Run(s)
	if err != nil {
		t.Fatal(err)
	}
	maxTokens, ratio := budget.DefaultMaxTokens, budget.DefaultTokenRatio // tokens.Tokens is TokensConfig{}
	// The buckets wholly within the outage.
	first, last := int((time.Duration(w.From)+res.Bucket-1)/res.Bucket), int(time.Duration(w.To)/res.Bucket)
	for _, p := range res.Policies {
		var retries, successes int
		for _, pt := range p.Series[first:last] {
			retries += pt.Retries
			successes += pt.Succeeded
		}
		bound := float64(s.Load.Clients)*maxTokens/2 + ratio*float64(successes)
		t.Logf("%s: %d retries and %d successes during the outage; the token bucket's bound is %.1f", p.Name, retries, successes, bound)
		switch within := float64(retries) <= bound; {
		case p.Name == tokens.Name && !within:
			t.Errorf("%s: %d retries during the outage, above the bound of %.1f", p.Name, retries, bound)
		case p.Name == tokens.Name && retries == 0:
			t.Errorf("%s: no retry at all during the outage; want the few its full buckets allow at its start", p.Name)
		case p.Name == budgeted.Name && within:
			t.Errorf("%s: %d retries during the outage, within the token bucket's bound of %.1f; a budget allows a share of the calls", p.Name, retries, bound)
		}
	}
}

package sim

import (
	"testing"
	"time"
)

// TestRetryThrottling compares, on the retry-throttling scenario, gRFC A6
// retry throttling with the ratio budget and with no limit, and logs the
// table the README shows: the load multiplier during the outage, the
// success ratio outside it and over the run, and how long retries were
// still refused after the heal.
func TestRetryThrottling(t *testing.T) {
	res := runBuiltin(t, "retry-throttling")
	w := res.Scenario.Upstream.Windows[0]
	from, to := time.Duration(w.From), time.Duration(w.To)
	t.Logf("%-13s %8s %9s %9s %8s %8s", "policy", "outage", "success", "healthy", "resumed", "refused")
	for _, p := range res.Policies {
		var ok, all int
		for i, pt := range p.Series {
			if start := time.Duration(i) * res.Bucket; start+res.Bucket <= from || start >= to+res.Bucket {
				ok += pt.Succeeded
				all += pt.Succeeded + pt.Failed
			}
		}
		t.Logf("%-13s %7.3f× %8.2f%% %8.2f%% %8v %8d", p.Name, p.TroubleAmplification, 100*p.SuccessRatio,
			100*float64(ok)/float64(all), p.Resumed, p.Failures.Budget+p.Failures.Tokens)
	}
	none, budgeted, tokens := policy(t, res, "retry"), policy(t, res, "retry+budget"), policy(t, res, "retry+tokens")
	if !(tokens.TroubleAmplification < 1.01 && tokens.TroubleAmplification < budgeted.TroubleAmplification &&
		budgeted.TroubleAmplification < none.TroubleAmplification) {
		t.Errorf("during the outage: tokens ×%.3f, budget ×%.3f, no limit ×%.3f; want tokens below 1.01, below the budget, below no limit",
			tokens.TroubleAmplification, budgeted.TroubleAmplification, none.TroubleAmplification)
	}
	if none.Resumed != 0 || tokens.Resumed <= 0 {
		t.Errorf("retries refused after the heal for %v without a limit, %v with tokens; want none, and some", none.Resumed, tokens.Resumed)
	}
}

// Package budget is a retry budget: it lets retries spend at most a share of
// recent traffic, so that when a service fails, the clients that call it do
// not multiply its load. With three attempts at each of three layers, a
// failing backend sees 27 times its load; with a budget of 10% at each layer,
// it sees at most 1.1 times per layer.
//
// A [Budget] counts, over a sliding window (default 10s), the calls that
// deposit into it and the retries that withdraw from it. The retries in the
// window never exceed Ratio (default 10%) of its calls, or a floor of
// MinPerSecond (default 10) retries a second over the window, whichever
// allows more — so that a client with little traffic can still retry. This
// is the model of Finagle's retry budgets, with the floor taken as a minimum
// rather than added to the ratio, so that under heavy traffic the share is
// exact. Either bound may be turned off: a budget without a floor allows
// Ratio of the calls and no more, one without a ratio a steady MinPerSecond.
//
// Within that bound, retries are let out evenly: each call earns Ratio of a
// retry (or the passing time earns MinPerSecond a second, whichever earns
// more), and a retry spends one. A window-only budget would let the retries
// of one window ago come back all at once when they leave it, so that under a
// long outage it sends its allowance in a burst every window — twice the load
// for a second, every ten seconds, across a fleet whose clients all saw the
// outage start together. Here, a long outage spends at once only the reserve
// that the calls before it left (one window's allowance), and then a steady
// Ratio of the calls.
//
// A Budget is shared: give the same one to every retry and hedging policy
// that calls one service, through retry.Config.Budget and hedge.Config.Budget.
// The retry policy deposits once per call and withdraws once per retry, and stops
// with an error matching [ErrExhausted] when the budget says no. A budget is
// not a resilience.Policy of its own: it has no call to guard.
//
// Deposits are cheap: a call adds to an atomic counter, and only every eighth
// one takes the lock and reads the clock. Withdrawals, made only after a
// failure, are exact. The forms that take the time, [Budget.DepositAt] and
// [Budget.WithdrawAt], are exact and serve simulations on virtual time.
//
// [Budget.Reconfigure] (and [Budget.ReconfigureAt]) changes the ratio, the
// floor or the window of a running budget: it validates the new Config as
// New does, changes nothing if it is invalid, and otherwise keeps the
// balance and the window's counts, which the new bounds cap from the next
// withdrawal. [Budget.Config] returns the Config in use, as given; its
// WithDefaults method fills in the defaults.
//
// # Shadow mode
//
// A budget whose Config has Shadow set counts deposits and withdrawals as
// usual but allows every retry. A withdrawal it would have refused is
// allowed without spending anything (a real refusal spends nothing): it
// comes as a Reject event with Shadow set and counts in
// Snapshot.ShadowExhausted, not in Snapshot.Exhausted, so the balance
// follows what the budget would have allowed. A retry policy or a hedger
// that uses the budget goes on as if it had allowed the retry. Turning
// Shadow off with Reconfigure makes the next withdrawal past the balance a
// refusal.
//
// Config fields follow the standard library's convention (net.Dialer's
// KeepAlive): zero means the documented default, and for a field whose
// default can be turned off — the field's doc says so — a negative value
// turns it off; any other negative value is an error.
//
// [Budget.Snapshot] gives the counts and the balance for metrics, and the
// budget's observer ([Config].Observer) hears of every refusal.
//
// # Grants
//
// A budget shared beyond one process (resilienceredis.Budget shares one
// across a fleet through Redis) needs two hooks, which cost the hot path
// nothing: [Budget.Totals] reports the deposits and withdrawals counted since
// New, for publishing by difference, and [Budget.SetGrant] sets an allowance
// from outside that alone decides withdrawals until it is replaced or
// cleared ([Budget.ClearGrant]); without a grant the budget behaves as it
// always has.
package budget

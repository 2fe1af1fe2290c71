package budget

// SetGrant makes the budget allow at most n more retries, from now until
// the next SetGrant or ClearGrant, whatever its own balance says: an
// allowance set from outside, such as a fleet's share given to one replica
// (resilienceredis.Budget sets it). While a grant is set, each withdrawal
// spends one retry of it and is refused once it is spent; the budget's own
// tokens are neither checked nor spent, so a replica with no calls of its
// own may retry on a grant. Deposits and withdrawals still enter the window
// and [Budget.Totals] as always, so the budget's own allowance stays right
// for when the grant is cleared. Each SetGrant replaces the grant left, it
// does not add to it; n below zero counts as zero. Shadow mode applies to
// refusals as it does without a grant. A nil *Budget ignores it.
func (b *Budget) SetGrant(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.granted, b.grant = true, max(n, 0)
	b.mu.Unlock()
}

// ClearGrant removes the grant that [Budget.SetGrant] set: the budget
// decides from its own balance again, exactly as one that never had a
// grant. A nil *Budget ignores it.
func (b *Budget) ClearGrant() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.granted, b.grant = false, 0
	b.mu.Unlock()
}

// Grant returns the retries the grant still allows, and whether a grant is
// set.
func (b *Budget) Grant() (n int64, set bool) {
	if b == nil {
		return 0, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.grant, b.granted
}

// Totals returns how many deposits (calls) and allowed withdrawals
// (retries) the budget has counted since [New], whether or not they are
// still in the window: what a caller that shares counts elsewhere, such as
// resilienceredis.Budget, publishes by difference. Retries that shadow mode
// allowed after refusing them are not withdrawals. A nil *Budget returns
// zeros.
func (b *Budget) Totals() (deposits, withdrawals uint64) {
	if b == nil {
		return 0, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.deposited + b.pending.Load(), b.withdrawn
}

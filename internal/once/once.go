// Package once tells the first report of a permit from later ones, without
// allocating: a permit carries a [Mark] issued by a [Pool], and only the
// first [Pool.Spend] of a mark, or of any copy of it, succeeds.
//
// A mark points to a pooled token and holds the token's generation when the
// mark was issued. The generation is odd while a mark holds the token; the
// first Spend moves it on to even and gives the token back to the pool, so a
// copy of the same mark no longer matches, and a later mark that reuses the
// token gets a newer generation. A token dropped by the pool stays alive for
// as long as a mark points to it, and a new token is a different pointer, so
// no mark can ever match a token issued to another.
package once

import (
	"sync"
	"sync/atomic"
)

// Pool issues marks. Its zero value is ready to use; a Pool must not be
// copied after first use.
type Pool struct{ p sync.Pool }

// token is what marks point to.
type token struct{ gen atomic.Uint64 }

// Mark identifies one issued permit. The zero Mark was never issued, and
// every Spend of it fails.
type Mark struct {
	tok *token
	gen uint64
}

// Issue returns a new mark, not yet spent.
func (p *Pool) Issue() Mark {
	tok, _ := p.p.Get().(*token)
	if tok == nil {
		tok = new(token)
	}
	return Mark{tok: tok, gen: tok.gen.Add(1)}
}

// Spend reports whether m had not been spent, and spends it: true exactly
// once per issued mark, however many copies of it are spent, from however
// many goroutines at once.
func (p *Pool) Spend(m Mark) bool {
	if m.tok == nil || !m.tok.gen.CompareAndSwap(m.gen, m.gen+1) {
		return false
	}
	p.p.Put(m.tok)
	return true
}

// Issued reports whether m was issued by a Pool: false for the zero Mark.
func (m Mark) Issued() bool { return m.tok != nil }

package once

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestSpendOnce(t *testing.T) {
	var p Pool
	if p.Spend(Mark{}) {
		t.Fatal("the zero Mark was spent")
	}
	m := p.Issue()
	c := m // a copy is the same mark
	if !m.Issued() || !p.Spend(m) {
		t.Fatal("a new mark could not be spent")
	}
	if p.Spend(m) || p.Spend(c) {
		t.Fatal("a mark was spent twice")
	}
	// The token goes back to the pool and may be issued again: the old
	// mark must not match the new one.
	for range 100 {
		n := p.Issue()
		if p.Spend(m) {
			t.Fatal("a spent mark matched a later one")
		}
		if !p.Spend(n) {
			t.Fatal("a new mark could not be spent")
		}
	}
}

func TestSpendConcurrently(t *testing.T) {
	var p Pool
	const marks, copies = 200, 8
	var spent atomic.Int64
	var wg sync.WaitGroup
	for range marks {
		m := p.Issue()
		for range copies {
			wg.Go(func() {
				if p.Spend(m) {
					spent.Add(1)
				}
			})
		}
	}
	wg.Wait()
	if n := spent.Load(); n != marks {
		t.Fatalf("%d spends succeeded for %d marks", n, marks)
	}
}

func TestIssueAndSpendAllocateNothing(t *testing.T) {
	var p Pool
	p.Spend(p.Issue()) // fill the pool
	if n := testing.AllocsPerRun(1000, func() { p.Spend(p.Issue()) }); n != 0 {
		t.Fatalf("Issue and Spend allocate %v times", n)
	}
}

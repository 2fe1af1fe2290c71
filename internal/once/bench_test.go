package once

import "testing"

func BenchmarkIssueSpend(b *testing.B) {
	var p Pool
	for b.Loop() {
		p.Spend(p.Issue())
	}
}

package window

import (
	"testing"
	"time"
)

func TestWindowSize(t *testing.T) {
	for _, tc := range []struct {
		length  time.Duration
		buckets int
		width   time.Duration
	}{
		{50 * time.Millisecond, 10, 5 * time.Millisecond},
		{time.Second, 10, 100 * time.Millisecond},
		{10 * time.Second, 100, 100 * time.Millisecond},
		{time.Minute, 600, 100 * time.Millisecond},
		{10 * time.Minute, 600, time.Second},
		{time.Nanosecond, 10, time.Nanosecond},
	} {
		n, width := New(tc.length).Buckets()
		if n != tc.buckets || width != tc.width {
			t.Errorf("window of %v: %d buckets of %v, want %d of %v", tc.length, n, width, tc.buckets, tc.width)
		}
	}
}

func TestWindowSlides(t *testing.T) {
	w := New(time.Second) // 10 buckets of 100ms
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	w.Add(ms(0), event(true, false))
	w.Add(ms(50), event(false, true))
	w.Add(ms(450), event(true, true))
	check := func(at int64, calls, failures, slow uint64) {
		t.Helper()
		tot := w.Totals(at)
		c, f, s := tot[0], tot[1], tot[2]
		if c != calls || f != failures || s != slow {
			t.Fatalf("at %dms: %d calls, %d failures, %d slow; want %d, %d, %d", at/ms(1), c, f, s, calls, failures, slow)
		}
	}
	check(ms(999), 3, 2, 2)
	check(ms(1000), 1, 1, 1)           // the bucket [0, 100ms) has left the window
	w.Add(ms(300), event(true, false)) // late: counts in the newest bucket
	check(ms(1000), 2, 2, 1)
	check(ms(1499), 1, 1, 0)
	check(ms(5000), 0, 0, 0)            // a gap longer than the window empties it
	w.Add(ms(-250), event(true, false)) // before the newest bucket: counts in it
	check(ms(5000), 1, 1, 0)
}

func TestWindowNegativeTimes(t *testing.T) {
	w := New(time.Second)
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	w.Add(ms(-1050), event(true, false))
	w.Add(ms(-950), event(false, false))
	// Buckets are aligned to the first event: [-1050ms, -950ms) is the first.
	if tot := w.Totals(ms(-51)); tot[0] != 2 || tot[1] != 1 {
		t.Fatalf("at -51ms: %v; want 2 calls, 1 failure (the first bucket is still in)", tot)
	}
	if tot := w.Totals(ms(-50)); tot[0] != 1 || tot[1] != 0 {
		t.Fatalf("at -50ms: %v; want 1 call, 0 failures (the bucket from -1050ms has left)", tot)
	}
}

// TestWindowCountsOnlyDifferencesOfTimes checks that shifting every time by
// the same amount, aligned or not, changes no total: what a simulator on
// virtual time needs, whatever a policy's clock reads.
func TestWindowCountsOnlyDifferencesOfTimes(t *testing.T) {
	ms := int64(time.Millisecond)
	times := []int64{0, 30 * ms, 95 * ms, 140 * ms, 610 * ms, 990 * ms, 1020 * ms, 1090 * ms, 1510 * ms, 2200 * ms}
	var want []Counts
	for _, shift := range []int64{0, 37 * ms, -123456789, 1<<50 + 7} {
		w := New(time.Second)
		var got []Counts
		for i, at := range times {
			w.Add(at+shift, event(i%2 == 0, false))
			got = append(got, w.Totals(at+shift+50*ms))
		}
		if want == nil {
			want = got
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("shift %d: totals after event %d are %v; without the shift %v", shift, i, got[i], want[i])
			}
		}
	}
}

func TestWindowMemoryDoesNotGrowWithCalls(t *testing.T) {
	w := New(time.Minute)
	n := len(w.buckets)
	for i := range int64(200_000) {
		w.Add(i*int64(time.Microsecond), event(i%3 == 0, false))
	}
	if len(w.buckets) != n || cap(w.buckets) != n {
		t.Fatalf("buckets grew from %d to %d", n, len(w.buckets))
	}
	if tot := w.Totals(200_000 * int64(time.Microsecond)); tot[0] != 200_000 || tot[1] != 66_667 {
		t.Fatalf("%v in the window; want 200000 calls, 66667 failures", tot)
	}
}

// event counts one call that failed or not, and was slow or not.
func event(failed, slow bool) Counts {
	c := Counts{1, 0, 0}
	if failed {
		c[1] = 1
	}
	if slow {
		c[2] = 1
	}
	return c
}

package breaker

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
		w := newWindow(tc.length)
		if len(w.buckets) != tc.buckets || time.Duration(w.width) != tc.width {
			t.Errorf("window of %v: %d buckets of %v, want %d of %v", tc.length, len(w.buckets), time.Duration(w.width), tc.buckets, tc.width)
		}
	}
}

func TestWindowSlides(t *testing.T) {
	w := newWindow(time.Second) // 10 buckets of 100ms
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	w.record(ms(0), true, false)
	w.record(ms(50), false, true)
	w.record(ms(450), true, true)
	check := func(at int64, calls, failures, slow uint64) {
		t.Helper()
		c, f, s := w.totals(at)
		if c != calls || f != failures || s != slow {
			t.Fatalf("at %dms: %d calls, %d failures, %d slow; want %d, %d, %d", at/ms(1), c, f, s, calls, failures, slow)
		}
	}
	check(ms(999), 3, 2, 2)
	check(ms(1000), 1, 1, 1)       // the bucket [0, 100ms) has left the window
	w.record(ms(300), true, false) // late: counts in the newest bucket
	check(ms(1000), 2, 2, 1)
	check(ms(1499), 1, 1, 0)
	check(ms(5000), 0, 0, 0)        // a gap longer than the window empties it
	w.record(ms(-250), true, false) // before the newest bucket: counts in it
	check(ms(5000), 1, 1, 0)
}

func TestWindowNegativeTimes(t *testing.T) {
	w := newWindow(time.Second)
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	w.record(ms(-1050), true, false)
	w.record(ms(-950), false, false)
	if c, f, _ := w.totals(ms(-100)); c != 1 || f != 0 {
		t.Fatalf("at -100ms: %d calls, %d failures; want 1, 0 (the bucket at -1.1s has left)", c, f)
	}
	if floorDiv(-1, 10) != -1 || floorDiv(-10, 10) != -1 || floorDiv(9, 10) != 0 || mod(-1, 10) != 9 {
		t.Fatal("floorDiv or mod rounds the wrong way for negative numbers")
	}
}

func TestWindowMemoryDoesNotGrowWithCalls(t *testing.T) {
	w := newWindow(time.Minute)
	n := len(w.buckets)
	for i := range int64(200_000) {
		w.record(i*int64(time.Microsecond), i%3 == 0, false)
	}
	if len(w.buckets) != n || cap(w.buckets) != n {
		t.Fatalf("buckets grew from %d to %d", n, len(w.buckets))
	}
	if c, f, _ := w.totals(200_000 * int64(time.Microsecond)); c != 200_000 || f != 66_667 {
		t.Fatalf("%d calls, %d failures in the window; want 200000, 66667", c, f)
	}
}

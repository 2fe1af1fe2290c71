package clock

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestReadingsAndConversions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New()
		start := time.Now()
		time.Sleep(3 * time.Second)
		if got := c.Now(); got != int64(3*time.Second) {
			t.Fatalf("Now() = %v after 3s, want 3s", time.Duration(got))
		}
		if got := c.From(start.Add(time.Minute)); got != int64(time.Minute) {
			t.Fatalf("From(start+1m) = %v", time.Duration(got))
		}
		if got := c.Time(int64(time.Hour)); !got.Equal(start.Add(time.Hour)) {
			t.Fatalf("Time(1h) = %v, want %v", got, start.Add(time.Hour))
		}
	})
}

func TestSampledReadsEveryEighthCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New()
		var got []time.Duration
		for range 17 {
			got = append(got, time.Duration(c.Sampled()))
			time.Sleep(time.Second)
		}
		for i, d := range got {
			want := time.Duration(i/sampleEvery*sampleEvery) * time.Second
			if d != want {
				t.Fatalf("reading %d = %v, want %v (the reading of call %d)", i, d, want, i/sampleEvery*sampleEvery)
			}
		}
	})
}

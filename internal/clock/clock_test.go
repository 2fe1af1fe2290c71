package clock

import (
	"context"
	"errors"
	"math"
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

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := Sleep(context.Background(), time.Second); err != nil || time.Since(start) != time.Second {
			t.Fatalf("Sleep(1s) = %v after %v", err, time.Since(start))
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		cause := errors.New("stop")
		time.AfterFunc(time.Second, func() { cancel(cause) })
		start = time.Now()
		if err := Sleep(ctx, time.Hour); err != cause || time.Since(start) != time.Second {
			t.Fatalf("Sleep cut short = %v after %v; want the cause after 1s", err, time.Since(start))
		}
		if err := Sleep(ctx, 0); err != cause {
			t.Fatalf("Sleep(0) on a done context = %v, want the cause", err)
		}
		if err := Sleep(context.Background(), -1); err != nil {
			t.Fatalf("Sleep(-1) = %v", err)
		}
		// The timer fires, and the context has ended without a signal
		// that select could see first: Sleep still reports it.
		start = time.Now()
		if err := Sleep(endedUnseen{context.Background()}, time.Second); err != context.Canceled || time.Since(start) != time.Second {
			t.Fatalf("Sleep on a context that ended unseen = %v after %v; want context.Canceled after 1s", err, time.Since(start))
		}
	})
}

// endedUnseen is a context that reports that it has ended, but whose Done
// channel never closes: it stands for one that ends at the instant the
// timer fires, when select may choose either.
type endedUnseen struct{ context.Context }

func (endedUnseen) Err() error { return context.Canceled }

func TestElapsedSaturates(t *testing.T) {
	const maxI, minI = math.MaxInt64, math.MinInt64
	for _, c := range []struct{ from, to, want int64 }{
		{0, 5, 5},
		{5, 0, -5},
		{minI, maxI, maxI},
		{maxI, minI, minI},
		{-1, maxI, maxI},
		{1, minI, minI},
		{minI, -1, maxI},
	} {
		if got := Elapsed(c.from, c.to); got != c.want {
			t.Errorf("Elapsed(%d, %d) = %d, want %d", c.from, c.to, got, c.want)
		}
	}
}

func TestStepsExactAcrossInt64(t *testing.T) {
	const maxI, minI = math.MaxInt64, math.MinInt64
	for _, c := range []struct {
		start, now, width int64
		n                 uint64
		moved             int64
	}{
		{0, 9, 10, 0, 0},
		{0, 10, 10, 1, 10},
		{5, 27, 10, 2, 25},
		{5, 4, 10, 0, 5}, // before start: no step
		{minI, maxI, 1, math.MaxUint64, maxI},
		{minI, maxI, maxI, 2, maxI - 1},
		{-10, maxI, 1 << 62, 2, maxI - 9},
	} {
		n, moved := Steps(c.start, c.now, c.width)
		if n != c.n || moved != c.moved {
			t.Errorf("Steps(%d, %d, %d) = %d, %d; want %d, %d", c.start, c.now, c.width, n, moved, c.n, c.moved)
		}
	}
}

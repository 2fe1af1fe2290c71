package pace_test

import (
	"container/heap"
	"math"
	"testing"
	"time"

	"github.com/netresilience/resilience/pace"
)

// bucket is a service whose quota refills continuously, as OpenAI's and
// Anthropic's do: it holds up to limit requests, gains limit per window,
// and reports as its reset the time until it is full again.
type bucket struct {
	limit  float64
	window time.Duration
	level  float64
	at     time.Time
}

func (b *bucket) refill(now time.Time) {
	b.level = min(b.limit, b.level+b.limit*now.Sub(b.at).Seconds()/b.window.Seconds())
	b.at = now
}

func (b *bucket) take(now time.Time) bool {
	b.refill(now)
	if b.level < 1 {
		return false
	}
	b.level--
	return true
}

func (b *bucket) quota(now time.Time) pace.Quota {
	b.refill(now)
	reset := time.Duration((b.limit - b.level) / b.limit * float64(b.window))
	return pace.Quota{Requests: pace.Limit{Limit: int64(b.limit), Remaining: int64(math.Floor(b.level)), Reset: reset, Known: true}}
}

// step is a caller's next event on virtual time: to reserve, to send, or to
// take its answer.
type step struct {
	at     time.Time
	caller int
	kind   int // 0 reserve, 1 send, 2 answer
	r      pace.Reservation
	q      pace.Quota
}

type steps []step

func (s steps) Len() int           { return len(s) }
func (s steps) Less(i, j int) bool { return s[i].at.Before(s[j].at) }
func (s steps) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s *steps) Push(x any)        { *s = append(*s, x.(step)) }
func (s *steps) Pop() any          { old := *s; x := old[len(old)-1]; *s = old[:len(old)-1]; return x }

// A service whose quota refills continuously: its reset is the time until
// its bucket is full again, so R/D starts above the rate the bucket sustains;
// as the answers come, the pace settles to that rate. 8 callers with a
// latency of 100ms could send 80 requests a second to a bucket of 60 a
// minute, for 10 minutes; paced, few are refused, and the client gets most
// of what the bucket can give (the 60 it holds at first, and 60 a minute).
func TestPacingATokenBucket(t *testing.T) {
	const callers = 8
	const latency = 100 * time.Millisecond
	const run = 10 * time.Minute
	p, _ := pace.New(pace.Config{})
	b := &bucket{limit: 60, window: time.Minute, level: 60, at: t0}
	var queue steps
	for c := range callers {
		heap.Push(&queue, step{at: t0, caller: c})
	}
	accepted, refused := 0, 0
	for queue.Len() > 0 {
		s := heap.Pop(&queue).(step)
		if s.at.Sub(t0) >= run {
			continue
		}
		switch s.kind {
		case 0:
			r, err := p.ReserveAt("h", 0, s.at, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			heap.Push(&queue, step{at: s.at.Add(r.Delay()), caller: s.caller, kind: 1, r: r})
		case 1:
			if b.take(s.at) {
				accepted++
			} else {
				refused++
			}
			heap.Push(&queue, step{at: s.at.Add(latency), caller: s.caller, kind: 2, r: s.r})
		case 2:
			s.r.DoneAt(b.quota(s.at), s.at)
			heap.Push(&queue, step{at: s.at, caller: s.caller})
		}
	}
	ceiling := 60 + 60*run.Minutes()
	t.Logf("token bucket: %d accepted, %d refused; %.1f%% of the %v the bucket can give", accepted, refused, 100*float64(accepted)/ceiling, ceiling)
	if float64(refused) > 0.01*float64(accepted+refused) {
		t.Errorf("%d of %d refused; want at most 1%%", refused, accepted+refused)
	}
	if float64(accepted) < 0.9*ceiling {
		t.Errorf("%d accepted; want at least 90%% of %v", accepted, ceiling)
	}
}

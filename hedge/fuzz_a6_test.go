package hedge_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netresilience/resilience"
	"github.com/netresilience/resilience/hedge"
)

// The outcomes of an attempt in FuzzA6's programs.
const (
	a6Success = iota
	a6Transient
	a6Permanent
	a6Pushback   // transient, with a pushback of push
	a6DoNotRetry // transient, with a pushback asking for no retry
	a6Outcomes
)

// a6Attempt is what one attempt of FuzzA6's call does: it takes dur, then
// ends with out.
type a6Attempt struct {
	dur, push time.Duration
	out       int
}

func (a a6Attempt) err(n int) error {
	base := fmt.Errorf("attempt %d", n)
	switch a.out {
	case a6Transient:
		return resilience.Transient(base)
	case a6Permanent:
		return resilience.Permanent(base)
	case a6Pushback:
		return resilience.WithPushback(resilience.Transient(base), a.push)
	case a6DoNotRetry:
		return resilience.WithPushback(resilience.Transient(base), -1)
	}
	return nil
}

// a6Model is the hedging rules as the package doc states them, played out
// on a list of attempts: it returns when each attempt starts, the attempt
// whose success won (or -1), the attempt whose fatal failure ended the call
// (or -1), and when the call ends.
func a6Model(delay time.Duration, maxHedges int, failures bool, atts []a6Attempt) (starts []time.Duration, winner, fatal int, end time.Duration) {
	running := map[int]time.Duration{0: atts[0].dur} // by attempt: when it ends
	starts = []time.Duration{0}
	due, stopped := delay, false
	var now time.Duration
	for {
		next, ended := time.Duration(1<<62), -1
		for i, e := range running {
			if e < next {
				next, ended = e, i
			}
		}
		if !stopped && due < next {
			now = due
			n := len(starts)
			starts = append(starts, now)
			running[n] = now + atts[n].dur
			if n == maxHedges {
				stopped = true
			}
			due = now + delay
			continue
		}
		now = next
		delete(running, ended)
		a := atts[ended]
		switch {
		case a.out == a6Success:
			return starts, ended, -1, now
		case !failures:
			if ended == 0 {
				stopped = true
			}
		case a.out == a6Permanent:
			return starts, -1, ended, now
		case a.out == a6DoNotRetry:
			stopped = true
		case a.out == a6Pushback:
			due = now + a.push
		default:
			due = now
		}
		if len(running) == 0 && stopped {
			return starts, -1, -1, now
		}
	}
}

// FuzzA6 checks hedge.Do against a6Model for any call of up to five
// attempts, each of which takes its time and ends with a success, a
// transient or a permanent failure, or a pushback, under the default rule
// and under gRFC A6's: the attempts start when the model says, and the call
// ends when and as it says. Each attempt's time has a part of its own in
// microseconds (1µs << attempt), and the delays and pushbacks are whole
// milliseconds, so that no attempt ends at the time another starts, where
// the order would be the scheduler's choice.
func FuzzA6(f *testing.F) {
	f.Add(byte(100), byte(2), true, []byte{10, a6Transient, 0, 200, a6Success, 0, 20, a6Success, 0})
	f.Add(byte(100), byte(3), true, []byte{250, a6Success, 0, 20, a6Pushback, 50, 255, a6Success, 0, 5, a6Permanent, 0})
	f.Add(byte(100), byte(3), true, []byte{250, a6Success, 0, 10, a6DoNotRetry, 0, 20, a6Success, 0, 20, a6Success, 0})
	f.Add(byte(30), byte(4), true, []byte{10, a6Transient, 0, 10, a6Transient, 0, 10, a6Pushback, 0, 10, a6Transient, 0, 10, a6Transient, 0})
	f.Add(byte(30), byte(2), false, []byte{100, a6Transient, 0, 10, a6Transient, 0, 200, a6Success, 0})
	f.Add(byte(30), byte(2), false, []byte{10, a6Permanent, 0, 10, a6Success, 0, 10, a6Success, 0})
	f.Fuzz(func(t *testing.T, delayMS, maxHedges byte, failures bool, program []byte) {
		delay := time.Duration(delayMS%250+1) * time.Millisecond
		m := int(maxHedges%4) + 1
		atts := make([]a6Attempt, m+1)
		for i := range atts {
			var b [3]byte
			if len(program) >= 3*(i+1) {
				copy(b[:], program[3*i:])
			}
			atts[i] = a6Attempt{
				dur:  time.Duration(b[0])*time.Millisecond + time.Duration(1<<i)*time.Microsecond,
				out:  int(b[1]) % a6Outcomes,
				push: time.Duration(b[2]) * time.Millisecond,
			}
		}
		starts, winner, fatal, end := a6Model(delay, m, failures, atts)

		synctest.Test(t, func(t *testing.T) {
			cfg := hedge.Config{Delay: delay, MaxHedges: m}
			if failures {
				cfg.Failures = resilience.Classify
			}
			h := hedge.MustNew(cfg)
			begin := time.Now()
			var mu sync.Mutex
			var got []time.Duration
			errs := make([]error, len(atts))
			v, err := hedge.Do(t.Context(), h, func(ctx context.Context) (int, error) {
				mu.Lock()
				n := len(got)
				got = append(got, time.Since(begin))
				errs[n] = atts[n].err(n)
				err := errs[n]
				mu.Unlock()
				if e := sleep(ctx, atts[n].dur); e != nil {
					return 0, e
				}
				return n, err
			})
			took := time.Since(begin)
			if !slices.Equal(got, starts) || took != end {
				t.Fatalf("attempts %+v, delay %v, MaxHedges %d, Failures %v: started at %v, ended after %v; want %v, %v",
					atts, delay, m, failures, got, took, starts, end)
			}
			switch {
			case winner >= 0:
				if v != winner || err != nil {
					t.Fatalf("attempts %+v: Do = %d, %v; want %d, nil", atts, v, err, winner)
				}
			case fatal >= 0:
				if err != errs[fatal] {
					t.Fatalf("attempts %+v: Do = %v; want the fatal failure of attempt %d", atts, err, fatal)
				}
			default:
				for n := range got {
					if !errors.Is(err, errs[n]) {
						t.Fatalf("attempts %+v: Do = %v; want every attempt's failure, %v's too", atts, err, errs[n])
					}
				}
			}
		})
	})
}

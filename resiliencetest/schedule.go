package resiliencetest

import (
	"errors"
	"sort"
	"strconv"
	"time"
)

// Phase is a stretch of time during which a [Schedule] picks faults with one
// [Mix]: a healthy spell, a brownout of 5xx, an outage of resets. It is a
// plain value.
type Phase struct {
	// Name names the phase in the records of the requests that arrive
	// during it ([Request].Phase).
	Name string

	// Duration is how long the phase lasts. It must be positive.
	Duration time.Duration

	// Mix picks the faults of the requests that arrive during the phase. A
	// nil Mix picks none: those requests get the Default fault.
	Mix *Mix
}

// Schedule changes the faults of a [Server] or a [Transport] over time: it
// plays its phases one after another, each for its Duration, and starts
// again from the first after the last. A request after the script gets a
// fault picked by the Mix of the phase in force when it arrives, or the
// Default fault when that Mix picks none. The schedule's time starts when
// the first request arrives; inside a testing/synctest bubble it is the
// bubble's time.
//
// Set it as the Schedule field of a Server or a Transport: a service that
// is healthy for a while, then fails a third of its requests, then resets
// every connection, then recovers — the faults that change under a client
// in a soak test. A Mix picks at random within a phase; to change phases at
// random too, build the list of phases from a seed.
//
// Make a Schedule with [NewSchedule]. A nil *Schedule picks nothing. A
// Schedule never changes once made, so one may serve any number of servers
// and transports at once (the time of each starts at its own first
// request).
type Schedule struct {
	phases []Phase
	ends   []time.Duration // ends[i] is when phase i ends, from the start of a round
}

// NewSchedule returns a Schedule that plays the phases in order, over and
// over. It returns an error if there are none, if a phase's Duration is not
// positive, or if together they last longer than a time.Duration can hold.
func NewSchedule(phases ...Phase) (*Schedule, error) {
	if len(phases) == 0 {
		return nil, errors.New("resiliencetest: a Schedule needs at least one Phase")
	}
	s := &Schedule{phases: append([]Phase(nil), phases...), ends: make([]time.Duration, len(phases))}
	var total time.Duration
	for i, p := range phases {
		if p.Duration <= 0 {
			return nil, errors.New("resiliencetest: phase " + strconv.Itoa(i) + " " + strconv.Quote(p.Name) +
				" has Duration " + p.Duration.String() + "; it must be positive")
		}
		if total > maxDuration-p.Duration {
			return nil, errors.New("resiliencetest: the phases last longer than " + maxDuration.String() + " in all")
		}
		total += p.Duration
		s.ends[i] = total
	}
	return s, nil
}

// maxDuration is the longest time.Duration.
const maxDuration = time.Duration(1<<63 - 1)

// MustNewSchedule is like [NewSchedule] but panics if NewSchedule returns an
// error. It is meant for tests, where a Schedule is written out by hand.
func MustNewSchedule(phases ...Phase) *Schedule {
	s, err := NewSchedule(phases...)
	if err != nil {
		panic(err)
	}
	return s
}

// PhaseAt returns the phase in force at the time elapsed since the schedule
// started: the schedule repeats, so elapsed may be longer than all its
// phases together; a negative elapsed is taken as zero. A nil Schedule
// returns the zero Phase.
func (s *Schedule) PhaseAt(elapsed time.Duration) Phase {
	if s == nil {
		return Phase{}
	}
	return s.phases[s.index(elapsed)]
}

// index returns the index of the phase in force at elapsed.
func (s *Schedule) index(elapsed time.Duration) int {
	elapsed = max(elapsed, 0) % s.ends[len(s.ends)-1]
	return sort.Search(len(s.ends), func(i int) bool { return elapsed < s.ends[i] })
}

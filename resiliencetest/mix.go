package resiliencetest

import (
	"errors"
	"math"
	"strconv"
)

// Chance is a fault and the probability that a [Mix] picks it for a
// request. It is a plain value; the zero Chance is never picked.
type Chance struct {
	Probability float64 // in [0, 1]
	Fault       Fault
}

// Mix picks faults at random, with the probabilities of its chances, for
// the requests that come after a script: set it as the Random field of a
// [Server] or a [Transport]. A request that no chance picks gets the
// Default fault.
//
// The pick for a request depends only on the seed and the request's
// arrival number, so a run is repeated exactly by the same seed and the
// same order of requests, and a [Server] and a [Transport] with the same
// Mix fail the same requests.
//
// Make a Mix with [NewMix]. The zero Mix, like a nil *Mix, picks nothing.
// A Mix never changes once made, so one may serve any number of servers
// and transports at once.
type Mix struct {
	seed    uint64
	chances []Chance
	// below[i] is the sum of the probabilities of chances 0..i: a uniform
	// number u in [0, 1) picks the first chance with u < below[i].
	below []float64
}

// maxSum is the largest total probability that NewMix accepts: a little
// over 1, so that probabilities meant to add up to 1 are not refused for
// rounding.
const maxSum = 1 + 1e-9

// NewMix returns a Mix with the seed and the chances. The probabilities must
// each be in [0, 1] and add up to at most 1; the rest is the probability
// that a request gets the Default fault. It returns an error for a
// probability out of range or a fault that is nonsense (a negative Delay, a
// Status outside 200-999, a Reset with a Status).
func NewMix(seed uint64, chances ...Chance) (*Mix, error) {
	m := &Mix{seed: seed, chances: make([]Chance, len(chances)), below: make([]float64, len(chances))}
	sum := 0.0
	for i, c := range chances {
		p := c.Probability
		if p < 0 || p > 1 || math.IsNaN(p) {
			return nil, errors.New("resiliencetest: chance " + strconv.Itoa(i) + " has probability " +
				strconv.FormatFloat(p, 'g', -1, 64) + ", not in [0, 1]")
		}
		if err := c.Fault.validate(); err != nil {
			return nil, errors.New("resiliencetest: chance " + strconv.Itoa(i) + ": " + err.Error()[len("resiliencetest: "):])
		}
		sum += p
		m.chances[i] = c
		m.below[i] = sum
	}
	if sum > maxSum {
		return nil, errors.New("resiliencetest: probabilities add up to " +
			strconv.FormatFloat(sum, 'g', -1, 64) + ", more than 1")
	}
	return m, nil
}

// MustNewMix is like [NewMix] but panics if NewMix returns an error. It is
// meant for tests, where a Mix is written out by hand.
func MustNewMix(seed uint64, chances ...Chance) *Mix {
	m, err := NewMix(seed, chances...)
	if err != nil {
		panic(err)
	}
	return m
}

// pick returns the fault that m picks for the nth request, or false when no
// chance picks it.
func (m *Mix) pick(n int) (Fault, bool) {
	if m == nil {
		return Fault{}, false
	}
	u := uniform(m.seed, uint64(n))
	for i, b := range m.below {
		if u < b {
			return m.chances[i].Fault, true
		}
	}
	return Fault{}, false
}

// uniform returns the nth number of the SplitMix64 sequence that starts at
// seed, as a float64 in [0, 1).
func uniform(seed, n uint64) float64 {
	z := seed + n*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

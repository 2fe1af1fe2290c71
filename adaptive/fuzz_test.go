package adaptive_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/netresilience/resilience/adaptive"
)

// FuzzRecordAt feeds each algorithm arbitrary samples — times that go back,
// latencies negative or of centuries, any count in flight — and checks
// that nothing panics and the limit stays within [Min, Max].
func FuzzRecordAt(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18})
	f.Add(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 1<<63), 1<<62))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, alg := range algorithms {
			cfg := adaptive.Config{Algorithm: alg, Min: 2, Max: 50, Initial: 10,
				AIMD:     adaptive.AIMDConfig{Timeout: time.Second},
				Gradient: adaptive.GradientConfig{Window: time.Millisecond, MinSamples: 1, WindowSamples: 3, BaselinePeriod: 10 * time.Millisecond}}
			l := mustNew(t, cfg)
			for b := data; len(b) >= 17; b = b[17:] {
				now := time.Duration(binary.LittleEndian.Uint64(b))
				lat := time.Duration(binary.LittleEndian.Uint64(b[8:]))
				l.RecordAt(at(now), lat, int(b[16]>>1), b[16]&1 == 1)
				if got := l.Limit(); got < cfg.Min || got > cfg.Max {
					t.Fatalf("%v: limit %d outside [%d, %d]", alg, got, cfg.Min, cfg.Max)
				}
			}
		}
	})
}

package bulkhead_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/netresilience/resilience/bulkhead"
	"github.com/netresilience/resilience/internal/fuzzprog"
)

// FuzzBulkhead checks the bulkhead for any configuration and any sequence
// of admissions and releases made one at a time:
//
//   - New accepts exactly the configurations its doc comment calls valid
//     (no negative MaxConcurrent or MaxWait, counts of at most 2^31−1,
//     MaxQueue — negative turns its bound off — only with MaxWait) and
//     rejects the others with an error prefixed "bulkhead: ";
//   - the snapshot says the slots and the queue that the defaults give;
//   - TryAcquire and Acquire admit exactly while a slot is free, never more
//     calls than MaxConcurrent, and reject with reason NoWait (Acquire, when
//     MaxWait is zero) once every slot is taken; a release frees one slot,
//     and a second release of the same permit does nothing;
//   - the counts of admissions and rejections add up.
//
// program: a byte a step; bit 0, admit (else release the permit the other
// bits pick); bit 1, with Acquire (else TryAcquire).
func FuzzBulkhead(f *testing.F) {
	f.Add(0, int64(0), 0, []byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 4, 1})
	f.Add(1, int64(0), 0, []byte{3, 3, 0, 0, 3})
	f.Add(3, int64(time.Second), 0, []byte{1, 3, 1, 1, 2, 6, 3})
	f.Add(1<<31-1, int64(math.MaxInt64), 1<<31-1, []byte{1, 3, 0})
	f.Add(1<<31, int64(0), 0, []byte(nil))
	f.Add(0, int64(0), 1<<31, []byte(nil))
	f.Add(-1, int64(0), 0, []byte(nil))
	f.Add(0, int64(-1), 0, []byte(nil))
	f.Add(0, int64(0), -1, []byte(nil))
	f.Add(0, int64(0), 5, []byte(nil))
	f.Add(1, int64(time.Second), -1, []byte{1, 3, 1, 0, 3})

	f.Fuzz(func(t *testing.T, maxConcurrent int, maxWait int64, maxQueue int, program []byte) {
		cfg := bulkhead.Config{MaxConcurrent: maxConcurrent, MaxWait: time.Duration(maxWait), MaxQueue: maxQueue}
		valid := maxConcurrent >= 0 && maxConcurrent <= 1<<31-1 && maxQueue <= 1<<31-1 &&
			maxWait >= 0 && (maxQueue == 0 || maxWait > 0)
		b, err := bulkhead.New(cfg)
		if !fuzzprog.CheckNew(t, "bulkhead", cfg, b, err, valid) {
			return
		}
		limit := maxConcurrent
		if limit == 0 {
			limit = bulkhead.DefaultMaxConcurrent
		}
		if s := b.Snapshot(); s.MaxConcurrent != limit || s.InFlight != 0 || s.Waiting != 0 {
			t.Fatalf("New(%+v): snapshot %+v", cfg, s)
		}
		if len(program) > 300 {
			program = program[:300]
		}
		var held []bulkhead.Permit
		var admitted, rejected uint64
		ctx := t.Context()
		for i, op := range program {
			if op&1 == 0 {
				if len(held) == 0 {
					continue
				}
				j := int(op>>2) % len(held)
				before := b.InFlight()
				held[j].Release()
				held[j].Release() // a second release does nothing
				if b.InFlight() != before-1 {
					t.Fatalf("step %d: releasing a permit took %d calls in flight to %d", i, before, b.InFlight())
				}
				held = append(held[:j], held[j+1:]...)
				continue
			}
			free := len(held) < limit
			if !free && op&2 != 0 && maxWait > 0 {
				continue // Acquire would wait, and no release can come
			}
			var p bulkhead.Permit
			var err error
			if op&2 != 0 {
				p, err = b.Acquire(ctx)
			} else {
				p, err = b.TryAcquire()
			}
			if free != (err == nil) {
				t.Fatalf("step %d: %d of %d slots taken: %v", i, len(held), limit, err)
			}
			if err != nil {
				var fe *bulkhead.Error
				if !errors.Is(err, bulkhead.ErrFull) || !errors.As(err, &fe) || fe.Reason != bulkhead.NoWait || fe.MaxConcurrent != limit {
					t.Fatalf("step %d: rejection %#v", i, err)
				}
				rejected++
				continue
			}
			admitted++
			held = append(held, p)
			if b.InFlight() != len(held) || b.InFlight() > limit {
				t.Fatalf("step %d: %d calls in flight, %d permits held, %d slots", i, b.InFlight(), len(held), limit)
			}
		}
		if s := b.Snapshot(); s.Admitted != admitted || s.Rejected != rejected || s.InFlight != len(held) || s.Waiting != 0 {
			t.Fatalf("snapshot %+v; want %d admitted, %d rejected, %d in flight", s, admitted, rejected, len(held))
		}
	})
}

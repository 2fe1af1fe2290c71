// Package fuzzprog holds what the fuzz tests of the policy packages share:
// the encoding of the programs they run (a step is an operation byte and
// 64-bit words, little-endian) and the check that a constructor accepts
// exactly the valid configurations. Only tests import it.
package fuzzprog

import (
	"encoding/binary"
	"strings"
	"testing"
)

// Step encodes one step of a program: op, then each word.
func Step(op byte, words ...int64) []byte {
	b := []byte{op}
	for _, w := range words {
		b = binary.LittleEndian.AppendUint64(b, uint64(w))
	}
	return b
}

// Prog joins steps into a program.
func Prog(steps ...[]byte) []byte {
	var b []byte
	for _, s := range steps {
		b = append(b, s...)
	}
	return b
}

// Word returns the i-th word of the step that begins at step[0].
func Word(step []byte, i int) int64 {
	return int64(binary.LittleEndian.Uint64(step[1+8*i:]))
}

// CheckNew fails t unless a constructor's result agrees with valid, which
// the test worked out from the configuration cfg: a value and no error for a
// valid one, and for an invalid one no value and an error that begins with
// the package's name, pkg. It reports whether the constructor made p.
func CheckNew[P any](t testing.TB, pkg string, cfg any, p *P, err error, valid bool) bool {
	t.Helper()
	if valid != (err == nil) || err == nil && p == nil || err != nil && p != nil {
		t.Fatalf("New(%+v) = %v, %v; valid: %v", cfg, p, err, valid)
	}
	if err != nil && !strings.HasPrefix(err.Error(), pkg+": ") {
		t.Fatalf("New(%+v): error %q does not start with the package name", cfg, err)
	}
	return err == nil
}

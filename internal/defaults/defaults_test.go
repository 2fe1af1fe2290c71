package defaults

import (
	"testing"
	"time"
)

func TestOr(t *testing.T) {
	if Or(0, 5) != 5 || Or(3, 5) != 3 || Or(-1, 5) != -1 {
		t.Fatal("Or on ints")
	}
	if Or(time.Duration(0), time.Second) != time.Second || Or("", "x") != "x" || Or("a", "x") != "a" {
		t.Fatal("Or on durations or strings")
	}
}

package observe

import "testing"

func TestCallRecoversTheObserversPanic(t *testing.T) {
	got := 0
	Call(func(n int) { got = n; panic("observer") }, 7)
	if got != 7 {
		t.Fatalf("f received %d, want 7", got)
	}
}

func TestCallLeavesAnOuterPanicGoing(t *testing.T) {
	// Called from a deferred function while another panic unwinds, as the
	// timeout reports an abandoned call that panicked, Call must not stop
	// that panic, whether or not the observer panics too.
	for _, observerPanics := range []bool{false, true} {
		var recovered any
		func() {
			defer func() { recovered = recover() }()
			func() {
				defer Call(func(bool) {
					if observerPanics {
						panic("observer")
					}
				}, true)
				panic("outer")
			}()
		}()
		if recovered != "outer" {
			t.Errorf("observer panics %v: recovered %v, want the outer panic to go on", observerPanics, recovered)
		}
	}
}

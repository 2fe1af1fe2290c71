package adaptive_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/netresilience/resilience/adaptive"
)

func TestAlgorithmInJSON(t *testing.T) {
	b, err := json.Marshal(adaptive.Snapshot{Algorithm: adaptive.Gradient})
	if err != nil || !strings.Contains(string(b), `"Algorithm":"gradient"`) {
		t.Fatalf("Snapshot in JSON: %s, %v; want the algorithm by name", b, err)
	}
	var c adaptive.Config
	if err := json.Unmarshal([]byte(`{"Algorithm":"gradient"}`), &c); err != nil || c.Algorithm != adaptive.Gradient {
		t.Fatalf("Config from JSON: %+v, %v", c, err)
	}
	if err := json.Unmarshal([]byte(`{"Algorithm":"vegas"}`), &c); err == nil || !strings.Contains(err.Error(), "want aimd or gradient") {
		t.Fatalf("unknown algorithm: %v", err)
	}
	if _, err := json.Marshal(adaptive.Snapshot{Algorithm: 7}); err == nil {
		t.Fatal("an unknown algorithm marshaled")
	}
}

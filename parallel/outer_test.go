package parallel

import (
	"strings"
	"testing"
)

func TestAverageOuter(t *testing.T) {
	o, err := OuterConfig{}.New(3)
	if err != nil || o.Name() != "avg" {
		t.Fatalf("default outer: %v, %v", o, err)
	}
	g := []float32{1, 2, 3}
	o.Step(g, []float32{4, 5, 6})
	if g[0] != 4 || g[1] != 5 || g[2] != 6 {
		t.Errorf("avg step gave %v, want the mean", g)
	}
	if err := o.UnmarshalState([]byte{1}); err == nil {
		t.Error("avg accepted a state")
	}
}

// TestNesterovOuter checks two outer steps against values worked out by
// hand (all exact in binary):
//
//	lr 0.5, momentum 0.5, global [1 2]
//	step 1, mean [0.5 2.5]: g = [0.5 -0.5], v = [0.5 -0.5],
//	  global -= 0.5*(g + 0.5v) = [0.375 -0.375] -> [0.625 2.375]
//	step 2, mean [0.5 2.375]: g = [0.125 0], v = [0.375 -0.25],
//	  global -= 0.5*(g + 0.5v) = [0.15625 -0.0625] -> [0.46875 2.4375]
func TestNesterovOuter(t *testing.T) {
	o, err := OuterConfig{Kind: "nesterov", LR: 0.5, Momentum: 0.5}.New(2)
	if err != nil {
		t.Fatal(err)
	}
	g := []float32{1, 2}
	o.Step(g, []float32{0.5, 2.5})
	if g[0] != 0.625 || g[1] != 2.375 {
		t.Fatalf("after step 1: %v, want [0.625 2.375]", g)
	}
	st, err := o.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	o.Step(g, []float32{0.5, 2.375})
	if g[0] != 0.46875 || g[1] != 2.4375 {
		t.Fatalf("after step 2: %v, want [0.46875 2.4375]", g)
	}
	v := o.(*Nesterov).Velocity()
	if v[0] != 0.375 || v[1] != -0.25 {
		t.Errorf("velocity %v, want [0.375 -0.25]", v)
	}
	// Restoring the state after step 1 replays step 2 exactly.
	r, _ := OuterConfig{Kind: "nesterov", LR: 0.5, Momentum: 0.5}.New(2)
	if err := r.UnmarshalState(st); err != nil {
		t.Fatal(err)
	}
	g2 := []float32{0.625, 2.375}
	r.Step(g2, []float32{0.5, 2.375})
	if g2[0] != g[0] || g2[1] != g[1] {
		t.Errorf("restored optimizer gave %v, want %v", g2, g)
	}
	if err := r.UnmarshalState(st[:len(st)-4]); err == nil {
		t.Error("accepted a truncated state")
	}
	// DiLoCo's defaults.
	d, _ := OuterConfig{Kind: "nesterov"}.New(1)
	if n := d.(*Nesterov); n.LR != DefaultOuterLR || n.Momentum != DefaultOuterMomentum {
		t.Errorf("defaults lr %v momentum %v", n.LR, n.Momentum)
	}
	for _, bad := range []OuterConfig{{Kind: "adam"}, {Kind: "nesterov", Momentum: 1}, {Kind: "nesterov", LR: -1}} {
		if _, err := bad.New(1); err == nil || !strings.Contains(err.Error(), "outer") {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

package solver

import (
	"math"
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"google.golang.org/protobuf/proto"
)

// TestLearningRatePolicies checks every policy against its formula from
// Caffe's GetLearningRate, evaluated in float64, at chosen iterations.
func TestLearningRatePolicies(t *testing.T) {
	const base, gamma, power = 0.01, 0.1, 0.75
	type tc struct {
		policy string
		p      *pb.SolverParameter
		want   func(iter int) float64
	}
	mk := func(policy string, mod func(p *pb.SolverParameter)) *pb.SolverParameter {
		p := &pb.SolverParameter{LrPolicy: proto.String(policy), BaseLr: proto.Float32(base),
			Gamma: proto.Float32(gamma), Power: proto.Float32(power), MaxIter: proto.Int32(1000),
			Stepsize: proto.Int32(300)}
		if mod != nil {
			mod(p)
		}
		return p
	}
	g := float64(float32(gamma))
	pw := float64(float32(power))
	b := float64(float32(base))
	cases := []tc{
		{"fixed", mk("fixed", nil), func(int) float64 { return b }},
		{"step", mk("step", nil), func(i int) float64 { return b * math.Pow(g, math.Floor(float64(i)/300)) }},
		{"exp", mk("exp", func(p *pb.SolverParameter) { p.Gamma = proto.Float32(0.999) }),
			func(i int) float64 { return b * math.Pow(float64(float32(0.999)), float64(i)) }},
		{"inv", mk("inv", func(p *pb.SolverParameter) { p.Gamma = proto.Float32(1e-4) }),
			func(i int) float64 { return b * math.Pow(1+float64(float32(1e-4))*float64(i), -pw) }},
		// Caffe computes 1 - iter/max_iter in float; near max_iter that
		// difference is only float-accurate.
		{"poly", mk("poly", nil), func(i int) float64 { return b * math.Pow(float64(float32(1)-float32(i)/1000), pw) }},
		{"sigmoid", mk("sigmoid", nil), func(i int) float64 { return b / (1 + math.Exp(-g*(float64(i)-300))) }},
	}
	iters := []int{0, 1, 7, 299, 300, 301, 599, 600, 999, 1000}
	for _, c := range cases {
		if err := checkLRPolicy(c.p); err != nil {
			t.Fatalf("%s: %v", c.policy, err)
		}
		step := 0
		for _, it := range iters {
			got := float64(learningRate(c.p, it, &step))
			want := c.want(it)
			if math.Abs(got-want) > 2e-7*math.Abs(want)+1e-12 {
				t.Errorf("%s at iter %d: rate %.9g, want %.9g", c.policy, it, got, want)
			}
		}
	}
	// Caffe's lenet_solver: inv, gamma 1e-4, power 0.75, base 0.01; Caffe logs
	// "lr = 0.00992565" at iteration 100 and "lr = 0.00594604" at 10000.
	p := mk("inv", func(p *pb.SolverParameter) { p.Gamma = proto.Float32(1e-4) })
	step := 0
	if got := fmtG(learningRate(p, 100, &step)); got != "0.00992565" {
		t.Errorf("lenet lr at 100 = %s, want 0.00992565", got)
	}
	if got := fmtG(learningRate(p, 10000, &step)); got != "0.00594604" {
		t.Errorf("lenet lr at 10000 = %s, want 0.00594604", got)
	}
}

// TestMultistep checks that multistep advances current_step as Caffe does
// when run one iteration at a time, and that SetIter's jump agrees.
func TestMultistep(t *testing.T) {
	p := &pb.SolverParameter{LrPolicy: proto.String("multistep"), BaseLr: proto.Float32(1),
		Gamma: proto.Float32(0.5), Stepvalue: []int32{3, 5, 9}}
	step := 0
	want := []float32{1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.125, 0.125}
	for it, w := range want {
		if multistepFor(p, it) != step {
			t.Errorf("iter %d: multistepFor = %d, sequential current_step %d", it, multistepFor(p, it), step)
		}
		if got := learningRate(p, it, &step); got != w {
			t.Errorf("iter %d: rate %g, want %g", it, got, w)
		}
	}
	if step != 3 {
		t.Errorf("current_step %d after the last stepvalue, want 3", step)
	}
}

func TestCheckLRPolicy(t *testing.T) {
	bad := []*pb.SolverParameter{
		{},
		{LrPolicy: proto.String("cosine")},
		{LrPolicy: proto.String("step")},
		{LrPolicy: proto.String("inv"), Gamma: proto.Float32(-1)},
		{LrPolicy: proto.String("poly")},
	}
	for _, p := range bad {
		if checkLRPolicy(p) == nil {
			t.Errorf("lr_policy %q (stepsize %d, gamma %g, max_iter %d) accepted", p.GetLrPolicy(), p.GetStepsize(), p.GetGamma(), p.GetMaxIter())
		}
	}
}

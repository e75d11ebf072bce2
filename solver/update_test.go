package solver

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// tinyNet is a linear classifier on 3 inputs: InnerProduct (2x3 weights, 2
// biases) and SoftmaxWithLoss, fed by TestSeq.
const tinyNet = `
name: "tiny"
layer { name: "seq" type: "TestSeq" top: "data" top: "label" memory_data_param { batch_size: 4 } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
  param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0.5 }
  inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "constant" value: 0.1 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
`

func tinySolver(t *testing.T, solverText string) *Solver {
	t.Helper()
	setSeqSource(t, "seq", randomSource(16, []int{3}, 2, 1))
	return newSolver(t, "net_param {"+tinyNet+"}\n"+solverText+"\nrandom_seed: 7\n", Options{})
}

// refSolver is a float64 transcription of Caffe's update rules
// (sgd_solver.cpp and solvers/*.cpp) for one parameter vector.
type refSolver struct {
	method                                      Method
	lrMult, decayMult                           float64
	momentum, momentum2, delta, rmsDecay, decay float64
	l1                                          bool
	iterSize                                    int
	w, h, h2                                    []float64
}

func (r *refSolver) step(grad []float32, rate float64, iter int) {
	for i := range r.w {
		g := float64(grad[i]) / float64(r.iterSize)
		d := r.decay * r.decayMult
		if r.l1 {
			switch {
			case r.w[i] > 0:
				g += d
			case r.w[i] < 0:
				g -= d
			}
		} else {
			g += d * r.w[i]
		}
		lr := rate * r.lrMult
		var u float64
		switch r.method {
		case SGD:
			r.h[i] = lr*g + r.momentum*r.h[i]
			u = r.h[i]
		case Nesterov:
			old := r.h[i]
			r.h[i] = lr*g + r.momentum*r.h[i]
			u = (1+r.momentum)*r.h[i] - r.momentum*old
		case AdaGrad:
			r.h[i] += g * g
			u = lr * g / (math.Sqrt(r.h[i]) + r.delta)
		case RMSProp:
			r.h[i] = (1-r.rmsDecay)*g*g + r.rmsDecay*r.h[i]
			u = lr * g / (math.Sqrt(r.h[i]) + r.delta)
		case AdaDelta:
			r.h[i] = (1-r.momentum)*g*g + r.momentum*r.h[i]
			gs := g * math.Sqrt((r.delta+r.h2[i])/(r.delta+r.h[i]))
			r.h2[i] = (1-r.momentum)*gs*gs + r.momentum*r.h2[i]
			u = lr * gs
		case Adam:
			t := float64(iter + 1)
			corr := math.Sqrt(1-math.Pow(r.momentum2, t)) / (1 - math.Pow(r.momentum, t))
			r.h[i] = (1-r.momentum)*g + r.momentum*r.h[i]
			r.h2[i] = (1-r.momentum2)*g*g + r.momentum2*r.h2[i]
			u = lr * corr * r.h[i] / (math.Sqrt(r.h2[i]) + r.delta)
		}
		r.w[i] -= u
	}
}

// TestUpdateRules runs every solver type for a few updates with fixed
// gradients and compares the weights with the float64 transcription of
// Caffe's formulas, for both parameters (lr_mult 1 and 2, decay_mult 1 and
// 0.5), with L2 and L1 decay and iter_size 1 and 3.
func TestUpdateRules(t *testing.T) {
	types := map[Method]string{
		SGD:      `type: "SGD" momentum: 0.9`,
		Nesterov: `type: "Nesterov" momentum: 0.9`,
		AdaGrad:  `type: "AdaGrad" delta: 1e-6`,
		RMSProp:  `type: "RMSProp" rms_decay: 0.95 delta: 1e-6`,
		AdaDelta: `type: "AdaDelta" momentum: 0.95 delta: 1e-6`,
		Adam:     `type: "Adam" momentum: 0.9 momentum2: 0.999 delta: 1e-8`,
	}
	for m, text := range types {
		for _, reg := range []string{"L2", "L1"} {
			for _, iterSize := range []int{1, 3} {
				name := fmt.Sprintf("%s/%s/iter_size=%d", m, reg, iterSize)
				t.Run(name, func(t *testing.T) {
					s := tinySolver(t, fmt.Sprintf(`%s base_lr: 0.05 lr_policy: "step" gamma: 0.5 stepsize: 2
						weight_decay: 0.01 regularization_type: "%s" iter_size: %d max_iter: 10`, text, reg, iterSize))
					if s.Method() != m {
						t.Fatalf("method %v, want %v", s.Method(), m)
					}
					params := s.Net().Params()
					if len(params) != 2 {
						t.Fatalf("%d params, want 2", len(params))
					}
					p := s.Param()
					refs := make([]*refSolver, 2)
					for k, pb := range params {
						r := &refSolver{method: m, lrMult: float64(k + 1), decayMult: []float64{1, 0.5}[k],
							momentum: float64(p.GetMomentum()), momentum2: float64(p.GetMomentum2()),
							delta: float64(p.GetDelta()), rmsDecay: float64(p.GetRmsDecay()),
							decay: float64(p.GetWeightDecay()), l1: reg == "L1", iterSize: iterSize,
							w: make([]float64, pb.Count()), h: make([]float64, pb.Count()), h2: make([]float64, pb.Count())}
						for i, v := range pb.Data {
							r.w[i] = float64(v)
						}
						refs[k] = r
					}
					for it := 0; it < 5; it++ {
						rate := s.LearningRate()
						if want := float32(0.05 * math.Pow(0.5, float64(it/2))); rate != want {
							t.Fatalf("iter %d: rate %g, want %g", it, rate, want)
						}
						for k, pb := range params {
							grad := make([]float32, pb.Count())
							for i := range grad {
								// Gradients of both signs, varying per step.
								grad[i] = float32(math.Sin(float64(1+i+7*k+3*it))) * float32(iterSize)
							}
							copy(pb.Diff, grad)
							refs[k].step(grad, float64(rate), it)
						}
						if got := s.ApplyUpdate(); got != rate {
							t.Fatalf("ApplyUpdate used rate %g, LearningRate said %g", got, rate)
						}
						s.iter++
						for k, pb := range params {
							for i, v := range pb.Data {
								want := refs[k].w[i]
								if math.Abs(float64(v)-want) > 1e-5*math.Max(1, math.Abs(want)) {
									t.Fatalf("iter %d, param %d[%d]: %.8g, float64 reference %.8g", it, k, i, v, want)
								}
							}
						}
					}
				})
			}
		}
	}
}

// TestSGDByHand checks two SGD updates against values worked out by hand.
func TestSGDByHand(t *testing.T) {
	s := tinySolver(t, `base_lr: 0.1 lr_policy: "fixed" momentum: 0.9 weight_decay: 0.1 max_iter: 2`)
	w, b := s.Net().Params()[0], s.Net().Params()[1]
	for i := range w.Data {
		w.Data[i] = 1
	}
	for i := range b.Data {
		b.Data[i] = 2
	}
	for step := 0; step < 2; step++ {
		for i := range w.Diff {
			w.Diff[i] = 0.5
		}
		for i := range b.Diff {
			b.Diff[i] = -1
		}
		s.ApplyUpdate()
		s.iter++
	}
	// Weights (lr_mult 1, decay_mult 1): g1 = 0.5 + 0.1*1 = 0.6, h1 = 0.06,
	// w1 = 0.94; g2 = 0.5 + 0.094 = 0.594, h2 = 0.0594 + 0.054 = 0.1134,
	// w2 = 0.8266.
	// Biases (lr_mult 2, decay_mult 0.5): g1 = -1 + 0.05*2 = -0.9,
	// h1 = 0.2*-0.9 = -0.18, b1 = 2.18; g2 = -1 + 0.05*2.18 = -0.891,
	// h2 = -0.1782 - 0.162 = -0.3402, b2 = 2.5202.
	for i, v := range w.Data {
		if math.Abs(float64(v)-0.8266) > 1e-6 {
			t.Errorf("w[%d] = %.8g, want 0.8266", i, v)
		}
	}
	for i, v := range b.Data {
		if math.Abs(float64(v)-2.5202) > 1e-6 {
			t.Errorf("b[%d] = %.8g, want 2.5202", i, v)
		}
	}
	if h := s.History()[0].Data[0]; math.Abs(float64(h)-0.1134) > 1e-6 {
		t.Errorf("momentum history %.8g, want 0.1134", h)
	}
}

// TestClipGradients checks that the global L2 norm over all parameters is
// clipped to clip_gradients (before the iter_size normalization, as Caffe).
func TestClipGradients(t *testing.T) {
	for _, iterSize := range []int{1, 2} {
		log := &logBuffer{}
		setSeqSource(t, "seq", randomSource(16, []int{3}, 2, 1))
		s := newSolver(t, fmt.Sprintf("net_param {%s} base_lr: 1 lr_policy: \"fixed\" clip_gradients: 2 iter_size: %d max_iter: 1 random_seed: 1", tinyNet, iterSize), Options{Log: log})
		w, b := s.Net().Params()[0], s.Net().Params()[1]
		before := append(append([]float32{}, w.Data...), b.Data...)
		// 8 gradient values of 1.5 (weights) and 2.5 (biases): norm
		// sqrt(6*2.25 + 2*6.25) = sqrt(26).
		for i := range w.Diff {
			w.Diff[i] = 1.5
		}
		for i := range b.Diff {
			b.Diff[i] = 2.5
		}
		s.ApplyUpdate()
		scale := 2 / math.Sqrt(26)
		for i, v := range w.Data {
			want := float64(before[i]) - 1.5*scale/float64(iterSize)
			if math.Abs(float64(v)-want) > 1e-6 {
				t.Errorf("iter_size %d: w[%d] = %.8g, want %.8g", iterSize, i, v, want)
			}
		}
		for i, v := range b.Data {
			want := float64(before[len(w.Data)+i]) - 2*2.5*scale/float64(iterSize)
			if math.Abs(float64(v)-want) > 1e-6 {
				t.Errorf("iter_size %d: b[%d] = %.8g, want %.8g", iterSize, i, v, want)
			}
		}
		if !strings.Contains(log.String(), "Gradient clipping: scaling down gradients (L2 norm 5.09902 > 2) by scale factor 0.392232") {
			t.Errorf("clipping not logged as Caffe does; log:\n%s", log)
		}
	}
}

// TestSolverChecks checks that bad solver settings are errors that say what
// is wrong.
func TestSolverChecks(t *testing.T) {
	setSeqSource(t, "seq", randomSource(16, []int{3}, 2, 1))
	net := "net_param {" + tinyNet + "}\n"
	cases := map[string]string{
		`type: "Foo" lr_policy: "fixed"`:                   "unknown solver type",
		`type: "AdaGrad" momentum: 0.9 lr_policy: "fixed"`: "momentum cannot be used with AdaGrad",
		`type: "RMSProp" rms_decay: 1 lr_policy: "fixed"`:  "rms_decay",
		`lr_policy: "fixed" snapshot_format: HDF5`:         "HDF5 is not supported",
		`lr_policy: "fixed" regularization_type: "L3"`:     "regularization_type",
		`lr_policy: "fixed" average_loss: 0`:               "average_loss",
		`lr_policy: "fixed" snapshot: 10`:                  "snapshot_prefix",
		`lr_policy: "fixed" test_iter: 1`:                  "test_interval",
		`lr_policy: "bogus"`:                               "unknown lr_policy",
		`lr_policy: "fixed" test_iter: 1 test_interval: 1 test_state { stage: "a" } test_state { stage: "b" }`: "test_state",
	}
	for text, want := range cases {
		_, err := New(parseSolver(t, net+text), Options{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one mentioning %q", text, err, want)
		}
	}
	// The deprecated solver_type enum still selects the method.
	s := newSolver(t, net+`solver_type: NESTEROV lr_policy: "fixed" momentum: 0.9`, Options{})
	if s.Method() != Nesterov {
		t.Errorf("solver_type NESTEROV gave %v", s.Method())
	}
}

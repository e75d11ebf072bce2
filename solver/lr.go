package solver

import (
	"fmt"
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
)

// lrPolicies are the learning-rate policies of Caffe's SGDSolver, in the
// order its GetLearningRate lists them.
var lrPolicies = []string{"fixed", "step", "exp", "inv", "multistep", "poly", "sigmoid"}

// checkLRPolicy validates the solver's lr_policy and the fields it needs, as
// the CHECKs in Caffe's GetLearningRate do (but up front, as errors).
func checkLRPolicy(p *pb.SolverParameter) error {
	policy := p.GetLrPolicy()
	switch policy {
	case "fixed", "poly":
	case "step", "sigmoid":
		if p.GetStepsize() <= 0 {
			return fmt.Errorf("lr_policy %q needs stepsize > 0, got %d", policy, p.GetStepsize())
		}
	case "exp", "inv", "multistep":
	case "":
		return fmt.Errorf("lr_policy is not set (one of %v)", lrPolicies)
	default:
		return fmt.Errorf("unknown lr_policy %q (supported: %v)", policy, lrPolicies)
	}
	if policy != "fixed" && policy != "poly" && p.GetGamma() < 0 {
		return fmt.Errorf("lr_policy %q needs gamma >= 0, got %g", policy, p.GetGamma())
	}
	if policy == "poly" && p.GetMaxIter() <= 0 {
		return fmt.Errorf("lr_policy \"poly\" needs max_iter > 0, got %d", p.GetMaxIter())
	}
	return nil
}

// learningRate returns the rate of iteration iter under the solver's policy,
// with Caffe's float arithmetic: step, exp and multistep raise gamma to an
// integer power in double precision (C++'s pow(float, int)); inv, poly and
// sigmoid work in single precision (powf, expf).
//
// currentStep is Caffe's current_step_: step sets it to iter/stepsize, and
// multistep advances it by at most one per call when iter reaches the next
// stepvalue, exactly as Caffe's GetLearningRate, so it must be called once
// per update.
func learningRate(p *pb.SolverParameter, iter int, currentStep *int) float32 {
	base := p.GetBaseLr()
	gamma := p.GetGamma()
	switch p.GetLrPolicy() {
	case "step":
		*currentStep = iter / int(p.GetStepsize())
		return float32(float64(base) * math.Pow(float64(gamma), float64(*currentStep)))
	case "exp":
		return float32(float64(base) * math.Pow(float64(gamma), float64(iter)))
	case "inv":
		x := float32(1) + gamma*float32(iter)
		return base * powf(x, -p.GetPower())
	case "multistep":
		sv := p.GetStepvalue()
		if *currentStep < len(sv) && iter >= int(sv[*currentStep]) {
			*currentStep++
		}
		return float32(float64(base) * math.Pow(float64(gamma), float64(*currentStep)))
	case "poly":
		x := float32(1) - float32(iter)/float32(p.GetMaxIter())
		return base * powf(x, p.GetPower())
	case "sigmoid":
		e := float32(math.Exp(float64(-gamma * (float32(iter) - float32(p.GetStepsize())))))
		return base * (float32(1) / (float32(1) + e))
	default: // "fixed"; other names are rejected by checkLRPolicy
		return base
	}
}

// multistepFor returns the current_step a multistep run has reached before
// the update of iteration iter: the number of leading stepvalues below iter.
// It lets SetIter jump to any iteration consistently with a run that got
// there one update at a time.
func multistepFor(p *pb.SolverParameter, iter int) int {
	n := 0
	for _, v := range p.GetStepvalue() {
		if int(v) >= iter {
			break
		}
		n++
	}
	return n
}

// powf is C's powf: single-precision pow, computed in double and rounded.
func powf(x, y float32) float32 { return float32(math.Pow(float64(x), float64(y))) }

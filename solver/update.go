package solver

import (
	"fmt"
	"math"
	"strings"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/internal/threads"
)

// Method is an update rule of Caffe's solver family.
type Method int

// The update rules, named as Caffe's SolverParameter.type.
const (
	SGD Method = iota
	Nesterov
	AdaGrad
	RMSProp
	AdaDelta
	Adam
)

var methodNames = [...]string{"SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam"}

// String returns Caffe's type name of the method.
func (m Method) String() string {
	if m >= 0 && int(m) < len(methodNames) {
		return methodNames[m]
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// historyPerParam is how many history blobs the method keeps per parameter
// (Caffe's history_ holds the second set after the first).
func (m Method) historyPerParam() int {
	if m == AdaDelta || m == Adam {
		return 2
	}
	return 1
}

// methodOf reads the solver type, accepting the deprecated solver_type enum
// when type is not set (Caffe's UpgradeSolverType). Names match
// case-insensitively.
func methodOf(p *pb.SolverParameter) (Method, error) {
	name := p.GetType()
	if p.Type == nil && p.SolverType != nil {
		switch p.GetSolverType() {
		case pb.SolverParameter_SGD:
			name = "SGD"
		case pb.SolverParameter_NESTEROV:
			name = "Nesterov"
		case pb.SolverParameter_ADAGRAD:
			name = "AdaGrad"
		case pb.SolverParameter_RMSPROP:
			name = "RMSProp"
		case pb.SolverParameter_ADADELTA:
			name = "AdaDelta"
		case pb.SolverParameter_ADAM:
			name = "Adam"
		}
	}
	for i, n := range methodNames {
		if strings.EqualFold(n, name) {
			return Method(i), nil
		}
	}
	return 0, fmt.Errorf("unknown solver type %q (supported: %s)", name, strings.Join(methodNames[:], ", "))
}

// checkMethod applies the sanity checks of Caffe's solver constructors.
func checkMethod(m Method, p *pb.SolverParameter) error {
	switch m {
	case AdaGrad:
		if p.GetMomentum() != 0 {
			return fmt.Errorf("momentum cannot be used with AdaGrad (momentum is %g)", p.GetMomentum())
		}
	case RMSProp:
		if p.GetMomentum() != 0 {
			return fmt.Errorf("momentum cannot be used with RMSProp (momentum is %g)", p.GetMomentum())
		}
		if d := p.GetRmsDecay(); d < 0 || d >= 1 {
			return fmt.Errorf("rms_decay should lie in [0, 1), got %g", d)
		}
	}
	return nil
}

// updateGrain is the smallest chunk of a parameter one thread updates.
const updateGrain = 1 << 15

// ApplyUpdate turns the accumulated gradients into a step and applies it, as
// Caffe's SGDSolver::ApplyUpdate: it computes the learning rate of the
// current iteration, clips the gradients by their global L2 norm
// (clip_gradients), and for every parameter divides the gradient by iter_size,
// adds the weight decay (L2 or L1, times the parameter's decay_mult) and
// computes the method's update with the rate times the parameter's lr_mult;
// then it subtracts the update from the weights. It returns the rate.
//
// The update value is left in each parameter's Diff, as in Caffe. The
// iteration counter is not advanced; Step does that.
func (s *Solver) ApplyUpdate() float32 {
	rate := learningRate(s.param, s.iter, &s.currentStep)
	s.rate = rate
	s.clipGradients()
	if s.method == Adam {
		// C++'s pow(float, int) is computed in double; the result is stored
		// as float.
		t := float64(s.iter + 1)
		b1, b2 := float64(s.param.GetMomentum()), float64(s.param.GetMomentum2())
		s.adamCorrection = float32(math.Sqrt(1-math.Pow(b2, t)) / (1 - math.Pow(b1, t)))
	}
	for i, p := range s.params {
		threads.For(p.Count(), updateGrain, s.kernels[i])
	}
	return rate
}

// clipGradients scales all gradients down when their global L2 norm exceeds
// clip_gradients (Caffe's ClipGradients, before the iter_size
// normalization). The sum of squares is accumulated in float64, in order.
func (s *Solver) clipGradients() {
	clip := s.param.GetClipGradients()
	if clip < 0 {
		return
	}
	var sumsq float64
	for _, p := range s.params {
		for _, g := range p.Diff {
			sumsq += float64(g) * float64(g)
		}
	}
	norm := float32(math.Sqrt(sumsq))
	if norm <= clip {
		return
	}
	scale := clip / norm
	s.logf("Gradient clipping: scaling down gradients (L2 norm %s > %s) by scale factor %s",
		fmtG(norm), fmtG(clip), fmtG(scale))
	for _, p := range s.params {
		d := p.Diff
		for j := range d {
			d[j] *= scale
		}
	}
}

// makeKernels builds, once, the per-parameter update closures that
// ApplyUpdate runs on the thread pool, so that an update allocates nothing.
func (s *Solver) makeKernels() {
	s.kernels = make([]func(lo, hi int), len(s.params))
	for i := range s.params {
		s.kernels[i] = func(lo, hi int) { s.updateRange(i, lo, hi) }
	}
}

// updateRange updates elements [lo, hi) of parameter i. Every element is
// independent, so the result does not depend on how the range is split.
//
// The arithmetic follows the order of Caffe's BLAS calls, in float32; the
// explicit float32 conversions keep the compiler from fusing a multiply and
// an add into an FMA, so a run gives the same bits on every platform.
func (s *Solver) updateRange(i, lo, hi int) {
	p := s.params[i]
	w := p.Data[lo:hi]
	g := p.Diff[lo:hi]
	g = g[:len(w)]
	h := s.history[i].Data[lo:hi]
	h = h[:len(w)]

	r := regularizer{norm: 1}
	if n := s.param.GetIterSize(); n > 1 {
		r.norm = float32(1) / float32(n)
	}
	if r.decay = s.param.GetWeightDecay() * s.info[i].DecayMult; r.decay != 0 {
		r.mode = regL2
		if s.l1 {
			r.mode = regL1
		}
	}

	rate := s.rate * s.info[i].LrMult
	momentum := s.param.GetMomentum()
	delta := s.param.GetDelta()
	switch s.method {
	case SGD:
		if !sgdKernel(w, g, h, r, rate, momentum) {
			sgdScalar(w, g, h, r, rate, momentum)
		}
	case Nesterov:
		over := float32(1) + momentum
		for k, gk := range g {
			gk = r.apply(gk, w[k])
			old := h[k]
			hk := float32(rate*gk) + float32(momentum*old)
			h[k] = hk
			u := float32(over*hk) + float32(-momentum*old)
			g[k] = u
			w[k] -= u
		}
	case AdaGrad:
		for k, gk := range g {
			gk = r.apply(gk, w[k])
			hk := float32(gk*gk) + h[k]
			h[k] = hk
			u := rate * (gk / (sqrtf(hk) + delta))
			g[k] = u
			w[k] -= u
		}
	case RMSProp:
		decay := s.param.GetRmsDecay()
		keep := float32(1) - decay
		for k, gk := range g {
			gk = r.apply(gk, w[k])
			hk := float32(keep*float32(gk*gk)) + float32(decay*h[k])
			h[k] = hk
			u := rate * (gk / (sqrtf(hk) + delta))
			g[k] = u
			w[k] -= u
		}
	case AdaDelta:
		h2 := s.history[len(s.params)+i].Data[lo:hi]
		h2 = h2[:len(w)]
		keep := float32(1) - momentum
		for k, gk := range g {
			gk = r.apply(gk, w[k])
			h1 := float32(keep*float32(gk*gk)) + float32(momentum*h[k])
			h[k] = h1
			scaled := gk * sqrtf((delta+h2[k])/(delta+h1))
			h2[k] = float32(keep*float32(scaled*scaled)) + float32(momentum*h2[k])
			u := rate * scaled
			g[k] = u
			w[k] -= u
		}
	case Adam:
		v := s.history[len(s.params)+i].Data[lo:hi]
		v = v[:len(w)]
		b1, b2 := momentum, s.param.GetMomentum2()
		k1, k2 := float32(1)-b1, float32(1)-b2
		step := rate * s.adamCorrection
		for k, gk := range g {
			gk = r.apply(gk, w[k])
			m := float32(k1*gk) + float32(b1*h[k])
			h[k] = m
			vk := float32(k2*float32(gk*gk)) + float32(b2*v[k])
			v[k] = vk
			u := step * (m / (sqrtf(vk) + delta))
			g[k] = u
			w[k] -= u
		}
	}
}

// sgdScalar is SGD's update with momentum of w, g and h (equal lengths)
// element by element: the portable path, and the reference of sgdKernel.
func sgdScalar(w, g, h []float32, r regularizer, rate, momentum float32) {
	for k, gk := range g {
		gk = r.apply(gk, w[k])
		hk := float32(rate*gk) + float32(momentum*h[k])
		h[k] = hk
		g[k] = hk
		w[k] -= hk
	}
}

// Regularization modes.
const (
	regNone = iota
	regL2
	regL1
)

// regularizer turns an accumulated gradient into the one the update uses:
// divided by iter_size (Caffe's Normalize: times 1/iter_size) and with the
// weight decay added (Caffe's Regularize: decay*w for L2, decay*sign(w) for
// L1), with the roundings of Caffe's separate passes, in one.
type regularizer struct {
	norm, decay float32
	mode        uint8
}

func (r regularizer) apply(g, w float32) float32 {
	g *= r.norm
	switch r.mode {
	case regL2:
		g += float32(r.decay * w)
	case regL1:
		if w > 0 {
			g += r.decay
		} else if w < 0 {
			g -= r.decay
		}
	}
	return g
}

// sqrtf is a correctly rounded single-precision square root.
func sqrtf(x float32) float32 { return float32(math.Sqrt(float64(x))) }

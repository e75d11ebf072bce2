package layers

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

// gradChecker compares a layer's analytic gradients with central finite
// differences, as Caffe's GradientChecker does: the objective is
// sum_t sum_i w_ti * top_t[i] for fixed random weights w (so every top
// element's gradient path is exercised), the step is in float32 input space,
// and |analytic - numeric| must be <= threshold * max(|analytic|, |numeric|, 1).
type gradChecker struct {
	step      float64 // finite-difference step (Caffe: 1e-2)
	threshold float64 // relative tolerance (Caffe: 1e-2 .. 1e-3)
	kink      float64 // inputs within kinkRange of kink are skipped (ReLU: 0)
	kinkRange float64 // < 0 disables the kink check
	seed      uint64
}

func newGradChecker() gradChecker {
	return gradChecker{step: 1e-2, threshold: 1e-2, kinkRange: -1, seed: 1701}
}

// randBlob returns a blob of the given shape with values uniform in [lo, hi).
func randBlob(r *rand.Rand, lo, hi float64, shape ...int) *tensor.Blob {
	b := tensor.New(shape...)
	for i := range b.Data {
		b.Data[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return b
}

// gaussBlob returns a blob of the given shape with N(0, std^2) values.
func gaussBlob(r *rand.Rand, std float64, shape ...int) *tensor.Blob {
	b := tensor.New(shape...)
	for i := range b.Data {
		b.Data[i] = float32(std * r.NormFloat64())
	}
	return b
}

// objective runs Forward and returns sum_t <w_t, top_t>.
func (g gradChecker) objective(l Layer, bottom, top []*tensor.Blob, w [][]float64) float64 {
	if err := l.Reshape(bottom, top); err != nil {
		panic(err)
	}
	l.Forward(bottom, top)
	var s float64
	for t, b := range top {
		for i, v := range b.Data {
			s += w[t][i] * float64(v)
		}
	}
	return s
}

// check runs Setup, then compares gradients for each bottom i with
// checkBottom[i] (nil: all bottoms) and for every parameter blob.
func (g gradChecker) check(t *testing.T, l Layer, bottom, top []*tensor.Blob, checkBottom []bool) {
	t.Helper()
	if err := l.Setup(bottom, top); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if err := l.Reshape(bottom, top); err != nil {
		t.Fatalf("Reshape: %v", err)
	}
	g.checkAfterSetup(t, l, bottom, top, checkBottom)
}

// checkAfterSetup is check for a layer that is already set up.
func (g gradChecker) checkAfterSetup(t *testing.T, l Layer, bottom, top []*tensor.Blob, checkBottom []bool) {
	t.Helper()
	r := rand.New(rand.NewPCG(g.seed, 7))
	l.Forward(bottom, top)
	w := make([][]float64, len(top))
	for i, b := range top {
		w[i] = make([]float64, b.Count())
		for j := range w[i] {
			w[i][j] = r.Float64()*2 - 1
		}
	}
	prop := make([]bool, len(bottom))
	for i := range prop {
		prop[i] = checkBottom == nil || checkBottom[i]
	}
	// Analytic gradients.
	for _, p := range l.Params() {
		p.ZeroDiff()
	}
	for _, b := range bottom {
		b.ZeroDiff()
	}
	g.objective(l, bottom, top, w)
	for ti, b := range top {
		for j := range b.Diff {
			b.Diff[j] = float32(w[ti][j])
		}
	}
	l.Backward(top, prop, bottom)

	type target struct {
		name string
		blob *tensor.Blob
		grad []float32
	}
	var targets []target
	for i, b := range bottom {
		if prop[i] {
			targets = append(targets, target{"bottom", b, append([]float32(nil), b.Diff...)})
		}
	}
	for _, p := range l.Params() {
		targets = append(targets, target{"param", p, append([]float32(nil), p.Diff...)})
	}
	failures := 0
	for ti, tg := range targets {
		for i := range tg.blob.Data {
			x := tg.blob.Data[i]
			if g.kinkRange >= 0 && math.Abs(float64(x)-g.kink) < g.kinkRange {
				continue
			}
			tg.blob.Data[i] = x + float32(g.step)
			plus := g.objective(l, bottom, top, w)
			tg.blob.Data[i] = x - float32(g.step)
			minus := g.objective(l, bottom, top, w)
			tg.blob.Data[i] = x
			numeric := (plus - minus) / (2 * g.step)
			analytic := float64(tg.grad[i])
			scale := math.Max(math.Max(math.Abs(analytic), math.Abs(numeric)), 1)
			if math.Abs(analytic-numeric) > g.threshold*scale || math.IsNaN(analytic) {
				if failures < 10 {
					t.Errorf("%s %d element %d (x=%g): analytic %g, numeric %g", tg.name, ti, i, x, analytic, numeric)
				}
				failures++
			}
		}
	}
	if failures > 0 {
		t.Errorf("%d gradient mismatches", failures)
	}
	// Leave the layer in its forward state.
	g.objective(l, bottom, top, w)
}

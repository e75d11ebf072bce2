package layers

// Shared helpers and cross-layer checks for the layers beyond the core set
// (neurons, normalisation, losses, shape layers).

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/internal/threads"
	"github.com/sparknet/sparknet/tensor"
)

// zNew builds a TRAIN-phase layer from LayerParameter text.
func zNew(t *testing.T, text string) Layer {
	t.Helper()
	return zNewPhase(t, pb.Phase_TRAIN, text)
}

// zNewPhase builds a layer from LayerParameter text in the given phase.
func zNewPhase(t *testing.T, phase pb.Phase, text string) Layer {
	t.Helper()
	l, err := zTry(phase, text)
	if err != nil {
		t.Fatalf("New(%s): %v", text, err)
	}
	return l
}

// zTry builds a layer from LayerParameter text, returning the error.
func zTry(phase pb.Phase, text string) (Layer, error) {
	p := &pb.LayerParameter{}
	if err := prototext.Unmarshal([]byte(text), p); err != nil {
		return nil, err
	}
	return New(p, NewContext(phase, 1701))
}

// zSetup checks the arity, then runs Setup and Reshape.
func zSetup(t *testing.T, l Layer, bottom, top []*tensor.Blob) {
	t.Helper()
	if err := zSetupErr(l, bottom, top); err != nil {
		t.Fatal(err)
	}
}

// zSetupErr is zSetup returning the first error.
func zSetupErr(l Layer, bottom, top []*tensor.Blob) error {
	if a, ok := l.(Arityer); ok {
		if err := a.Arity().Check(len(bottom), len(top)); err != nil {
			return err
		}
	}
	if err := l.Setup(bottom, top); err != nil {
		return err
	}
	return l.Reshape(bottom, top)
}

// zForward sets up l and runs Forward.
func zForward(t *testing.T, l Layer, bottom, top []*tensor.Blob) {
	t.Helper()
	zSetup(t, l, bottom, top)
	l.Forward(bottom, top)
}

// zBlobs returns n empty blobs.
func zBlobs(n int) []*tensor.Blob {
	out := make([]*tensor.Blob, n)
	for i := range out {
		out[i] = &tensor.Blob{}
	}
	return out
}

// zBlob returns a blob of the given shape holding vals.
func zBlob(vals []float32, shape ...int) *tensor.Blob {
	b := tensor.New(shape...)
	if len(vals) != b.Count() {
		panic("zBlob: value count does not match shape")
	}
	copy(b.Data, vals)
	return b
}

// zRand returns a fixed-seed generator for test inputs.
func zRand() *rand.Rand { return rand.New(rand.NewPCG(2718, 28)) }

// zGauss returns a blob with N(0, 1) values, like Caffe's tests' default
// GaussianFiller.
func zGauss(shape ...int) *tensor.Blob { return gaussBlob(zRand(), 1, shape...) }

// zNear fails when got[i] and want[i] differ by more than
// tol * max(1, |want[i]|).
func zNear(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range want {
		d := math.Abs(float64(got[i]) - want[i])
		if !(d <= tol*math.Max(1, math.Abs(want[i]))) {
			if bad < 5 {
				t.Errorf("%s[%d] = %.9g, want %.9g", what, i, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values differ", what, bad, len(want))
	}
}

// zMap applies f to every value of x.
func zMap(x []float32, f func(float64) float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = f(float64(v))
	}
	return out
}

// zCheck is a gradient check with Caffe's usual step 1e-2 and the given
// relative threshold.
func zCheck(t *testing.T, l Layer, bottom, top []*tensor.Blob, threshold float64, checkBottom []bool) {
	t.Helper()
	g := newGradChecker()
	g.threshold = threshold
	g.check(t, l, bottom, top, checkBottom)
}

// zCheckKink is zCheck skipping inputs within kinkRange of kink.
func zCheckKink(t *testing.T, l Layer, bottom, top []*tensor.Blob, threshold, kink, kinkRange float64) {
	t.Helper()
	g := newGradChecker()
	g.threshold, g.kink, g.kinkRange = threshold, kink, kinkRange
	g.check(t, l, bottom, top, nil)
}

// zWantErr fails unless setting up l with the blobs gives an error that
// mentions want.
func zWantErr(t *testing.T, l Layer, bottom, top []*tensor.Blob, want string) {
	t.Helper()
	err := zSetupErr(l, bottom, top)
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not mention %q", err, want)
	}
}

// zWantNewErr fails unless building the layer gives an error mentioning
// want.
func zWantNewErr(t *testing.T, text, want string) {
	t.Helper()
	_, err := zTry(pb.Phase_TRAIN, text)
	if err == nil {
		t.Fatalf("New(%s): no error, want one mentioning %q", text, want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("New(%s): error %q does not mention %q", text, err, want)
	}
}

// zooCase is one configured layer with inputs, for the checks that run
// over the whole zoo.
type zooCase struct {
	text   string
	phase  pb.Phase
	bottom func() []*tensor.Blob
	ntop   int
	noGrad bool // bottom 0 takes no gradient (indices)
}

func zooCases() []zooCase {
	big := func() []*tensor.Blob { return []*tensor.Blob{zGauss(4, 8, 24, 24)} }
	two := func() []*tensor.Blob {
		return []*tensor.Blob{zGauss(4, 8, 24, 24), gaussBlob(rand.New(rand.NewPCG(5, 5)), 1, 4, 8, 24, 24)}
	}
	labels := func(n, k int) *tensor.Blob {
		b := tensor.New(n)
		for i := range b.Data {
			b.Data[i] = float32((i * 7) % k)
		}
		return b
	}
	return []zooCase{
		{text: `type: "Sigmoid"`, bottom: big, ntop: 1},
		{text: `type: "TanH"`, bottom: big, ntop: 1},
		{text: `type: "AbsVal"`, bottom: big, ntop: 1},
		{text: `type: "BNLL"`, bottom: big, ntop: 1},
		{text: `type: "ELU"`, bottom: big, ntop: 1},
		{text: `type: "Power" power_param { power: 1.5 scale: 0.5 shift: 4 }`, bottom: big, ntop: 1},
		{text: `type: "Exp" exp_param { base: 2 scale: 0.5 }`, bottom: big, ntop: 1},
		{text: `type: "Log" log_param { scale: 0.1 shift: 5 }`, bottom: big, ntop: 1},
		{text: `type: "Threshold"`, bottom: big, ntop: 1},
		{text: `type: "Clip" clip_param { min: -0.5 max: 0.5 }`, bottom: big, ntop: 1},
		{text: `type: "Swish"`, bottom: big, ntop: 1},
		{text: `type: "PReLU"`, bottom: big, ntop: 1},
		{text: `type: "PReLU" prelu_param { channel_shared: true }`, bottom: big, ntop: 1},
		{text: `type: "LRN" lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 }`, bottom: big, ntop: 1},
		{text: `type: "LRN" lrn_param { local_size: 3 norm_region: WITHIN_CHANNEL }`, bottom: big, ntop: 1},
		{text: `type: "BatchNorm"`, bottom: big, ntop: 1},
		{text: `type: "BatchNorm"`, phase: pb.Phase_TEST, bottom: big, ntop: 1},
		{text: `type: "Scale" scale_param { bias_term: true }`, bottom: big, ntop: 1},
		{text: `type: "Bias"`, bottom: big, ntop: 1},
		{text: `type: "MVN"`, bottom: big, ntop: 1},
		{text: `type: "MVN" mvn_param { normalize_variance: false across_channels: true }`, bottom: big, ntop: 1},
		{text: `type: "Eltwise" eltwise_param { operation: PROD }`, bottom: two, ntop: 1},
		{text: `type: "Eltwise" eltwise_param { coeff: 1 coeff: -0.5 }`, bottom: two, ntop: 1},
		{text: `type: "Eltwise" eltwise_param { operation: MAX }`, bottom: two, ntop: 1},
		{text: `type: "Slice" slice_param { slice_point: 3 }`, bottom: big, ntop: 2},
		{text: `type: "Tile" tile_param { tiles: 2 }`, bottom: big, ntop: 1},
		{text: `type: "Reduction" reduction_param { operation: SUMSQ axis: 1 }`, bottom: big, ntop: 1},
		{text: `type: "Crop" crop_param { offset: 2 }`, bottom: func() []*tensor.Blob {
			return []*tensor.Blob{zGauss(4, 8, 24, 24), tensor.New(4, 8, 20, 20)}
		}, ntop: 1},
		{text: `type: "SigmoidCrossEntropyLoss"`, bottom: func() []*tensor.Blob {
			t := randBlob(zRand(), 0, 1, 4, 8, 24, 24)
			return []*tensor.Blob{zGauss(4, 8, 24, 24), t}
		}, ntop: 1},
		{text: `type: "EuclideanLoss"`, bottom: two, ntop: 1},
		{text: `type: "HingeLoss" hinge_loss_param { norm: L2 }`, bottom: func() []*tensor.Blob {
			return []*tensor.Blob{zGauss(16, 10), labels(16, 10)}
		}, ntop: 1},
		{text: `type: "MultinomialLogisticLoss"`, bottom: func() []*tensor.Blob {
			return []*tensor.Blob{randBlob(zRand(), 0.01, 1, 16, 10), labels(16, 10)}
		}, ntop: 1},
		{text: `type: "InfogainLoss"`, bottom: func() []*tensor.Blob {
			h := tensor.New(10, 10)
			for i := range h.Data {
				h.Data[i] = float32(i%7) / 7
			}
			return []*tensor.Blob{zGauss(16, 10), labels(16, 10), h}
		}, ntop: 2},
		{text: `type: "ContrastiveLoss"`, bottom: func() []*tensor.Blob {
			y := labels(16, 2)
			return []*tensor.Blob{zGauss(16, 5, 1, 1), gaussBlob(rand.New(rand.NewPCG(9, 9)), 1, 16, 5, 1, 1), y}
		}, ntop: 1},
		{text: `type: "Embed" embed_param { num_output: 8 input_dim: 10 weight_filler { type: "gaussian" } }`, bottom: func() []*tensor.Blob {
			return []*tensor.Blob{labels(64, 10)}
		}, ntop: 1, noGrad: true},
		{text: `type: "ArgMax" argmax_param { top_k: 3 }`, bottom: big, ntop: 1},
		{text: `type: "Parameter" parameter_param { shape { dim: 3 dim: 4 } }`, bottom: func() []*tensor.Blob { return nil }, ntop: 1},
		{text: `type: "Silence"`, bottom: big, ntop: 0},
	}
}

// propagate returns the propagate-down flags of a case: bottom 0 only.
func (c zooCase) propagate(n int) []bool {
	prop := make([]bool, n)
	if n > 0 {
		prop[0] = !c.noGrad
	}
	return prop
}

// prepare builds and sets up a zoo case, with every top gradient and loss
// weight set.
func (c zooCase) prepare(t *testing.T) (Layer, []*tensor.Blob, []*tensor.Blob) {
	t.Helper()
	l := zNewPhase(t, c.phase, c.text)
	bottom, top := c.bottom(), zBlobs(c.ntop)
	zForward(t, l, bottom, top)
	for _, b := range top {
		for i := range b.Diff {
			b.Diff[i] = float32(i%5) - 2
		}
	}
	return l, bottom, top
}

// TestZooAllocationFree checks that a steady-state Reshape, Forward and
// Backward allocate nothing.
func TestZooAllocationFree(t *testing.T) {
	for _, c := range zooCases() {
		t.Run(c.text, func(t *testing.T) {
			l, bottom, top := c.prepare(t)
			prop := c.propagate(len(bottom))
			allocs := testing.AllocsPerRun(5, func() {
				if err := l.Reshape(bottom, top); err != nil {
					t.Fatal(err)
				}
				l.Forward(bottom, top)
				l.Backward(top, prop, bottom)
			})
			if allocs != 0 {
				t.Errorf("%v allocations per Reshape+Forward+Backward, want 0", allocs)
			}
		})
	}
}

// TestZooThreadInvariance checks that outputs and gradients have the same
// bits on 1 and on 3 threads.
func TestZooThreadInvariance(t *testing.T) {
	defer threads.SetThreads(0)
	defer func(g int) { ewGrain = g }(ewGrain)
	ewGrain = 64 // split even these small inputs into many chunks
	run := func(c zooCase, n int) [][]float32 {
		threads.SetThreads(n)
		l, bottom, top := c.prepare(t)
		l.Backward(top, c.propagate(len(bottom)), bottom)
		var out [][]float32
		for _, b := range top {
			out = append(out, append([]float32(nil), b.Data...))
		}
		for _, b := range bottom {
			out = append(out, append([]float32(nil), b.Diff...))
		}
		for _, p := range l.Params() {
			out = append(out, append([]float32(nil), p.Data...), append([]float32(nil), p.Diff...))
		}
		return out
	}
	for _, c := range zooCases() {
		t.Run(c.text, func(t *testing.T) {
			a, b := run(c, 1), run(c, 3)
			for i := range a {
				for j := range a[i] {
					if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
						t.Fatalf("buffer %d element %d: %g on 1 thread, %g on 3", i, j, a[i][j], b[i][j])
					}
				}
			}
		})
	}
}

// TestZooRegistered checks that every zoo type is registered under its
// Caffe name and reports it.
func TestZooRegistered(t *testing.T) {
	for _, typ := range []string{"PReLU", "ELU", "Sigmoid", "TanH", "AbsVal", "BNLL", "Power", "Exp", "Log",
		"Threshold", "Clip", "Swish", "LRN", "BatchNorm", "Scale", "Bias", "MVN", "SigmoidCrossEntropyLoss",
		"EuclideanLoss", "HingeLoss", "ContrastiveLoss", "InfogainLoss", "MultinomialLogisticLoss", "Slice",
		"Eltwise", "Crop", "Tile", "Reduction", "ArgMax", "Embed", "Silence", "Parameter"} {
		text := `type: "` + typ + `"`
		switch typ {
		case "Clip":
			text += ` clip_param { min: 0 max: 1 }`
		case "Tile":
			text += ` tile_param { tiles: 2 }`
		case "Embed":
			text += ` embed_param { num_output: 2 input_dim: 2 }`
		}
		l := zNew(t, text)
		if l.Type() != typ {
			t.Errorf("layer registered as %q reports type %q", typ, l.Type())
		}
		if _, ok := l.(Arityer); !ok {
			t.Errorf("%s does not bound its blob counts (Arityer)", typ)
		}
	}
}

// zInPlaceMatches runs the layer described by text on a copy of x out of
// place and in place (bottom == top) and checks that the outputs and the
// bottom gradients agree exactly, for top gradient dy.
func zInPlaceMatches(t *testing.T, text string, x *tensor.Blob, dy []float32) {
	t.Helper()
	out := zNew(t, text)
	b1, t1 := []*tensor.Blob{x.Clone()}, zBlobs(1)
	zForward(t, out, b1, t1)
	copy(t1[0].Diff, dy)
	out.Backward(t1, []bool{true}, b1)

	in := zNew(t, text)
	shared := x.Clone()
	b2, t2 := []*tensor.Blob{shared}, []*tensor.Blob{shared}
	zForward(t, in, b2, t2)
	zNear(t, "in-place output", t2[0].Data, f64of(t1[0].Data), 0)
	copy(t2[0].Diff, dy)
	in.Backward(t2, []bool{true}, b2)
	zNear(t, "in-place gradient", b2[0].Diff, f64of(b1[0].Diff), 0)
	for i, p := range in.Params() {
		zNear(t, "in-place param gradient", p.Diff, f64of(out.Params()[i].Diff), 0)
	}
}

// f64of converts to float64.
func f64of(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// zSeq returns n values start, start+step, ...
func zSeq(n int, start, step float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = start + float32(i)*step
	}
	return out
}

// TestZooParamPropagateDown checks that a parameter gradient the net turns
// off is left untouched.
func TestZooParamPropagateDown(t *testing.T) {
	for _, c := range []zooCase{
		{text: `type: "PReLU"`, bottom: func() []*tensor.Blob { return []*tensor.Blob{zGauss(2, 3, 4)} }, ntop: 1},
		{text: `type: "PReLU" prelu_param { channel_shared: true }`, bottom: func() []*tensor.Blob { return []*tensor.Blob{zGauss(2, 3, 4)} }, ntop: 1},
		{text: `type: "Scale" scale_param { bias_term: true }`, bottom: func() []*tensor.Blob { return []*tensor.Blob{zGauss(2, 3, 4)} }, ntop: 1},
		{text: `type: "Scale" scale_param { bias_term: true }`, bottom: func() []*tensor.Blob { return []*tensor.Blob{zGauss(2, 3, 4), zGauss(3)} }, ntop: 1},
		{text: `type: "Bias"`, bottom: func() []*tensor.Blob { return []*tensor.Blob{zGauss(2, 3, 4)} }, ntop: 1},
		{text: `type: "Embed" embed_param { num_output: 3 input_dim: 4 }`, bottom: func() []*tensor.Blob { return []*tensor.Blob{zBlob([]float32{1, 2, 3}, 3)} }, ntop: 1, noGrad: true},
	} {
		for off := range 2 {
			l, bottom, top := c.prepare(t)
			params := l.Params()
			if off >= len(params) {
				continue
			}
			l.(ParamPropagator).SetParamPropagateDown(off, false)
			for _, p := range params {
				clear(p.Diff)
			}
			l.Backward(top, c.propagate(len(bottom)), bottom)
			for i, p := range params {
				touched := false
				for _, v := range p.Diff {
					touched = touched || v != 0
				}
				if touched == (i == off) {
					t.Errorf("%s: param %d gradient touched=%v with param %d turned off", c.text, i, touched, off)
				}
			}
		}
	}
}

// benchLayer times Forward+Backward of a layer on one bottom of the given
// shape.
func benchLayer(b *testing.B, text string, shape ...int) {
	l, err := zTry(pb.Phase_TRAIN, text)
	if err != nil {
		b.Fatal(err)
	}
	bottom, top := []*tensor.Blob{gaussBlob(zRand(), 1, shape...)}, zBlobs(1)
	if err := zSetupErr(l, bottom, top); err != nil {
		b.Fatal(err)
	}
	for i := range top[0].Diff {
		top[0].Diff[i] = 0.01
	}
	prop := []bool{true}
	b.SetBytes(int64(4 * bottom[0].Count()))
	for b.Loop() {
		l.Forward(bottom, top)
		l.Backward(top, prop, bottom)
	}
}

// CaffeNet's norm1: 96 channels of 55 x 55, batch 8.
func BenchmarkLRNAcrossCaffeNet(b *testing.B) {
	benchLayer(b, `type: "LRN" lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 }`, 8, 96, 55, 55)
}

func BenchmarkLRNWithin(b *testing.B) {
	benchLayer(b, `type: "LRN" lrn_param { local_size: 3 alpha: 5e-05 beta: 0.75 norm_region: WITHIN_CHANNEL }`, 100, 32, 16, 16)
}

func BenchmarkBatchNorm(b *testing.B) { benchLayer(b, `type: "BatchNorm"`, 32, 64, 28, 28) }

func BenchmarkScaleBias(b *testing.B) {
	benchLayer(b, `type: "Scale" scale_param { bias_term: true }`, 32, 64, 28, 28)
}

func BenchmarkSigmoid(b *testing.B) { benchLayer(b, `type: "Sigmoid"`, 32, 64, 28, 28) }

func BenchmarkPReLU(b *testing.B) { benchLayer(b, `type: "PReLU"`, 32, 64, 28, 28) }

// The optional interfaces the net relies on.
var (
	_ Loss                 = (*SigmoidCrossEntropyLoss)(nil)
	_ Loss                 = (*EuclideanLoss)(nil)
	_ Loss                 = (*HingeLoss)(nil)
	_ Loss                 = (*ContrastiveLoss)(nil)
	_ Loss                 = (*InfogainLoss)(nil)
	_ Loss                 = (*MultinomialLogisticLoss)(nil)
	_ ForceBackwardAllower = (*SigmoidCrossEntropyLoss)(nil)
	_ ForceBackwardAllower = (*EuclideanLoss)(nil)
	_ ForceBackwardAllower = (*HingeLoss)(nil)
	_ ForceBackwardAllower = (*ContrastiveLoss)(nil)
	_ ForceBackwardAllower = (*InfogainLoss)(nil)
	_ ForceBackwardAllower = (*MultinomialLogisticLoss)(nil)
	_ ForceBackwardAllower = (*Embed)(nil)
	_ ForceBackwardAllower = (*ArgMax)(nil)
	_ Failer               = (*HingeLoss)(nil)
	_ Failer               = (*InfogainLoss)(nil)
	_ Failer               = (*MultinomialLogisticLoss)(nil)
	_ Failer               = (*Embed)(nil)
	_ ParamPropagator      = (*PReLU)(nil)
	_ ParamPropagator      = (*Scale)(nil)
	_ ParamPropagator      = (*Bias)(nil)
	_ ParamPropagator      = (*Embed)(nil)
)

package layers

import (
	"math"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

// bnStats returns the per-channel mean and biased variance of x (N x C x ...).
func bnStats(x *tensor.Blob) (mean, variance []float64) {
	N, C := x.Dim(0), x.Dim(1)
	S := x.Count() / (N * C)
	mean, variance = make([]float64, C), make([]float64, C)
	for c := 0; c < C; c++ {
		var s, ss float64
		for n := 0; n < N; n++ {
			for _, v := range x.Data[(n*C+c)*S : (n*C+c+1)*S] {
				s += float64(v)
				ss += float64(v) * float64(v)
			}
		}
		m := float64(N * S)
		mean[c] = s / m
		variance[c] = ss/m - mean[c]*mean[c]
	}
	return mean, variance
}

// bnRef normalises x with the given statistics.
func bnRef(x *tensor.Blob, mean, variance []float64, eps float64) []float64 {
	N, C := x.Dim(0), x.Dim(1)
	S := x.Count() / (N * C)
	out := make([]float64, x.Count())
	for i, v := range x.Data {
		c := (i / S) % C
		out[i] = (float64(v) - mean[c]) / math.Sqrt(variance[c]+eps)
	}
	return out
}

func TestBatchNormKnownValues(t *testing.T) {
	x := zBlob([]float32{1, 2, 3, 4}, 4, 1)
	top := zBlobs(1)
	l := zNew(t, `type: "BatchNorm" batch_norm_param { eps: 0 }`)
	zForward(t, l, []*tensor.Blob{x}, top)
	// mean 2.5, biased variance 1.25.
	s := math.Sqrt(1.25)
	zNear(t, "bn", top[0].Data, []float64{-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s}, 1e-6)
	p := l.Params()
	zNear(t, "mean sum", p[0].Data, []float64{2.5}, 0)
	zNear(t, "variance sum (unbiased)", p[1].Data, []float64{1.25 * 4 / 3}, 1e-7)
	zNear(t, "scale factor", p[2].Data, []float64{1}, 0)
}

func TestBatchNormTrainNormalises(t *testing.T) {
	x, top := zGauss(5, 2, 3, 4), zBlobs(1)
	for i := range x.Data {
		x.Data[i] = 3*x.Data[i] + float32(i%24)/4 // non-trivial mean and scale
	}
	zForward(t, zNew(t, `type: "BatchNorm"`), []*tensor.Blob{x}, top)
	mean, variance := bnStats(x)
	zNear(t, "bn", top[0].Data, bnRef(x, mean, variance, 1e-5), 1e-5)
	m, v := bnStats(top[0])
	for c := range m {
		if math.Abs(m[c]) > 1e-5 || math.Abs(v[c]-1) > 1e-3 {
			t.Errorf("channel %d: output mean %g variance %g, want 0 and 1", c, m[c], v[c])
		}
	}
}

// Two training iterations, then the TEST phase with the stored statistics.
func TestBatchNormMovingAveragesAndGlobalStats(t *testing.T) {
	const maf = 0.9
	train := zNew(t, `type: "BatchNorm" batch_norm_param { moving_average_fraction: 0.9 }`)
	x1, x2 := zGauss(4, 3, 2, 2), randBlob(zRand(), -1, 5, 4, 3, 2, 2)
	top := zBlobs(1)
	zForward(t, train, []*tensor.Blob{x1}, top)
	train.Forward([]*tensor.Blob{x2}, top)
	m1, v1 := bnStats(x1)
	m2, v2 := bnStats(x2)
	const m = 16.0 // values per channel
	p := train.Params()
	wantMean, wantVar := make([]float64, 3), make([]float64, 3)
	for c := range wantMean {
		wantMean[c] = maf*m1[c] + m2[c]
		wantVar[c] = maf*v1[c]*m/(m-1) + v2[c]*m/(m-1)
	}
	zNear(t, "running mean sum", p[0].Data, wantMean, 1e-5)
	zNear(t, "running variance sum", p[1].Data, wantVar, 1e-5)
	zNear(t, "scale factor", p[2].Data, []float64{maf + 1}, 1e-7)

	// TEST phase: global statistics by default.
	test := zNewPhase(t, pb.Phase_TEST, `type: "BatchNorm"`)
	x3, top3 := zGauss(2, 3, 2, 2), zBlobs(1)
	zSetup(t, test, []*tensor.Blob{x3}, top3)
	for i, b := range test.Params() {
		copy(b.Data, p[i].Data)
	}
	before := append([]float32(nil), test.Params()[0].Data...)
	test.Forward([]*tensor.Blob{x3}, top3)
	gm, gv := make([]float64, 3), make([]float64, 3)
	for c := range gm {
		gm[c] = wantMean[c] / (maf + 1)
		gv[c] = wantVar[c] / (maf + 1)
	}
	zNear(t, "global-stats output", top3[0].Data, bnRef(x3, gm, gv, 1e-5), 1e-5)
	zNear(t, "statistics unchanged in TEST", test.Params()[0].Data, f64of(before), 0)
	// The gradient with global statistics is dy / std.
	for i := range top3[0].Diff {
		top3[0].Diff[i] = float32(i%3) - 1
	}
	test.Backward(top3, []bool{true}, []*tensor.Blob{x3})
	want := make([]float64, x3.Count())
	for i := range want {
		want[i] = float64(top3[0].Diff[i]) / math.Sqrt(gv[(i/4)%3]+1e-5)
	}
	zNear(t, "global-stats gradient", x3.Diff, want, 1e-6)
}

// A zero scale factor (untrained statistics) means mean 0, variance 0.
func TestBatchNormGlobalStatsZeroFactor(t *testing.T) {
	x, top := zGauss(2, 3, 2, 2), zBlobs(1)
	zForward(t, zNewPhase(t, pb.Phase_TEST, `type: "BatchNorm"`), []*tensor.Blob{x}, top)
	zNear(t, "output", top[0].Data, zMap(x.Data, func(v float64) float64 { return v / math.Sqrt(float64(float32(1e-5))) }), 1e-5)
}

func TestBatchNormUseGlobalStatsOverridesPhase(t *testing.T) {
	if l := zNewPhase(t, pb.Phase_TEST, `type: "BatchNorm" batch_norm_param { use_global_stats: false }`).(*BatchNorm); l.UsesGlobalStats() {
		t.Error("use_global_stats: false in TEST uses global statistics")
	}
	if l := zNew(t, `type: "BatchNorm" batch_norm_param { use_global_stats: true }`).(*BatchNorm); !l.UsesGlobalStats() {
		t.Error("use_global_stats: true in TRAIN uses batch statistics")
	}
	if l := zNew(t, `type: "BatchNorm"`).(*BatchNorm); l.UsesGlobalStats() {
		t.Error("TRAIN default uses global statistics")
	}
}

func TestBatchNormGradient(t *testing.T) {
	zCheck(t, zNew(t, `type: "BatchNorm"`), []*tensor.Blob{zGauss(5, 2, 3, 4)}, zBlobs(1), 1e-3, nil)
	// A 2-D bottom (channels on axis 1, no spatial axes).
	zCheck(t, zNew(t, `type: "BatchNorm"`), []*tensor.Blob{zGauss(6, 3)}, zBlobs(1), 1e-3, nil)
}

// hiddenParams hides a layer's parameters from the gradient checker (for
// statistics that are not learned).
type hiddenParams struct{ Layer }

func (hiddenParams) Params() []*tensor.Blob { return nil }

func TestBatchNormGlobalStatsGradient(t *testing.T) {
	l := zNew(t, `type: "BatchNorm" batch_norm_param { use_global_stats: true }`)
	x, top := zGauss(5, 2, 3, 4), zBlobs(1)
	zSetup(t, l, []*tensor.Blob{x}, top)
	p := l.Params()
	copy(p[0].Data, []float32{0.5, -1})
	copy(p[1].Data, []float32{2, 0.25})
	p[2].Data[0] = 1.5
	g := newGradChecker()
	g.threshold = 1e-3
	g.checkAfterSetup(t, hiddenParams{l}, []*tensor.Blob{x}, top, nil)
}

func TestBatchNormInPlace(t *testing.T) {
	zInPlaceMatches(t, `type: "BatchNorm"`, zGauss(5, 2, 3, 4), zSeq(120, -1, 0.02))
}

func TestBatchNormErrors(t *testing.T) {
	zWantNewErr(t, `type: "BatchNorm" param { lr_mult: 1 }`, "lr_mult")
	zWantNewErr(t, `type: "BatchNorm" param { lr_mult: 0 } param { decay_mult: 0 }`, "lr_mult")
	if _, err := zTry(pb.Phase_TRAIN, `type: "BatchNorm" param { lr_mult: 0 } param { lr_mult: 0 } param { lr_mult: 0 }`); err != nil {
		t.Fatalf("lr_mult 0 params: %v", err)
	}
	l := zNew(t, `type: "BatchNorm"`)
	zSetup(t, l, []*tensor.Blob{tensor.New(2, 3, 4)}, zBlobs(1))
	if err := l.Reshape([]*tensor.Blob{tensor.New(2, 5, 4)}, zBlobs(1)); err == nil {
		t.Fatal("Reshape to a different channel count: no error")
	}
}

// Like Caffe, the layer records lr_mult 0 for its statistics.
func TestBatchNormRecordsZeroLrMult(t *testing.T) {
	p := &pb.LayerParameter{}
	if err := prototext.Unmarshal([]byte(`type: "BatchNorm" param { lr_mult: 0 decay_mult: 0 }`), p); err != nil {
		t.Fatal(err)
	}
	if _, err := New(p, NewContext(pb.Phase_TRAIN, 1)); err != nil {
		t.Fatal(err)
	}
	if len(p.Param) != 3 {
		t.Fatalf("%d param specs, want 3", len(p.Param))
	}
	for i, ps := range p.Param {
		if ps.LrMult == nil || ps.GetLrMult() != 0 {
			t.Errorf("param %d: lr_mult %v, want an explicit 0", i, ps.LrMult)
		}
	}
	if p.Param[0].GetDecayMult() != 0 {
		t.Error("the given param spec was replaced")
	}
}

package layers

import (
	"fmt"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

// broadcastRef returns x op p, p broadcast over x's axes [axis, axis + p's
// axes).
func broadcastRef(x, p *tensor.Blob, axis int, op func(a, b float64) float64) []float64 {
	inner := x.CountFrom(axis + p.NumAxes())
	out := make([]float64, x.Count())
	for i, v := range x.Data {
		out[i] = op(float64(v), float64(p.Data[(i/inner)%p.Count()]))
	}
	return out
}

func zMul(a, b float64) float64 { return a * b }
func zAdd(a, b float64) float64 { return a + b }

func TestScaleBottomBroadcast(t *testing.T) {
	for _, c := range []struct {
		text  string
		shape []int
		axis  int
	}{
		{`axis: 0`, []int{2, 3, 4, 5}, 0}, // element-wise
		{`axis: 0`, []int{2, 3}, 0},       // broadcast begin
		{``, []int{3, 4}, 1},              // broadcast middle
		{`axis: -1`, []int{5}, 3},         // broadcast end
		{`axis: 2`, []int{4, 5}, 2},
		{``, nil, 0}, // scalar
	} {
		t.Run(fmt.Sprint(c.shape, c.axis), func(t *testing.T) {
			x, s, top := zGauss(2, 3, 4, 5), gaussBlob(zRand(), 1, c.shape...), zBlobs(1)
			l := zNew(t, `type: "Scale" scale_param { `+c.text+` }`)
			zForward(t, l, []*tensor.Blob{x, s}, top)
			zNear(t, "scale", top[0].Data, broadcastRef(x, s, c.axis, zMul), 1e-7)
			if len(l.Params()) != 0 {
				t.Fatalf("scale from a bottom has %d params, want 0", len(l.Params()))
			}
			zCheck(t, zNew(t, `type: "Scale" scale_param { `+c.text+` }`), []*tensor.Blob{x, s}, zBlobs(1), 1e-3, nil)
		})
	}
}

func TestScaleLearned(t *testing.T) {
	for _, c := range []struct {
		text  string
		shape []int
		axis  int
	}{
		{`filler { type: "gaussian" }`, []int{3}, 1},
		{`num_axes: 2 filler { type: "gaussian" }`, []int{3, 4}, 1},
		{`num_axes: -1 axis: 2 filler { type: "gaussian" }`, []int{4, 5}, 2},
		{`num_axes: 0 filler { type: "gaussian" }`, nil, 0},
		{`axis: 0 num_axes: 4 filler { type: "gaussian" }`, []int{2, 3, 4, 5}, 0},
	} {
		t.Run(c.text, func(t *testing.T) {
			x, top := zGauss(2, 3, 4, 5), zBlobs(1)
			l := zNew(t, `type: "Scale" scale_param { `+c.text+` }`)
			zForward(t, l, []*tensor.Blob{x}, top)
			s := l.Params()[0]
			if !s.ShapeEquals(c.shape...) {
				t.Fatalf("scale shape %s, want %v", s.ShapeString(), c.shape)
			}
			zNear(t, "scale", top[0].Data, broadcastRef(x, s, c.axis, zMul), 1e-7)
			zCheck(t, zNew(t, `type: "Scale" scale_param { `+c.text+` }`), []*tensor.Blob{x}, zBlobs(1), 1e-3, nil)
		})
	}
}

func TestScaleDefaultFillerIsIdentity(t *testing.T) {
	x, top := zGauss(2, 3, 4), zBlobs(1)
	l := zNew(t, `type: "Scale"`)
	zForward(t, l, []*tensor.Blob{x}, top)
	zNear(t, "identity", top[0].Data, f64of(x.Data), 0)
	zNear(t, "scale", l.Params()[0].Data, []float64{1, 1, 1}, 0)
}

func TestScaleWithBias(t *testing.T) {
	x, top := zGauss(2, 3, 4, 5), zBlobs(1)
	text := `type: "Scale" scale_param { bias_term: true filler { type: "gaussian" } bias_filler { type: "gaussian" } }`
	l := zNew(t, text)
	zForward(t, l, []*tensor.Blob{x}, top)
	p := l.Params()
	if len(p) != 2 || !p[0].ShapeEquals(3) || !p[1].ShapeEquals(3) {
		t.Fatalf("params %d, want [scale(3), bias(3)]", len(p))
	}
	want := broadcastRef(x, p[0], 1, zMul)
	for i := range want {
		want[i] = float64(float32(want[i])) + float64(p[1].Data[(i/20)%3])
	}
	zNear(t, "scale+bias", top[0].Data, want, 1e-7)
	zCheck(t, zNew(t, text), []*tensor.Blob{x}, zBlobs(1), 1e-3, nil)

	// Bias with the scale from bottom[1]: params are [bias].
	s := gaussBlob(zRand(), 1, 3, 4)
	l2 := zNew(t, `type: "Scale" scale_param { bias_term: true bias_filler { type: "gaussian" } }`)
	zForward(t, l2, []*tensor.Blob{x, s}, zBlobs(1))
	if p := l2.Params(); len(p) != 1 || !p[0].ShapeEquals(3, 4) {
		t.Fatalf("bias with a bottom scale: %d params, want one of shape 3x4", len(p))
	}
	zCheck(t, zNew(t, `type: "Scale" scale_param { bias_term: true bias_filler { type: "gaussian" } }`), []*tensor.Blob{x, s}, zBlobs(1), 1e-3, nil)
}

// The learned scale's gradient accumulates; a bottom scale's is overwritten.
func TestScaleGradientAccumulation(t *testing.T) {
	x, top := zGauss(2, 3, 4), zBlobs(1)
	l := zNew(t, `type: "Scale" scale_param { bias_term: true }`)
	zForward(t, l, []*tensor.Blob{x}, top)
	copy(top[0].Diff, zSeq(24, -1, 0.1))
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	once := [][]float32{append([]float32(nil), l.Params()[0].Diff...), append([]float32(nil), l.Params()[1].Diff...)}
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	for i, p := range l.Params() {
		want := make([]float64, len(once[i]))
		for j, v := range once[i] {
			want[j] = float64(2 * v)
		}
		zNear(t, "accumulated", p.Diff, want, 1e-6)
	}

	s := gaussBlob(zRand(), 1, 3)
	l2 := zNew(t, `type: "Scale"`)
	zForward(t, l2, []*tensor.Blob{x, s}, top)
	l2.Backward(top, []bool{true, true}, []*tensor.Blob{x, s})
	first := append([]float32(nil), s.Diff...)
	l2.Backward(top, []bool{true, true}, []*tensor.Blob{x, s})
	zNear(t, "bottom scale gradient (overwritten)", s.Diff, f64of(first), 0)
}

func TestScaleInPlace(t *testing.T) {
	zInPlaceMatches(t, `type: "Scale" scale_param { bias_term: true filler { type: "gaussian" } bias_filler { type: "gaussian" } }`, zGauss(2, 3, 4, 5), zSeq(120, -1, 0.02))
}

func TestScaleErrors(t *testing.T) {
	x := zGauss(2, 3, 4, 5)
	zWantErr(t, zNew(t, `type: "Scale"`), []*tensor.Blob{x, tensor.New(4)}, zBlobs(1), "dimension mismatch")
	zWantErr(t, zNew(t, `type: "Scale" scale_param { axis: 2 }`), []*tensor.Blob{x, tensor.New(4, 5, 6)}, zBlobs(1), "extends past")
	zWantErr(t, zNew(t, `type: "Scale" scale_param { axis: 4 }`), []*tensor.Blob{x}, zBlobs(1), "out of range")
	zWantErr(t, zNew(t, `type: "Scale" scale_param { axis: 3 num_axes: 2 }`), []*tensor.Blob{x}, zBlobs(1), "extends past")
	zWantErr(t, zNew(t, `type: "Scale" scale_param { num_axes: -2 }`), []*tensor.Blob{x}, zBlobs(1), "num_axes")
	l := zNew(t, `type: "Scale"`)
	zSetup(t, l, []*tensor.Blob{x}, zBlobs(1))
	if err := l.Reshape([]*tensor.Blob{zGauss(2, 4, 4, 5)}, zBlobs(1)); err == nil {
		t.Fatal("Reshape to a different channel count: no error")
	}
}

func TestScaleKnownValues(t *testing.T) {
	x := zBlob([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	top := zBlobs(1)
	l := zNew(t, `type: "Scale" scale_param { bias_term: true }`)
	zForward(t, l, []*tensor.Blob{x}, top)
	copy(l.Params()[0].Data, []float32{2, 0.5, -1})
	copy(l.Params()[1].Data, []float32{1, 0, 1})
	l.Forward([]*tensor.Blob{x}, top)
	zNear(t, "scale+bias", top[0].Data, []float64{3, 1, -2, 9, 2.5, -5}, 0)
	for i := range top[0].Diff {
		top[0].Diff[i] = 1
	}
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	zNear(t, "bottom gradient", x.Diff, []float64{2, 0.5, -1, 2, 0.5, -1}, 0)
	zNear(t, "scale gradient", l.Params()[0].Diff, []float64{5, 7, 9}, 0)
	zNear(t, "bias gradient", l.Params()[1].Diff, []float64{2, 2, 2}, 0)
}

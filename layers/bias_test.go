package layers

import (
	"fmt"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestBiasBottomBroadcast(t *testing.T) {
	for _, c := range []struct {
		text  string
		shape []int
		axis  int
	}{
		{`axis: 0`, []int{2, 3, 4, 5}, 0},
		{`axis: 0`, []int{2, 3}, 0},
		{``, []int{3, 4}, 1},
		{`axis: -1`, []int{5}, 3},
		{``, nil, 0},
	} {
		t.Run(fmt.Sprint(c.shape, c.axis), func(t *testing.T) {
			x, b, top := zGauss(2, 3, 4, 5), gaussBlob(zRand(), 1, c.shape...), zBlobs(1)
			zForward(t, zNew(t, `type: "Bias" bias_param { `+c.text+` }`), []*tensor.Blob{x, b}, top)
			zNear(t, "bias", top[0].Data, broadcastRef(x, b, c.axis, zAdd), 1e-7)
			zCheck(t, zNew(t, `type: "Bias" bias_param { `+c.text+` }`), []*tensor.Blob{x, b}, zBlobs(1), 1e-3, nil)
		})
	}
}

func TestBiasLearned(t *testing.T) {
	x, top := zGauss(2, 3, 4, 5), zBlobs(1)
	l := zNew(t, `type: "Bias" bias_param { num_axes: 2 filler { type: "gaussian" } }`)
	zForward(t, l, []*tensor.Blob{x}, top)
	b := l.Params()[0]
	if !b.ShapeEquals(3, 4) {
		t.Fatalf("bias shape %s, want 3x4", b.ShapeString())
	}
	zNear(t, "bias", top[0].Data, broadcastRef(x, b, 1, zAdd), 1e-7)
	zCheck(t, zNew(t, `type: "Bias" bias_param { num_axes: 2 filler { type: "gaussian" } }`), []*tensor.Blob{x}, zBlobs(1), 1e-3, nil)
}

func TestBiasKnownValues(t *testing.T) {
	x := zBlob([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	top := zBlobs(1)
	l := zNew(t, `type: "Bias"`)
	zForward(t, l, []*tensor.Blob{x}, top)
	zNear(t, "default bias 0", top[0].Data, f64of(x.Data), 0)
	copy(l.Params()[0].Data, []float32{10, 20, 30})
	l.Forward([]*tensor.Blob{x}, top)
	zNear(t, "bias", top[0].Data, []float64{11, 22, 33, 14, 25, 36}, 0)
	copy(top[0].Diff, []float32{1, 2, 3, 4, 5, 6})
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	zNear(t, "bottom gradient", x.Diff, []float64{1, 2, 3, 4, 5, 6}, 0)
	zNear(t, "bias gradient", l.Params()[0].Diff, []float64{5, 7, 9}, 0)
	l.Backward(top, []bool{false}, []*tensor.Blob{x})
	zNear(t, "bias gradient accumulates", l.Params()[0].Diff, []float64{10, 14, 18}, 0)
}

func TestBiasInPlace(t *testing.T) {
	zInPlaceMatches(t, `type: "Bias" bias_param { filler { type: "gaussian" } }`, zGauss(2, 3, 4, 5), zSeq(120, -1, 0.02))
}

func TestBiasErrors(t *testing.T) {
	x := zGauss(2, 3, 4, 5)
	zWantErr(t, zNew(t, `type: "Bias"`), []*tensor.Blob{x, tensor.New(4)}, zBlobs(1), "dimension mismatch")
	zWantErr(t, zNew(t, `type: "Bias" bias_param { axis: -5 }`), []*tensor.Blob{x}, zBlobs(1), "out of range")
	zWantErr(t, zNew(t, `type: "Bias" bias_param { axis: 3 num_axes: 2 }`), []*tensor.Blob{x}, zBlobs(1), "extends past")
}

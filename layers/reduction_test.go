package layers

import (
	"fmt"
	"math"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestReductionOperations(t *testing.T) {
	x := zGauss(2, 3, 4, 5)
	for _, c := range []struct {
		op    string
		axis  int
		coeff float64
		f     func(row []float32) float64
	}{
		{"SUM", 0, 1, func(r []float32) float64 { return zSum(r, func(v float64) float64 { return v }) }},
		{"SUM", 1, 2.3, func(r []float32) float64 { return zSum(r, func(v float64) float64 { return v }) }},
		{"ASUM", 2, 1, func(r []float32) float64 { return zSum(r, math.Abs) }},
		{"SUMSQ", -1, 0.5, func(r []float32) float64 { return zSum(r, func(v float64) float64 { return v * v }) }},
		{"MEAN", 1, 1, func(r []float32) float64 { return zSum(r, func(v float64) float64 { return v }) / float64(len(r)) }},
		{"MEAN", 3, -2, func(r []float32) float64 { return zSum(r, func(v float64) float64 { return v }) / float64(len(r)) }},
	} {
		text := fmt.Sprintf(`type: "Reduction" reduction_param { operation: %s axis: %d coeff: %g }`, c.op, c.axis, c.coeff)
		t.Run(text, func(t *testing.T) {
			top := zBlobs(1)
			zForward(t, zNew(t, text), []*tensor.Blob{x}, top)
			axis := c.axis
			if axis < 0 {
				axis += 4
			}
			if !top[0].ShapeEquals(x.Shape()[:axis]...) {
				t.Fatalf("top shape %s, want %v", top[0].ShapeString(), x.Shape()[:axis])
			}
			dim := x.CountFrom(axis)
			want := make([]float64, x.Count()/dim)
			for i := range want {
				want[i] = c.coeff * c.f(x.Data[i*dim:(i+1)*dim])
			}
			zNear(t, c.op, top[0].Data, want, 1e-5)
			if c.op == "ASUM" {
				zCheckKink(t, zNew(t, text), []*tensor.Blob{x}, zBlobs(1), 1e-3, 0, 0.01)
			} else {
				zCheck(t, zNew(t, text), []*tensor.Blob{x}, zBlobs(1), 1e-3, nil)
			}
		})
	}
}

func zSum(r []float32, f func(float64) float64) float64 {
	var s float64
	for _, v := range r {
		s += f(float64(v))
	}
	return s
}

func TestReductionKnownValues(t *testing.T) {
	x := zBlob([]float32{1, -2, 3, -4, 5, -6}, 2, 3)
	top := zBlobs(1)
	l := zNew(t, `type: "Reduction" reduction_param { operation: ASUM axis: 1 coeff: 2 }`)
	zForward(t, l, []*tensor.Blob{x}, top)
	zNear(t, "asum", top[0].Data, []float64{12, 30}, 0)
	copy(top[0].Diff, []float32{1, 0.5})
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	zNear(t, "gradient", x.Diff, []float64{2, -2, 2, -1, 1, -1}, 0)
	// Default: SUM over everything to a scalar.
	top = zBlobs(1)
	zForward(t, zNew(t, `type: "Reduction"`), []*tensor.Blob{x}, top)
	if top[0].NumAxes() != 0 || top[0].Data[0] != -3 {
		t.Fatalf("default reduction: shape %s value %g, want scalar -3", top[0].ShapeString(), top[0].Data[0])
	}
}

func TestReductionErrors(t *testing.T) {
	zWantErr(t, zNew(t, `type: "Reduction" reduction_param { axis: 3 }`), []*tensor.Blob{zGauss(2, 3)}, zBlobs(1), "axis")
}

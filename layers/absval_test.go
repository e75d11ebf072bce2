package layers

import (
	"math"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestAbsValKnownValues(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	x := zBlob([]float32{-2, 3, 0, -0.5, negZero, 1e-45, -1e-45}, 7)
	top := zBlobs(1)
	l := zNew(t, `type: "AbsVal"`)
	zForward(t, l, []*tensor.Blob{x}, top)
	zNear(t, "abs", top[0].Data, []float64{2, 3, 0, 0.5, 0, float64(float32(1e-45)), float64(float32(1e-45))}, 0)
	copy(top[0].Diff, []float32{1, 2, 3, 4, 5, -6, -7})
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	zNear(t, "gradient", x.Diff, []float64{-1, 2, 0, -4, 0, -6, 7}, 0)
}

func TestAbsValForwardMatchesFormula(t *testing.T) {
	x, top := zGauss(2, 3, 4, 5), zBlobs(1)
	zForward(t, zNew(t, `type: "AbsVal"`), []*tensor.Blob{x}, top)
	zNear(t, "abs", top[0].Data, zMap(x.Data, math.Abs), 0)
}

func TestAbsValGradient(t *testing.T) {
	zCheckKink(t, zNew(t, `type: "AbsVal"`), []*tensor.Blob{zGauss(2, 3, 4, 5)}, zBlobs(1), 1e-3, 0, 0.01)
}

// In place, the sign must come from the input, which Caffe's layer loses;
// sparknet keeps a copy.
func TestAbsValInPlace(t *testing.T) {
	zInPlaceMatches(t, `type: "AbsVal"`, zGauss(2, 3, 4, 5), zSeq(120, -1, 0.02))
}

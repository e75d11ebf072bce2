package layers

import (
	"math"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestSigmoidKnownValues(t *testing.T) {
	ln3 := float32(math.Log(3))
	x := zBlob([]float32{0, ln3, -ln3, 40, -40}, 5)
	top := zBlobs(1)
	l := zNew(t, `type: "Sigmoid"`)
	zForward(t, l, []*tensor.Blob{x}, top)
	zNear(t, "sigmoid", top[0].Data, []float64{0.5, 0.75, 0.25, 1, 4.248354e-18}, 1e-7)
	copy(top[0].Diff, []float32{1, 1, 2, 1, 1})
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	// s (1 - s) dy.
	zNear(t, "gradient", x.Diff, []float64{0.25, 0.1875, 0.375, 0, 4.248354e-18}, 1e-7)
}

func TestSigmoidForwardMatchesFormula(t *testing.T) {
	x, top := zGauss(2, 3, 4, 5), zBlobs(1)
	zForward(t, zNew(t, `type: "Sigmoid"`), []*tensor.Blob{x}, top)
	zNear(t, "sigmoid", top[0].Data, zMap(x.Data, func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }), 1e-6)
}

func TestSigmoidGradient(t *testing.T) {
	zCheck(t, zNew(t, `type: "Sigmoid"`), []*tensor.Blob{zGauss(2, 3, 4, 5)}, zBlobs(1), 1e-3, nil)
}

func TestSigmoidInPlace(t *testing.T) {
	zInPlaceMatches(t, `type: "Sigmoid"`, zGauss(2, 3, 4, 5), zSeq(120, -1, 0.02))
}

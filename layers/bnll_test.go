package layers

import (
	"math"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestBNLLKnownValues(t *testing.T) {
	x := zBlob([]float32{0, 60, -60, 100}, 4)
	top := zBlobs(1)
	l := zNew(t, `type: "BNLL"`)
	zForward(t, l, []*tensor.Blob{x}, top)
	zNear(t, "bnll", top[0].Data, []float64{math.Ln2, 60, math.Exp(-60), 100}, 1e-7)
	copy(top[0].Diff, []float32{2, 1, 1, 1})
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	// dy e^x / (e^x + 1), with the exponent clamped at 50.
	zNear(t, "gradient", x.Diff, []float64{1, 1, math.Exp(-60), 1}, 1e-7)
}

func TestBNLLForwardMatchesFormula(t *testing.T) {
	x, top := zGauss(2, 3, 4, 5), zBlobs(1)
	zForward(t, zNew(t, `type: "BNLL"`), []*tensor.Blob{x}, top)
	zNear(t, "bnll", top[0].Data, zMap(x.Data, func(v float64) float64 { return math.Log1p(math.Exp(v)) }), 1e-6)
	for i, y := range top[0].Data {
		if y < 0 || y < x.Data[i] {
			t.Fatalf("bnll(%g) = %g: must be >= 0 and >= x", x.Data[i], y)
		}
	}
}

func TestBNLLGradient(t *testing.T) {
	zCheck(t, zNew(t, `type: "BNLL"`), []*tensor.Blob{zGauss(2, 3, 4, 5)}, zBlobs(1), 1e-3, nil)
}

func TestBNLLInPlace(t *testing.T) {
	zInPlaceMatches(t, `type: "BNLL"`, zGauss(2, 3, 4, 5), zSeq(120, -1, 0.02))
}

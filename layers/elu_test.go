package layers

import (
	"math"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestELUKnownValues(t *testing.T) {
	x := zBlob([]float32{1, -1, 0, 2.5}, 4)
	top := zBlobs(1)
	l := zNew(t, `type: "ELU" elu_param { alpha: 0.5 }`)
	zForward(t, l, []*tensor.Blob{x}, top)
	zNear(t, "elu", top[0].Data, []float64{1, 0.5 * (math.Exp(-1) - 1), 0, 2.5}, 1e-7)
	copy(top[0].Diff, []float32{2, 2, 2, 2})
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	// dy (alpha + y) for x <= 0, i.e. dy alpha e^x.
	zNear(t, "gradient", x.Diff, []float64{2, 2 * 0.5 * math.Exp(-1), 1, 2}, 1e-7)
}

func TestELUDefaultAlphaMatchesFormula(t *testing.T) {
	x, top := zGauss(2, 3, 4, 5), zBlobs(1)
	zForward(t, zNew(t, `type: "ELU"`), []*tensor.Blob{x}, top)
	zNear(t, "elu", top[0].Data, zMap(x.Data, func(v float64) float64 {
		if v > 0 {
			return v
		}
		return math.Exp(v) - 1
	}), 1e-6)
}

func TestELUGradient(t *testing.T) {
	zCheckKink(t, zNew(t, `type: "ELU" elu_param { alpha: 0.5 }`), []*tensor.Blob{zGauss(2, 3, 4, 5)}, zBlobs(1), 1e-3, 0, 0.01)
}

func TestELUInPlace(t *testing.T) {
	zInPlaceMatches(t, `type: "ELU" elu_param { alpha: 0.5 }`, zGauss(2, 3, 4, 5), zSeq(120, -1, 0.02))
}

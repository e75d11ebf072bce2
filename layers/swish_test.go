package layers

import (
	"math"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestSwishKnownValues(t *testing.T) {
	x := zBlob([]float32{0, 2, -2}, 3)
	top := zBlobs(1)
	l := zNew(t, `type: "Swish" swish_param { beta: 0.5 }`)
	zForward(t, l, []*tensor.Blob{x}, top)
	s1 := 1 / (1 + math.Exp(-1))
	zNear(t, "swish", top[0].Data, []float64{0, 2 * s1, -2 * (1 - s1)}, 1e-7)
	copy(top[0].Diff, []float32{1, 1, 1})
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	// d/dx x s(bx) = s(bx) + b x s(bx)(1 - s(bx)).
	g := func(x, s float64) float64 { return s + 0.5*x*s*(1-s) }
	zNear(t, "gradient", x.Diff, []float64{0.5, g(2, s1), g(-2, 1-s1)}, 1e-6)
}

func TestSwishMatchesFormula(t *testing.T) {
	x, top := zGauss(2, 3, 4, 5), zBlobs(1)
	zForward(t, zNew(t, `type: "Swish"`), []*tensor.Blob{x}, top)
	zNear(t, "swish", top[0].Data, zMap(x.Data, func(v float64) float64 { return v / (1 + math.Exp(-v)) }), 1e-6)
}

func TestSwishGradient(t *testing.T) {
	zCheck(t, zNew(t, `type: "Swish"`), []*tensor.Blob{zGauss(2, 3, 4, 5)}, zBlobs(1), 1e-3, nil)
	zCheck(t, zNew(t, `type: "Swish" swish_param { beta: 1.5 }`), []*tensor.Blob{zGauss(2, 3, 4, 5)}, zBlobs(1), 1e-3, nil)
}

func TestSwishInPlace(t *testing.T) {
	zInPlaceMatches(t, `type: "Swish" swish_param { beta: 1.5 }`, zGauss(2, 3, 4, 5), zSeq(120, -1, 0.02))
}

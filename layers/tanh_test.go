package layers

import (
	"math"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestTanHKnownValues(t *testing.T) {
	ln2 := float32(math.Log(2))
	x := zBlob([]float32{0, ln2, -ln2}, 3)
	top := zBlobs(1)
	l := zNew(t, `type: "TanH"`)
	zForward(t, l, []*tensor.Blob{x}, top)
	// tanh(ln 2) = (4 - 1) / (4 + 1).
	zNear(t, "tanh", top[0].Data, []float64{0, 0.6, -0.6}, 1e-7)
	copy(top[0].Diff, []float32{1, 2, 1})
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	zNear(t, "gradient", x.Diff, []float64{1, 2 * 0.64, 0.64}, 1e-6)
}

func TestTanHForwardMatchesFormula(t *testing.T) {
	x, top := zGauss(2, 3, 4, 5), zBlobs(1)
	zForward(t, zNew(t, `type: "TanH"`), []*tensor.Blob{x}, top)
	zNear(t, "tanh", top[0].Data, zMap(x.Data, math.Tanh), 1e-6)
}

func TestTanHGradient(t *testing.T) {
	zCheck(t, zNew(t, `type: "TanH"`), []*tensor.Blob{zGauss(2, 3, 4, 5)}, zBlobs(1), 1e-3, nil)
}

func TestTanHInPlace(t *testing.T) {
	zInPlaceMatches(t, `type: "TanH"`, zGauss(2, 3, 4, 5), zSeq(120, -1, 0.02))
}

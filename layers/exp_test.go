package layers

import (
	"fmt"
	"math"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

var expCases = []struct{ base, scale, shift float64 }{
	{-1, 1, 0},
	{-1, 1, 1},
	{-1, 0.5, 0},
	{2, 1, 0},
	{2, 1, 1},
	{2, 0.5, 0},
	{3, 0.5, -2},
}

func TestExpMatchesFormula(t *testing.T) {
	for _, c := range expCases {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			x, top := zGauss(2, 3, 4, 5), zBlobs(1)
			l := zNew(t, fmt.Sprintf(`type: "Exp" exp_param { base: %g scale: %g shift: %g }`, c.base, c.scale, c.shift))
			zForward(t, l, []*tensor.Blob{x}, top)
			base := c.base
			if base == -1 {
				base = math.E
			}
			zNear(t, "exp", top[0].Data, zMap(x.Data, func(v float64) float64 {
				return math.Pow(base, c.shift+c.scale*v)
			}), 1e-5)
		})
	}
}

func TestExpGradient(t *testing.T) {
	for _, c := range expCases {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			l := zNew(t, fmt.Sprintf(`type: "Exp" exp_param { base: %g scale: %g shift: %g }`, c.base, c.scale, c.shift))
			zCheck(t, l, []*tensor.Blob{zGauss(2, 3, 4, 5)}, zBlobs(1), 1e-3, nil)
		})
	}
}

func TestExpKnownValues(t *testing.T) {
	x := zBlob([]float32{0, 1, 2}, 3)
	top := zBlobs(1)
	l := zNew(t, `type: "Exp" exp_param { base: 2 scale: 2 shift: 1 }`)
	zForward(t, l, []*tensor.Blob{x}, top)
	zNear(t, "exp", top[0].Data, []float64{2, 8, 32}, 1e-7)
	copy(top[0].Diff, []float32{1, 1, 1})
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	// y * 2 ln 2.
	zNear(t, "gradient", x.Diff, []float64{4 * math.Ln2, 16 * math.Ln2, 64 * math.Ln2}, 1e-6)
}

func TestExpBadBase(t *testing.T) {
	zWantNewErr(t, `type: "Exp" exp_param { base: 0 }`, "strictly positive")
	zWantNewErr(t, `type: "Exp" exp_param { base: -2 }`, "strictly positive")
}

func TestExpInPlace(t *testing.T) {
	zInPlaceMatches(t, `type: "Exp" exp_param { base: 2 scale: 0.5 shift: 1 }`, zGauss(2, 3, 4, 5), zSeq(120, -1, 0.02))
}

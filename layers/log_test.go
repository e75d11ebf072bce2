package layers

import (
	"fmt"
	"math"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

var logCases = []struct{ base, scale, shift float64 }{
	{-1, 1, 0},
	{-1, 0.5, 1},
	{2, 1, 0},
	{2, 0.5, 1},
	{10, 3, 0.5},
}

// logInput returns inputs with shift + scale x in [0.5, 3].
func logInput(scale, shift float64) *tensor.Blob { return powerInput(scale, shift) }

func TestLogMatchesFormula(t *testing.T) {
	for _, c := range logCases {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			x, top := logInput(c.scale, c.shift), zBlobs(1)
			l := zNew(t, fmt.Sprintf(`type: "Log" log_param { base: %g scale: %g shift: %g }`, c.base, c.scale, c.shift))
			zForward(t, l, []*tensor.Blob{x}, top)
			lb := 1.0
			if c.base != -1 {
				lb = math.Log(c.base)
			}
			zNear(t, "log", top[0].Data, zMap(x.Data, func(v float64) float64 {
				return math.Log(c.shift+c.scale*v) / lb
			}), 1e-5)
		})
	}
}

func TestLogGradient(t *testing.T) {
	for _, c := range logCases {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			l := zNew(t, fmt.Sprintf(`type: "Log" log_param { base: %g scale: %g shift: %g }`, c.base, c.scale, c.shift))
			zCheck(t, l, []*tensor.Blob{logInput(c.scale, c.shift)}, zBlobs(1), 1e-2, nil)
		})
	}
}

func TestLogKnownValues(t *testing.T) {
	x := zBlob([]float32{1, 3, 7}, 3)
	top := zBlobs(1)
	l := zNew(t, `type: "Log" log_param { base: 2 scale: 2 shift: 2 }`)
	zForward(t, l, []*tensor.Blob{x}, top)
	zNear(t, "log2", top[0].Data, []float64{2, 3, 4}, 1e-7)
	copy(top[0].Diff, []float32{1, 1, 1})
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	// scale / ((shift + scale x) ln 2).
	zNear(t, "gradient", x.Diff, []float64{2 / (4 * math.Ln2), 2 / (8 * math.Ln2), 2 / (16 * math.Ln2)}, 1e-6)
}

func TestLogBadBase(t *testing.T) {
	zWantNewErr(t, `type: "Log" log_param { base: -3 }`, "strictly positive")
	zWantNewErr(t, `type: "Log" log_param { base: 1 }`, "not finite")
}

func TestLogInPlace(t *testing.T) {
	zInPlaceMatches(t, `type: "Log" log_param { scale: 0.5 shift: 1 }`, logInput(0.5, 1), zSeq(120, -1, 0.02))
}

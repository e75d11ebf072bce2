package layers

import (
	"math"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestClipKnownValues(t *testing.T) {
	x := zBlob([]float32{-3, -1, 0.5, 2, 5}, 5)
	top := zBlobs(1)
	l := zNew(t, `type: "Clip" clip_param { min: -1 max: 2 }`)
	zForward(t, l, []*tensor.Blob{x}, top)
	zNear(t, "clip", top[0].Data, []float64{-1, -1, 0.5, 2, 2}, 0)
	copy(top[0].Diff, []float32{1, 2, 3, 4, 5})
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	// The gradient passes on [min, max], boundaries included.
	zNear(t, "gradient", x.Diff, []float64{0, 2, 3, 4, 0}, 0)
}

func TestClipGradient(t *testing.T) {
	// Keep the inputs away from both kinks, as Caffe's test does.
	x := zGauss(2, 3, 4, 5)
	for i, v := range x.Data {
		for math.Abs(float64(v)+1) < 0.02 || math.Abs(float64(v)-2) < 0.02 {
			v += 0.05
		}
		x.Data[i] = v
	}
	zCheck(t, zNew(t, `type: "Clip" clip_param { min: -1 max: 2 }`), []*tensor.Blob{x}, zBlobs(1), 1e-3, nil)
}

func TestClipNeedsBounds(t *testing.T) {
	zWantNewErr(t, `type: "Clip" clip_param { min: -1 }`, "required")
	zWantNewErr(t, `type: "Clip"`, "required")
}

func TestClipInPlace(t *testing.T) {
	zInPlaceMatches(t, `type: "Clip" clip_param { min: -0.5 max: 0.5 }`, zGauss(2, 3, 4, 5), zSeq(120, -1, 0.02))
}

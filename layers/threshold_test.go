package layers

import (
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestThresholdKnownValues(t *testing.T) {
	x := zBlob([]float32{0.4, 0.5, 0.6, -3, 9}, 5)
	top := zBlobs(1)
	l := zNew(t, `type: "Threshold" threshold_param { threshold: 0.5 }`)
	zForward(t, l, []*tensor.Blob{x}, top)
	zNear(t, "threshold", top[0].Data, []float64{0, 0, 1, 0, 1}, 0)
	for i := range top[0].Diff {
		top[0].Diff[i] = 1
	}
	for i := range x.Diff {
		x.Diff[i] = 7
	}
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	zNear(t, "gradient", x.Diff, []float64{0, 0, 0, 0, 0}, 0)
}

func TestThresholdDefaultIsZero(t *testing.T) {
	x, top := zGauss(2, 3, 4, 5), zBlobs(1)
	zForward(t, zNew(t, `type: "Threshold"`), []*tensor.Blob{x}, top)
	zNear(t, "threshold", top[0].Data, zMap(x.Data, func(v float64) float64 {
		if v > 0 {
			return 1
		}
		return 0
	}), 0)
}

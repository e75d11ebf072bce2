package layers

import (
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestSilence(t *testing.T) {
	a, b := zGauss(2, 3), zGauss(4)
	for i := range a.Diff {
		a.Diff[i] = 1
	}
	for i := range b.Diff {
		b.Diff[i] = 1
	}
	l := zNew(t, `type: "Silence"`)
	zForward(t, l, []*tensor.Blob{a, b}, nil)
	l.Backward(nil, []bool{true, false}, []*tensor.Blob{a, b})
	zNear(t, "silenced gradient", a.Diff, make([]float64, 6), 0)
	zNear(t, "untouched gradient", b.Diff, []float64{1, 1, 1, 1}, 0)
	zWantErr(t, zNew(t, `type: "Silence"`), nil, nil, "at least 1 bottom")
	zWantErr(t, zNew(t, `type: "Silence"`), []*tensor.Blob{a}, zBlobs(1), "exactly 0 top")
}

package layers

import (
	"errors"
	"math"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

// hingeRef is Caffe's one-vs-all hinge loss in float64.
func hingeRef(x, labels []float32, dim int, p float64) float64 {
	var loss float64
	for i, v := range x {
		t := -1.0
		if int(labels[i/dim]) == i%dim {
			t = 1
		}
		loss += math.Pow(math.Max(0, 1-t*float64(v)), p)
	}
	return loss / float64(len(x)/dim)
}

func hingeInputs() (*tensor.Blob, *tensor.Blob) {
	x := zGauss(10, 5)
	for i, v := range x.Data {
		x.Data[i] = 2 * v
		// Stay away from the kinks at +-1.
		for math.Abs(math.Abs(float64(x.Data[i]))-1) < 0.02 {
			x.Data[i] += 0.05
		}
	}
	labels := tensor.New(10)
	for i := range labels.Data {
		labels.Data[i] = float32((i * 3) % 5)
	}
	return x, labels
}

func TestHingeLossKnownValues(t *testing.T) {
	x, lab := zBlob([]float32{2, 0.5, -3}, 1, 3), zBlob([]float32{0}, 1)
	for _, c := range []struct {
		norm string
		loss float64
		grad []float64
	}{
		{"L1", 1.5, []float64{0, 2, 0}},
		{"L2", 2.25, []float64{0, 6, 0}},
	} {
		top := zBlobs(1)
		l := zNew(t, `type: "HingeLoss" hinge_loss_param { norm: `+c.norm+` }`)
		zForward(t, l, []*tensor.Blob{x, lab}, top)
		zNear(t, c.norm+" loss", top[0].Data, []float64{c.loss}, 0)
		top[0].Diff[0] = 2
		l.Backward(top, []bool{true, false}, []*tensor.Blob{x, lab})
		zNear(t, c.norm+" gradient", x.Diff, c.grad, 0)
	}
}

func TestHingeLossMatchesReference(t *testing.T) {
	x, lab := hingeInputs()
	for norm, p := range map[string]float64{"L1": 1, "L2": 2} {
		top := zBlobs(1)
		zForward(t, zNew(t, `type: "HingeLoss" hinge_loss_param { norm: `+norm+` }`), []*tensor.Blob{x, lab}, top)
		zNear(t, norm, top[0].Data, []float64{hingeRef(x.Data, lab.Data, 5, p)}, 1e-6)
	}
}

func TestHingeLossGradient(t *testing.T) {
	x, lab := hingeInputs()
	zCheck(t, zNew(t, `type: "HingeLoss"`), []*tensor.Blob{x, lab}, zBlobs(1), 2e-3, []bool{true, false})
	zCheck(t, zNew(t, `type: "HingeLoss" hinge_loss_param { norm: L2 }`), []*tensor.Blob{x, lab}, zBlobs(1), 2e-3, []bool{true, false})
}

func TestHingeLossBadLabel(t *testing.T) {
	x, lab := zGauss(2, 3), zBlob([]float32{1, 3}, 2)
	l := zNew(t, `type: "HingeLoss"`)
	zForward(t, l, []*tensor.Blob{x, lab}, zBlobs(1))
	if err := l.(interface{ Err() error }).Err(); !errors.Is(err, errBadIndex) {
		t.Fatalf("Err() = %v, want a label-out-of-range error", err)
	}
	lab.Data[1] = 2
	zForward(t, l, []*tensor.Blob{x, lab}, zBlobs(1))
	if err := l.(interface{ Err() error }).Err(); err != nil {
		t.Fatalf("Err() after valid labels = %v", err)
	}
}

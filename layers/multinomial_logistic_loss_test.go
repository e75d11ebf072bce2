package layers

import (
	"errors"
	"math"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func mllInputs() (*tensor.Blob, *tensor.Blob) {
	p := randBlob(zRand(), 0.05, 1, 10, 5, 1, 1)
	lab := tensor.New(10, 1, 1, 1)
	for i := range lab.Data {
		lab.Data[i] = float32((i * 3) % 5)
	}
	return p, lab
}

func TestMultinomialLogisticLossKnownValues(t *testing.T) {
	p, lab := zBlob([]float32{0.5, 0.5, 0.25, 0.75, 0, 1}, 3, 2), zBlob([]float32{0, 1, 0}, 3, 1, 1, 1)
	top := zBlobs(1)
	l := zNew(t, `type: "MultinomialLogisticLoss"`)
	zForward(t, l, []*tensor.Blob{p, lab}, top)
	// A zero probability is clamped at 1e-20.
	zNear(t, "loss", top[0].Data, []float64{(math.Ln2 + math.Log(4.0/3) - math.Log(1e-20)) / 3}, 1e-6)
	top[0].Diff[0] = 3
	l.Backward(top, []bool{true, false}, []*tensor.Blob{p, lab})
	zNear(t, "gradient", p.Diff, []float64{-2, 0, 0, -1 / 0.75, float64(float32(-1 / 1e-20)), 0}, 1e-6)
}

func TestMultinomialLogisticLossMatchesReference(t *testing.T) {
	p, lab := mllInputs()
	top := zBlobs(1)
	zForward(t, zNew(t, `type: "MultinomialLogisticLoss"`), []*tensor.Blob{p, lab}, top)
	var want float64
	for n := 0; n < 10; n++ {
		want -= math.Log(float64(p.Data[n*5+int(lab.Data[n])]))
	}
	zNear(t, "loss", top[0].Data, []float64{want / 10}, 1e-6)
}

func TestMultinomialLogisticLossGradient(t *testing.T) {
	p, lab := mllInputs()
	zCheck(t, zNew(t, `type: "MultinomialLogisticLoss"`), []*tensor.Blob{p, lab}, zBlobs(1), 2e-2, []bool{true, false})
}

func TestMultinomialLogisticLossErrors(t *testing.T) {
	zWantErr(t, zNew(t, `type: "MultinomialLogisticLoss"`), []*tensor.Blob{tensor.New(4, 3), tensor.New(4, 2)}, zBlobs(1), "N x 1 x 1 x 1")
	p, lab := mllInputs()
	lab.Data[2] = -1
	l := zNew(t, `type: "MultinomialLogisticLoss"`)
	zForward(t, l, []*tensor.Blob{p, lab}, zBlobs(1))
	if err := l.(interface{ Err() error }).Err(); !errors.Is(err, errBadIndex) {
		t.Fatalf("Err() = %v, want a label-out-of-range error", err)
	}
}

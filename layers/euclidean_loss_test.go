package layers

import (
	"math/rand/v2"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestEuclideanLossKnownValues(t *testing.T) {
	a, b := zBlob([]float32{1, 2, 3, 4}, 2, 2), zBlob([]float32{0, 2, 5, 4}, 2, 2)
	top := zBlobs(1)
	l := zNew(t, `type: "EuclideanLoss"`)
	zForward(t, l, []*tensor.Blob{a, b}, top)
	zNear(t, "loss", top[0].Data, []float64{(1 + 4) / 4.0}, 0)
	top[0].Diff[0] = 3
	l.Backward(top, []bool{true, true}, []*tensor.Blob{a, b})
	zNear(t, "grad a", a.Diff, []float64{1.5, 0, -3, 0}, 0)
	zNear(t, "grad b", b.Diff, []float64{-1.5, 0, 3, 0}, 0)
}

func TestEuclideanLossGradient(t *testing.T) {
	a, b := zGauss(10, 5, 1, 1), gaussBlob(rand.New(rand.NewPCG(4, 4)), 1, 10, 5)
	zCheck(t, zNew(t, `type: "EuclideanLoss"`), []*tensor.Blob{a, b}, zBlobs(1), 1e-2, nil)
	l := zNew(t, `type: "EuclideanLoss"`)
	if !l.(ForceBackwardAllower).AllowForceBackward(1) {
		t.Fatal("EuclideanLoss must allow gradients to both bottoms")
	}
}

func TestEuclideanLossErrors(t *testing.T) {
	zWantErr(t, zNew(t, `type: "EuclideanLoss"`), []*tensor.Blob{tensor.New(2, 3), tensor.New(2, 4)}, zBlobs(1), "same dimension")
	zWantErr(t, zNew(t, `type: "EuclideanLoss"`), []*tensor.Blob{tensor.New(2, 3), tensor.New(3, 2)}, zBlobs(1), "first dimension")
	zWantErr(t, zNew(t, `type: "EuclideanLoss"`), []*tensor.Blob{tensor.New(2, 3)}, zBlobs(1), "2 bottom")
}

package layers

import (
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func TestReLUKnownValues(t *testing.T) {
	x := blobOf([]float32{-2, -0.5, 0, 0.5, 3}, 5)
	top := blobs(1)
	coreForward(t, coreLayer(t, pb.Phase_TEST, `name: "r" type: "ReLU"`), []*tensor.Blob{x}, top)
	assertClose(t, "relu", top[0].Data, []float64{0, 0, 0, 0.5, 3}, 0)
	coreForward(t, coreLayer(t, pb.Phase_TEST, `name: "r" type: "ReLU" relu_param { negative_slope: 0.1 }`), []*tensor.Blob{x}, top)
	assertClose(t, "leaky relu", top[0].Data, []float64{-0.2, -0.05, 0, 0.5, 3}, 1e-7)
}

func TestReLUInPlaceBackward(t *testing.T) {
	l := coreLayer(t, pb.Phase_TRAIN, `name: "r" type: "ReLU" relu_param { negative_slope: 0.25 }`)
	x := blobOf([]float32{-2, 1, -1, 4}, 4)
	coreForward(t, l, []*tensor.Blob{x}, []*tensor.Blob{x})
	copy(x.Diff, []float32{1, 2, 3, 4})
	l.Backward([]*tensor.Blob{x}, []bool{true}, []*tensor.Blob{x})
	assertClose(t, "in-place relu", x.Data, []float64{-0.5, 1, -0.25, 4}, 0)
	assertClose(t, "in-place relu diff", x.Diff, []float64{0.25, 2, 0.75, 4}, 0)
}

func TestReLUGradient(t *testing.T) {
	for _, p := range []string{``, `relu_param { negative_slope: 0.01 }`} {
		g := newGradChecker()
		g.kink, g.kinkRange = 0, 0.02
		l := coreLayer(t, pb.Phase_TRAIN, `name: "r" type: "ReLU" `+p)
		g.check(t, l, []*tensor.Blob{gaussBlob(coreRand(), 1, 2, 3, 4, 5)}, blobs(1), nil)
	}
	// A large blob runs the parallel path: compare with the scalar rule.
	x := gaussBlob(coreRand(), 1, 300, 1000)
	top := blobs(1)
	coreForward(t, coreLayer(t, pb.Phase_TEST, `name: "r" type: "ReLU"`), []*tensor.Blob{x}, top)
	for i, v := range x.Data {
		if want := max(v, 0); top[0].Data[i] != want {
			t.Fatalf("relu[%d] = %g, want %g", i, top[0].Data[i], want)
		}
	}
}

package layers

import (
	"math"
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

// refSoftmax is a float64 softmax along axis 1 of an [outer, ch, inner] view.
func refSoftmax(x []float32, outer, ch, inner int) []float64 {
	y := make([]float64, len(x))
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			m := math.Inf(-1)
			for c := 0; c < ch; c++ {
				m = math.Max(m, float64(x[(o*ch+c)*inner+j]))
			}
			s := 0.0
			for c := 0; c < ch; c++ {
				s += math.Exp(float64(x[(o*ch+c)*inner+j]) - m)
			}
			for c := 0; c < ch; c++ {
				y[(o*ch+c)*inner+j] = math.Exp(float64(x[(o*ch+c)*inner+j])-m) / s
			}
		}
	}
	return y
}

func TestSoftmaxKnownValues(t *testing.T) {
	x := blobOf([]float32{0, float32(math.Log(3)), 1000, 1000}, 2, 2)
	top := blobs(1)
	coreForward(t, coreLayer(t, pb.Phase_TEST, `name: "s" type: "Softmax"`), []*tensor.Blob{x}, top)
	assertClose(t, "softmax", top[0].Data, []float64{0.25, 0.75, 0.5, 0.5}, 1e-6)
}

func TestSoftmaxAxes(t *testing.T) {
	x := gaussBlob(coreRand(), 2, 2, 3, 4, 5)
	for _, c := range []struct {
		axis             string
		outer, ch, inner int
	}{{"1", 2, 3, 20}, {"2", 6, 4, 5}, {"-1", 24, 5, 1}, {"0", 1, 2, 60}} {
		top := blobs(1)
		coreForward(t, coreLayer(t, pb.Phase_TEST, `name: "s" type: "Softmax" softmax_param { axis: `+c.axis+` }`), []*tensor.Blob{x}, top)
		assertClose(t, "softmax axis "+c.axis, top[0].Data, refSoftmax(x.Data, c.outer, c.ch, c.inner), 1e-6)
	}
}

func TestSoftmaxGradient(t *testing.T) {
	for _, axis := range []string{"1", "2"} {
		l := coreLayer(t, pb.Phase_TRAIN, `name: "s" type: "Softmax" softmax_param { axis: `+axis+` }`)
		newGradChecker().check(t, l, []*tensor.Blob{gaussBlob(coreRand(), 1, 2, 4, 3)}, blobs(1), nil)
	}
}

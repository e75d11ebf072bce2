package layers

import (
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func TestConcatKnownValues(t *testing.T) {
	a := blobOf([]float32{1, 2, 3, 4}, 2, 1, 2)
	b := blobOf([]float32{5, 6, 7, 8, 9, 10, 11, 12}, 2, 2, 2)
	top := blobs(1)
	coreForward(t, coreLayer(t, pb.Phase_TEST, `name: "c" type: "Concat"`), []*tensor.Blob{a, b}, top)
	if !top[0].ShapeEquals(2, 3, 2) {
		t.Fatalf("shape %v, want 2x3x2", top[0].Shape())
	}
	assertClose(t, "axis 1", top[0].Data, []float64{1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12}, 0)

	c := blobOf([]float32{1, 2, 3, 4}, 2, 2, 1)
	coreForward(t, coreLayer(t, pb.Phase_TEST, `name: "c" type: "Concat" concat_param { axis: -1 }`), []*tensor.Blob{c, c}, top)
	assertClose(t, "axis -1", top[0].Data, []float64{1, 1, 2, 2, 3, 3, 4, 4}, 0)

	coreForward(t, coreLayer(t, pb.Phase_TEST, `name: "c" type: "Concat" concat_param { concat_dim: 0 }`), []*tensor.Blob{a, a}, top)
	if !top[0].ShapeEquals(4, 1, 2) {
		t.Errorf("concat_dim 0: shape %v, want 4x1x2", top[0].Shape())
	}
	l := coreLayer(t, pb.Phase_TEST, `name: "c" type: "Concat"`)
	if err := l.Reshape([]*tensor.Blob{a, tensor.New(3, 1, 2)}, top); err == nil {
		t.Error("mismatched shapes off the axis: want an error")
	}
	if _, err := newFromText(`name: "c" type: "Concat" concat_param { axis: 1 concat_dim: 1 }`); err == nil {
		t.Error("axis and concat_dim: want an error")
	}
}

func TestConcatGradient(t *testing.T) {
	r := coreRand()
	for _, axis := range []string{"0", "1", "2"} {
		x1 := gaussBlob(r, 1, 2, 3, 2)
		x2 := gaussBlob(r, 1, 2, 3, 2)
		newGradChecker().check(t, coreLayer(t, pb.Phase_TRAIN, `name: "c" type: "Concat" concat_param { axis: `+axis+` }`),
			[]*tensor.Blob{x1, x2}, blobs(1), nil)
	}
}

package layers

import (
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func TestAccuracyTopK(t *testing.T) {
	x := blobOf([]float32{
		0.1, 0.5, 0.4, // label 1: top-1 hit
		0.6, 0.3, 0.1, // label 1: top-2 hit only
		0.2, 0.2, 0.6, // label 0: tie with class 1 at rank 2: counts against
		0.1, 0.2, 0.7, // label 2: hit
	}, 4, 3)
	labels := blobOf([]float32{1, 1, 0, 2}, 4)
	for _, c := range []struct {
		param string
		want  float64
	}{
		{``, 0.5},
		{`accuracy_param { top_k: 2 }`, 0.75},
		{`accuracy_param { top_k: 3 }`, 1},
		{`accuracy_param { ignore_label: 0 }`, 2.0 / 3},
	} {
		top := blobs(1)
		coreForward(t, coreLayer(t, pb.Phase_TEST, `name: "a" type: "Accuracy" `+c.param), []*tensor.Blob{x, labels}, top)
		assertClose(t, "accuracy "+c.param, top[0].Data, []float64{c.want}, 1e-6)
	}
	// Per-class accuracy: class 0 0/1, class 1 1/2, class 2 1/1.
	top := blobs(2)
	coreForward(t, coreLayer(t, pb.Phase_TEST, `name: "a" type: "Accuracy"`), []*tensor.Blob{x, labels}, top)
	assertClose(t, "per class", top[1].Data, []float64{0, 0.5, 1}, 1e-6)
}

func TestAccuracyAxis(t *testing.T) {
	// Scores 1 x 3 classes x 2 positions along axis 1.
	x := blobOf([]float32{0.1, 0.9, 0.8, 0.05, 0.1, 0.05}, 1, 3, 2)
	labels := blobOf([]float32{1, 0}, 1, 2)
	top := blobs(1)
	coreForward(t, coreLayer(t, pb.Phase_TEST, `name: "a" type: "Accuracy"`), []*tensor.Blob{x, labels}, top)
	assertClose(t, "accuracy", top[0].Data, []float64{1}, 0)
	l := coreLayer(t, pb.Phase_TEST, `name: "a" type: "Accuracy" accuracy_param { top_k: 4 }`)
	if err := l.Reshape([]*tensor.Blob{x, labels}, top); err == nil {
		t.Error("top_k above the number of classes: want an error")
	}
}

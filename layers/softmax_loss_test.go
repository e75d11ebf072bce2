package layers

import (
	"math"
	"strings"
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func TestSoftmaxWithLossKnownValue(t *testing.T) {
	// Probabilities 1/4, 3/4; labels 1 and 0.
	x := blobOf([]float32{0, float32(math.Log(3)), 0, float32(math.Log(3))}, 2, 2)
	labels := blobOf([]float32{1, 0}, 2)
	l := coreLayer(t, pb.Phase_TRAIN, `name: "loss" type: "SoftmaxWithLoss"`)
	top := blobs(2)
	coreForward(t, l, []*tensor.Blob{x, labels}, top)
	want := (-math.Log(0.75) - math.Log(0.25)) / 2
	assertClose(t, "loss", top[0].Data, []float64{want}, 1e-6)
	assertClose(t, "prob", top[1].Data, []float64{0.25, 0.75, 0.25, 0.75}, 1e-6)
	if !l.(Loss).IsLoss() {
		t.Error("SoftmaxWithLoss is not a Loss")
	}
	// Backward with loss weight 2: 2*(p - onehot)/2.
	top[0].Diff[0] = 2
	l.Backward(top, []bool{true, false}, []*tensor.Blob{x, labels})
	assertClose(t, "diff", x.Diff, []float64{0.25, -0.25, -0.75, 0.75}, 1e-6)
}

func TestSoftmaxWithLossNormalization(t *testing.T) {
	// Predictions 2 x 4 classes x 3 positions; label 2 at two positions is ignored.
	x := gaussBlob(coreRand(), 1, 2, 4, 3)
	labels := blobOf([]float32{0, 2, 3, 1, 2, 1}, 2, 3)
	prob := refSoftmax(x.Data, 2, 4, 3)
	var sum float64
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			lab := int(labels.Data[i*3+j])
			if lab != 2 {
				sum -= math.Log(prob[(i*4+lab)*3+j])
			}
		}
	}
	cases := []struct {
		param string
		norm  float64
	}{
		{`normalization: FULL`, 6},
		{`normalization: VALID`, 4},
		{``, 4},
		{`normalization: BATCH_SIZE`, 2},
		{`normalization: NONE`, 1},
		{`normalize: true`, 4},
		{`normalize: false`, 2},
	}
	for _, c := range cases {
		t.Run(c.param, func(t *testing.T) {
			l := coreLayer(t, pb.Phase_TRAIN, `name: "loss" type: "SoftmaxWithLoss" loss_param { ignore_label: 2 `+c.param+` }`)
			top := blobs(1)
			coreForward(t, l, []*tensor.Blob{x, labels}, top)
			assertClose(t, "loss", top[0].Data, []float64{sum / c.norm}, 1e-5)
			top[0].Diff[0] = 1
			l.Backward(top, []bool{true, false}, []*tensor.Blob{x, labels})
			for i := 0; i < 2; i++ {
				for j := 0; j < 3; j++ {
					lab := int(labels.Data[i*3+j])
					for ch := 0; ch < 4; ch++ {
						want := 0.0
						if lab != 2 {
							want = prob[(i*4+ch)*3+j]
							if ch == lab {
								want--
							}
							want /= c.norm
						}
						if got := x.Diff[(i*4+ch)*3+j]; math.Abs(float64(got)-want) > 1e-6 {
							t.Fatalf("diff[%d][%d][%d] = %g, want %g", i, ch, j, got, want)
						}
					}
				}
			}
		})
	}
}

func TestSoftmaxWithLossGradient(t *testing.T) {
	for _, p := range []string{``, `loss_param { ignore_label: 1 normalization: FULL }`, `softmax_param { axis: 2 }`} {
		l := coreLayer(t, pb.Phase_TRAIN, `name: "loss" type: "SoftmaxWithLoss" `+p)
		x := gaussBlob(coreRand(), 1, 2, 3, 4)
		labels := tensor.New(2, 4)
		if p == `softmax_param { axis: 2 }` {
			labels = tensor.New(2, 3)
		}
		for i := range labels.Data {
			labels.Data[i] = float32(i % 3)
		}
		newGradChecker().check(t, l, []*tensor.Blob{x, labels}, blobs(1), []bool{true, false})
	}
}

func TestSoftmaxWithLossBadLabel(t *testing.T) {
	l := coreLayer(t, pb.Phase_TRAIN, `name: "loss" type: "SoftmaxWithLoss"`)
	coreForward(t, l, []*tensor.Blob{tensor.New(2, 3), blobOf([]float32{1, 3}, 2)}, blobs(1))
	if err := l.(Failer).Err(); err == nil || !strings.Contains(err.Error(), "label 3") {
		t.Errorf("label 3 of 3 classes: err %v, want one naming the label", err)
	}
	top := blobs(1)
	if err := l.Reshape([]*tensor.Blob{tensor.New(2, 3), tensor.New(3)}, top); err == nil {
		t.Error("3 labels for 2 predictions: want an error")
	}
}

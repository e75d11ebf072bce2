package layers

import (
	"math"
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func TestDropoutTrain(t *testing.T) {
	l := coreLayer(t, pb.Phase_TRAIN, `name: "d" type: "Dropout" dropout_param { dropout_ratio: 0.3 }`)
	x := tensor.New(100, 1000)
	for i := range x.Data {
		x.Data[i] = 1
	}
	top := blobs(1)
	coreForward(t, l, []*tensor.Blob{x}, top)
	kept := 0
	scale := float32(1 / 0.7)
	for _, v := range top[0].Data {
		switch v {
		case 0:
		case scale:
			kept++
		default:
			t.Fatalf("dropout output %g, want 0 or %g", v, scale)
		}
	}
	if f := float64(kept) / 1e5; math.Abs(f-0.7) > 0.01 {
		t.Errorf("kept %g of the values, want 0.7", f)
	}
	for i := range top[0].Diff {
		top[0].Diff[i] = 2
	}
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	for i, v := range x.Diff {
		if v != 2*top[0].Data[i] {
			t.Fatalf("dropout diff %g where output %g", v, top[0].Data[i])
		}
	}
}

func TestDropoutTest(t *testing.T) {
	l := coreLayer(t, pb.Phase_TEST, `name: "d" type: "Dropout" dropout_param { dropout_ratio: 0.5 }`)
	x := gaussBlob(coreRand(), 1, 3, 4)
	top := blobs(1)
	coreForward(t, l, []*tensor.Blob{x}, top)
	assertClose(t, "dropout TEST", top[0].Data, f64(x.Data), 0)
	if _, err := newFromText(`name: "d" type: "Dropout" dropout_param { dropout_ratio: 1 }`); err == nil {
		t.Error("dropout_ratio 1: want an error")
	}
}

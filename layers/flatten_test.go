package layers

import (
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func TestFlatten(t *testing.T) {
	x := gaussBlob(coreRand(), 1, 2, 3, 4, 5)
	for _, c := range []struct {
		param string
		want  []int
	}{
		{``, []int{2, 60}},
		{`flatten_param { axis: 2 }`, []int{2, 3, 20}},
		{`flatten_param { axis: 1 end_axis: 2 }`, []int{2, 12, 5}},
		{`flatten_param { axis: 0 end_axis: -2 }`, []int{24, 5}},
	} {
		top := blobs(1)
		l := coreLayer(t, pb.Phase_TRAIN, `name: "f" type: "Flatten" `+c.param)
		coreForward(t, l, []*tensor.Blob{x}, top)
		if !top[0].ShapeEquals(c.want...) {
			t.Errorf("%s: shape %v, want %v", c.param, top[0].Shape(), c.want)
		}
		assertClose(t, "flatten", top[0].Data, f64(x.Data), 0)
		top[0].Diff[3] = 7
		l.Backward(top, []bool{true}, []*tensor.Blob{x})
		if x.Diff[3] != 7 {
			t.Error("flatten does not pass the gradient through")
		}
	}
}

package layers

import (
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func TestReshape(t *testing.T) {
	x := gaussBlob(coreRand(), 1, 2, 3, 4, 5)
	for _, c := range []struct {
		param string
		want  []int
	}{
		{`shape { dim: 0 dim: -1 }`, []int{2, 60}},
		{`shape { dim: 6 dim: 20 }`, []int{6, 20}},
		{`shape { dim: 0 dim: 0 dim: 2 dim: -1 }`, []int{2, 3, 2, 10}},
		{`axis: 1 num_axes: 2 shape { dim: -1 }`, []int{2, 12, 5}},
		{`axis: -1 shape { dim: 1 }`, []int{2, 3, 4, 5, 1}},
		{`axis: 0 num_axes: 0 shape { dim: 1 }`, []int{1, 2, 3, 4, 5}},
	} {
		top := blobs(1)
		l := coreLayer(t, pb.Phase_TRAIN, `name: "r" type: "Reshape" reshape_param { `+c.param+` }`)
		coreForward(t, l, []*tensor.Blob{x}, top)
		if !top[0].ShapeEquals(c.want...) {
			t.Errorf("%s: shape %v, want %v", c.param, top[0].Shape(), c.want)
		}
		assertClose(t, "reshape", top[0].Data, f64(x.Data), 0)
	}
	for _, bad := range []string{
		`shape { dim: -1 dim: -1 }`,
		`shape { dim: 7 dim: -1 }`,
		`shape { dim: 5 }`,
		`axis: 1 shape { dim: 0 dim: 0 dim: 0 dim: 0 dim: 0 }`,
	} {
		l, err := newFromText(`name: "r" type: "Reshape" reshape_param { ` + bad + ` }`)
		if err == nil {
			err = l.Reshape([]*tensor.Blob{x}, blobs(1))
		}
		if err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

package layers

import (
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func TestSplit(t *testing.T) {
	l := coreLayer(t, pb.Phase_TRAIN, `name: "s" type: "Split"`)
	x := gaussBlob(coreRand(), 1, 2, 3)
	top := blobs(3)
	coreForward(t, l, []*tensor.Blob{x}, top)
	for i, tp := range top {
		assertClose(t, "split top", tp.Data, f64(x.Data), 0)
		for j := range tp.Diff {
			tp.Diff[j] = float32(i + 1)
		}
	}
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	for _, v := range x.Diff {
		if v != 6 {
			t.Fatalf("split bottom diff %g, want 1+2+3", v)
		}
	}
	newGradChecker().check(t, coreLayer(t, pb.Phase_TRAIN, `name: "s" type: "Split"`), []*tensor.Blob{gaussBlob(coreRand(), 1, 2, 3)}, blobs(2), nil)
}

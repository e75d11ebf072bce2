package layers

import (
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

// cropRef copies the region of x at offsets with the given shape.
func cropRef(x *tensor.Blob, offsets, shape []int) []float64 {
	out := []float64{}
	idx := make([]int, len(shape))
	for {
		src := make([]int, len(shape))
		for i := range idx {
			src[i] = idx[i] + offsets[i]
		}
		out = append(out, float64(x.Data[x.Offset(src...)]))
		i := len(shape) - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return out
		}
	}
}

func TestCropShapesAndValues(t *testing.T) {
	x := zGauss(2, 4, 5, 6)
	for _, c := range []struct {
		text    string
		ref     []int
		offsets []int
		shape   []int
	}{
		{``, []int{1, 1, 3, 4}, []int{0, 0, 0, 0}, []int{2, 4, 3, 4}},
		{`offset: 1`, []int{1, 1, 3, 4}, []int{0, 0, 1, 1}, []int{2, 4, 3, 4}},
		{`offset: 1 offset: 2`, []int{1, 1, 3, 4}, []int{0, 0, 1, 2}, []int{2, 4, 3, 4}},
		{`axis: 1 offset: 0 offset: 1 offset: 2`, []int{1, 2, 3, 4}, []int{0, 0, 1, 2}, []int{2, 2, 3, 4}},
		{`axis: 0 offset: 1 offset: 2 offset: 1 offset: 0`, []int{1, 2, 3, 4}, []int{1, 2, 1, 0}, []int{1, 2, 3, 4}},
		{`axis: -1 offset: 2`, []int{9, 9, 9, 3}, []int{0, 0, 0, 2}, []int{2, 4, 5, 3}},
	} {
		t.Run(c.text, func(t *testing.T) {
			top := zBlobs(1)
			zForward(t, zNew(t, `type: "Crop" crop_param { `+c.text+` }`), []*tensor.Blob{x, tensor.New(c.ref...)}, top)
			if !top[0].ShapeEquals(c.shape...) {
				t.Fatalf("top shape %s, want %v", top[0].ShapeString(), c.shape)
			}
			zNear(t, "crop", top[0].Data, cropRef(x, c.offsets, c.shape), 0)
		})
	}
}

func TestCropGradient(t *testing.T) {
	zCheck(t, zNew(t, `type: "Crop" crop_param { offset: 1 offset: 2 }`), []*tensor.Blob{zGauss(2, 3, 5, 6), tensor.New(1, 1, 3, 3)}, zBlobs(1), 1e-3, []bool{true, false})
	zCheck(t, zNew(t, `type: "Crop" crop_param { axis: 1 offset: 1 }`), []*tensor.Blob{zGauss(2, 3, 5, 6), tensor.New(1, 2, 3, 4)}, zBlobs(1), 1e-3, []bool{true, false})
}

func TestCropReferenceGetsZeroGradient(t *testing.T) {
	x, ref, top := zGauss(1, 1, 4, 4), tensor.New(1, 1, 2, 2), zBlobs(1)
	l := zNew(t, `type: "Crop"`)
	zForward(t, l, []*tensor.Blob{x, ref}, top)
	for i := range ref.Diff {
		ref.Diff[i] = 5
	}
	l.Backward(top, []bool{true, true}, []*tensor.Blob{x, ref})
	zNear(t, "reference gradient", ref.Diff, []float64{0, 0, 0, 0}, 0)
}

func TestCropErrors(t *testing.T) {
	x := zGauss(2, 4, 5, 6)
	zWantErr(t, zNew(t, `type: "Crop" crop_param { offset: 3 }`), []*tensor.Blob{x, tensor.New(2, 4, 3, 4)}, zBlobs(1), "out of bounds")
	zWantErr(t, zNew(t, `type: "Crop" crop_param { offset: 1 offset: 1 offset: 1 }`), []*tensor.Blob{x, tensor.New(2, 4, 3, 4)}, zBlobs(1), "number of offset")
	zWantErr(t, zNew(t, `type: "Crop" crop_param { axis: 4 }`), []*tensor.Blob{x, tensor.New(2, 4, 3, 4)}, zBlobs(1), "axis")
	zWantErr(t, zNew(t, `type: "Crop"`), []*tensor.Blob{x, tensor.New(2, 4, 3)}, zBlobs(1), "as many axes")
}

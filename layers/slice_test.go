package layers

import (
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestSliceAtPoints(t *testing.T) {
	x := zBlob(zSeq(24, 0, 1), 2, 4, 3)
	top := zBlobs(3)
	l := zNew(t, `type: "Slice" slice_param { slice_point: 1 slice_point: 3 }`)
	zForward(t, l, []*tensor.Blob{x}, top)
	for i, want := range [][]int{{2, 1, 3}, {2, 2, 3}, {2, 1, 3}} {
		if !top[i].ShapeEquals(want...) {
			t.Fatalf("top %d shape %s, want %v", i, top[i].ShapeString(), want)
		}
	}
	zNear(t, "top 0", top[0].Data, []float64{0, 1, 2, 12, 13, 14}, 0)
	zNear(t, "top 1", top[1].Data, []float64{3, 4, 5, 6, 7, 8, 15, 16, 17, 18, 19, 20}, 0)
	zNear(t, "top 2", top[2].Data, []float64{9, 10, 11, 21, 22, 23}, 0)
	for _, b := range top {
		copy(b.Diff, b.Data)
	}
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	zNear(t, "gradient", x.Diff, f64of(x.Data), 0)
}

func TestSliceEqualParts(t *testing.T) {
	x := zGauss(6, 2, 3)
	top := zBlobs(3)
	zForward(t, zNew(t, `type: "Slice" slice_param { axis: 0 }`), []*tensor.Blob{x}, top)
	for i, b := range top {
		if !b.ShapeEquals(2, 2, 3) {
			t.Fatalf("top %d shape %s", i, b.ShapeString())
		}
		zNear(t, "part", b.Data, f64of(x.Data[i*12:(i+1)*12]), 0)
	}
}

func TestSliceLegacySliceDim(t *testing.T) {
	x := zGauss(2, 4, 3)
	top := zBlobs(2)
	zForward(t, zNew(t, `type: "Slice" slice_param { slice_dim: 2 slice_point: 1 }`), []*tensor.Blob{x}, top)
	if !top[0].ShapeEquals(2, 4, 1) || !top[1].ShapeEquals(2, 4, 2) {
		t.Fatalf("shapes %s, %s", top[0].ShapeString(), top[1].ShapeString())
	}
}

func TestSliceSingleTopShares(t *testing.T) {
	x := zGauss(2, 4)
	top := zBlobs(1)
	zForward(t, zNew(t, `type: "Slice"`), []*tensor.Blob{x}, top)
	x.Data[3] = 42
	if top[0].Data[3] != 42 {
		t.Fatal("a single top does not share the bottom's values")
	}
}

func TestSliceGradient(t *testing.T) {
	zCheck(t, zNew(t, `type: "Slice" slice_param { slice_point: 1 slice_point: 3 }`), []*tensor.Blob{zGauss(2, 5, 3, 2)}, zBlobs(3), 1e-3, nil)
	zCheck(t, zNew(t, `type: "Slice" slice_param { axis: -1 }`), []*tensor.Blob{zGauss(2, 5, 3, 2)}, zBlobs(2), 1e-3, nil)
}

func TestSliceErrors(t *testing.T) {
	zWantNewErr(t, `type: "Slice" slice_param { axis: 1 slice_dim: 1 }`, "not both")
	x := zGauss(2, 5, 3)
	zWantErr(t, zNew(t, `type: "Slice"`), []*tensor.Blob{x}, zBlobs(2), "evenly divide")
	zWantErr(t, zNew(t, `type: "Slice" slice_param { slice_point: 2 }`), []*tensor.Blob{x}, zBlobs(3), "slice points need")
	zWantErr(t, zNew(t, `type: "Slice" slice_param { slice_point: 3 slice_point: 2 }`), []*tensor.Blob{x}, zBlobs(3), "increase")
	zWantErr(t, zNew(t, `type: "Slice" slice_param { slice_point: 5 }`), []*tensor.Blob{x}, zBlobs(2), "increase")
	zWantErr(t, zNew(t, `type: "Slice" slice_param { axis: 3 }`), []*tensor.Blob{x}, zBlobs(2), "axis")
	zWantErr(t, zNew(t, `type: "Slice" slice_param { slice_dim: 3 }`), []*tensor.Blob{x}, zBlobs(2), "slice_dim")
}

package layers

import (
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestArgMaxPerExample(t *testing.T) {
	x := zBlob([]float32{3, 9, 1, 9, 2, 0, 5, 7, 7, 1}, 2, 5)
	for _, c := range []struct {
		text  string
		shape []int
		want  []float64
	}{
		// Ties rank the larger index first.
		{``, []int{2, 1, 1}, []float64{3, 3}},
		{`top_k: 2`, []int{2, 1, 2}, []float64{3, 1, 3, 2}},
		{`top_k: 2 out_max_val: true`, []int{2, 2, 2}, []float64{3, 1, 9, 9, 3, 2, 7, 7}},
	} {
		top := zBlobs(1)
		zForward(t, zNew(t, `type: "ArgMax" argmax_param { `+c.text+` }`), []*tensor.Blob{x}, top)
		if !top[0].ShapeEquals(c.shape...) {
			t.Fatalf("%s: shape %s, want %v", c.text, top[0].ShapeString(), c.shape)
		}
		zNear(t, c.text, top[0].Data, c.want, 0)
	}
}

func TestArgMaxAlongAxis(t *testing.T) {
	// 2 x 3 x 2: argmax along axis 1 for each (n, w).
	x := zBlob([]float32{
		1, 6,
		5, 2,
		3, 4,

		0, 0,
		-1, 8,
		2, 8,
	}, 2, 3, 2)
	top := zBlobs(1)
	zForward(t, zNew(t, `type: "ArgMax" argmax_param { axis: 1 }`), []*tensor.Blob{x}, top)
	if !top[0].ShapeEquals(2, 1, 2) {
		t.Fatalf("shape %s, want 2x1x2", top[0].ShapeString())
	}
	zNear(t, "argmax", top[0].Data, []float64{1, 0, 2, 2}, 0)
	top = zBlobs(1)
	zForward(t, zNew(t, `type: "ArgMax" argmax_param { axis: 1 top_k: 2 out_max_val: true }`), []*tensor.Blob{x}, top)
	zNear(t, "top-2 values", top[0].Data, []float64{5, 6, 3, 4, 2, 8, 0, 8}, 0)
}

func TestArgMaxMatchesSort(t *testing.T) {
	x := zGauss(3, 4, 5)
	top := zBlobs(1)
	zForward(t, zNew(t, `type: "ArgMax" argmax_param { top_k: 4 axis: -1 }`), []*tensor.Blob{x}, top)
	for r := 0; r < 12; r++ {
		row := x.Data[r*5 : (r+1)*5]
		prev := float32(1e30)
		for j := 0; j < 4; j++ {
			v := row[int(top[0].Data[r*4+j])]
			if v > prev {
				t.Fatalf("row %d: top-k not in descending order", r)
			}
			prev = v
		}
		for k, v := range row {
			chosen := false
			for j := 0; j < 4; j++ {
				chosen = chosen || int(top[0].Data[r*4+j]) == k
			}
			if !chosen && v > prev {
				t.Fatalf("row %d: %g left out but larger than the chosen %g", r, v, prev)
			}
		}
	}
}

func TestArgMaxErrors(t *testing.T) {
	zWantNewErr(t, `type: "ArgMax" argmax_param { top_k: 0 }`, "top_k")
	zWantErr(t, zNew(t, `type: "ArgMax" argmax_param { top_k: 6 }`), []*tensor.Blob{zGauss(2, 5)}, zBlobs(1), "top_k")
	zWantErr(t, zNew(t, `type: "ArgMax" argmax_param { axis: 1 top_k: 4 }`), []*tensor.Blob{zGauss(2, 3, 5)}, zBlobs(1), "top_k")
	zWantErr(t, zNew(t, `type: "ArgMax" argmax_param { axis: 3 }`), []*tensor.Blob{zGauss(2, 3, 5)}, zBlobs(1), "axis")
}

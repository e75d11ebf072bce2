package layers

import (
	"errors"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestEmbedForwardBackward(t *testing.T) {
	x := zBlob([]float32{2, 0, 2, 4}, 2, 2)
	top := zBlobs(1)
	l := zNew(t, `type: "Embed" embed_param { num_output: 3 input_dim: 5 weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } }`)
	zForward(t, l, []*tensor.Blob{x}, top)
	if !top[0].ShapeEquals(2, 2, 3) {
		t.Fatalf("shape %s, want 2x2x3", top[0].ShapeString())
	}
	w, b := l.Params()[0], l.Params()[1]
	if !w.ShapeEquals(5, 3) || !b.ShapeEquals(3) {
		t.Fatalf("param shapes %s, %s, want 5x3 and 3", w.ShapeString(), b.ShapeString())
	}
	want := make([]float64, 12)
	for m, idx := range []int{2, 0, 2, 4} {
		for j := 0; j < 3; j++ {
			want[m*3+j] = float64(w.Data[idx*3+j] + b.Data[j])
		}
	}
	zNear(t, "embed", top[0].Data, want, 0)

	copy(top[0].Diff, zSeq(12, 1, 1))
	l.Backward(top, []bool{false}, []*tensor.Blob{x})
	zNear(t, "weight gradient", w.Diff, []float64{4, 5, 6, 0, 0, 0, 1 + 7, 2 + 8, 3 + 9, 0, 0, 0, 10, 11, 12}, 0)
	zNear(t, "bias gradient", b.Diff, []float64{1 + 4 + 7 + 10, 2 + 5 + 8 + 11, 3 + 6 + 9 + 12}, 0)
	l.Backward(top, []bool{false}, []*tensor.Blob{x})
	zNear(t, "bias gradient accumulates", b.Diff, []float64{44, 52, 60}, 0)
}

func TestEmbedGradient(t *testing.T) {
	x := zBlob([]float32{1, 3, 3, 0, 2, 4}, 6)
	zCheck(t, zNew(t, `type: "Embed" embed_param { num_output: 4 input_dim: 5 weight_filler { type: "gaussian" } }`), []*tensor.Blob{x}, zBlobs(1), 1e-3, []bool{false})
	zCheck(t, zNew(t, `type: "Embed" embed_param { num_output: 4 input_dim: 5 bias_term: false weight_filler { type: "gaussian" } }`), []*tensor.Blob{x}, zBlobs(1), 1e-3, []bool{false})
}

func TestEmbedBadIndex(t *testing.T) {
	l := zNew(t, `type: "Embed" embed_param { num_output: 2 input_dim: 3 }`)
	for _, v := range []float32{3, -1, 1.5} {
		top := zBlobs(1)
		zForward(t, l, []*tensor.Blob{zBlob([]float32{0, v}, 2)}, top)
		if err := l.(interface{ Err() error }).Err(); !errors.Is(err, errBadIndex) {
			t.Fatalf("index %g: Err() = %v, want an index error", v, err)
		}
	}
	zForward(t, l, []*tensor.Blob{zBlob([]float32{0, 2}, 2)}, zBlobs(1))
	if err := l.(interface{ Err() error }).Err(); err != nil {
		t.Fatalf("valid indices: Err() = %v", err)
	}
}

func TestEmbedErrors(t *testing.T) {
	zWantNewErr(t, `type: "Embed" embed_param { input_dim: 3 }`, "num_output")
	zWantNewErr(t, `type: "Embed" embed_param { num_output: 3 }`, "input_dim")
}

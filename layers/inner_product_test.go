package layers

import (
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func TestInnerProductKnownValues(t *testing.T) {
	l := coreLayer(t, pb.Phase_TEST, `name: "ip" type: "InnerProduct" inner_product_param { num_output: 2 }`)
	x := blobOf([]float32{1, 2, 3, 4, 5, 6}, 2, 1, 3) // two rows of three
	top := blobs(1)
	coreSetup(t, l, []*tensor.Blob{x}, top)
	copy(l.Params()[0].Data, []float32{1, 0, -1, 0.5, 0.5, 0.5})
	copy(l.Params()[1].Data, []float32{10, 20})
	l.Forward([]*tensor.Blob{x}, top)
	if !top[0].ShapeEquals(2, 2) {
		t.Fatalf("shape %v, want 2x2", top[0].Shape())
	}
	assertClose(t, "ip", top[0].Data, []float64{1 - 3 + 10, 3 + 20, 4 - 6 + 10, 7.5 + 20}, 1e-6)

	// transpose: weights stored 3x2 give the same result.
	lt := coreLayer(t, pb.Phase_TEST, `name: "ip" type: "InnerProduct" inner_product_param { num_output: 2 transpose: true }`)
	coreSetup(t, lt, []*tensor.Blob{x}, top)
	if !lt.Params()[0].ShapeEquals(3, 2) {
		t.Fatalf("transposed weight shape %v, want 3x2", lt.Params()[0].Shape())
	}
	copy(lt.Params()[0].Data, []float32{1, 0.5, 0, 0.5, -1, 0.5})
	copy(lt.Params()[1].Data, []float32{10, 20})
	lt.Forward([]*tensor.Blob{x}, top)
	assertClose(t, "ip transposed", top[0].Data, []float64{8, 23, 8, 27.5}, 1e-6)
}

func TestInnerProductAxis(t *testing.T) {
	l := coreLayer(t, pb.Phase_TEST, `name: "ip" type: "InnerProduct" inner_product_param { num_output: 4 axis: 2 }`)
	top := blobs(1)
	coreSetup(t, l, []*tensor.Blob{tensor.New(2, 3, 5, 6)}, top)
	if !top[0].ShapeEquals(2, 3, 4) || !l.Params()[0].ShapeEquals(4, 30) {
		t.Errorf("top %v weight %v, want 2x3x4 and 4x30", top[0].Shape(), l.Params()[0].Shape())
	}
	if err := l.Reshape([]*tensor.Blob{tensor.New(2, 3, 5, 7)}, top); err == nil {
		t.Error("a bottom with a different input count: want an error")
	}
}

func TestInnerProductGradient(t *testing.T) {
	for _, p := range []string{
		`num_output: 5`,
		`num_output: 5 transpose: true`,
		`num_output: 3 axis: 2`,
		`num_output: 4 bias_term: false`,
	} {
		l := coreLayer(t, pb.Phase_TRAIN, `name: "ip" type: "InnerProduct" inner_product_param { `+p+
			` weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } }`)
		newGradChecker().check(t, l, []*tensor.Blob{gaussBlob(coreRand(), 1, 2, 3, 2, 2)}, blobs(1), nil)
	}
}

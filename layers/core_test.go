package layers

import (
	"math"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/internal/threads"
	"github.com/sparknet/sparknet/tensor"
)

// coreLayer builds a layer from its prototxt text in the given phase.
func coreLayer(t *testing.T, phase pb.Phase, text string) Layer {
	t.Helper()
	p := &pb.LayerParameter{}
	if err := prototext.Unmarshal([]byte(text), p); err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	l, err := New(p, NewContext(phase, 1701))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

// coreSetup runs Setup and Reshape and fails the test on error.
func coreSetup(t *testing.T, l Layer, bottom, top []*tensor.Blob) {
	t.Helper()
	if a, ok := l.(Arityer); ok {
		if err := a.Arity().Check(len(bottom), len(top)); err != nil {
			t.Fatalf("arity: %v", err)
		}
	}
	if err := l.Setup(bottom, top); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if err := l.Reshape(bottom, top); err != nil {
		t.Fatalf("Reshape: %v", err)
	}
}

// coreForward sets up l and runs Forward.
func coreForward(t *testing.T, l Layer, bottom, top []*tensor.Blob) {
	t.Helper()
	coreSetup(t, l, bottom, top)
	l.Forward(bottom, top)
}

// blobs returns n empty blobs.
func blobs(n int) []*tensor.Blob {
	out := make([]*tensor.Blob, n)
	for i := range out {
		out[i] = &tensor.Blob{}
	}
	return out
}

// blobOf returns a blob of the given shape holding vals.
func blobOf(vals []float32, shape ...int) *tensor.Blob {
	b := tensor.New(shape...)
	copy(b.Data, vals)
	return b
}

// coreRand returns a fixed-seed generator for test inputs.
func coreRand() *rand.Rand { return rand.New(rand.NewPCG(3, 14)) }

// assertClose fails if got and want differ by more than tol (absolute, or
// relative for values above 1).
func assertClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range want {
		d := math.Abs(float64(got[i]) - want[i])
		if d > tol*math.Max(1, math.Abs(want[i])) || math.IsNaN(float64(got[i])) {
			if bad < 5 {
				t.Errorf("%s[%d] = %g, want %g", what, i, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values differ", what, bad, len(want))
	}
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func prototextUnmarshal(text string, p *pb.LayerParameter) error {
	return prototext.Unmarshal([]byte(text), p)
}

// TestCoreThreadInvariance runs the parallel core layers forward and
// backward on 1 and 3 threads and requires identical bits. The inputs are
// large enough for every parallel loop to split.
func TestCoreThreadInvariance(t *testing.T) {
	defer threads.SetThreads(0)
	cases := []struct {
		text  string
		shape []int
	}{
		{`type: "Convolution" convolution_param { num_output: 6 kernel_size: 3 pad: 1 stride: 2 group: 2 weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } }`, []int{16, 8, 24, 23}},
		{`type: "Convolution" convolution_param { num_output: 3 kernel_size: 2 kernel_size: 2 kernel_size: 3 weight_filler { type: "gaussian" } }`, []int{8, 4, 8, 9, 10}},
		{`type: "Deconvolution" convolution_param { num_output: 4 kernel_size: 3 stride: 2 weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } }`, []int{16, 8, 12, 12}},
		{`type: "Pooling" pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }`, []int{16, 8, 33, 31}},
		{`type: "Pooling" pooling_param { pool: AVE kernel_size: 3 stride: 2 }`, []int{16, 8, 33, 31}},
		{`type: "InnerProduct" inner_product_param { num_output: 300 weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } }`, []int{64, 4, 8, 8}},
		{`type: "ReLU" relu_param { negative_slope: 0.1 }`, []int{300, 257}},
		{`type: "Softmax"`, []int{600, 10, 3}},
	}
	run := func(text string, shape []int, n int) [][]float32 {
		threads.SetThreads(n)
		l := coreLayer(t, pb.Phase_TRAIN, `name: "l" `+text)
		x := gaussBlob(coreRand(), 1, shape...)
		top := blobs(1)
		coreForward(t, l, []*tensor.Blob{x}, top)
		r := coreRand()
		for i := range top[0].Diff {
			top[0].Diff[i] = float32(r.NormFloat64())
		}
		l.Backward(top, []bool{true}, []*tensor.Blob{x})
		out := [][]float32{top[0].Data, x.Diff}
		for _, p := range l.Params() {
			out = append(out, p.Diff)
		}
		return out
	}
	for _, c := range cases {
		a, b := run(c.text, c.shape, 1), run(c.text, c.shape, 3)
		for i := range a {
			for j := range a[i] {
				if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
					t.Fatalf("%s: buffer %d element %d: %g on 1 thread, %g on 3", c.text, i, j, a[i][j], b[i][j])
				}
			}
		}
	}
}

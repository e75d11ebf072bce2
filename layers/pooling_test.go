package layers

import (
	"math"
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

// poolPlanes fills n*c planes with the same values.
func poolPlanes(vals []float32, n, c, h, w int) *tensor.Blob {
	b := tensor.New(n, c, h, w)
	for i := range b.Data {
		b.Data[i] = vals[i%(h*w)]
	}
	return b
}

func TestPoolingMaxKnownValues(t *testing.T) {
	// Caffe's TestForwardSquare.
	in := []float32{
		1, 2, 5, 2, 3,
		9, 4, 1, 4, 8,
		1, 2, 5, 2, 3,
	}
	for _, withMask := range []bool{false, true} {
		l := coreLayer(t, pb.Phase_TEST, `name: "p" type: "Pooling" pooling_param { pool: MAX kernel_size: 2 }`)
		top := blobs(1)
		if withMask {
			top = blobs(2)
		}
		coreForward(t, l, []*tensor.Blob{poolPlanes(in, 2, 2, 3, 5)}, top)
		if !top[0].ShapeEquals(2, 2, 2, 4) {
			t.Fatalf("shape %v, want 2x2x2x4", top[0].Shape())
		}
		want := []float64{9, 5, 5, 8, 9, 5, 5, 8}
		mask := []float64{5, 2, 2, 9, 5, 12, 12, 9}
		for p := 0; p < 4; p++ {
			assertClose(t, "max", top[0].Data[p*8:(p+1)*8], want, 0)
			if withMask {
				assertClose(t, "mask", top[1].Data[p*8:(p+1)*8], mask, 0)
			}
		}
	}
}

func TestPoolingAveKnownValues(t *testing.T) {
	// Caffe's TestForwardAve: 3x3 of twos, kernel 3, pad 1: the divisor
	// counts the padding, so a corner is 4*2/9 and an edge 6*2/9.
	l := coreLayer(t, pb.Phase_TEST, `name: "p" type: "Pooling" pooling_param { pool: AVE kernel_size: 3 stride: 1 pad: 1 }`)
	x := poolPlanes([]float32{2, 2, 2, 2, 2, 2, 2, 2, 2}, 1, 1, 3, 3)
	top := blobs(1)
	coreForward(t, l, []*tensor.Blob{x}, top)
	assertClose(t, "ave", top[0].Data, []float64{8.0 / 9, 4.0 / 3, 8.0 / 9, 4.0 / 3, 2, 4.0 / 3, 8.0 / 9, 4.0 / 3, 8.0 / 9}, 1e-6)

	// Ceil rounding: 4x4, kernel 3, stride 2 gives 2x2; the last window is
	// clipped to the image and divided by its clipped size.
	l = coreLayer(t, pb.Phase_TEST, `name: "p" type: "Pooling" pooling_param { pool: AVE kernel_size: 3 stride: 2 }`)
	x = poolPlanes([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, 1, 1, 4, 4)
	coreForward(t, l, []*tensor.Blob{x}, top)
	if !top[0].ShapeEquals(1, 1, 2, 2) {
		t.Fatalf("shape %v, want 1x1x2x2", top[0].Shape())
	}
	// windows: rows 0-2 x cols 0-2 (/9); rows 0-2 x cols 2-3 (/6); rows 2-3
	// x cols 0-2 (/6); rows 2-3 x cols 2-3 (/4).
	assertClose(t, "ceil ave", top[0].Data, []float64{54.0 / 9, 45.0 / 6, 72.0 / 6, 54.0 / 4}, 1e-6)
}

func TestPoolingOutputSize(t *testing.T) {
	cases := []struct {
		param      string
		h, w       int
		wantH, wnW int
	}{
		{`kernel_size: 3 stride: 2`, 4, 4, 2, 2},
		{`kernel_size: 3 stride: 2 round_mode: FLOOR`, 4, 4, 1, 1},
		// Padding: the last window would start in the padding, so it is dropped.
		{`kernel_size: 2 stride: 2 pad: 1`, 5, 5, 3, 3},
		{`kernel_size: 3 stride: 2`, 55, 55, 27, 27}, // CaffeNet pool1
		{`kernel_size: 3 stride: 2`, 32, 32, 16, 16}, // cifar10 pool1 (ceil)
		{`kernel_h: 2 kernel_w: 3 stride_h: 1 stride_w: 2`, 4, 7, 3, 3},
		{`global_pooling: true`, 6, 5, 1, 1},
	}
	for _, c := range cases {
		l := coreLayer(t, pb.Phase_TEST, `name: "p" type: "Pooling" pooling_param { `+c.param+` }`)
		top := blobs(1)
		coreSetup(t, l, []*tensor.Blob{tensor.New(1, 2, c.h, c.w)}, top)
		if !top[0].ShapeEquals(1, 2, c.wantH, c.wnW) {
			t.Errorf("%s on %dx%d: shape %v, want 1x2x%dx%d", c.param, c.h, c.w, top[0].Shape(), c.wantH, c.wnW)
		}
	}
}

func TestPoolingGlobalAve(t *testing.T) {
	l := coreLayer(t, pb.Phase_TEST, `name: "p" type: "Pooling" pooling_param { pool: AVE global_pooling: true }`)
	x := poolPlanes([]float32{1, 2, 3, 4, 5, 6}, 1, 2, 2, 3)
	top := blobs(1)
	coreForward(t, l, []*tensor.Blob{x}, top)
	assertClose(t, "global ave", top[0].Data, []float64{3.5, 3.5}, 1e-6)
}

func TestPoolingErrors(t *testing.T) {
	for _, text := range []string{
		`pooling_param { pool: MAX }`,
		`pooling_param { kernel_size: 2 kernel_h: 2 kernel_w: 2 }`,
		`pooling_param { kernel_size: 2 pad: 2 }`,
		`pooling_param { global_pooling: true kernel_size: 2 }`,
		`pooling_param { pool: STOCHASTIC kernel_size: 2 pad: 1 }`,
	} {
		if _, err := newFromText(`name: "p" type: "Pooling" ` + text); err == nil {
			t.Errorf("%s: no error", text)
		}
	}
}

// distinctBlob fills a blob with a permutation of well-separated values, so
// that finite differences never change which element is the maximum.
func distinctBlob(shape ...int) *tensor.Blob {
	b := tensor.New(shape...)
	r := coreRand()
	perm := r.Perm(b.Count())
	for i, p := range perm {
		b.Data[i] = float32(p)*0.05 - 1
	}
	return b
}

func TestPoolingGradient(t *testing.T) {
	for _, c := range []struct {
		param string
		tops  int
	}{
		{`pool: MAX kernel_size: 2 stride: 2`, 1},
		{`pool: MAX kernel_size: 3 stride: 2 pad: 1`, 1},
		{`pool: MAX kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0`, 2},
		{`pool: AVE kernel_size: 3 stride: 2`, 1},
		{`pool: AVE kernel_size: 3 stride: 2 pad: 1`, 1},
		{`pool: AVE kernel_h: 2 kernel_w: 3 stride: 1 pad_h: 1 pad_w: 2`, 1},
		{`pool: AVE global_pooling: true`, 1},
	} {
		l := coreLayer(t, pb.Phase_TRAIN, `name: "p" type: "Pooling" pooling_param { `+c.param+` }`)
		// With a mask top, its values (indices) have zero derivative as long
		// as the argmax does not change, which distinctBlob ensures.
		newGradChecker().check(t, l, []*tensor.Blob{distinctBlob(2, 2, 5, 6)}, blobs(c.tops), nil)
	}
}

func TestPoolingStochastic(t *testing.T) {
	// One window of [1, 3]: TRAIN samples 3 with probability 3/4; TEST
	// gives (1+9)/(1+3) = 2.5.
	x := blobOf([]float32{1, 3}, 1, 1, 1, 2)
	train := coreLayer(t, pb.Phase_TRAIN, `name: "p" type: "Pooling" pooling_param { pool: STOCHASTIC kernel_h: 1 kernel_w: 2 }`)
	top := blobs(1)
	coreSetup(t, train, []*tensor.Blob{x}, top)
	threes := 0
	const n = 20000
	for i := 0; i < n; i++ {
		train.Forward([]*tensor.Blob{x}, top)
		switch top[0].Data[0] {
		case 3:
			threes++
		case 1:
		default:
			t.Fatalf("sampled %g, not a window element", top[0].Data[0])
		}
		// The gradient goes to the sampled element only.
		top[0].Diff[0] = 1
		train.Backward(top, []bool{true}, []*tensor.Blob{x})
		if (top[0].Data[0] == 3) != (x.Diff[1] == 1 && x.Diff[0] == 0) {
			t.Fatalf("gradient %v for sample %g", x.Diff, top[0].Data[0])
		}
	}
	if p := float64(threes) / n; math.Abs(p-0.75) > 0.015 {
		t.Errorf("sampled 3 with frequency %g, want 0.75", p)
	}
	test := coreLayer(t, pb.Phase_TEST, `name: "p" type: "Pooling" pooling_param { pool: STOCHASTIC kernel_h: 1 kernel_w: 2 }`)
	coreForward(t, test, []*tensor.Blob{x}, top)
	assertClose(t, "test stochastic", top[0].Data, []float64{2.5}, 1e-6)
}

func TestPoolingMaxTiesAndNaN(t *testing.T) {
	// One 2x3 window: NaN never wins, the first of equal maxima does, and
	// -0 ties with +0.
	nan := float32(math.NaN())
	negZero := float32(math.Copysign(0, -1))
	for _, c := range []struct {
		in   []float32
		want float32
		idx  float32
	}{
		{[]float32{nan, 1, 3, 3, 2, nan}, 3, 2},
		{[]float32{-5, -2, -2, -7, nan, -9}, -2, 1},
		{[]float32{negZero, 0, -1, -1, -1, -1}, 0, 0},
		{[]float32{float32(math.Inf(1)), 1, 2, 3, 4, 5}, float32(math.Inf(1)), 0},
	} {
		l := coreLayer(t, pb.Phase_TEST, `name: "p" type: "Pooling" pooling_param { pool: MAX kernel_h: 2 kernel_w: 3 }`)
		top := blobs(2)
		coreForward(t, l, []*tensor.Blob{blobOf(c.in, 1, 1, 2, 3)}, top)
		if top[0].Data[0] != c.want || top[1].Data[0] != c.idx {
			t.Errorf("max of %v = %g at %g, want %g at %g", c.in, top[0].Data[0], top[1].Data[0], c.want, c.idx)
		}
	}
}

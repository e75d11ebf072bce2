package layers

import (
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func TestDeconvolutionKnownValues(t *testing.T) {
	// Caffe's TestSimpleDeconvolution: input 2x3x6x4 of ones, weights of
	// ones, kernel 3, stride 2, bias 0.1: an output position gets
	// 3 channels x (number of windows covering it) + 0.1, where the count is
	// 1, 2 or 4 depending on whether h and w are odd (between windows).
	l := coreLayer(t, pb.Phase_TEST, `name: "d" type: "Deconvolution" convolution_param {
		num_output: 4 kernel_size: 3 stride: 2
		weight_filler { type: "constant" value: 1 } bias_filler { type: "constant" value: 0.1 } }`)
	x := tensor.New(2, 3, 6, 4)
	for i := range x.Data {
		x.Data[i] = 1
	}
	top := blobs(1)
	coreForward(t, l, []*tensor.Blob{x}, top)
	if !top[0].ShapeEquals(2, 4, 13, 9) {
		t.Fatalf("shape %v, want 2x4x13x9", top[0].Shape())
	}
	for n := 0; n < 2; n++ {
		for c := 0; c < 4; c++ {
			for h := 0; h < 13; h++ {
				for w := 0; w < 9; w++ {
					want := float32(3.1)
					hIn := h > 1 && h%2 == 0 && h < 12
					wIn := w > 1 && w%2 == 0 && w < 8
					switch {
					case hIn && wIn:
						want = 12.1
					case hIn || wIn:
						want = 6.1
					}
					if got := top[0].Data[((n*4+c)*13+h)*9+w]; got < want-1e-5 || got > want+1e-5 {
						t.Fatalf("top[%d][%d][%d][%d] = %g, want %g", n, c, h, w, got, want)
					}
				}
			}
		}
	}
}

// The deconvolution is the adjoint of the convolution with the same
// weights: <deconv(y), x> = <y, conv(x)>.
func TestDeconvolutionIsConvolutionAdjoint(t *testing.T) {
	geo := `kernel_size: 3 stride: 2 pad: 1 dilation: 2 group: 2 bias_term: false weight_filler { type: "gaussian" }`
	conv := coreLayer(t, pb.Phase_TEST, `name: "c" type: "Convolution" convolution_param { num_output: 4 `+geo+` }`)
	deconv := coreLayer(t, pb.Phase_TEST, `name: "d" type: "Deconvolution" convolution_param { num_output: 6 `+geo+` }`)
	r := coreRand()
	x := gaussBlob(r, 1, 2, 6, 9, 9)
	cy := blobs(1)
	coreForward(t, conv, []*tensor.Blob{x}, cy)
	y := gaussBlob(r, 1, cy[0].Shape()...)
	dx := blobs(1)
	coreSetup(t, deconv, []*tensor.Blob{y}, dx)
	copy(deconv.Params()[0].Data, conv.Params()[0].Data)
	deconv.Forward([]*tensor.Blob{y}, dx)
	if !tensor.SameShape(dx[0], x) {
		t.Fatalf("deconv shape %v, want %v", dx[0].Shape(), x.Shape())
	}
	var a, b float64
	for i, v := range dx[0].Data {
		a += float64(v) * float64(x.Data[i])
	}
	for i, v := range cy[0].Data {
		b += float64(v) * float64(y.Data[i])
	}
	if d := a - b; d > 1e-3*max(1, b) || d < -1e-3*max(1, b) {
		t.Errorf("<deconv(y), x> = %g, <y, conv(x)> = %g", a, b)
	}
}

func TestDeconvolutionGradient(t *testing.T) {
	for _, c := range []struct {
		geo   string
		shape []int
	}{
		{`num_output: 3 kernel_size: 3 stride: 2`, []int{2, 2, 3, 4}},
		{`num_output: 4 kernel_size: 2 stride: 1 pad: 1 group: 2`, []int{2, 2, 3, 4}},
		{`num_output: 2 kernel_size: 3 stride: 2 pad: 1 dilation: 2`, []int{2, 2, 3, 4}},
		{`num_output: 2 kernel_size: 2 kernel_size: 3 kernel_size: 2 stride: 2`, []int{1, 2, 2, 3, 2}},
	} {
		l := coreLayer(t, pb.Phase_TRAIN, `name: "d" type: "Deconvolution" convolution_param { `+c.geo+
			` weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 0.5 } }`)
		newGradChecker().check(t, l, []*tensor.Blob{gaussBlob(coreRand(), 1, c.shape...)}, blobs(1), nil)
	}
}

func TestBilinearDeconvolutionUpsamples(t *testing.T) {
	// The bilinear filler with kernel 4, stride 2, pad 1, group = channels
	// upsamples by 2: a constant image stays constant away from the border.
	l := coreLayer(t, pb.Phase_TEST, `name: "up" type: "Deconvolution" convolution_param {
		num_output: 2 group: 2 kernel_size: 4 stride: 2 pad: 1 bias_term: false
		weight_filler { type: "bilinear" } }`)
	x := tensor.New(1, 2, 4, 4)
	for i := range x.Data {
		x.Data[i] = 3
	}
	top := blobs(1)
	coreForward(t, l, []*tensor.Blob{x}, top)
	if !top[0].ShapeEquals(1, 2, 8, 8) {
		t.Fatalf("shape %v, want 1x2x8x8", top[0].Shape())
	}
	for c := 0; c < 2; c++ {
		for h := 1; h < 7; h++ {
			for w := 1; w < 7; w++ {
				if v := top[0].Data[(c*8+h)*8+w]; v < 3-1e-5 || v > 3+1e-5 {
					t.Fatalf("upsampled[%d][%d][%d] = %g, want 3", c, h, w, v)
				}
			}
		}
	}
}

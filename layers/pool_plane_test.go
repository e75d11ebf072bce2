package layers

import (
	"fmt"
	"math"
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

// The AVX-512 pooling kernels give the bits of the portable code: values,
// argmax indices (ties, NaNs, -Inf and -FLT_MAX included) and average
// gradients, over random windows, strides, padding, rounding and plane
// sizes that take several 16-lane chunks per row.
func TestPoolingKernelsMatchPortable(t *testing.T) {
	if !poolKernelsOK() {
		t.Skip("no AVX-512 pooling kernels on this CPU")
	}
	r := coreRand()
	special := []float32{float32(math.NaN()), float32(math.Inf(-1)), -math.MaxFloat32, 0, float32(math.Copysign(0, -1))}
	for trial := 0; trial < 400; trial++ {
		method := []string{"MAX", "AVE"}[r.IntN(2)]
		kh, kw := 1+r.IntN(4), 1+r.IntN(4)
		sh, sw := 1+r.IntN(3), 1+r.IntN(2)
		ph, pw := r.IntN(kh), r.IntN(kw)
		h, w := kh+r.IntN(20), kw+r.IntN(45)
		round := []string{"CEIL", "FLOOR"}[r.IntN(2)]
		param := fmt.Sprintf(`pool: %s kernel_h: %d kernel_w: %d stride_h: %d stride_w: %d pad_h: %d pad_w: %d round_mode: %s`,
			method, kh, kw, sh, sw, ph, pw, round)
		l := coreLayer(t, pb.Phase_TRAIN, `name: "p" type: "Pooling" pooling_param { `+param+` }`).(*Pooling)
		x := tensor.New(2, 3, h, w)
		for i := range x.Data {
			switch v := r.IntN(20); {
			case v == 0 && method == "MAX":
				x.Data[i] = special[r.IntN(len(special))]
			case v < 8:
				x.Data[i] = float32(r.IntN(3)) // ties
			default:
				x.Data[i] = float32(r.NormFloat64())
			}
		}
		top := blobs(1)
		bottom := []*tensor.Blob{x}
		coreSetup(t, l, bottom, top)
		if l.geom == nil {
			t.Fatalf("%s: kernels not used", param)
		}
		for i := range top[0].Diff {
			top[0].Diff[i] = float32(r.NormFloat64())
		}
		run := func() (y, dx []float32, mask []int32) {
			l.Forward(bottom, top)
			l.Backward(top, []bool{true}, bottom)
			return append([]float32(nil), top[0].Data...), append([]float32(nil), x.Diff...), append([]int32(nil), l.mask...)
		}
		y1, dx1, m1 := run()
		l.geom, l.bgeom = nil, nil
		y2, dx2, m2 := run()
		for i := range y1 {
			if math.Float32bits(y1[i]) != math.Float32bits(y2[i]) {
				t.Fatalf("%s (%dx%d): output %d = %g, portable %g", param, h, w, i, y1[i], y2[i])
			}
		}
		for i := range m1 {
			if m1[i] != m2[i] {
				t.Fatalf("%s (%dx%d): argmax %d = %d, portable %d", param, h, w, i, m1[i], m2[i])
			}
		}
		for i := range dx1 {
			if math.Float32bits(dx1[i]) != math.Float32bits(dx2[i]) {
				t.Fatalf("%s (%dx%d): gradient %d = %g, portable %g", param, h, w, i, dx1[i], dx2[i])
			}
		}
	}
}

// Without padding, a ceil-rounded output can have a window that starts
// below the image: Caffe gives -FLT_MAX (index -1) for MAX and 0 divided by
// a negative pool size (-0) for AVE, on every code path.
func TestPoolingWindowOutsideImage(t *testing.T) {
	x := blobOf([]float32{1, 2, 3, 4, 5}, 1, 1, 5, 1)
	for _, kernels := range []bool{false, true} {
		if kernels && !poolKernelsOK() {
			continue
		}
		for _, method := range []string{"MAX", "AVE"} {
			l := coreLayer(t, pb.Phase_TRAIN, `name: "p" type: "Pooling" pooling_param { pool: `+method+` kernel_size: 1 stride: 3 }`).(*Pooling)
			top := blobs(1)
			coreSetup(t, l, []*tensor.Blob{x}, top)
			if !kernels {
				l.geom, l.bgeom = nil, nil
			}
			l.Forward([]*tensor.Blob{x}, top)
			want := []float32{1, 4, -math.MaxFloat32}
			if method == "AVE" {
				want[2] = float32(math.Copysign(0, -1))
			}
			for i, v := range want {
				if math.Float32bits(top[0].Data[i]) != math.Float32bits(v) {
					t.Errorf("%s (kernels %v): output %d = %g, want %g", method, kernels, i, top[0].Data[i], v)
				}
			}
			if method == "MAX" && l.mask[2] != -1 {
				t.Errorf("MAX (kernels %v): argmax of the outside window = %d, want -1", kernels, l.mask[2])
			}
		}
	}
}

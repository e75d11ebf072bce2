package layers

import (
	"fmt"
	"math"
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/internal/threads"
	"github.com/sparknet/sparknet/tensor"
)

// randomConvGeom returns the prototxt of a random 2-D convolution and an
// input shape for it: kernels, strides, padding and dilation of every kind,
// planes up to 50 wide (several 16-lane chunks per row).
func randomConvGeom(r interface{ IntN(int) int }) (string, []int) {
	kh, kw := 1+r.IntN(5), 1+r.IntN(5)
	sh, sw := 1+r.IntN(3), 1+r.IntN(3)
	if r.IntN(2) == 0 {
		sh, sw = 1, 1
	}
	dh, dw := 1+r.IntN(2), 1+r.IntN(2)
	ph, pw := r.IntN(kh+1), r.IntN(kw+1)
	h := dh*(kh-1) + 1 + r.IntN(20)
	w := dw*(kw-1) + 1 + r.IntN(45)
	text := fmt.Sprintf(`type: "Convolution" convolution_param { num_output: %d group: 2 kernel_h: %d kernel_w: %d stride_h: %d stride_w: %d pad_h: %d pad_w: %d dilation: %d dilation: %d
		weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } }`, 2*(1+r.IntN(3)), kh, kw, sh, sw, ph, pw, dh, dw)
	return text, []int{2 + r.IntN(3), 2 * (1 + r.IntN(2)), h, w}
}

// The AVX-512 plane kernels lower and sum back exactly what the row by row
// code does.
func TestConvPlaneKernelsMatchRows(t *testing.T) {
	if !planeKernelsOK() {
		t.Skip("no AVX-512 plane kernels on this CPU")
	}
	r := coreRand()
	for trial := 0; trial < 200; trial++ {
		text, shape := randomConvGeom(r)
		l := coreLayer(t, pb.Phase_TRAIN, `name: "c" `+text).(*Convolution)
		x := gaussBlob(r, 1, shape...)
		coreSetup(t, l, []*tensor.Blob{x}, blobs(1))
		if l.i2c == nil {
			t.Fatalf("%s: im2col kernel not used", text)
		}
		n, ld, P := len(l.scr[0]), l.ld, l.ySpatial
		cn := min(l.nb, l.num-1) // images 1.. of a block that starts at image 1
		got, want := make([]float32, n), make([]float32, n)
		for i := range got {
			got[i], want[i] = float32(math.NaN()), float32(math.NaN())
		}
		l.im2colBlock(got, x.Data, 1, cn)
		i2c := l.i2c
		l.i2c = nil
		l.im2colBlock(want, x.Data, 1, cn)
		l.i2c = i2c
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) && (!math.IsNaN(float64(got[i])) || !math.IsNaN(float64(want[i]))) {
				t.Fatalf("%s %v: im2col value %d = %g, rows give %g", text, shape, i, got[i], want[i])
			}
		}
		// Rows [a, b) of group 1, as the weight gradient lowers them.
		a := r.IntN(l.colRows)
		b := a + 1 + r.IntN(l.colRows-a)
		part := make([]float32, (b-a)*ld)
		l.im2colRows(part, x.Data, 1, cn, 1, a, b)
		for row := 0; row < b-a; row++ {
			for i := 0; i < cn*P; i++ {
				v, w := part[row*ld+i], want[(l.colRows+a+row)*ld+i]
				if math.Float32bits(v) != math.Float32bits(w) {
					t.Fatalf("%s %v: rows [%d,%d) row %d value %d = %g, want %g", text, shape, a, b, row, i, v, w)
				}
			}
		}
		if l.c2i == nil {
			continue // strided: col2im row by row
		}
		col := make([]float32, n)
		for i := range col {
			col[i] = float32(r.NormFloat64())
		}
		plane := l.h * l.w
		for ch := 0; ch < l.convIn; ch++ {
			row0 := l.colRow(ch, 0)
			gotP, wantP := make([]float32, plane), make([]float32, plane)
			src := col[row0*ld+(cn-1)*P:]
			col2imPlane(gotP, src, l.c2i, ld)
			for kidx := 0; kidx < l.kernelCount; kidx++ {
				l.col2imRow2D(wantP, src[kidx*ld:kidx*ld+P], kidx)
			}
			for i := range gotP {
				if math.Float32bits(gotP[i]) != math.Float32bits(wantP[i]) {
					t.Fatalf("%s %v: col2im channel %d value %d = %g, rows give %g", text, shape, ch, i, gotP[i], wantP[i])
				}
			}
		}
	}
}

// The image path agrees with a direct convolution and has the gradients
// of finite differences, for random geometries, groups, and both ways of
// sharing out the weight gradient (rows; fixed image blocks, with a batch
// that the blocks do not divide evenly, their partial sums either way
// round).
func TestConvImagePathRandom(t *testing.T) {
	r := coreRand()
	defer func(v int, f func(m, rows int) bool) { convRowsMin, convPartTransposed = v, f }(convRowsMin, convPartTransposed)
	for trial := 0; trial < 12; trial++ {
		text, shape := randomConvGeom(r)
		shape[2], shape[3] = min(shape[2], 9), min(shape[3], 9) // keep the finite differences cheap
		for _, share := range []struct {
			rowsMin    int
			transposed bool
		}{{1, false}, {1 << 30, false}, {1 << 30, true}} {
			convRowsMin = share.rowsMin
			convPartTransposed = func(int, int) bool { return share.transposed }
			l := coreLayer(t, pb.Phase_TRAIN, `name: "c" `+text)
			x := gaussBlob(r, 1, shape...)
			top := blobs(1)
			if err := l.Setup([]*tensor.Blob{x}, top); err != nil || l.Reshape([]*tensor.Blob{x}, top) != nil {
				continue // an input too small for this kernel
			}
			l.Forward([]*tensor.Blob{x}, top)
			g := geomOf(l.(*Convolution))
			want, _ := refConv(x, l.Params()[0].Data, l.Params()[1].Data, g)
			assertClose(t, fmt.Sprint(text, " top"), top[0].Data, want, 1e-4)
			newGradChecker().checkAfterSetup(t, l, []*tensor.Blob{x}, top, nil)
		}
	}
}

// geomOf returns the test geometry of a 2-D convolution layer.
func geomOf(l *Convolution) convGeom {
	return convGeom{l.group, l.numOutput, l.kernel, l.stride, l.pad, l.dil}
}

// The image path gives the same bits on 1, 2 and 3 threads, for both ways
// of sharing out the weight gradient and blocks of one and of three images,
// with a batch (7) that neither the threads nor the blocks divide.
func TestConvImagePathThreadInvariance(t *testing.T) {
	defer threads.SetThreads(0)
	defer func(v, c int) { convRowsMin, convBlockCols = v, c }(convRowsMin, convBlockCols)
	text := `type: "Convolution" convolution_param { num_output: 6 group: 2 kernel_size: 3 pad: 1
		weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } }`
	for _, rowsMin := range []int{1, 1 << 30} {
		for _, nb := range []int{1, 3} {
			convRowsMin, convBlockCols = rowsMin, nb*20*19
			var ref [][]float32
			for _, nt := range []int{1, 2, 3} {
				threads.SetThreads(nt)
				l := coreLayer(t, pb.Phase_TRAIN, `name: "c" `+text)
				x := gaussBlob(coreRand(), 1, 7, 4, 20, 19)
				top := blobs(1)
				coreForward(t, l, []*tensor.Blob{x}, top)
				if got := l.(*Convolution).nb; got != nb {
					t.Fatalf("%d images per block, want %d", got, nb)
				}
				rd := coreRand()
				for i := range top[0].Diff {
					top[0].Diff[i] = float32(rd.NormFloat64())
				}
				l.Backward(top, []bool{true}, []*tensor.Blob{x})
				got := [][]float32{top[0].Data, x.Diff, l.Params()[0].Diff, l.Params()[1].Diff}
				if ref == nil {
					ref = got
					continue
				}
				for i := range got {
					for j := range got[i] {
						if math.Float32bits(got[i][j]) != math.Float32bits(ref[i][j]) {
							t.Fatalf("rows from %d, %d images per block: buffer %d element %d: %g on %d threads, %g on 1",
								rowsMin, nb, i, j, got[i][j], nt, ref[i][j])
						}
					}
				}
			}
		}
	}
}

// Blocks of two images over a batch of three (the last block short) give
// the convolution and its gradients, for both ways of sharing out the
// weight gradient.
func TestConvImagePathBlocks(t *testing.T) {
	defer func(v, c int) { convRowsMin, convBlockCols = v, c }(convRowsMin, convBlockCols)
	g := convGeom{2, 4, []int{3, 2}, []int{1, 1}, []int{1, 0}, []int{1, 1}}
	for _, rowsMin := range []int{1, 1 << 30} {
		convRowsMin, convBlockCols = rowsMin, 2*5*5
		l := coreLayer(t, pb.Phase_TRAIN, convText("Convolution", g, true))
		x := gaussBlob(coreRand(), 1, 3, 2, 5, 6)
		top := blobs(1)
		coreForward(t, l, []*tensor.Blob{x}, top)
		if nb := l.(*Convolution).nb; nb != 2 {
			t.Fatalf("%d images per block, want 2", nb)
		}
		want, _ := refConv(x, l.Params()[0].Data, l.Params()[1].Data, g)
		assertClose(t, "top", top[0].Data, want, 1e-4)
		newGradChecker().checkAfterSetup(t, l, []*tensor.Blob{x}, top, nil)
	}
}

package blas

import (
	"sync/atomic"
	"unsafe"
)

// kernelFunc computes one tile of C = alpha*A*B + beta*C: the kernel's fixed
// number of rows times the implementation's nr columns, over kc steps of k.
// Row r of the A panel starts at a + r*as, row p of the B panel at b + p*bs
// and row r of C at c + r*cs; all strides are in bytes. The A rows hold one
// float per k step, the B rows nr floats. When beta is 0, C is not read.
// At each k step the kernel also prefetches nr floats at pf into the caches
// and advances pf by pfs bytes (pfs may be 0); pf must point into memory the
// caller owns, at least at its start.
type kernelFunc func(kc int, a *float32, as int, b *float32, bs int, c *float32, cs int, alpha, beta float32, pf *float32, pfs int)

// packKernelFunc is a kernelFunc that also stores the kc x nr panel of B it
// reads, row by row, contiguously at pb.
type packKernelFunc func(kc int, a *float32, as int, b *float32, bs int, c *float32, cs int, alpha, beta float32, pf *float32, pfs int, pb *float32)

// impl is one implementation of SGEMM's inner pieces: the micro-kernels and
// the routines that pack panels for them, with the block sizes they are
// tuned for.
type impl struct {
	name    string
	mr, nr  int          // largest tile height; tile width (B panel width)
	kc      int          // largest k block
	nc      int          // columns of a B block (a multiple of nr)
	kernels []kernelFunc // kernels[r] computes r rows, 1 <= r <= mr
	// packKernels, if not nil, are the kernels that also pack B: with them
	// a B panel is read in place once and reused packed.
	packKernels []packKernelFunc
	// edgeKernels, if not nil, are kernels edgeNR (< nr) columns wide for
	// the right edge of C when it is that narrow.
	edgeKernels []kernelFunc
	edgeNR      int

	// packA stores rows [i0, i0+rows) and columns [p0, p0+kc) of op(A)
	// row-major (row stride kc) into dst.
	packA func(dst, a []float32, lda int, trans bool, i0, rows, p0, kc int)
	// packB stores rows [p0, p0+kc) and columns [j0, j0+cols) of op(B) as
	// ceil(cols/nr) panels of kc x nr floats, zero padded on the right.
	packB func(dst, b []float32, ldb int, trans bool, p0, kc, j0, cols, nr int)
}

var (
	// available lists the assembly implementations this CPU can run, the
	// fastest first.
	available []*impl
	generic   = &impl{
		name:    "go 4x4",
		mr:      4,
		nr:      4,
		kc:      256,
		nc:      256,
		kernels: []kernelFunc{nil, goKernel1, goKernel2, goKernel3, goKernel4},
		packA:   packAGo,
		packB:   packBGo,
	}
	useGeneric atomic.Bool
)

// UseGeneric makes the routines of this package run their portable Go code
// (on) or the assembly for this CPU where there is any (off, the default),
// and reports the previous setting. It exists for tests and benchmarks;
// calls already running finish with the code they started with.
func UseGeneric(on bool) (was bool) { return useGeneric.Swap(on) }

// Kernel describes the SGEMM micro-kernel in use, e.g. "avx512 13x32".
func Kernel() string { return active().name }

// Tile returns the rows and columns of C that one call of the micro-kernel
// in use computes (13 x 32 for AVX-512). Callers free to choose which way
// round to multiply can pick the orientation whose sizes fill the tiles.
func Tile() (mr, nr int) {
	im := active()
	return im.mr, im.nr
}

func active() *impl {
	if len(available) > 0 && !useGeneric.Load() {
		return available[0]
	}
	return generic
}

// packAGo is the portable packA.
func packAGo(dst, a []float32, lda int, trans bool, i0, rows, p0, kc int) {
	dst = dst[:rows*kc]
	if !trans {
		for r := 0; r < rows; r++ {
			copy(dst[r*kc:(r+1)*kc], a[(i0+r)*lda+p0:])
		}
		return
	}
	for p := 0; p < kc; p++ {
		src := a[(p0+p)*lda+i0:][:rows]
		for r, v := range src {
			dst[r*kc+p] = v
		}
	}
}

// packBGo is the portable packB.
func packBGo(dst, b []float32, ldb int, trans bool, p0, kc, j0, cols, nr int) {
	for jp := 0; jp*nr < cols; jp++ {
		w := min(nr, cols-jp*nr)
		d := dst[jp*kc*nr:][:kc*nr]
		j := j0 + jp*nr
		if w < nr {
			clear(d) // the padding columns
		}
		if !trans {
			for p := 0; p < kc; p++ {
				copy(d[p*nr:p*nr+w], b[(p0+p)*ldb+j:])
			}
			continue
		}
		for jj := 0; jj < w; jj++ {
			src := b[(j+jj)*ldb+p0:][:kc]
			for p, v := range src {
				d[p*nr+jj] = v
			}
		}
	}
}

// The portable micro-kernels: 1 to 4 rows by 4 columns.

func goKernel1(kc int, a *float32, as int, b *float32, bs int, c *float32, cs int, alpha, beta float32, _ *float32, _ int) {
	goKernelRows(1, kc, a, as, b, bs, c, cs, alpha, beta)
}

func goKernel2(kc int, a *float32, as int, b *float32, bs int, c *float32, cs int, alpha, beta float32, _ *float32, _ int) {
	goKernel2x4(kc, a, as, b, bs, c, cs, alpha, beta)
}

func goKernel3(kc int, a *float32, as int, b *float32, bs int, c *float32, cs int, alpha, beta float32, _ *float32, _ int) {
	goKernel2x4(kc, a, as, b, bs, c, cs, alpha, beta)
	goKernelRows(1, kc, (*float32)(unsafe.Add(unsafe.Pointer(a), 2*as)), as, b, bs,
		(*float32)(unsafe.Add(unsafe.Pointer(c), 2*cs)), cs, alpha, beta)
}

// goKernelRows is the portable kernel for rows rows, one at a time.
func goKernelRows(rows, kc int, a *float32, as int, b *float32, bs int, c *float32, cs int, alpha, beta float32) {
	as, bs, cs = as/4, bs/4, cs/4
	bb := unsafe.Slice(b, max(0, (kc-1)*bs+4))
	for r := 0; r < rows; r++ {
		ar := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(a), 4*r*as)), kc)
		var c0, c1, c2, c3 float32
		for p, av := range ar {
			bp := bb[p*bs:][:4]
			c0 += av * bp[0]
			c1 += av * bp[1]
			c2 += av * bp[2]
			c3 += av * bp[3]
		}
		cr := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(c), 4*r*cs)), 4)
		store4(cr, c0, c1, c2, c3, alpha, beta)
	}
}

func store4(cr []float32, c0, c1, c2, c3, alpha, beta float32) {
	cr = cr[:4]
	if beta == 0 {
		cr[0], cr[1], cr[2], cr[3] = alpha*c0, alpha*c1, alpha*c2, alpha*c3
		return
	}
	cr[0] = alpha*c0 + beta*cr[0]
	cr[1] = alpha*c1 + beta*cr[1]
	cr[2] = alpha*c2 + beta*cr[2]
	cr[3] = alpha*c3 + beta*cr[3]
}

// goKernel4 is the portable 4x4 kernel. It runs as two 2x4 passes over the
// B panel: eight accumulators, four B values and one A value fit the
// sixteen SSE registers of amd64, where sixteen accumulators would spill.
func goKernel4(kc int, a *float32, as int, b *float32, bs int, c *float32, cs int, alpha, beta float32, _ *float32, _ int) {
	goKernel2x4(kc, a, as, b, bs, c, cs, alpha, beta)
	goKernel2x4(kc, (*float32)(unsafe.Add(unsafe.Pointer(a), 2*as)), as, b, bs,
		(*float32)(unsafe.Add(unsafe.Pointer(c), 2*cs)), cs, alpha, beta)
}

// goKernel2x4 computes a 2x4 tile (strides in bytes).
func goKernel2x4(kc int, a *float32, as int, b *float32, bs int, c *float32, cs int, alpha, beta float32) {
	as, bs, cs = as/4, bs/4, cs/4
	aa := unsafe.Slice(a, as+kc)
	a0, a1 := aa[:kc], aa[as:][:kc]
	bb := unsafe.Slice(b, max(0, (kc-1)*bs+4))
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	for p, x := range a0 {
		bp := bb[p*bs:][:4]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += x * b0
		c01 += x * b1
		c02 += x * b2
		c03 += x * b3
		y := a1[p]
		c10 += y * b0
		c11 += y * b1
		c12 += y * b2
		c13 += y * b3
	}
	cc := unsafe.Slice(c, cs+4)
	store4(cc[0:], c00, c01, c02, c03, alpha, beta)
	store4(cc[cs:], c10, c11, c12, c13, alpha, beta)
}

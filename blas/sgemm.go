package blas

import (
	"fmt"
	"sync"

	"github.com/sparknet/sparknet/internal/threads"
)

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where
// op(A) is m x k, op(B) is k x n and C is m x n. op(X) is X, or its transpose
// when transX is set. lda, ldb and ldc are the leading dimensions (row
// strides) of the stored matrices: A is stored m x k (k x m when transA), B
// k x n (n x k when transB). When beta is 0, C is not read, so NaNs in it are
// overwritten.
//
// The product is computed Goto/BLIS style (see the package documentation):
// blocks of op(A) and op(B) sized for the caches feed a register-blocked
// assembly micro-kernel (AVX-512 or AVX2+FMA, chosen at run time; a portable
// Go kernel otherwise). Large products run on the threads of the
// process-wide pool (see SetThreads). The result is bit-for-bit the same for
// every thread count: threads split the rows or columns of C, never the sum
// over k.
//
// Sgemm panics if a dimension is negative, a leading dimension is smaller
// than its row width, or a slice is too short for the dimensions given.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	nt := threads.Default().Threads()
	if 2*float64(m)*float64(n)*float64(k) < minParallelFlops {
		nt = 1
	}
	sgemm(nt, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmSerial is Sgemm on the calling goroutine alone, for callers that
// already run one product per thread (the convolution layers, per block of
// images). It gives the same bits as Sgemm and panics as Sgemm does.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(1, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemm is Sgemm on nt threads.
func sgemm(nt int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	w := getWork()
	w.gemm(active(), nt, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	putWork(w)
}

func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("blas: Sgemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	checkMatrix("A", transA, m, k, a, lda)
	checkMatrix("B", transB, k, n, b, ldb)
	checkMatrix("C", false, m, n, c, ldc)
}

// checkMatrix checks that x holds an r x c matrix (c x r when trans) with
// leading dimension ld.
func checkMatrix(name string, trans bool, r, c int, x []float32, ld int) {
	if trans {
		r, c = c, r
	}
	if ld < max(1, c) {
		panic(fmt.Sprintf("blas: Sgemm: ld%s = %d is less than the %d columns of %s", lower(name), ld, c, name))
	}
	if r > 0 && c > 0 && len(x) < (r-1)*ld+c {
		panic(fmt.Sprintf("blas: Sgemm: %s has %d elements, a %dx%d matrix with leading dimension %d needs %d",
			name, len(x), r, c, ld, (r-1)*ld+c))
	}
}

func lower(s string) string { return string(s[0] | 0x20) }

// scaleC sets C = beta*C, without reading C when beta is 0.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		ci := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(ci)
			continue
		}
		for j := range ci {
			ci[j] *= beta
		}
	}
}

var (
	// maxPacked bounds, in floats, the op(A) that is packed whole and
	// shared by the threads; a larger one is processed in slabs of rows.
	maxPacked = 4 << 20
	// minParallelFlops is the size below which a product runs on the
	// calling goroutine alone: waking the pool costs microseconds.
	minParallelFlops = float64(4 << 20)
)

// gemmWork holds the arguments of one Sgemm call and the packing buffers it
// uses. The buffers grow to the largest call seen and are reused, so a call
// in steady state allocates nothing. Concurrent calls use separate works.
type gemmWork struct {
	im             *impl
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	kcb, nkb       int // k block size and count: block q covers [q*kcb, min(k, (q+1)*kcb))
	npanels        int // column panels of C (nr wide, the last one maybe narrower)

	// When sharedA is set, packed holds rows [i0, i0+rows) of op(A), packed
	// once for all threads: k block q is a row-major rows x kc matrix at
	// offset rows*q*kcb. Otherwise each thread packs the A blocks it needs.
	sharedA  bool
	inPlaceA bool // op(A) = A is read in place, not packed
	i0, rows int
	packed   []float32

	// When sharedB is set (threads split the rows), packed holds k blocks
	// [q0, q1) of op(B), packed once for all threads: block q is npanels
	// panels of kc x nr floats at offset npanels*nr*(q-q0)*kcb. compute
	// works on k blocks [q0, q1) in either case.
	sharedB bool
	q0, q1  int

	threads []threadWork // per-thread buffers

	packAFn, packBFn, colsFn, rowsFn func(chunk, lo, hi int)
}

type threadWork struct {
	a, b []float32      // this thread's packed blocks of op(A) and op(B)
	tmp  []float32      // an mr x nr tile for the right edge of C
	pf   prefetchRegion // what the kernels prefetch
}

var works struct {
	sync.Mutex
	free []*gemmWork
}

func getWork() *gemmWork {
	works.Lock()
	defer works.Unlock()
	if n := len(works.free); n > 0 {
		w := works.free[n-1]
		works.free = works.free[:n-1]
		return w
	}
	w := &gemmWork{}
	w.packAFn, w.packBFn, w.colsFn, w.rowsFn = w.packAItems, w.packBItems, w.colsChunk, w.rowsChunk
	return w
}

func putWork(w *gemmWork) {
	w.a, w.b, w.c = nil, nil, nil
	works.Lock()
	works.free = append(works.free, w)
	works.Unlock()
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// kBlock returns the start and size of k block q.
func (w *gemmWork) kBlock(q int) (p0, kc int) {
	p0 = q * w.kcb
	return p0, min(w.kcb, w.k-p0)
}

// inPlaceA reports whether the kernels read op(A) = A in place, rows lda
// apart, rather than from a packed copy: they can unless A is transposed or
// its rows fall on the same few L1 cache sets (a row stride that is a
// multiple of 2 KiB), which would evict them from under the kernel.
func inPlaceA(transA bool, lda int) bool {
	return !transA && !forcePackA && (4*lda)%2048 != 0
}

// forcePackA makes every product pack op(A): tests run both ways.
var forcePackA = false

// sharedRows is the height of op(A) from which it is packed once for all
// threads rather than by each thread for its own column blocks.
const sharedRows = 256

// gemm computes the product on up to nt threads of the process-wide pool.
func (w *gemmWork) gemm(im *impl, nt int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	w.im = im
	w.transA, w.transB, w.m, w.n, w.k = transA, transB, m, n, k
	w.alpha, w.beta = alpha, beta
	w.a, w.b, w.c, w.lda, w.ldb, w.ldc = a, b, c, lda, ldb, ldc
	w.nkb = (k + im.kc - 1) / im.kc
	w.kcb = (k + w.nkb - 1) / w.nkb
	w.npanels = (n + im.nr - 1) / im.nr
	w.sharedA, w.sharedB, w.q0, w.q1 = false, false, 0, w.nkb

	pool := threads.Default()
	if len(w.threads) < nt {
		w.threads = append(w.threads, make([]threadWork, nt-len(w.threads))...)
	}

	// Threads split the columns of C unless that leaves them unevenly
	// loaded and splitting the rows does better.
	colEff := float64(w.npanels) / float64(nt*((w.npanels+nt-1)/nt))
	rowEff := float64(m) / float64(nt*((m+nt-1)/nt))
	if m < nt {
		rowEff = 0
	}
	if nt > 1 && colEff < rowEff && colEff < 0.9 {
		// Pack op(B) once for all threads (all of it is needed by each),
		// a slab of k blocks at a time.
		w.inPlaceA, w.sharedB = inPlaceA(transA, lda), true
		w.i0, w.rows = 0, m
		npad := w.npanels * im.nr
		slab := max(1, maxPacked/(w.kcb*npad))
		w.packed = grow(w.packed, min(slab, w.nkb)*w.kcb*npad)
		for q0 := 0; q0 < w.nkb; q0 += slab {
			w.q0, w.q1 = q0, min(w.nkb, q0+slab)
			pool.Run((w.q1-w.q0)*w.npanels, nt, w.packBFn)
			pool.Run(m, nt, w.rowsFn)
		}
		return
	}

	w.inPlaceA = inPlaceA(transA, lda)
	// One thread reading A in place has nothing to share.
	w.sharedA = m >= sharedRows && (nt > 1 || !w.inPlaceA)
	if !w.sharedA {
		w.i0, w.rows = 0, m
		if nt == 1 {
			w.colsChunk(0, 0, w.npanels)
		} else {
			pool.Run(w.npanels, nt, w.colsFn)
		}
		return
	}
	// Pack op(A) once, in slabs of rows if it is large, and let the
	// threads share it.
	slab := max(im.mr, maxPacked/k)
	w.packed = grow(w.packed, min(m, slab)*k)
	for i0 := 0; i0 < m; i0 += slab {
		w.i0, w.rows = i0, min(slab, m-i0)
		items := w.nkb * ((w.rows + 63) / 64)
		if nt == 1 {
			w.packAItems(0, 0, items)
			w.colsChunk(0, 0, w.npanels)
			continue
		}
		pool.Run(items, nt, w.packAFn)
		pool.Run(w.npanels, nt, w.colsFn)
	}
}

// packAItems packs items [lo, hi) of the shared A slab: item = k block *
// groups + group of 64 rows.
func (w *gemmWork) packAItems(_, lo, hi int) {
	groups := (w.rows + 63) / 64
	for it := lo; it < hi; it++ {
		q, g := it/groups, it%groups
		p0, kc := w.kBlock(q)
		r0 := g * 64
		h := min(64, w.rows-r0)
		w.im.packA(w.packed[w.rows*p0+r0*kc:], w.a, w.lda, w.transA, w.i0+r0, h, p0, kc)
	}
}

// packBItems packs items [lo, hi) of the shared B slab: item = (k block -
// q0) * npanels + panel.
func (w *gemmWork) packBItems(_, lo, hi int) {
	nr := w.im.nr
	for it := lo; it < hi; it++ {
		q, jp := w.q0+it/w.npanels, it%w.npanels
		p0, kc := w.kBlock(q)
		j0 := jp * nr
		w.packBlock(w.packed[w.npanels*nr*(q-w.q0)*w.kcb+jp*kc*nr:], p0, kc, j0, min(nr, w.n-j0))
	}
}

// colsChunk computes column panels [lo, hi) of the current rows of C.
func (w *gemmWork) colsChunk(chunk, lo, hi int) {
	w.compute(&w.threads[chunk], w.i0, w.rows, lo, hi)
}

// rowsChunk computes rows [lo, hi) of C.
func (w *gemmWork) rowsChunk(chunk, lo, hi int) {
	w.compute(&w.threads[chunk], lo, hi-lo, 0, w.npanels)
}

// How compute gets its blocks of op(B).
const (
	// bBlock packs a block of op(B) (kc x nc) and multiplies every row
	// panel by it.
	bBlock = iota
	// bFused reads B in place in the first row panel's kernels, which
	// also pack it for the other row panels: B is read from memory once,
	// in step with the arithmetic rather than in a copying pass of its own.
	bFused
)

// forceBMode, if not -1, makes every product that can use that B mode use
// it: tests run each mode on every shape.
var forceBMode = -1

// bMode chooses how compute gets op(B).
func (w *gemmWork) bMode() int {
	if w.transB || w.im.packKernels == nil {
		return bBlock
	}
	if forceBMode >= 0 {
		return forceBMode
	}
	return bFused
}

// compute computes rows [i0, i0+rows) and column panels [jlo, jhi) of C.
// For each block of nc columns and each k block it gets the block of op(B)
// (see bMode) and of op(A) (packed by this thread unless shared), then
// multiplies them panel by panel.
func (w *gemmWork) compute(tw *threadWork, i0, rows, jlo, jhi int) {
	im := w.im
	nr := im.nr
	ncp := im.nc / nr
	np := (rows + im.mr - 1) / im.mr
	mode := w.bMode()
	// The buffers grow to the largest need seen (a chunk may be larger
	// than planned when the pool is busy and runs everything on the
	// caller), then stay.
	if !w.sharedB {
		tw.b = grow(tw.b, w.kcb*min(im.nc, (jhi-jlo)*nr))
	}
	tw.tmp = grow(tw.tmp, im.mr*nr)
	if !w.sharedA && !w.inPlaceA {
		tw.a = grow(tw.a, rows*w.kcb)
	}
	for jp := jlo; jp < jhi; jp += ncp {
		j0 := jp * nr
		cols := min(min(jhi, jp+ncp)*nr, w.n) - j0
		for q := w.q0; q < w.q1; q++ {
			p0, kc := w.kBlock(q)
			// The A block: rows of kc floats, as apart.
			ablock, as := tw.a, kc
			switch {
			case w.sharedA:
				ablock = w.packed[w.rows*p0+(i0-w.i0)*kc:]
			case w.inPlaceA:
				ablock, as = w.a[i0*w.lda+p0:], w.lda
			default:
				im.packA(tw.a, w.a, w.lda, w.transA, i0, rows, p0, kc)
			}
			beta := w.beta
			if q > 0 {
				beta = 1
			}
			bblock := tw.b
			first := 0
			switch {
			case w.sharedB:
				bblock = w.packed[w.npanels*nr*(q-w.q0)*w.kcb+jp*kc*nr:]
				tw.pf = prefetchRegion{}
			case mode == bFused:
				w.prefetchNextBlock(tw, q, jp, jhi)
				w.firstPanel(tw, kc, ablock, as, p0, i0, rows/np, j0, cols, np == 1, beta)
				first = 1
			default:
				w.prefetchNextBlock(tw, q, jp, jhi)
				w.packBlock(tw.b, p0, kc, j0, cols)
			}
			for i := first; i < np; i++ {
				r0 := i * rows / np
				h := (i+1)*rows/np - r0
				for j := 0; j < cols; j += nr {
					w.tile(tw, kc, ablock[r0*as:], as, bblock[j*kc:], i0+r0, h, j0+j, min(nr, cols-j), beta)
				}
			}
		}
	}
}

// firstPanel multiplies the first row panel (h rows from i0) by columns
// [j0, j0+cols) of B, read in place, with kernels that also pack each B
// panel into tw.b for the other row panels; when the row panel is the only
// one (alone), nothing is packed but the right edge.
func (w *gemmWork) firstPanel(tw *threadWork, kc int, ap []float32, as, p0, i0, h, j0, cols int, alone bool, beta float32) {
	nr, ldb := w.im.nr, w.ldb
	full := cols / nr
	for jj := 0; jj < full; jj++ {
		j := j0 + jj*nr
		b := w.b[p0*ldb+j:]
		if !alone {
			w.packTile(kc, ap, as, b, tw.b[jj*kc*nr:], i0, h, j, beta)
			continue
		}
		// Bring the next B panel in meanwhile.
		tw.pf = prefetchRegion{}
		if j+2*nr <= w.n {
			tw.pf = prefetchRegion{src: b[nr:], ld: ldb, rows: kc, chunks: 1}
		}
		_ = ap[(h-1)*as+kc-1]
		_ = b[(kc-1)*ldb+nr-1]
		_ = w.c[(i0+h-1)*w.ldc+j+nr-1]
		pf, pfs := tw.pf.next(kc, nr, &ap[0])
		w.im.kernels[h](kc, &ap[0], 4*as, &b[0], 4*ldb, &w.c[i0*w.ldc+j], 4*w.ldc, w.alpha, beta, pf, pfs)
	}
	if full*nr < cols {
		w.packBlock(tw.b[full*kc*nr:], p0, kc, j0+full*nr, cols-full*nr)
		w.tile(tw, kc, ap, as, tw.b[full*kc*nr:], i0, h, j0+full*nr, cols-full*nr, beta)
	}
}

// prefetchRegion is a part of B that the kernels prefetch while they run,
// nr columns at a time: each kernel call takes the next kc rows of the
// current column chunk.
type prefetchRegion struct {
	src              []float32 // the region's first row
	ld, rows, chunks int       // row stride, rows, chunks of nr floats per row
	row, chunk       int       // the next rows to prefetch
}

// next returns where the next kernel call of kc steps should prefetch, and
// the stride; when the region is done it returns fallback with stride 0.
func (r *prefetchRegion) next(kc, nr int, fallback *float32) (*float32, int) {
	if r.chunk >= r.chunks {
		return fallback, 0
	}
	p := &r.src[r.row*r.ld+r.chunk*nr]
	if r.row += kc; r.row >= r.rows {
		r.row, r.chunk = 0, r.chunk+1
	}
	return p, 4 * r.ld
}

// prefetchNextBlock sets the prefetch region to the block of B that compute
// takes after k block q of the column block at panel jp (of jhi).
func (w *gemmWork) prefetchNextBlock(tw *threadWork, q, jp, jhi int) {
	nr, ncp := w.im.nr, w.im.nc/w.im.nr
	if q+1 < w.q1 {
		p0, kc := w.kBlock(q + 1)
		w.prefetchNext(tw, p0, kc, jp*nr, min(min(jhi, jp+ncp)*nr, w.n)-jp*nr)
		return
	}
	jn := jp + ncp
	p0, kc := w.kBlock(w.q0)
	w.prefetchNext(tw, p0, kc, jn*nr, min(min(jhi, jn+ncp)*nr, w.n)-jn*nr)
}

// prefetchNext sets the prefetch region to the stored B elements of the
// block of op(B) with k range [p0, p0+kc) and columns [j0, j0+cols).
func (w *gemmWork) prefetchNext(tw *threadWork, p0, kc, j0, cols int) {
	tw.pf = prefetchRegion{}
	if kc <= 0 || cols <= 0 {
		return
	}
	nr := w.im.nr
	if w.transB {
		tw.pf = prefetchRegion{src: w.b[j0*w.ldb+p0:], ld: w.ldb, rows: cols, chunks: (kc + nr - 1) / nr}
	} else {
		tw.pf = prefetchRegion{src: w.b[p0*w.ldb+j0:], ld: w.ldb, rows: kc, chunks: (cols + nr - 1) / nr}
	}
}

// packTile computes the full-width tile of C at rows [i, i+h), columns
// [j, j+nr) from an A panel (row stride as) and the B panel at b (row stride
// ldb), and
// stores that B panel packed in pb. It prefetches the next B panel.
func (w *gemmWork) packTile(kc int, ap []float32, as int, b, pb []float32, i, h, j int, beta float32) {
	nr, ldb, ldc := w.im.nr, w.ldb, w.ldc
	_ = ap[(h-1)*as+kc-1]
	_ = b[(kc-1)*ldb+nr-1]
	_ = pb[kc*nr-1]
	_ = w.c[(i+h-1)*ldc+j+nr-1]
	pf := &b[0]
	if j+2*nr <= w.n {
		pf = &b[nr]
	}
	w.im.packKernels[h](kc, &ap[0], 4*as, &b[0], 4*ldb, &w.c[i*ldc+j], 4*ldc, w.alpha, beta, pf, 4*ldb, &pb[0])
}

// packBlock packs columns [j0, j0+cols) of the k block [p0, p0+kc) of
// op(B) into dst as panels nr wide, and the last panel, if it is narrow
// enough for the edge kernels, edgeNR wide.
func (w *gemmWork) packBlock(dst []float32, p0, kc, j0, cols int) {
	im := w.im
	full := cols / im.nr
	rem := cols - full*im.nr
	if rem == 0 || im.edgeKernels == nil || rem > im.edgeNR {
		im.packB(dst, w.b, w.ldb, w.transB, p0, kc, j0, cols, im.nr)
		return
	}
	if full > 0 {
		im.packB(dst, w.b, w.ldb, w.transB, p0, kc, j0, full*im.nr, im.nr)
	}
	im.packB(dst[full*kc*im.nr:], w.b, w.ldb, w.transB, p0, kc, j0+full*im.nr, rem, im.edgeNR)
}

// tile computes the tile of C at rows [i, i+h), columns [j, j+cols) (cols
// <= nr) from an A panel (row stride as) and a packed B panel (packBlock's
// layout), prefetching the next part of the thread's prefetch region.
func (w *gemmWork) tile(tw *threadWork, kc int, ap []float32, as int, bp []float32, i, h, j, cols int, beta float32) {
	nr := w.im.nr
	kern := w.im.kernels[h]
	if cols < nr && cols <= w.im.edgeNR {
		nr, kern = w.im.edgeNR, w.im.edgeKernels[h]
	}
	_ = ap[(h-1)*as+kc-1]
	_ = bp[(kc-1)*nr+nr-1]
	pf, pfs := tw.pf.next(kc, w.im.nr, &ap[0])
	ldc := w.ldc
	c := w.c
	if cols == nr {
		_ = c[(i+h-1)*ldc+j+nr-1]
		kern(kc, &ap[0], 4*as, &bp[0], 4*nr, &c[i*ldc+j], 4*ldc, w.alpha, beta, pf, pfs)
		return
	}
	// The right edge: run the kernel on a full-width copy of the tile, so
	// that the arithmetic is exactly that of the full tiles.
	tmp := tw.tmp[:h*nr]
	if beta != 0 {
		for r := 0; r < h; r++ {
			copy(tmp[r*nr:r*nr+cols], c[(i+r)*ldc+j:])
		}
	}
	kern(kc, &ap[0], 4*as, &bp[0], 4*nr, &tmp[0], 4*nr, w.alpha, beta, pf, pfs)
	for r := 0; r < h; r++ {
		copy(c[(i+r)*ldc+j:(i+r)*ldc+j+cols], tmp[r*nr:])
	}
}

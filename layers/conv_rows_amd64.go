//go:build !noasm

package layers

import "golang.org/x/sys/cpu"

// rowsAsm reports whether the AVX2 row kernels may run.
var rowsAsm = cpu.X86.HasAVX && cpu.X86.HasAVX2

//go:noescape
func copyRowsAVX2(dst, src *float32, rows, ow, lo, hi, pitch, stride int)

//go:noescape
func addRowsAVX2(dst, src *float32, rows, n, dpitch, spitch int)

// copyRows fills rows of ow values of dst (rows*ow values): value lo+k of
// row r, for k in [0, hi-lo), is src[r*pitch+k*stride]; the others are zero.
func copyRows(dst, src []float32, rows, ow, lo, hi, pitch, stride int) {
	if rows <= 0 {
		return
	}
	if !rowsAsm || hi <= lo {
		copyRowsGo(dst, src, rows, ow, lo, hi, pitch, stride)
		return
	}
	// Bounds checks for the assembly.
	if lo < 0 || hi > ow || stride < 1 {
		panic("layers: copyRows: bad row range")
	}
	_ = dst[rows*ow-1]
	_ = src[(rows-1)*pitch+(hi-lo-1)*stride]
	copyRowsAVX2(&dst[0], &src[0], rows, ow, lo, hi, pitch, stride)
}

// addRows adds rows of n values, spitch apart in src, to rows dpitch apart
// in dst.
func addRows(dst, src []float32, rows, n, dpitch, spitch int) {
	if rows <= 0 || n <= 0 {
		return
	}
	if !rowsAsm {
		addRowsGo(dst, src, rows, n, dpitch, spitch)
		return
	}
	_ = dst[(rows-1)*dpitch+n-1]
	_ = src[(rows-1)*spitch+n-1]
	addRowsAVX2(&dst[0], &src[0], rows, n, dpitch, spitch)
}

//go:build !noasm

package layers

import "golang.org/x/sys/cpu"

// rowsAsm reports whether the AVX2 row kernels may run; rows512 whether
// the AVX-512 ones may.
var (
	hasAVX2Rows = cpu.X86.HasAVX && cpu.X86.HasAVX2
	rowsAsm     = hasAVX2Rows
	rows512     = rowsAsm && cpu.X86.HasAVX512F
)

//go:noescape
func copyRowsAVX2(dst, src *float32, rows, ow, lo, hi, pitch, stride int)

//go:noescape
func addRowsAVX2(dst, src *float32, rows, n, dpitch, spitch int)

//go:noescape
func copyRowsAVX512(dst, src *float32, rows, ow, lo, hi, pitch, stride int)

//go:noescape
func addRowsAVX512(dst, src *float32, rows, n, dpitch, spitch int)

//go:noescape
func col2imPlaneAVX512(dst, col *float32, geom *col2imGeom, ld int)

//go:noescape
func im2colPlaneAVX512(dst, src *float32, geom *im2colGeom, k0, k1, ld int)

// im2colPlane lowers kernel offsets [k0, k1) of the channel plane src into
// rows of dst ld apart (see im2colGeom). Only when planeKernelsOK.
func im2colPlane(dst, src []float32, g *im2colGeom, k0, k1, ld int) {
	if k0 >= k1 {
		return
	}
	if ld < g.plane {
		panic("layers: im2colPlane: rows overlap")
	}
	_ = dst[(k1-k0-1)*ld+g.plane-1]
	_ = src[g.h*g.w-1]
	_ = g.off[g.kw-1]
	_ = g.mask[g.kw*g.nchunk-1]
	_ = g.ohLo[(k1-1)/g.kw]
	_ = g.ohHi[(k1-1)/g.kw]
	im2colPlaneAVX512(&dst[0], &src[0], g, k0, k1, ld)
}

// planeKernelsOK reports whether im2colPlane and col2imPlane may run.
func planeKernelsOK() bool { return rows512 }

// col2imPlane sets the channel plane dst to the sum of its kh*kw column
// rows in col, ld apart (stride 1; see col2imGeom). Only when
// planeKernelsOK.
func col2imPlane(dst, col []float32, g *col2imGeom, ld int) {
	if ld < g.plane {
		panic("layers: col2imPlane: rows overlap")
	}
	_ = dst[g.h*g.w-1]
	_ = col[(g.kh*g.kw-1)*ld+g.plane-1]
	_ = g.off[g.kw-1]
	_ = g.mask[g.kw*g.nchunk-1]
	col2imPlaneAVX512(&dst[0], &col[0], g, ld)
}

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
	if rows512 {
		copyRowsAVX512(&dst[0], &src[0], rows, ow, lo, hi, pitch, stride)
		return
	}
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
	if rows512 {
		addRowsAVX512(&dst[0], &src[0], rows, n, dpitch, spitch)
		return
	}
	addRowsAVX2(&dst[0], &src[0], rows, n, dpitch, spitch)
}

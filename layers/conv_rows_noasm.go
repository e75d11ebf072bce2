//go:build noasm || !amd64

package layers

// rowsAsm reports whether assembly row kernels may run: never here.
const rowsAsm = false

// copyRows fills rows of ow values of dst (rows*ow values): value lo+k of
// row r, for k in [0, hi-lo), is src[r*pitch+k*stride]; the others are zero.
func copyRows(dst, src []float32, rows, ow, lo, hi, pitch, stride int) {
	copyRowsGo(dst, src, rows, ow, lo, hi, pitch, stride)
}

// addRows adds rows of n values, spitch apart in src, to rows dpitch apart
// in dst.
func addRows(dst, src []float32, rows, n, dpitch, spitch int) {
	addRowsGo(dst, src, rows, n, dpitch, spitch)
}

//go:build noasm || !amd64

package layers

// rowsAsm reports whether assembly row kernels may run: never here.
const rowsAsm = false

// copyRows fills rows of ow values of dst (rows*ow values): values [lo, hi)
// of row r come from src[r*pitch:], the others are zero.
func copyRows(dst, src []float32, rows, ow, lo, hi, pitch int) {
	copyRowsGo(dst, src, rows, ow, lo, hi, pitch)
}

// addRows adds rows of n values, spitch apart in src, to rows dpitch apart
// in dst.
func addRows(dst, src []float32, rows, n, dpitch, spitch int) {
	addRowsGo(dst, src, rows, n, dpitch, spitch)
}

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

// planeKernelsOK reports whether im2colPlane and col2imPlane may run:
// never here.
func planeKernelsOK() bool { return false }

// im2colPlane is not available without assembly.
func im2colPlane(dst, src []float32, g *im2colGeom, k0, k1, ld int) {
	panic("layers: im2colPlane without assembly")
}

// col2imPlane is not available without assembly.
func col2imPlane(dst, col []float32, g *col2imGeom, ld int) {
	panic("layers: col2imPlane without assembly")
}

// poolKernelsOK reports whether the pooling kernels may run: never here.
func poolKernelsOK() bool { return false }

// poolMaxPlane is not available without assembly.
func poolMaxPlane(y, x []float32, mask []int32, g *poolGeom) {
	panic("layers: poolMaxPlane without assembly")
}

// poolAvePlane is not available without assembly.
func poolAvePlane(y, x []float32, g *poolGeom) {
	panic("layers: poolAvePlane without assembly")
}

// poolAveBack is not available without assembly.
func poolAveBack(dx, dy, gs []float32, g *poolBackGeom) {
	panic("layers: poolAveBack without assembly")
}

// reluAsm reports whether assembly ReLU kernels may run: never here.
func reluAsm() bool { return false }

// reluForwardAsm is not available without assembly.
func reluForwardAsm(y, x []float32, slope float32) { panic("layers: reluForwardAsm without assembly") }

// reluBackwardAsm is not available without assembly.
func reluBackwardAsm(dx, dy, x []float32, slope float32) {
	panic("layers: reluBackwardAsm without assembly")
}

//go:build !noasm

package layers

//go:noescape
func reluForwardAVX512(y, x *float32, n int, slope float32)

//go:noescape
func reluBackwardAVX512(dx, dy, x *float32, n int, slope float32)

// reluAsm reports whether the AVX-512 ReLU kernels may run.
func reluAsm() bool { return rows512 }

// reluForwardAsm sets y = max(x, 0) + slope*min(x, 0) (the second term
// only when slope is not 0), as the portable loop does.
func reluForwardAsm(y, x []float32, slope float32) {
	if len(x) == 0 {
		return
	}
	y = y[:len(x)]
	if slope == 0 {
		slope = 0 // not -0: the kernel skips the term only for +0
	}
	reluForwardAVX512(&y[0], &x[0], len(x), slope)
}

// reluBackwardAsm sets dx = dy * ((x > 0) + slope*(x <= 0)).
func reluBackwardAsm(dx, dy, x []float32, slope float32) {
	if len(x) == 0 {
		return
	}
	dx, dy = dx[:len(x)], dy[:len(x)]
	if slope == 0 {
		slope = 0 // not -0, whose products have the wrong sign
	}
	reluBackwardAVX512(&dx[0], &dy[0], &x[0], len(x), slope)
}

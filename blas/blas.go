// Package blas implements the single-precision BLAS routines sparknet's
// layers run on: a packed, cache-blocked, multi-threaded SGEMM and the
// level-1/2 routines. All matrices are row-major.
package blas

import (
	"math"

	"github.com/sparknet/sparknet/internal/threads"
)

// SetThreads sets the number of threads the routines use (n < 1 means
// GOMAXPROCS). It resizes the process-wide pool shared with the layers.
func SetThreads(n int) { threads.SetThreads(n) }

// Threads reports the number of threads in use.
func Threads() int { return threads.Count() }

// Saxpy computes y += alpha*x over the first n elements (none if n <= 0).
func Saxpy(n int, alpha float32, x []float32, y []float32) {
	if n <= 0 {
		return
	}
	x, y = x[:n], y[:n]
	if asmLevel1() {
		saxpyAsm(n, alpha, &x[0], &y[0])
		return
	}
	saxpyGo(alpha, x, y)
}

// Saxpby computes y = alpha*x + beta*y over the first n elements.
func Saxpby(n int, alpha float32, x []float32, beta float32, y []float32) {
	if n <= 0 {
		return
	}
	x, y = x[:n], y[:n]
	if asmLevel1() {
		saxpbyAsm(n, alpha, &x[0], beta, &y[0])
		return
	}
	saxpbyGo(alpha, x, beta, y)
}

// Sscal computes x *= alpha over the first n elements.
func Sscal(n int, alpha float32, x []float32) {
	if n <= 0 {
		return
	}
	x = x[:n]
	if asmLevel1() {
		sscalAsm(n, alpha, &x[0])
		return
	}
	sscalGo(alpha, x)
}

// Sdot returns the dot product of the first n elements of x and y. The
// order of the additions depends on n only, so equal inputs give equal
// bits.
func Sdot(n int, x, y []float32) float32 {
	if n <= 0 {
		return 0
	}
	x, y = x[:n], y[:n]
	if asmLevel1() {
		return sdotAsm(n, &x[0], &y[0])
	}
	return sdotGo(x, y)
}

// Sasum returns the sum of absolute values of the first n elements of x.
func Sasum(n int, x []float32) float32 {
	if n <= 0 {
		return 0
	}
	x = x[:n]
	if asmLevel1() {
		return sasumAsm(n, &x[0])
	}
	return sasumGo(x)
}

func saxpyGo(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

func saxpbyGo(alpha float32, x []float32, beta float32, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = alpha*v + beta*y[i]
	}
}

func sscalGo(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

func sdotGo(x, y []float32) float32 {
	y = y[:len(x)]
	var s float32
	for i, v := range x {
		s += v * y[i]
	}
	return s
}

func sasumGo(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += float32(math.Abs(float64(v)))
	}
	return s
}

// Sgemv computes y = alpha*op(A)*x + beta*y, where A is m x n row-major with
// leading dimension lda and op(A) is A or its transpose. When beta is 0, y is
// not read.
func Sgemv(transA bool, m, n int, alpha float32, a []float32, lda int, x []float32, beta float32, y []float32) {
	if !transA {
		for i := 0; i < m; i++ {
			s := Sdot(n, a[i*lda:], x)
			if beta == 0 {
				y[i] = alpha * s
			} else {
				y[i] = alpha*s + beta*y[i]
			}
		}
		return
	}
	if beta == 0 {
		clear(y[:n])
	} else if beta != 1 {
		Sscal(n, beta, y)
	}
	for i := 0; i < m; i++ {
		Saxpy(n, alpha*x[i], a[i*lda:], y)
	}
}

package nn

import (
	"fmt"
	"testing"

	"github.com/sparknet/sparknet/blas"
)

func TestZZGemm(t *testing.T) {
	blas.SetThreads(1)
	for _, c := range []struct {
		name    string
		ta, tb  bool
		m, n, k int
	}{
		{"conv2 fwd", false, false, 50, 4096, 501},
		{"conv2 dW", false, true, 50, 501, 4096},
		{"conv2 dcol", true, false, 500, 4096, 50},
		{"conv1 fwd", false, false, 20, 36864, 26},
		{"conv1 dW", false, true, 20, 26, 36864},
		{"conv1 dWT", false, true, 26, 20, 36864},
		{"conv2 dWT", false, true, 501, 50, 4096},
		{"ip1 fwd", false, true, 64, 500, 800},
		{"ip1 dW", true, false, 500, 800, 64},
		{"ip1 dx", false, false, 64, 800, 500},
		{"square 512", false, false, 512, 512, 512},
	} {
		lda, ldb := c.k, c.n
		if c.ta {
			lda = c.m
		}
		if c.tb {
			ldb = c.k
		}
		a := make([]float32, c.m*c.k)
		b := make([]float32, c.k*c.n)
		cc := make([]float32, c.m*c.n)
		for i := range a {
			a[i] = float32(i%7) * 0.1
		}
		for i := range b {
			b[i] = float32(i%5) * 0.1
		}
		blas.Sgemm(c.ta, c.tb, c.m, c.n, c.k, 1, a, lda, b, ldb, 0, cc, c.n)
		t0 := cpuNow()
		it := 0
		for cpuNow()-t0 < 3e8 {
			blas.Sgemm(c.ta, c.tb, c.m, c.n, c.k, 1, a, lda, b, ldb, 0, cc, c.n)
			it++
		}
		d := (cpuNow() - t0).Seconds() / float64(it)
		fmt.Printf("%-12s %8.3f ms %6.1f GFLOP/s\n", c.name, d*1e3, 2*float64(c.m*c.n*c.k)/d/1e9)
	}
}

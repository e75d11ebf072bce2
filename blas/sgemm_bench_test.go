package blas_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sparknet/sparknet/bench/sgemmshapes"
	"github.com/sparknet/sparknet/blas"
)

// BenchmarkSgemm measures Sgemm on the squares and the layer shapes of
// bench/sgemmshapes, on 1 and 2 threads, in GFLOP/s.
//
//	go test -run XXX -bench Sgemm ./blas
func BenchmarkSgemm(b *testing.B) {
	old := blas.Threads()
	defer blas.SetThreads(old)
	for _, s := range sgemmshapes.All {
		for _, nt := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/t%d", s.Name, nt), func(b *testing.B) {
				blas.SetThreads(nt)
				benchShape(b, s)
			})
		}
	}
}

func benchShape(b *testing.B, s sgemmshapes.Shape) {
	rng := rand.New(rand.NewPCG(1, 1))
	rnd := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x
	}
	lda, ldb := s.K, s.N
	if s.TransA {
		lda = s.M
	}
	if s.TransB {
		ldb = s.K
	}
	a, bb, c := rnd(s.M*s.K), rnd(s.K*s.N), make([]float32, s.M*s.N)
	blas.Sgemm(s.TransA, s.TransB, s.M, s.N, s.K, 1, a, lda, bb, ldb, 0, c, s.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		blas.Sgemm(s.TransA, s.TransB, s.M, s.N, s.K, 1, a, lda, bb, ldb, 0, c, s.N)
	}
	b.ReportMetric(s.Flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

package parallel

import "testing"

func benchVecs(k, n int) [][]float32 {
	xs := make([][]float32, k)
	for i := range xs {
		xs[i] = make([]float32, n)
		for j := range xs[i] {
			xs[i][j] = float32(j%1000)*1e-3 + float32(i)*1e-4
		}
	}
	return xs
}

func BenchmarkMeanOf4x1M(b *testing.B) {
	xs := benchVecs(4, 1<<20)
	dst := make([]float32, 1<<20)
	for b.Loop() {
		MeanOf(dst, xs)
	}
}

func BenchmarkExactSum4x1M(b *testing.B) {
	xs := benchVecs(4, 1<<20)
	dst := make([]float32, 1<<20)
	s := NewExactSum(1 << 20)
	for b.Loop() {
		s.Reset()
		for _, x := range xs {
			s.Add(0, x)
		}
		s.Mean(dst, 4)
	}
}

func BenchmarkCopy4x1M(b *testing.B) {
	xs := benchVecs(4, 1<<20)
	dst := make([]float32, 1<<20)
	for b.Loop() {
		for _, x := range xs {
			copy(x, dst)
		}
	}
}

func BenchmarkEncodeInt8_1M(b *testing.B) {
	xs := benchVecs(3, 1<<20)
	q := make([]int8, 1<<20)
	for b.Loop() {
		clear(xs[2])
		encodeUpdate(CodecInt8, xs[0], xs[1], xs[2], nil, q)
	}
}

package parallel

import "testing"

func meanBlock(dst []float32, xs [][]float32, base int, sp *spills) int {
	const B = 512
	var s [B]float64
	q := float64(len(xs))
	bad := 0
	for b0 := 0; b0 < len(dst); b0 += B {
		n := min(B, len(dst)-b0)
		acc := s[:n]
		x0 := xs[0][base+b0 : base+b0+n]
		for j := range acc {
			acc[j] = float64(x0[j])
		}
		for _, xv := range xs[1:] {
			x := xv[base+b0 : base+b0+n]
			x = x[:len(acc)]
			for j, v := range x {
				a, b := acc[j], float64(v)
				t := a + b
				if t-a != b || t-b != a {
					bad++
				}
				acc[j] = t
			}
		}
		d := dst[b0 : b0+n]
		d = d[:len(acc)]
		for j, v := range acc {
			d[j] = float32(v / q)
		}
	}
	return bad
}

func BenchmarkMeanBlock4x1M(b *testing.B) {
	xs := benchVecs(4, 1<<20)
	dst := make([]float32, 1<<20)
	for b.Loop() {
		meanBlock(dst, xs, 0, nil)
	}
}

func BenchmarkPlainSum4x1M(b *testing.B) {
	xs := benchVecs(4, 1<<20)
	dst := make([]float32, 1<<20)
	for b.Loop() {
		x0, x1, x2, x3 := xs[0], xs[1], xs[2], xs[3]
		for j := range dst {
			dst[j] = float32((float64(x0[j]) + float64(x1[j]) + float64(x2[j]) + float64(x3[j])) / 4)
		}
	}
}

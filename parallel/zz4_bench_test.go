package parallel

import ("testing"; "math")

func BenchmarkFlag4x1M(b *testing.B) {
	xs := benchVecs(4, 1<<20)
	dst := make([]float32, 1<<20)
	q := 4.0
	bad := 0
	for b.Loop() {
		x0, x1, x2, x3 := xs[0][:len(dst)], xs[1][:len(dst)], xs[2][:len(dst)], xs[3][:len(dst)]
		for j := range dst {
			a, c := float64(x0[j]), float64(x1[j])
			t := a + c
			f := math.Float64bits((t-a)-c) | math.Float64bits((t-c)-a)
			a, c = t, float64(x2[j])
			t = a + c
			f |= math.Float64bits((t-a)-c) | math.Float64bits((t-c)-a)
			a, c = t, float64(x3[j])
			t = a + c
			f |= math.Float64bits((t-a)-c) | math.Float64bits((t-c)-a)
			if f != 0 {
				bad++
			}
			dst[j] = float32(t / q)
		}
	}
	_ = bad
}
func BenchmarkFlagGeneric4x1M(b *testing.B) {
	xs := benchVecs(4, 1<<20)
	dst := make([]float32, 1<<20)
	q := 4.0
	bad := 0
	for b.Loop() {
		for j := range dst {
			s := negZero
			var f uint64
			for _, x := range xs {
				c := float64(x[j])
				t := s + c
				f |= math.Float64bits((t-s)-c) | math.Float64bits((t-c)-s)
				s = t
			}
			if f != 0 {
				bad++
			}
			dst[j] = float32(s / q)
		}
	}
	_ = bad
}

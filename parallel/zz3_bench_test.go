package parallel

import "testing"

func BenchmarkPlainSumMul4x1M(b *testing.B) {
	xs := benchVecs(4, 1<<20)
	dst := make([]float32, 1<<20)
	for b.Loop() {
		x0, x1, x2, x3 := xs[0][:len(dst)], xs[1][:len(dst)], xs[2][:len(dst)], xs[3][:len(dst)]
		for j := range dst {
			dst[j] = float32((float64(x0[j]) + float64(x1[j]) + float64(x2[j]) + float64(x3[j])) * 0.25)
		}
	}
}
func BenchmarkPlainSumDiv4x1M(b *testing.B) {
	xs := benchVecs(4, 1<<20)
	dst := make([]float32, 1<<20)
	q := 4.0
	for b.Loop() {
		x0, x1, x2, x3 := xs[0][:len(dst)], xs[1][:len(dst)], xs[2][:len(dst)], xs[3][:len(dst)]
		for j := range dst {
			dst[j] = float32((float64(x0[j]) + float64(x1[j]) + float64(x2[j]) + float64(x3[j])) / q)
		}
	}
}
func BenchmarkChecked4x1M(b *testing.B) {
	xs := benchVecs(4, 1<<20)
	dst := make([]float32, 1<<20)
	q := 4.0
	bad := 0
	for b.Loop() {
		x0, x1, x2, x3 := xs[0][:len(dst)], xs[1][:len(dst)], xs[2][:len(dst)], xs[3][:len(dst)]
		for j := range dst {
			a, c := float64(x0[j]), float64(x1[j])
			t := a + c
			if t-a != c || t-c != a {
				bad++
			}
			a, c = t, float64(x2[j])
			t = a + c
			if t-a != c || t-c != a {
				bad++
			}
			a, c = t, float64(x3[j])
			t = a + c
			if t-a != c || t-c != a {
				bad++
			}
			dst[j] = float32(t / q)
		}
	}
	_ = bad
}

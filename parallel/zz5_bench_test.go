package parallel

import ("testing"; "math")

func expRange(v float32, lo, hi uint32) (uint32, uint32) {
	e := (math.Float32bits(v) >> 23) & 0xff
	return min(lo, e|uint32(0)), max(hi, e)
}

func BenchmarkExp4x1M(b *testing.B) {
	xs := benchVecs(4, 1<<20)
	dst := make([]float32, 1<<20)
	q := 4.0
	bad := 0
	for b.Loop() {
		x0, x1, x2, x3 := xs[0][:len(dst)], xs[1][:len(dst)], xs[2][:len(dst)], xs[3][:len(dst)]
		for j := range dst {
			v0, v1, v2, v3 := x0[j], x1[j], x2[j], x3[j]
			e0 := (math.Float32bits(v0) >> 23) & 0xff
			e1 := (math.Float32bits(v1) >> 23) & 0xff
			e2 := (math.Float32bits(v2) >> 23) & 0xff
			e3 := (math.Float32bits(v3) >> 23) & 0xff
			hi := max(e0, e1, e2, e3)
			lo := min(e0, e1, e2, e3)
			if hi-lo > 27 {
				bad++
			}
			dst[j] = float32((float64(v0) + float64(v1) + float64(v2) + float64(v3)) / q)
		}
	}
	_ = bad
}

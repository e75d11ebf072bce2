package solver

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The vector SGD kernel gives the bits of sgdScalar, for
// every length (masked tails included), with and without L2 decay and
// iter_size normalisation, and with special values in the weights.
func TestSGDKernelMatchesScalar(t *testing.T) {
	if !haveSGDKernel {
		// No vector kernel on this CPU or build: the scalar loop is the
		// only path, and the kernel must decline.
		if sgdKernel(make([]float32, 4), make([]float32, 4), make([]float32, 4), regularizer{norm: 1}, 0.1, 0.9) {
			t.Fatal("sgdKernel ran without a kernel")
		}
		return
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, reg := range []regularizer{{norm: 1}, {norm: 0.25}, {norm: 1, decay: 5e-4, mode: regL2}, {norm: 1.0 / 3, decay: 0.01, mode: regL2}} {
		for n := 0; n <= 70; n++ {
			size := n
			if n == 70 {
				size = 1000 + 7
			}
			w, g, h := make([]float32, size), make([]float32, size), make([]float32, size)
			for k := range w {
				w[k], g[k], h[k] = float32(r.NormFloat64()), float32(r.NormFloat64()*1e-3), float32(r.NormFloat64()*1e-2)
			}
			if size > 3 {
				w[0], w[1], w[2] = float32(math.Inf(1)), float32(math.NaN()), float32(math.Copysign(0, -1))
			}
			w2, g2, h2 := append([]float32(nil), w...), append([]float32(nil), g...), append([]float32(nil), h...)
			ran := sgdKernel(w, g, h, reg, 0.01, 0.9)
			sgdScalar(w2, g2, h2, reg, 0.01, 0.9)
			if !ran && size > 0 {
				t.Fatalf("kernel did not run for %+v", reg)
			}
			for k := range w {
				if math.Float32bits(w[k]) != math.Float32bits(w2[k]) || math.Float32bits(g[k]) != math.Float32bits(g2[k]) || math.Float32bits(h[k]) != math.Float32bits(h2[k]) {
					t.Fatalf("%+v n=%d k=%d: kernel w,g,h = %v,%v,%v, scalar %v,%v,%v", reg, size, k, w[k], g[k], h[k], w2[k], g2[k], h2[k])
				}
			}
		}
	}
}

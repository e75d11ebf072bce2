package blas

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkLevel1 measures the level-1 routines on an L2-sized vector, with
// the assembly ("asm") and the Go loops ("go"), in GB/s of operands.
func BenchmarkLevel1(b *testing.B) {
	const n = 1 << 16
	rng := rand.New(rand.NewPCG(1, 1))
	x, y := randVec(rng, n), randVec(rng, n)
	var sink float32
	routines := []struct {
		name  string
		bytes int
		f     func()
	}{
		{"Saxpy", 12 * n, func() { Saxpy(n, 1e-3, x, y) }},
		{"Saxpby", 12 * n, func() { Saxpby(n, 1e-3, x, 0.999, y) }},
		{"Sscal", 8 * n, func() { Sscal(n, 1, y) }},
		{"Sdot", 8 * n, func() { sink += Sdot(n, x, y) }},
		{"Sasum", 4 * n, func() { sink += Sasum(n, x) }},
	}
	for _, r := range routines {
		for _, gen := range []bool{false, true} {
			name := "asm"
			if gen {
				name = "go"
			}
			b.Run(fmt.Sprintf("%s/%s", r.name, name), func(b *testing.B) {
				was := UseGeneric(gen)
				defer UseGeneric(was)
				b.SetBytes(int64(r.bytes))
				for i := 0; i < b.N; i++ {
					r.f()
				}
			})
		}
	}
	_ = sink
}

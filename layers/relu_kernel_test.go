package layers

import (
	"math"
	"testing"
)

// The ReLU kernels (each variant the CPU can run) give the portable loop's
// bits, specials and the odd tail included, with and without a slope.
func TestReLUKernelsMatchPortable(t *testing.T) {
	r := coreRand()
	special := []float32{float32(math.NaN()), float32(math.Inf(-1)), float32(math.Inf(1)), 0, float32(math.Copysign(0, -1))}
	n := 16*5 + 7
	x, dy := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], dy[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		if i%9 == 0 {
			x[i] = special[(i/9)%len(special)]
		}
		if i%13 == 0 {
			dy[i] = special[(i/13)%len(special)]
		}
	}
	for _, slope := range []float32{0, float32(math.Copysign(0, -1)), 0.1, -2} {
		var ref [][]float32
		forRowKernels(func(name string) {
			l := &ReLU{slope: slope}
			l.fwdFn, l.bwdFn = l.forwardRange, l.backwardRange
			y, dx := make([]float32, n), make([]float32, n)
			l.x, l.y = x, y
			l.forwardRange(0, n)
			l.dy, l.dx = dy, dx
			l.backwardRange(0, n)
			got := [][]float32{y, dx}
			if ref == nil {
				ref = got
				return
			}
			for i := range got {
				for j := range got[i] {
					if math.Float32bits(got[i][j]) != math.Float32bits(ref[i][j]) {
						t.Fatalf("slope %g, %s: buffer %d value %d (x %g, dy %g) = %g, portable %g",
							slope, name, i, j, x[j], dy[j], got[i][j], ref[i][j])
					}
				}
			}
		})
	}
}

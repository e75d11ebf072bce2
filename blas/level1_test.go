package blas

import (
	"math"
	"math/rand/v2"
	"testing"
)

// level1Impls runs f with the assembly level-1 routines (where the CPU has
// them) and with the Go ones.
func level1Impls(t *testing.T, f func(t *testing.T, name string)) {
	was := UseGeneric(false)
	defer UseGeneric(was)
	f(t, "default")
	UseGeneric(true)
	f(t, "go")
}

func randVec(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// TestLevel1 checks the element-wise routines exactly (they are one or two
// roundings per element) and the reductions within their rounding bound,
// for every length 0..100 and some long ones; elements past n are left
// alone.
func TestLevel1(t *testing.T) {
	level1Impls(t, func(t *testing.T, impl string) {
		rng := rand.New(rand.NewPCG(21, 22))
		lengths := []int{1000, 4099}
		for n := 0; n <= 100; n++ {
			lengths = append(lengths, n)
		}
		for _, n := range lengths {
			x, y := randVec(rng, n+3), randVec(rng, n+3)
			alpha, beta := float32(rng.NormFloat64()), float32(rng.NormFloat64())

			// Saxpy and Saxpby: two roundings at most per element (one
			// when the product is fused into the sum).
			got := append([]float32(nil), y...)
			Saxpy(n, alpha, x, got)
			for i := range got {
				want, bound := float64(y[i]), 0.0
				if i < n {
					ax := float64(alpha) * float64(x[i])
					want += ax
					bound = 0x1p-23 * (math.Abs(float64(y[i])) + math.Abs(ax))
				}
				if d := math.Abs(float64(got[i]) - want); !(d <= bound) {
					t.Fatalf("%s: Saxpy n=%d: y[%d] = %v, want %v", impl, n, i, got[i], want)
				}
			}

			got = append(got[:0], y...)
			Saxpby(n, alpha, x, beta, got)
			for i := range got {
				want, bound := float64(y[i]), 0.0
				if i < n {
					ax, by := float64(alpha)*float64(x[i]), float64(beta)*float64(y[i])
					want = ax + by
					bound = 0x1p-23 * (math.Abs(ax) + 2*math.Abs(by))
				}
				if d := math.Abs(float64(got[i]) - want); !(d <= bound) {
					t.Fatalf("%s: Saxpby n=%d: y[%d] = %v, want %v", impl, n, i, got[i], want)
				}
			}

			got = append(got[:0], y...)
			Sscal(n, alpha, got)
			for i := range got {
				want := y[i]
				if i < n {
					want = alpha * y[i]
				}
				if got[i] != want {
					t.Fatalf("%s: Sscal n=%d: x[%d] = %v, want %v", impl, n, i, got[i], want)
				}
			}

			var dot, dotAbs, asum float64
			for i := 0; i < n; i++ {
				dot += float64(x[i]) * float64(y[i])
				dotAbs += math.Abs(float64(x[i]) * float64(y[i]))
				asum += math.Abs(float64(x[i]))
			}
			bound := float64(n+1) * 0x1p-24
			if d := Sdot(n, x, y); math.Abs(float64(d)-dot) > bound*dotAbs {
				t.Fatalf("%s: Sdot n=%d = %v, want %v", impl, n, d, dot)
			}
			if s := Sasum(n, x); math.Abs(float64(s)-asum) > bound*asum {
				t.Fatalf("%s: Sasum n=%d = %v, want %v", impl, n, s, asum)
			}
		}
	})
}

// TestLevel1PositionIndependent checks the rule the threads rely on: an
// element's result does not depend on where in the vector it falls, so
// splitting a call into chunks gives the same bits.
func TestLevel1PositionIndependent(t *testing.T) {
	level1Impls(t, func(t *testing.T, impl string) {
		rng := rand.New(rand.NewPCG(23, 24))
		const n = 203
		x, y := randVec(rng, n), randVec(rng, n)
		whole := append([]float32(nil), y...)
		Saxpby(n, 0.3, x, 0.7, whole)
		parts := append([]float32(nil), y...)
		for lo := 0; lo < n; lo += 37 {
			hi := min(n, lo+37)
			Saxpby(hi-lo, 0.3, x[lo:], 0.7, parts[lo:])
		}
		for i := range whole {
			if math.Float32bits(whole[i]) != math.Float32bits(parts[i]) {
				t.Fatalf("%s: Saxpby element %d: whole %v, in chunks %v", impl, i, whole[i], parts[i])
			}
		}
		whole = append(whole[:0], y...)
		Saxpy(n, 0.3, x, whole)
		parts = append(parts[:0], y...)
		for lo := 0; lo < n; lo += 37 {
			hi := min(n, lo+37)
			Saxpy(hi-lo, 0.3, x[lo:], parts[lo:])
		}
		for i := range whole {
			if math.Float32bits(whole[i]) != math.Float32bits(parts[i]) {
				t.Fatalf("%s: Saxpy element %d: whole %v, in chunks %v", impl, i, whole[i], parts[i])
			}
		}
	})
}

func TestSgemv(t *testing.T) {
	level1Impls(t, func(t *testing.T, impl string) {
		rng := rand.New(rand.NewPCG(25, 26))
		for it := 0; it < 50; it++ {
			m, n := 1+rng.IntN(70), 1+rng.IntN(70)
			trans := it%2 == 1
			lda := n + rng.IntN(3)
			a := randVec(rng, m*lda)
			xl, yl := n, m
			if trans {
				xl, yl = m, n
			}
			x, y := randVec(rng, xl), randVec(rng, yl)
			alpha, beta := float32(1.5), float32([]float64{0, 1, -0.5}[it%3])
			got := append([]float32(nil), y...)
			if beta == 0 {
				for i := range got {
					got[i] = float32(math.NaN())
				}
			}
			Sgemv(trans, m, n, alpha, a, lda, x, beta, got)
			for i := 0; i < yl; i++ {
				var s, abs float64
				for j := 0; j < xl; j++ {
					var av float32
					if trans {
						av = a[j*lda+i]
					} else {
						av = a[i*lda+j]
					}
					s += float64(av) * float64(x[j])
					abs += math.Abs(float64(av) * float64(x[j]))
				}
				want := float64(alpha)*s + float64(beta)*float64(y[i])
				if beta == 0 {
					want = float64(alpha) * s
				}
				if d := math.Abs(float64(got[i]) - want); !(d <= float64(xl+3)*0x1p-23*(1.5*abs+math.Abs(float64(y[i])))) {
					t.Fatalf("%s: Sgemv(trans=%v, m=%d, n=%d, beta=%v): y[%d] = %v, want %v", impl, trans, m, n, beta, i, got[i], want)
				}
			}
		}
	})
}

package parallel

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// adversarial returns k vectors of n values mixing magnitudes from 1e-30 to
// 1e30, signs, zeros and exact cancellations, so that float64 sums are
// inexact and order-dependent for many elements.
func adversarial(k, n int, seed uint64) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	xs := make([][]float32, k)
	for i := range xs {
		xs[i] = make([]float32, n)
		for j := range xs[i] {
			switch r.IntN(6) {
			case 0:
				xs[i][j] = 0
			case 1:
				xs[i][j] = float32(math.Ldexp(r.Float64()*2-1, r.IntN(200)-100))
			case 2:
				if i > 0 {
					xs[i][j] = -xs[i-1][j] // cancels the previous vector's value
				}
			default:
				xs[i][j] = float32(r.NormFloat64())
			}
		}
	}
	return xs
}

// bigMean is the reference: the exact sum, divided by n and rounded to
// float64, then to float32.
func bigMean(xs [][]float32, j int) float32 {
	s := new(big.Float).SetPrec(2000)
	allNegZero := true
	for _, x := range xs {
		s.Add(s, new(big.Float).SetPrec(2000).SetFloat64(float64(x[j])))
		if math.Float32bits(x[j]) != 0x80000000 {
			allNegZero = false
		}
	}
	if allNegZero {
		return float32(math.Copysign(0, -1))
	}
	q := new(big.Float).SetPrec(53).SetMode(big.ToNearestEven)
	q.Quo(s, new(big.Float).SetInt64(int64(len(xs))))
	f, _ := q.Float64()
	return float32(f)
}

// withAndWithoutAsm runs f with the assembly kernels and without.
func withAndWithoutAsm(t *testing.T, f func(t *testing.T)) {
	t.Run("go", func(t *testing.T) {
		defer func(v bool) { meanAsm = v }(meanAsm)
		meanAsm = false
		f(t)
	})
	if meanAsm {
		t.Run("asm", f)
	}
}

func TestMeanIsExactAndOrderIndependent(t *testing.T) { withAndWithoutAsm(t, testMeanExact) }

func testMeanExact(t *testing.T) {
	for _, k := range []int{1, 2, 3, 4, 5, 8} {
		xs := adversarial(k, 3000, uint64(k))
		want := make([]float32, 3000)
		for j := range want {
			want[j] = bigMean(xs, j)
		}
		got := make([]float32, 3000)
		MeanOf(got, xs)
		for j := range want {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
				t.Fatalf("K=%d: MeanOf element %d = %v, exact mean rounded = %v (inputs %v)", k, j, got[j], want[j], column(xs, j))
			}
		}
		// Streaming, in several orders, added blob by blob.
		r := rand.New(rand.NewPCG(uint64(k), 1))
		for trial := 0; trial < 3; trial++ {
			s := NewExactSum(3000)
			for _, i := range r.Perm(k) {
				s.Add(0, xs[i][:1000])
				s.Add(1000, xs[i][1000:])
			}
			got := make([]float32, 3000)
			s.Mean(got, k)
			for j := range want {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
					t.Fatalf("K=%d order %d: ExactSum element %d = %v, exact mean rounded = %v (inputs %v)", k, trial, j, got[j], want[j], column(xs, j))
				}
			}
		}
	}
}

func column(xs [][]float32, j int) []float32 {
	c := make([]float32, len(xs))
	for i, x := range xs {
		c[i] = x[j]
	}
	return c
}

func TestMeanKnownValues(t *testing.T) { withAndWithoutAsm(t, testMeanKnown) }

func testMeanKnown(t *testing.T) {
	// 1e8 + 1 - 1e8 is 1 exactly; a float32 sum gives 0.
	xs := [][]float32{{1e8, 3}, {1, 5}, {-1e8, 7}}
	got := make([]float32, 2)
	MeanOf(got, xs)
	if want := float32(1.0 / 3); got[0] != want || got[1] != 5 {
		t.Errorf("mean = %v, want [%v 5]", got, want)
	}
	// One vector is returned bit for bit, negative zero included.
	one := []float32{float32(math.Copysign(0, -1)), 1.5e-45, -3}
	MeanOf(got[:0], nil) // no vectors: nothing written
	out := make([]float32, 3)
	MeanOf(out, [][]float32{one})
	s := NewExactSum(3)
	s.Add(0, one)
	out2 := make([]float32, 3)
	s.Mean(out2, 1)
	for j := range one {
		if math.Float32bits(out[j]) != math.Float32bits(one[j]) || math.Float32bits(out2[j]) != math.Float32bits(one[j]) {
			t.Errorf("mean of one vector: element %d = %v / %v, want %v", j, out[j], out2[j], one[j])
		}
	}
}

func TestMaxSpread(t *testing.T) {
	for k, want := range map[int]uint32{1: 29, 2: 28, 3: 27, 4: 27, 5: 26, 8: 26, 9: 25} {
		if got := maxSpread(k); got != want {
			t.Errorf("maxSpread(%d) = %d, want %d", k, got, want)
		}
	}
}

// TestMeanFastPathsAgree compares the assembly kernel with the Go code on
// data that takes the fast path (weights of similar magnitudes), with a few
// elements that do not (zeros, tiny values, NaN), at every length around
// the kernel's block size.
func TestMeanFastPathsAgree(t *testing.T) {
	if !meanAsm {
		t.Skip("no assembly kernel on this platform")
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, k := range []int{1, 2, 3, 4, 7, 16} {
		for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 64, 1000} {
			xs := make([][]float32, k)
			for i := range xs {
				xs[i] = make([]float32, n)
				for j := range xs[i] {
					xs[i][j] = float32(r.NormFloat64()*0.1 + float64(j%7))
				}
			}
			if n > 20 {
				xs[0][3] = 0
				xs[k-1][11] = 1e-30
			}
			got := make([]float32, n)
			want := make([]float32, n)
			okGot := MeanOf(got, xs)
			meanAsm = false
			okWant := MeanOf(want, xs)
			meanAsm = true
			if okGot != okWant || !okGot {
				t.Fatalf("K=%d n=%d: finite %v (asm) %v (go)", k, n, okGot, okWant)
			}
			for j := range want {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
					t.Fatalf("K=%d n=%d: element %d: asm %v, go %v", k, n, j, got[j], want[j])
				}
			}
			if n > 20 {
				xs[k/2][17] = float32(math.Inf(1))
				if MeanOf(got, xs) {
					t.Fatalf("K=%d n=%d: an infinity passed the finite check", k, n)
				}
				xs[k/2][17] = float32(math.NaN())
				if MeanOf(got, xs) {
					t.Fatalf("K=%d n=%d: a NaN passed the finite check", k, n)
				}
			}
		}
	}
}

package parallel

import (
	"math"
	"math/big"
	"sync"

	"github.com/sparknet/sparknet/internal/threads"
)

// Averaging K vectors of float32 must give the same bits whatever order the
// vectors arrive in (the NATS engine combines deltas as they come), and the
// same bits whether they are added one at a time (streaming) or all at once
// (the local engine). Floating-point addition is not associative, so the
// sums here are exact: every element is summed in float64, and each addition
// is checked to be exact (t = a + b is exact iff t-a == b and t-b == a,
// Dekker's Fast2Sum argument applied to both orders). An inexact addition,
// which needs the summands to span more than 29 binades, spills its exact
// rounding error into an arbitrary-precision accumulator for that element;
// it is rare and costs nothing otherwise. The exact sum S of n vectors then
// becomes the mean float32(float64(S/n)): S/n rounded to float64 (which is
// IEEE division when S is a float64), then to float32. The result is a
// function of the exact sum alone, so it is independent of the order and of
// the grouping, and for n = 1 it is the vector itself.

// sumGrain is the smallest chunk of elements one thread sums.
const sumGrain = 1 << 14

// spillPrec is the precision of the spill accumulators: the summands are
// float32 values, multiples of 2^-149 below 2^128 each, so their sums of up
// to 2^32 terms span less than 320 bits and are held exactly.
const spillPrec = 512

// negZero is the additive identity of IEEE arithmetic (-0 + x == x for
// every x, including -0).
var negZero = math.Copysign(0, -1)

// spills holds the exact rounding errors of the rare inexact additions, by
// element index. It is safe for concurrent use.
type spills struct {
	mu  sync.Mutex
	err map[int]*big.Float
}

// add records that a+b was rounded to t: it adds the exact error
// (a+b)-t to element i's accumulator.
func (s *spills) add(i int, a, b, t float64) {
	var e float64
	if math.Abs(a) >= math.Abs(b) {
		e = b - (t - a)
	} else {
		e = a - (t - b)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = map[int]*big.Float{}
	}
	acc := s.err[i]
	if acc == nil {
		acc = new(big.Float).SetPrec(spillPrec)
		s.err[i] = acc
	}
	acc.Add(acc, new(big.Float).SetFloat64(e))
}

// reset forgets all spills.
func (s *spills) reset() {
	s.mu.Lock()
	clear(s.err)
	s.mu.Unlock()
}

// mean returns float32(float64((hi+err)/n)) with both roundings to
// nearest-even, as the fast path float32(hi/float64(n)) computes when err
// is zero.
func spilledMean(hi float64, err *big.Float, n int) float32 {
	s := new(big.Float).SetPrec(spillPrec).SetFloat64(hi)
	s.Add(s, err)
	q := new(big.Float).SetPrec(53).SetMode(big.ToNearestEven)
	q.Quo(s, new(big.Float).SetPrec(spillPrec).SetInt64(int64(n)))
	f, _ := q.Float64()
	return float32(f)
}

// ExactSum accumulates float32 vectors exactly, so that their mean does not
// depend on the order in which they are added. It holds one float64 per
// element (never a copy per contribution). Add may be called for disjoint
// ranges concurrently, but not for overlapping ones.
type ExactSum struct {
	hi []float64
	sp spills
}

// NewExactSum returns a zero sum of vectors of n elements.
func NewExactSum(n int) *ExactSum {
	s := &ExactSum{hi: make([]float64, n)}
	s.Reset()
	return s
}

// Len returns the number of elements.
func (s *ExactSum) Len() int { return len(s.hi) }

// Reset sets the sum back to zero.
func (s *ExactSum) Reset() {
	for i := range s.hi {
		s.hi[i] = negZero
	}
	s.sp.reset()
}

// Add adds x to elements [off, off+len(x)) of the sum.
func (s *ExactSum) Add(off int, x []float32) {
	if len(x) == 0 {
		return
	}
	h := s.hi[off : off+len(x)]
	threads.For(len(x), sumGrain, func(lo, hi int) {
		addRange(h[lo:hi], x[lo:hi], off+lo, &s.sp)
	})
}

func addRange(h []float64, x []float32, base int, sp *spills) {
	x = x[:len(h)]
	for j, v := range x {
		a, b := h[j], float64(v)
		t := a + b
		if t-a != b || t-b != a {
			sp.add(base+j, a, b, t)
		}
		h[j] = t
	}
}

// Mean writes the exact sum divided by n, rounded to float32 as described
// above, to dst[0:Len()).
func (s *ExactSum) Mean(dst []float32, n int) {
	dst = dst[:len(s.hi)]
	q := float64(n)
	threads.For(len(dst), sumGrain, func(lo, hi int) {
		h := s.hi[lo:hi]
		d := dst[lo:hi]
		d = d[:len(h)]
		for j, v := range h {
			d[j] = float32(v / q)
		}
	})
	s.sp.mu.Lock()
	defer s.sp.mu.Unlock()
	for i, e := range s.sp.err {
		dst[i] = spilledMean(s.hi[i], e, n)
	}
}

// MeanOf writes the mean of the vectors xs (all of len(dst) elements) to
// dst in one pass, with exactly the bits an ExactSum fed the same vectors in
// any order would give. It needs no float64 buffer; it is the local
// engine's combine.
func MeanOf(dst []float32, xs [][]float32) {
	n := len(xs)
	if n == 0 {
		return
	}
	for _, x := range xs {
		if len(x) != len(dst) {
			panic("parallel: MeanOf: vectors of different lengths")
		}
	}
	var sp spills
	var finals sync.Map // element -> final float64 partial sum, for spilled elements
	threads.For(len(dst), sumGrain, func(lo, hi int) {
		meanRange(dst[lo:hi], xs, lo, &sp, &finals)
	})
	for i, e := range sp.err {
		hi, _ := finals.Load(i)
		dst[i] = spilledMean(hi.(float64), e, n)
	}
}

func meanRange(dst []float32, xs [][]float32, base int, sp *spills, finals *sync.Map) {
	q := float64(len(xs))
	lo, hi := base, base+len(dst)
	switch len(xs) {
	case 1:
		copy(dst, xs[0][lo:hi])
		return
	case 2:
		x0, x1 := xs[0][lo:hi], xs[1][lo:hi]
		x0, x1 = x0[:len(dst)], x1[:len(dst)]
		for j := range dst {
			a, b := float64(x0[j]), float64(x1[j])
			t := a + b
			if t-a != b || t-b != a {
				sp.add(base+j, a, b, t)
				finals.Store(base+j, t)
			}
			dst[j] = float32(t / q)
		}
		return
	}
	for j := range dst {
		spilled := false
		s := negZero
		for _, x := range xs {
			b := float64(x[lo+j])
			t := s + b
			if t-s != b || t-b != s {
				sp.add(base+j, s, b, t)
				spilled = true
			}
			s = t
		}
		if spilled {
			finals.Store(base+j, s)
		}
		dst[j] = float32(s / q)
	}
}

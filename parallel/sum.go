package parallel

import (
	"math"
	"math/big"
	"sync"
	"sync/atomic"

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

// spilledMean returns the mean of an element whose exact sum is hi + err.
func spilledMean(hi float64, err *big.Float, n int) float32 {
	s := new(big.Float).SetPrec(spillPrec).SetFloat64(hi)
	s.Add(s, err)
	return roundMean(s, n)
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
// engine's combine. Each element is summed in float64 after a check that
// the summands' exponents span few enough binades for every partial sum to
// be exact (29 - ceil(log2 K) binades); the rare element that fails the
// check (or holds a zero or subnormal beside larger values) is summed
// exactly with arbitrary precision. The same check finds infinities and
// NaNs for free: MeanOf reports whether every value was finite (when not,
// dst is garbage).
func MeanOf(dst []float32, xs [][]float32) (finite bool) {
	n := len(xs)
	if n == 0 {
		return true
	}
	for _, x := range xs {
		if len(x) != len(dst) {
			panic("parallel: MeanOf: vectors of different lengths")
		}
	}
	var bad atomic.Bool
	threads.For(len(dst), sumGrain, func(lo, hi int) {
		if !meanRange(dst, xs, lo, hi) {
			bad.Store(true)
		}
	})
	return !bad.Load()
}

// maxSpread returns the largest difference of float32 biased exponents
// among K summands for which every partial sum in float64 is exact: the
// summands are multiples of the smallest one's ulp, 2^(emin-150), and
// their sums stay below 2^(emax-126+ceil(log2 K)), so they need at most
// emax-emin+24+ceil(log2 K) <= 53 bits.
func maxSpread(k int) uint32 {
	l := 0
	for 1<<l < k {
		l++
	}
	if l > 29 {
		return 0
	}
	return uint32(29 - l)
}

const absMask = 0x7fffffff

// notFinite is the smallest absolute bit pattern of an infinity or NaN.
const notFinite = 0x7f800000

// meanRange averages elements [lo, hi); it reports whether they were all
// finite.
func meanRange(dst []float32, xs [][]float32, lo, hi int) bool {
	if !meanAsm || hi-lo < 8 {
		return meanRangeGo(dst, xs, lo, hi)
	}
	// The AVX2 kernel does blocks of 8 with the same arithmetic; a block
	// it stops at (a wide spread, a zero beside larger values, a NaN) and
	// the tail are done here.
	ptrs := make([]*float32, len(xs))
	spread := maxSpread(len(xs))
	finite := true
	for pos := lo; pos < hi; {
		for i, x := range xs {
			ptrs[i] = &x[pos]
		}
		pos += meanAVX2(&dst[pos], &ptrs[0], len(xs), hi-pos, float64(len(xs)), spread)
		end := min(pos+8, hi)
		if pos < end {
			finite = meanRangeGo(dst, xs, pos, end) && finite
		}
		pos = end
	}
	return finite
}

// meanRangeGo is meanRange in Go.
func meanRangeGo(dst []float32, xs [][]float32, lo, hi int) bool {
	spread := maxSpread(len(xs))
	q := float64(len(xs))
	d := dst[lo:hi]
	finite := true
	switch len(xs) {
	case 1:
		x := xs[0][lo:hi]
		copy(d, x)
		return nonFinite(x) < 0
	case 2:
		x0, x1 := xs[0][lo:hi], xs[1][lo:hi]
		x0, x1 = x0[:len(d)], x1[:len(d)]
		for j := range d {
			v0, v1 := x0[j], x1[j]
			b0 := math.Float32bits(v0) & absMask
			b1 := math.Float32bits(v1) & absMask
			if bmax, bmin := max(b0, b1), min(b0, b1); bmax>>23-bmin>>23 > spread || bmax >= notFinite {
				d[j], finite = exactMean(xs, lo+j, finite)
				continue
			}
			d[j] = float32((float64(v0) + float64(v1)) * 0.5) // exactly / 2
		}
		return finite
	case 4:
		// Dividing by 4 is multiplying by 0.25, exactly.
		x0, x1, x2, x3 := xs[0][lo:hi], xs[1][lo:hi], xs[2][lo:hi], xs[3][lo:hi]
		x0, x1, x2, x3 = x0[:len(d)], x1[:len(d)], x2[:len(d)], x3[:len(d)]
		for j := range d {
			v0, v1, v2, v3 := x0[j], x1[j], x2[j], x3[j]
			b0 := math.Float32bits(v0) & absMask
			b1 := math.Float32bits(v1) & absMask
			b2 := math.Float32bits(v2) & absMask
			b3 := math.Float32bits(v3) & absMask
			if bmax, bmin := max(b0, b1, b2, b3), min(b0, b1, b2, b3); bmax>>23-bmin>>23 > spread || bmax >= notFinite {
				d[j], finite = exactMean(xs, lo+j, finite)
				continue
			}
			d[j] = float32((float64(v0) + float64(v1) + float64(v2) + float64(v3)) * 0.25)
		}
		return finite
	}
	for j := range d {
		i := lo + j
		s := negZero
		bmin, bmax := uint32(absMask), uint32(0)
		for _, x := range xs {
			v := x[i]
			b := math.Float32bits(v) & absMask
			bmin, bmax = min(bmin, b), max(bmax, b)
			s += float64(v)
		}
		if bmax>>23-bmin>>23 > spread || bmax >= notFinite {
			d[j], finite = exactMean(xs, i, finite)
			continue
		}
		d[j] = float32(s / q)
	}
	return finite
}

// exactMean returns the mean of element i of the vectors, from their exact
// sum, rounded as the fast path rounds; with a NaN or infinity among them
// it returns NaN and finite = false.
func exactMean(xs [][]float32, i int, finite bool) (float32, bool) {
	s := new(big.Float).SetPrec(spillPrec)
	for _, x := range xs {
		if math.Float32bits(x[i])&absMask >= notFinite {
			return float32(math.NaN()), false
		}
		s.Add(s, new(big.Float).SetFloat64(float64(x[i])))
	}
	return roundMean(s, len(xs)), finite
}

// roundMean returns float32(float64(s/n)), both roundings to nearest-even;
// an exact zero keeps the sign IEEE addition would give it.
func roundMean(s *big.Float, n int) float32 {
	q := new(big.Float).SetPrec(53).SetMode(big.ToNearestEven)
	q.Quo(s, new(big.Float).SetPrec(spillPrec).SetInt64(int64(n)))
	f, _ := q.Float64()
	return float32(f)
}

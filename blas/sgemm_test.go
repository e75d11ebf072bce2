package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sparknet/sparknet/internal/threads"
)

// impls returns the implementations to test: the portable one and every
// assembly one the CPU can run.
func impls() []*impl {
	return append([]*impl{generic}, available...)
}

// withImpl runs f with the given implementation active.
func withImpl(im *impl, f func()) {
	old := available
	if im == generic {
		available = nil
	} else {
		available = []*impl{im}
	}
	defer func() { available = old }()
	f()
}

// withBModes runs f with the normal choices of how to get op(A) and op(B),
// and with each way forced.
func withBModes(f func()) {
	defer func() { forceBMode, forcePackA = -1, false }()
	for _, m := range []int{-1, bBlock, bFused} {
		forceBMode, forcePackA = m, m == bBlock
		f()
	}
}

// withThreads runs f with the process-wide pool resized to n threads.
func withThreads(n int, f func()) {
	old := threads.Count()
	threads.SetThreads(n)
	defer threads.SetThreads(old)
	f()
}

// gemmCase is one Sgemm call: the operands are stored with padded leading
// dimensions whose padding holds NaN, so reading outside a matrix shows.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	lda, ldb, ldc  int
	a, b, c        []float32

	wantC, bound []float64 // computed once by want
}

// newCase fills a case. With exact set, the values are small integers, so
// every sum is exact in float32 and results can be compared bit for bit.
func newCase(rng *rand.Rand, transA, transB bool, m, n, k int, alpha, beta float32, pad int, exact bool) *gemmCase {
	g := &gemmCase{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	g.lda, g.ldb, g.ldc = ac+rng.IntN(pad+1), bc+rng.IntN(pad+1), n+rng.IntN(pad+1)
	fill := func(rows, cols, ld int) []float32 {
		x := make([]float32, rows*ld)
		for i := range x {
			if i%ld >= cols {
				x[i] = float32(math.NaN())
			} else if exact {
				x[i] = float32(rng.IntN(9) - 4)
			} else {
				x[i] = float32(rng.NormFloat64())
			}
		}
		return x
	}
	g.a, g.b, g.c = fill(ar, ac, g.lda), fill(br, bc, g.ldb), fill(m, n, g.ldc)
	if beta == 0 {
		for i := range g.c {
			if i%g.ldc < n {
				g.c[i] = float32(math.NaN()) // must be overwritten, never read
			}
		}
	}
	return g
}

func (g *gemmCase) run() []float32 {
	c := append([]float32(nil), g.c...)
	Sgemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, c, g.ldc)
	return c
}

// want computes the product with a plain triple loop in float64, and a bound
// on the rounding error of a float32 computation of each element.
func (g *gemmCase) want() (want, bound []float64) {
	if g.wantC != nil {
		return g.wantC, g.bound
	}
	defer func() { g.wantC, g.bound = want, bound }()
	want = make([]float64, len(g.c))
	bound = make([]float64, len(g.c))
	for i := 0; i < g.m; i++ {
		for j := 0; j < g.n; j++ {
			var s, abs float64
			for p := 0; p < g.k; p++ {
				var av, bv float64
				if g.transA {
					av = float64(g.a[p*g.lda+i])
				} else {
					av = float64(g.a[i*g.lda+p])
				}
				if g.transB {
					bv = float64(g.b[j*g.ldb+p])
				} else {
					bv = float64(g.b[p*g.ldb+j])
				}
				s += av * bv
				abs += math.Abs(av * bv)
			}
			v := float64(g.alpha) * s
			abs = math.Abs(float64(g.alpha)) * abs
			if g.beta != 0 {
				cv := float64(g.c[i*g.ldc+j])
				v += float64(g.beta) * cv
				abs += math.Abs(float64(g.beta) * cv)
			}
			want[i*g.ldc+j] = v
			bound[i*g.ldc+j] = float64(g.k+4) * 0x1p-23 * abs
		}
	}
	return want, bound
}

func (g *gemmCase) String() string {
	return fmt.Sprintf("Sgemm(transA=%v, transB=%v, m=%d, n=%d, k=%d, alpha=%v, lda=%d, ldb=%d, beta=%v, ldc=%d)",
		g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.lda, g.ldb, g.beta, g.ldc)
}

// checkAll checks the case on every implementation, with every way of
// getting op(B).
func (g *gemmCase) checkAll(t *testing.T, exact bool) {
	t.Helper()
	for _, im := range impls() {
		withImpl(im, func() {
			withBModes(func() { g.check(t, exact) })
		})
	}
}

// check runs the case and compares with the triple loop: exactly when exact,
// else within the rounding bound. The padding of C must be left alone.
func (g *gemmCase) check(t *testing.T, exact bool) {
	t.Helper()
	got := g.run()
	want, bound := g.want()
	for idx, v := range got {
		i, j := idx/g.ldc, idx%g.ldc
		if j >= g.n {
			if !math.IsNaN(float64(v)) && v != g.c[idx] {
				t.Fatalf("%v [%s]: wrote C[%d][%d] in the padding: %v", g, Kernel(), i, j, v)
			}
			continue
		}
		d := math.Abs(float64(v) - want[idx])
		if (exact && d != 0) || !(d <= bound[idx]) {
			t.Fatalf("%v [%s, B mode %d]: C[%d][%d] = %v, want %v (error %g, bound %g)", g, Kernel(), forceBMode, i, j, v, want[idx], d, bound[idx])
		}
	}
}

var scalars = []struct{ alpha, beta float32 }{{1, 0}, {1, 1}, {-2, 0.5}, {0.5, -1}, {1, 0}, {3, 0}}

// TestSgemmEveryDimension varies each of m, n and k over 1..67 with the other
// two random, through every transpose case, on both implementations.
func TestSgemmEveryDimension(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for dim := 0; dim < 3; dim++ {
		for v := 1; v <= 67; v++ {
			d := [3]int{1 + rng.IntN(40), 1 + rng.IntN(70), 1 + rng.IntN(40)}
			d[dim] = v
			s := scalars[rng.IntN(len(scalars))]
			tr := rng.IntN(4)
			g := newCase(rng, tr&1 != 0, tr&2 != 0, d[0], d[1], d[2], s.alpha, s.beta, 3, true)
			g.checkAll(t, true)
		}
	}
}

// TestSgemmRandom runs random shapes up to a few hundred in each dimension,
// larger than the cache blocks, with random real values.
func TestSgemmRandom(t *testing.T) {
	n := 25
	if testing.Short() || raceEnabled {
		n = 8
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for it := 0; it < n; it++ {
		m, nn, k := 1+rng.IntN(200), 1+rng.IntN(200), 1+rng.IntN(600)
		s := scalars[rng.IntN(len(scalars))]
		g := newCase(rng, rng.IntN(2) == 0, rng.IntN(2) == 0, m, nn, k, s.alpha, s.beta, 5, false)
		g.checkAll(t, false)
	}
}

// TestSgemmShapes covers the edges of the blocking (tile, k block, B block
// and packed slab boundaries) and the skinny shapes of convolutions.
func TestSgemmShapes(t *testing.T) {
	shapes := [][3]int{
		{13, 32, 256}, {14, 33, 257}, {26, 64, 512}, {12, 31, 255}, {6, 16, 1}, {7, 17, 2},
		{1, 1, 1}, {1, 1000, 3}, {600, 1, 3}, {3, 2, 3000}, {20, 576, 25}, {50, 300, 300},
		{64, 513, 65}, {100, 7, 600}, {5, 530, 9}, {260, 40, 30},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range shapes {
		for tr := 0; tr < 4; tr++ {
			sc := scalars[rng.IntN(len(scalars))]
			g := newCase(rng, tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], sc.alpha, sc.beta, 2, true)
			g.checkAll(t, true)
		}
	}
}

// TestSgemmSlabs shrinks the limit on shared packed operands so that both
// thread splits run over several slabs.
func TestSgemmSlabs(t *testing.T) {
	old := maxPacked
	maxPacked = 3000
	defer func() { maxPacked = old }()
	rng := rand.New(rand.NewPCG(7, 8))
	withThreads(2, func() {
		// Tall (op(A) shared, in slabs of rows) and narrow (op(B) shared, in
		// slabs of k blocks).
		for _, s := range [][3]int{{300, 70, 40}, {270, 20, 100}, {40, 9, 1100}, {30, 70, 900}} {
			for tr := 0; tr < 4; tr++ {
				g := newCase(rng, tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], 1, 0.5, 2, true)
				g.checkAll(t, true)
			}
		}
	})
}

// TestSgemmThreadsBitIdentical checks the determinism rule: the bits of C do
// not depend on the thread count, for shapes that split by rows and by
// columns.
func TestSgemmThreadsBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, im := range impls() {
		withImpl(im, func() {
			shapes := [][3]int{{20, 25, 3000}, {32, 2000, 75}, {260, 200, 300}, {96, 75, 1000}}
			if testing.Short() || raceEnabled {
				shapes = [][3]int{{20, 25, 1000}, {32, 900, 75}, {260, 100, 100}, {96, 75, 300}}
			}
			for _, s := range shapes {
				for tr := 0; tr < 4; tr++ {
					g := newCase(rng, tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], 0.7, 0.3, 1, false)
					var ref []float32
					for _, nt := range []int{1, 2, 3, 4} {
						withThreads(nt, func() {
							got := g.run()
							if ref == nil {
								ref = got
								return
							}
							for i := range got {
								if math.Float32bits(got[i]) != math.Float32bits(ref[i]) && !math.IsNaN(float64(got[i])) {
									t.Fatalf("%v [%s]: %d threads give C[%d] = %v, 1 thread %v", g, Kernel(), nt, i, got[i], ref[i])
								}
							}
						})
					}
				}
			}
		})
	}
}

// TestSgemmAsmMatchesGeneric compares the two implementations directly.
func TestSgemmAsmMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	n := 20
	if testing.Short() || raceEnabled {
		n = 5
	}
	for _, im := range available {
		for it := 0; it < n; it++ {
			m, n, k := 1+rng.IntN(200), 1+rng.IntN(200), 1+rng.IntN(400)
			g := newCase(rng, rng.IntN(2) == 0, rng.IntN(2) == 0, m, n, k, 1.5, 0.25, 3, false)
			var asm, gen []float32
			withImpl(im, func() { asm = g.run() })
			withImpl(generic, func() { gen = g.run() })
			_, bound := g.want()
			for i := range asm {
				if i%g.ldc >= n {
					continue
				}
				if d := math.Abs(float64(asm[i] - gen[i])); !(d <= 2*bound[i]) {
					t.Fatalf("%v: %s C[%d] = %v, Go %v", g, im.name, i, asm[i], gen[i])
				}
			}
		}
	}
}

func TestSgemmDegenerate(t *testing.T) {
	nan := float32(math.NaN())
	for _, im := range impls() {
		withImpl(im, func() {
			// k = 0 and alpha = 0 scale C by beta; beta = 0 clears NaNs.
			c := []float32{1, 2, nan, 3, 4, nan}
			Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 2, c, 3)
			if c[0] != 2 || c[1] != 4 || c[3] != 6 || c[4] != 8 || !math.IsNaN(float64(c[2])) {
				t.Fatalf("k=0, beta=2: %v", c)
			}
			c = []float32{nan, nan, nan, nan}
			Sgemm(false, false, 2, 2, 2, 0, []float32{1, 2, 3, 4}, 2, []float32{1, 2, 3, 4}, 2, 0, c, 2)
			for _, v := range c {
				if v != 0 {
					t.Fatalf("alpha=0, beta=0: %v", c)
				}
			}
			// m = 0 or n = 0 touches nothing.
			Sgemm(false, false, 0, 3, 3, 1, nil, 3, make([]float32, 9), 3, 0, nil, 3)
			Sgemm(true, true, 3, 0, 3, 1, make([]float32, 9), 3, nil, 3, 0, nil, 1)
		})
	}
}

func TestSgemmPanics(t *testing.T) {
	cases := []struct {
		name string
		f    func()
	}{
		{"negative m", func() { Sgemm(false, false, -1, 1, 1, 1, nil, 1, nil, 1, 0, nil, 1) }},
		{"lda < k", func() {
			Sgemm(false, false, 2, 2, 3, 1, make([]float32, 6), 2, make([]float32, 6), 2, 0, make([]float32, 4), 2)
		}},
		{"lda < m (transA)", func() {
			Sgemm(true, false, 3, 2, 2, 1, make([]float32, 6), 2, make([]float32, 4), 2, 0, make([]float32, 6), 2)
		}},
		{"short B", func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 3), 2, 0, make([]float32, 4), 2)
		}},
		{"short C", func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 3), 2)
		}},
		{"ldc < n", func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 4), 1)
		}},
	}
	for _, c := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", c.name)
				}
			}()
			c.f()
		}()
	}
}

// TestSgemmNoAllocs checks that a call in steady state allocates nothing, on
// one thread and on two, for both thread splits.
func TestSgemmNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, nt := range []int{1, 2} {
		withThreads(nt, func() {
			for i, s := range [][3]int{{64, 500, 800}, {20, 25, 9000}, {300, 300, 300}, {64, 500, 800}, {20, 1000, 25}, {300, 300, 300}} {
				g := newCase(rng, false, i < 3, s[0], s[1], s[2], 1, 0, 0, false)
				c := make([]float32, len(g.c))
				f := func() { Sgemm(g.transA, g.transB, g.m, g.n, g.k, 1, g.a, g.lda, g.b, g.ldb, 0, c, g.ldc) }
				if allocs := testing.AllocsPerRun(5, f); allocs != 0 {
					t.Errorf("%d threads, %v: %v allocations per call", nt, s, allocs)
				}
			}
		})
	}
}

// TestKernels checks every micro-kernel (each row count) against a plain
// loop, including k = 0 and k not a multiple of the unrolling.
func TestKernels(t *testing.T) {
	for _, im := range impls() {
		for rows := 1; rows <= im.mr; rows++ {
			for _, kc := range []int{0, 1, 3, 4, 5, 8, 17} {
				for _, sc := range []struct{ alpha, beta float32 }{{1, 0}, {2, 0.5}, {-1, 1}} {
					checkKernel(t, im, rows, kc, sc.alpha, sc.beta)
					if im.edgeKernels != nil {
						edge := *im
						edge.name += " edge"
						edge.nr, edge.kernels, edge.packKernels = im.edgeNR, im.edgeKernels, nil
						checkKernel(t, &edge, rows, kc, sc.alpha, sc.beta)
					}
				}
			}
		}
	}
}

func checkKernel(t *testing.T, im *impl, rows, kc int, alpha, beta float32) {
	t.Helper()
	nr, as, bs, cs := im.nr, kc+3, im.nr+5, im.nr+2
	a := make([]float32, rows*as+1)
	b := make([]float32, kc*bs+1)
	c := make([]float32, rows*cs)
	for i := range a {
		a[i] = float32(i%7 - 3)
	}
	for i := range b {
		b[i] = float32(i%5 - 2)
	}
	for i := range c {
		c[i] = float32(i%3 - 1)
		if beta == 0 && i%cs < nr {
			c[i] = float32(math.NaN())
		}
	}
	want := append([]float32(nil), c...)
	for r := 0; r < rows; r++ {
		for j := 0; j < nr; j++ {
			var s float32
			for p := 0; p < kc; p++ {
				s += a[r*as+p] * b[p*bs+j]
			}
			if beta == 0 {
				want[r*cs+j] = alpha * s
			} else {
				want[r*cs+j] = alpha*s + beta*c[r*cs+j]
			}
		}
	}
	im.kernels[rows](kc, &a[0], 4*as, &b[0], 4*bs, &c[0], 4*cs, alpha, beta, &b[0], 4)
	if im.packKernels != nil {
		c2 := make([]float32, len(c))
		for i := range c2 {
			c2[i] = float32(i%3 - 1)
			if beta == 0 && i%cs < nr {
				c2[i] = float32(math.NaN())
			}
		}
		pb := make([]float32, kc*nr+1)
		pb[kc*nr] = 42
		im.packKernels[rows](kc, &a[0], 4*as, &b[0], 4*bs, &c2[0], 4*cs, alpha, beta, &a[0], 0, &pb[0])
		for i := range c2 {
			if c2[i] != want[i] {
				t.Fatalf("%s packing kernel, %d rows, kc=%d: C[%d][%d] = %v, want %v", im.name, rows, kc, i/cs, i%cs, c2[i], want[i])
			}
		}
		for p := 0; p < kc; p++ {
			for j := 0; j < nr; j++ {
				if pb[p*nr+j] != b[p*bs+j] {
					t.Fatalf("%s packing kernel, %d rows, kc=%d: packed B[%d][%d] = %v, want %v", im.name, rows, kc, p, j, pb[p*nr+j], b[p*bs+j])
				}
			}
		}
		if pb[kc*nr] != 42 {
			t.Fatalf("%s packing kernel, %d rows, kc=%d: wrote past the packed panel", im.name, rows, kc)
		}
	}
	for i := range c {
		if c[i] != want[i] && !(math.IsNaN(float64(c[i])) && math.IsNaN(float64(want[i]))) {
			t.Fatalf("%s kernel, %d rows, kc=%d, alpha=%v, beta=%v: C[%d][%d] = %v, want %v",
				im.name, rows, kc, alpha, beta, i/cs, i%cs, c[i], want[i])
		}
	}
}

// TestPack checks both implementations' packing against each other's
// definition on odd sizes, both transposes.
func TestPack(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, im := range impls() {
		for it := 0; it < 200; it++ {
			trans := it%2 == 1
			rows, kc := 1+rng.IntN(40), 1+rng.IntN(40)
			i0, p0 := rng.IntN(5), rng.IntN(5)
			r, cl := i0+rows, p0+kc
			if trans {
				r, cl = cl, r
			}
			ld := cl + rng.IntN(4)
			a := make([]float32, r*ld)
			for i := range a {
				a[i] = float32(i)
			}
			dst := make([]float32, rows*kc)
			im.packA(dst, a, ld, trans, i0, rows, p0, kc)
			for x := 0; x < rows; x++ {
				for p := 0; p < kc; p++ {
					idx := (i0+x)*ld + p0 + p
					if trans {
						idx = (p0+p)*ld + i0 + x
					}
					if dst[x*kc+p] != a[idx] {
						t.Fatalf("%s packA(trans=%v, rows=%d, kc=%d): [%d][%d] = %v, want %v", im.name, trans, rows, kc, x, p, dst[x*kc+p], a[idx])
					}
				}
			}

			nr := im.nr
			if im.edgeNR > 0 && it%4 >= 2 {
				nr = im.edgeNR
			}
			cols := 1 + rng.IntN(3*nr)
			j0 := rng.IntN(5)
			br, bc := p0+kc, j0+cols
			if trans {
				br, bc = bc, br
			}
			ldb := bc + rng.IntN(4)
			b := make([]float32, br*ldb)
			for i := range b {
				b[i] = float32(i + 1)
			}
			np := (cols + nr - 1) / nr
			bd := make([]float32, np*kc*nr)
			for i := range bd {
				bd[i] = -1
			}
			im.packB(bd, b, ldb, trans, p0, kc, j0, cols, nr)
			for jp := 0; jp < np; jp++ {
				for p := 0; p < kc; p++ {
					for jj := 0; jj < nr; jj++ {
						j := jp*nr + jj
						var w float32
						if j < cols {
							idx := (p0+p)*ldb + j0 + j
							if trans {
								idx = (j0+j)*ldb + p0 + p
							}
							w = b[idx]
						}
						if got := bd[(jp*kc+p)*nr+jj]; got != w {
							t.Fatalf("%s packB(trans=%v, kc=%d, cols=%d): panel %d [%d][%d] = %v, want %v", im.name, trans, kc, cols, jp, p, jj, got, w)
						}
					}
				}
			}
		}
	}
}

// TestSgemmConcurrent runs products from several goroutines at once: they
// share the pool (a busy pool runs a region on its caller) and each needs
// its own buffers. Results must equal those of the same calls run alone.
func TestSgemmConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	shapes := [][3]int{{40, 30, 900}, {300, 64, 50}, {33, 700, 40}, {20, 25, 2000}}
	var cases []*gemmCase
	var want [][]float32
	withThreads(2, func() {
		for i, s := range shapes {
			g := newCase(rng, i%2 == 0, i/2 == 0, s[0], s[1], s[2], 1, 0.5, 1, false)
			cases = append(cases, g)
			want = append(want, g.run())
		}
		done := make(chan string, len(cases))
		for i, g := range cases {
			go func() {
				for r := 0; r < 20; r++ {
					got := g.run()
					for j := range got {
						if math.Float32bits(got[j]) != math.Float32bits(want[i][j]) && !math.IsNaN(float64(got[j])) {
							done <- fmt.Sprintf("%v, concurrent run %d: C[%d] = %v, alone %v", g, r, j, got[j], want[i][j])
							return
						}
					}
				}
				done <- ""
			}()
		}
		for range cases {
			if msg := <-done; msg != "" {
				t.Error(msg)
			}
		}
	})
}

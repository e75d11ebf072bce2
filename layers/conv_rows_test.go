package layers

import (
	"testing"
)

// The row kernels (each assembly variant the CPU can run) agree with the
// portable Go.
func TestConvRowKernels(t *testing.T) {
	forRowKernels(func(name string) {
		t.Run(name, testConvRowKernels)
	})
}

func testConvRowKernels(t *testing.T) {
	r := coreRand()
	for trial := 0; trial < 500; trial++ {
		rows := r.IntN(5)
		ow := 1 + r.IntN(70)
		lo := r.IntN(ow + 1)
		hi := lo + r.IntN(ow-lo+1)
		stride := 1 + r.IntN(3)
		pitch := (hi-lo)*stride + r.IntN(7)
		src := make([]float32, rows*pitch+hi*stride+8)
		for i := range src {
			src[i] = float32(r.NormFloat64())
		}
		got := make([]float32, rows*ow)
		want := make([]float32, rows*ow)
		for i := range got {
			got[i], want[i] = 7, 7
		}
		copyRows(got, src, rows, ow, lo, hi, pitch, stride)
		copyRowsGo(want, src, rows, ow, lo, hi, pitch, stride)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("copyRows(rows %d, ow %d, [%d,%d), pitch %d, stride %d): element %d = %g, want %g", rows, ow, lo, hi, pitch, stride, i, got[i], want[i])
			}
		}

		n := r.IntN(70)
		dpitch, spitch := n+r.IntN(5), n+r.IntN(5)
		dst := make([]float32, rows*dpitch+n+3)
		for i := range dst {
			dst[i] = float32(r.NormFloat64())
		}
		srcA := make([]float32, rows*spitch+n+3)
		for i := range srcA {
			srcA[i] = float32(r.NormFloat64())
		}
		a, b := append([]float32(nil), dst...), append([]float32(nil), dst...)
		addRows(a, srcA, rows, n, dpitch, spitch)
		addRowsGo(b, srcA, rows, n, dpitch, spitch)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("addRows(rows %d, n %d, pitches %d %d): element %d = %g, want %g", rows, n, dpitch, spitch, i, a[i], b[i])
			}
		}
	}
}

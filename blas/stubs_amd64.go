//go:build !noasm

//go:generate go run ./internal/asmgen -o sgemm_kernels_amd64.s -go sgemm_kernels_amd64.go -v avx512:z:13:2,avx512e:z:13:1:nopack,avx2:y:6:2,avx2e:y:6:1:nopack

package blas

import "golang.org/x/sys/cpu"

// hasAVX2 reports whether the AVX2+FMA level-1 kernels and the packing
// routines may run.
var hasAVX2 = cpu.X86.HasAVX && cpu.X86.HasAVX2 && cpu.X86.HasFMA

var (
	avx512Impl = &impl{
		name:        "avx512 13x32",
		mr:          len(avx512Kernels) - 1,
		nr:          avx512NR,
		kc:          256,
		nc:          512,
		kernels:     avx512Kernels[:],
		packKernels: avx512PackKernels[:],
		edgeKernels: avx512eKernels[:],
		edgeNR:      avx512eNR,
		packA:       packAAsm,
		packB:       packBAsm,
	}
	avx2Impl = &impl{
		name:        "avx2 6x16",
		mr:          len(avx2Kernels) - 1,
		nr:          avx2NR,
		kc:          256,
		nc:          512,
		kernels:     avx2Kernels[:],
		packKernels: avx2PackKernels[:],
		edgeKernels: avx2eKernels[:],
		edgeNR:      avx2eNR,
		packA:       packAAsm,
		packB:       packBAsm,
	}
)

func init() {
	if !hasAVX2 {
		return
	}
	if cpu.X86.HasAVX512F {
		available = append(available, avx512Impl)
	}
	available = append(available, avx2Impl)
}

// asmLevel1 reports whether the level-1 routines run their assembly.
func asmLevel1() bool { return hasAVX2 && !useGeneric.Load() }

//go:noescape
func saxpyAsm(n int, alpha float32, x, y *float32)

//go:noescape
func saxpbyAsm(n int, alpha float32, x *float32, beta float32, y *float32)

//go:noescape
func sscalAsm(n int, alpha float32, x *float32)

//go:noescape
func sdotAsm(n int, x, y *float32) float32

//go:noescape
func sasumAsm(n int, x *float32) float32

// transpose8 sets dst[(8q+t)*dstride + s] = src[s*sstride + 8q+t] for s, t
// in [0,8) and q in [0,n8); strides in bytes.
//
//go:noescape
func transpose8(dst *float32, dstride int, src *float32, sstride int, n8 int)

// packNN packs kc rows of np*8*n8 floats (row stride sstride bytes at src)
// into np consecutive panels of kc x 8*n8 floats at dst; n8 is 1, 2 or 4.
//
//go:noescape
func packNN(dst *float32, src *float32, sstride int, kc int, np int, n8 int)

// packAAsm is packA with the transposing case vectorised.
func packAAsm(dst, a []float32, lda int, trans bool, i0, rows, p0, kc int) {
	if !trans || rows < 8 || kc < 8 {
		packAGo(dst, a, lda, trans, i0, rows, p0, kc)
		return
	}
	dst = dst[:rows*kc]
	r8, p8 := rows&^7, kc&^7
	// The last element each transpose8 call reads: row p+7 of A, column i0+r8-1.
	_ = a[(p0+p8-1)*lda+i0+r8-1]
	for p := 0; p < p8; p += 8 {
		transpose8(&dst[p], 4*kc, &a[(p0+p)*lda+i0], 4*lda, r8/8)
	}
	for p := p8; p < kc; p++ {
		src := a[(p0+p)*lda+i0:][:r8]
		for r, v := range src {
			dst[r*kc+p] = v
		}
	}
	for p := 0; p < kc; p++ {
		src := a[(p0+p)*lda+i0+r8:][:rows-r8]
		for r, v := range src {
			dst[(r8+r)*kc+p] = v
		}
	}
}

// packBAsm is packB with whole panels copied, and the transposes done eight
// rows by eight columns, in assembly.
func packBAsm(dst, b []float32, ldb int, trans bool, p0, kc, j0, cols, nr int) {
	if nr%8 != 0 || nr > 32 || kc == 0 {
		packBGo(dst, b, ldb, trans, p0, kc, j0, cols, nr)
		return
	}
	full := cols / nr
	if !trans {
		if full > 0 {
			_ = b[(p0+kc-1)*ldb+j0+full*nr-1]
			_ = dst[full*kc*nr-1]
			packNN(&dst[0], &b[p0*ldb+j0], 4*ldb, kc, full, nr/8)
		}
		if full*nr < cols {
			packBGo(dst[full*kc*nr:], b, ldb, false, p0, kc, j0+full*nr, cols-full*nr, nr)
		}
		return
	}
	k8 := kc &^ 7
	for jp := 0; jp*nr < cols; jp++ {
		w := min(nr, cols-jp*nr)
		d := dst[jp*kc*nr:][:kc*nr]
		j := j0 + jp*nr
		w8 := w &^ 7
		if w < nr {
			clear(d) // the padding columns
		}
		if k8 > 0 && w8 > 0 {
			_ = b[(j+w8-1)*ldb+p0+k8-1]
			for jj := 0; jj < w8; jj += 8 {
				transpose8(&d[jj], 4*nr, &b[(j+jj)*ldb+p0], 4*ldb, k8/8)
			}
		}
		for jj := 0; jj < w; jj++ {
			from := k8
			if jj >= w8 {
				from = 0
			}
			src := b[(j+jj)*ldb+p0:][:kc]
			for p := from; p < kc; p++ {
				d[p*nr+jj] = src[p]
			}
		}
	}
}

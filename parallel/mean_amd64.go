//go:build !noasm

package parallel

import "golang.org/x/sys/cpu"

// meanAsm is set when the AVX2 averaging kernel may run.
var meanAsm = cpu.X86.HasAVX && cpu.X86.HasAVX2

// meanAVX2 averages elements [0, n) of the k vectors srcs[0..k-1] into dst,
// eight at a time, as meanRange's fast path does (float64 sums in order,
// divided by kf, rounded to float32), until it meets a block of eight
// whose exponent spread exceeds spread or which holds a NaN or an
// infinity. It returns the index of that block, or of the first element
// of the last partial block (n rounded down to a multiple of 8).
//
//go:noescape
func meanAVX2(dst *float32, srcs **float32, k, n int, kf float64, spread uint32) int

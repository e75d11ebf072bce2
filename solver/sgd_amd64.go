//go:build !noasm

package solver

import "golang.org/x/sys/cpu"

// sgdConsts are the constants of one call of sgdAVX512, in the order the
// assembly reads them.
type sgdConsts struct {
	norm, decay, rate, momentum float32
	decayOn                     uint32
}

//go:noescape
func sgdAVX512(w, grad, hist *float32, n int, c *sgdConsts)

var haveSGDKernel = cpu.X86.HasAVX512F

// sgdKernel runs SGD's update with momentum on w, g and h (equal lengths)
// with the AVX-512 kernel and reports true, or reports false (nothing done)
// where that kernel is not available.
func sgdKernel(w, g, h []float32, r regularizer, rate, momentum float32) bool {
	if !haveSGDKernel || len(w) == 0 || r.mode == regL1 {
		return false
	}
	c := sgdConsts{norm: r.norm, decay: r.decay, rate: rate, momentum: momentum}
	if r.mode == regL2 {
		c.decayOn = 1
	}
	sgdAVX512(&w[0], &g[0], &h[0], len(w), &c)
	return true
}

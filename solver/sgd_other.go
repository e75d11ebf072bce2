//go:build !amd64 || noasm

package solver

var haveSGDKernel = false

// sgdKernel reports false: there is no vector kernel on this platform, and
// updateRange's loop does the update.
func sgdKernel(w, g, h []float32, r regularizer, rate, momentum float32) bool { return false }

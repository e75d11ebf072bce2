//go:build noasm || !amd64

package blas

// asmLevel1 is false: there is no assembly in this build.
func asmLevel1() bool { return false }

// The assembly entry points, never called in this build.

func saxpyAsm(n int, alpha float32, x, y *float32) { panic("blas: no assembly") }
func saxpbyAsm(n int, alpha float32, x *float32, beta float32, y *float32) {
	panic("blas: no assembly")
}
func sscalAsm(n int, alpha float32, x *float32) { panic("blas: no assembly") }
func sdotAsm(n int, x, y *float32) float32      { panic("blas: no assembly") }
func sasumAsm(n int, x *float32) float32        { panic("blas: no assembly") }

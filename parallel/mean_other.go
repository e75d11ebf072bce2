//go:build noasm || !amd64

package parallel

// meanAsm is false: there is no assembly in this build.
var meanAsm = false

// meanAVX2 is never called in this build.
func meanAVX2(dst *float32, srcs **float32, k, n int, kf float64, spread uint32) int {
	panic("parallel: no assembly")
}

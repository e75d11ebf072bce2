//go:build noasm || !amd64

package layers

// forRowKernels runs f with each row-kernel variant: the portable Go only.
func forRowKernels(f func(name string)) { f("go") }

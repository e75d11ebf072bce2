//go:build !noasm

package layers

// forRowKernels runs f with each row-kernel variant this CPU can run.
func forRowKernels(f func(name string)) {
	defer func(a, b bool) { rowsAsm, rows512 = a, b }(rowsAsm, rows512)
	has512 := rows512
	rowsAsm, rows512 = false, false
	f("go")
	if !hasAVX2Rows {
		return
	}
	rowsAsm = true
	f("avx2")
	if has512 {
		rows512 = true
		f("avx512")
	}
}

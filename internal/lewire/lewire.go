// Package lewire encodes and decodes slices of numbers as the
// little-endian bytes of sparknet's wire formats (deltas, broadcasts,
// checkpoints), copying whole slices at once on little-endian machines.
package lewire

import (
	"encoding/binary"
	"math"
	"slices"
	"unsafe"
)

// Native reports whether this machine stores numbers as the wire formats
// do, so that slices of them can be copied or aliased as bytes.
var Native = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// AppendFloat32s appends v as little-endian float32 values.
func AppendFloat32s(b []byte, v []float32) []byte {
	n := len(b)
	b = slices.Grow(b, 4*len(v))[:n+4*len(v)]
	out := b[n:]
	if Native && len(v) > 0 {
		copy(out, unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v)))
		return b
	}
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
	}
	return b
}

// AppendUint16s appends v as little-endian uint16 values.
func AppendUint16s(b []byte, v []uint16) []byte {
	n := len(b)
	b = slices.Grow(b, 2*len(v))[:n+2*len(v)]
	out := b[n:]
	if Native && len(v) > 0 {
		copy(out, unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 2*len(v)))
		return b
	}
	for i, x := range v {
		binary.LittleEndian.PutUint16(out[2*i:], x)
	}
	return b
}

// AppendInt8s appends v as bytes.
func AppendInt8s(b []byte, v []int8) []byte {
	if len(v) == 0 {
		return b
	}
	return append(b, unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v))...)
}

// Float32s decodes len(v) little-endian float32 values from p into v.
func Float32s(v []float32, p []byte) {
	if Native && len(v) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v)), p[:4*len(v)])
		return
	}
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
	}
}

// Uint16s decodes len(v) little-endian uint16 values from p into v.
func Uint16s(v []uint16, p []byte) {
	if Native && len(v) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 2*len(v)), p[:2*len(v)])
		return
	}
	for i := range v {
		v[i] = binary.LittleEndian.Uint16(p[2*i:])
	}
}

// Int8s copies len(v) bytes of p into v.
func Int8s(v []int8, p []byte) {
	if len(v) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)), p[:len(v)])
	}
}

// AliasFloat32s returns p's first n float32 values without copying when
// this machine's layout and p's alignment allow it, and ok false (nil)
// otherwise.
func AliasFloat32s(p []byte, n int) (v []float32, ok bool) {
	if !Native || n == 0 || 4*n > len(p) || uintptr(unsafe.Pointer(&p[0]))%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&p[0])), n)[:n:n], true
}

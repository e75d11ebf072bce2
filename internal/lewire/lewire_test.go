package lewire

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"
)

// The fast paths give the bytes and values of encoding/binary's
// little-endian, for every length, appended after existing bytes.
func TestRoundTrip(t *testing.T) {
	for n := 0; n < 20; n++ {
		f := make([]float32, n)
		h := make([]uint16, n)
		q := make([]int8, n)
		for i := range n {
			f[i], h[i], q[i] = float32(i)*-1.25+0.5, uint16(i*4099), int8(i*13-100)
		}
		f = append(f, float32(math.Inf(-1)))[:n] // capacity beyond the values is not read
		var want []byte
		want = append(want, 7)
		for _, x := range f {
			want = binary.LittleEndian.AppendUint32(want, math.Float32bits(x))
		}
		for _, x := range h {
			want = binary.LittleEndian.AppendUint16(want, x)
		}
		for _, x := range q {
			want = append(want, byte(x))
		}
		got := AppendInt8s(AppendUint16s(AppendFloat32s([]byte{7}, f), h), q)
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d: encoded %x, want %x", n, got, want)
		}
		f2, h2, q2 := make([]float32, n), make([]uint16, n), make([]int8, n)
		Float32s(f2, got[1:])
		Uint16s(h2, got[1+4*n:])
		Int8s(q2, got[1+6*n:])
		if !slices.Equal(f2, f) || !slices.Equal(h2, h) || !slices.Equal(q2, q) {
			t.Fatalf("n=%d: decoded %v %v %v, want %v %v %v", n, f2, h2, q2, f, h, q)
		}
		if a, ok := AliasFloat32s(got[1:], n); ok && !slices.Equal(a, f) {
			t.Fatalf("n=%d: aliased %v, want %v", n, a, f)
		}
	}
}

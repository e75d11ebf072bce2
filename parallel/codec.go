package parallel

import (
	"fmt"
	"math"
	"strings"
)

// Codec is how a worker's result travels back to the driver.
//
// CodecNone sends the worker's weights as float32, exactly. The lossy codecs
// send the worker's update u = w - g (its weights minus the round's global
// weights) in fewer bits, with error feedback: the part of the update a
// message could not carry (u - decode(encode(u))) is kept by the worker and
// added to its next update, so nothing is lost for good, only delayed. The
// driver reconstructs the worker's weights as g + decode(message) in float32.
type Codec uint8

// The codecs.
const (
	// CodecNone: float32 weights, 4 bytes per parameter.
	CodecNone Codec = iota
	// CodecFP16: IEEE half-precision update, 2 bytes per parameter
	// (rounded to nearest even; magnitudes beyond 65504 are clamped, the
	// rest carried by error feedback).
	CodecFP16
	// CodecBF16: bfloat16 update (float32's upper half, rounded to nearest
	// even), 2 bytes per parameter.
	CodecBF16
	// CodecInt8: update quantized to int8 with one float32 scale per
	// parameter blob (scale = max|u|/127, q = round(u/scale)), 1 byte per
	// parameter plus 4 per blob.
	CodecInt8
	numCodecs
)

var codecNames = [...]string{"none", "fp16", "bf16", "int8"}

// String returns the codec's flag name.
func (c Codec) String() string {
	if c < numCodecs {
		return codecNames[c]
	}
	return fmt.Sprintf("Codec(%d)", int(c))
}

// Lossy reports whether the codec sends a quantized update with error
// feedback rather than exact weights.
func (c Codec) Lossy() bool { return c != CodecNone }

// ParseCodec reads a codec name: none, fp16, bf16 or int8.
func ParseCodec(s string) (Codec, error) {
	for i, n := range codecNames {
		if strings.EqualFold(s, n) {
			return Codec(i), nil
		}
	}
	return 0, fmt.Errorf("unknown compression %q (want %s)", s, strings.Join(codecNames[:], ", "))
}

// bytesPer returns the payload bytes per parameter.
func (c Codec) bytesPer() int {
	switch c {
	case CodecFP16, CodecBF16:
		return 2
	case CodecInt8:
		return 1
	}
	return 4
}

// PayloadBytes returns the size of a payload of n parameters in blobs
// blobs.
func (c Codec) PayloadBytes(n, blobs int) int {
	b := n * c.bytesPer()
	if c == CodecInt8 {
		b += 4 * blobs
	}
	return b
}

// maxHalf is the largest finite IEEE half-precision value.
const maxHalf = 65504

// float32ToHalf converts to IEEE binary16 with rounding to nearest even.
// The caller clamps to ±maxHalf first, so the result is finite.
func float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case exp >= 31: // overflow (not reached after clamping) or inf/nan
		if b&0x7fffffff > 0x7f800000 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp <= 0: // subnormal half or zero
		if exp < -10 {
			return sign
		}
		m := mant | 0x800000 // implicit bit
		shift := uint(14 - exp)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, which is right
	}
	return sign | uint16(h)
}

// halfToFloat32 converts IEEE binary16 to float32 exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h >> 10 & 0x1f)
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// subnormal: mant * 2^-24
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 31:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// halfFinite reports whether a binary16 value is finite.
func halfFinite(h uint16) bool { return h&0x7c00 != 0x7c00 }

// maxBF16 is the largest finite bfloat16 value.
var maxBF16 = math.Float32frombits(0x7f7f0000)

// float32ToBF16 rounds to bfloat16 (nearest even). The caller clamps to
// ±maxBF16 first, so the result is finite.
func float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	b += 0x7fff + (b >> 16 & 1)
	return uint16(b >> 16)
}

// bf16ToFloat32 converts bfloat16 to float32 exactly.
func bf16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// bf16Finite reports whether a bfloat16 value is finite.
func bf16Finite(h uint16) bool { return h&0x7f80 != 0x7f80 }

// encodeUpdate quantizes one blob's update with error feedback: for every
// element, u = (w - g) + r is encoded, and r becomes u - decode(code). It
// writes the codes to half (fp16, bf16) or q (int8) and returns the int8
// scale. All arithmetic is float32 with explicit roundings, so the driver's
// reconstruction g + decode(code) and the residual agree bit for bit
// whatever the platform.
func encodeUpdate(c Codec, w, g, r []float32, half []uint16, q []int8) (scale float32) {
	g = g[:len(w)]
	r = r[:len(w)]
	switch c {
	case CodecFP16, CodecBF16:
		half = half[:len(w)]
		lim := float32(maxHalf)
		enc, dec := float32ToHalf, halfToFloat32
		if c == CodecBF16 {
			lim, enc, dec = maxBF16, float32ToBF16, bf16ToFloat32
		}
		for j := range w {
			u := float32(w[j]-g[j]) + r[j]
			v := min(max(u, -lim), lim)
			h := enc(v)
			half[j] = h
			r[j] = u - dec(h)
		}
	case CodecInt8:
		q = q[:len(w)]
		// The residual holds u until it is quantized below. The largest
		// magnitude is taken on the bits: for floats without a sign, the
		// order of their bits as integers is their order, and every NaN
		// comes after infinity.
		var m0, m1 uint32
		j := 0
		for ; j+2 <= len(w); j += 2 {
			w2, g2, r2 := w[j:j+2:j+2], g[j:j+2:j+2], r[j:j+2:j+2]
			u0 := float32(w2[0]-g2[0]) + r2[0]
			u1 := float32(w2[1]-g2[1]) + r2[1]
			r2[0], r2[1] = u0, u1
			m0 = max(m0, math.Float32bits(u0)&^(1<<31))
			m1 = max(m1, math.Float32bits(u1)&^(1<<31))
		}
		for ; j < len(w); j++ {
			u := float32(w[j]-g[j]) + r[j]
			r[j] = u
			m0 = max(m0, math.Float32bits(u)&^(1<<31))
		}
		amax := math.Float32frombits(max(m0, m1))
		scale = amax / 127
		if scale == 0 || math.IsInf(float64(scale), 0) || math.IsNaN(float64(scale)) {
			// All zero; or an overflow, which the caller's finite check on
			// the scale rejects.
			clear(q)
			return scale
		}
		quantize8(r, q, scale)
	}
	return scale
}

// roundMagic is 1.5 * 2^23: adding it to a float32 of magnitude below 2^22
// rounds it to an integer (to nearest, ties to even: IEEE addition), which
// subtracting it recovers exactly.
const roundMagic = 12582912

// quantize8 quantizes the finite updates in r with a positive finite
// scale: q = clamp(roundToEven(u/scale), -127, 127), and leaves the
// residual u - q*scale in r. (Clamping u/scale to ±127 before rounding
// gives the same q as after, and keeps it far below 2^22.)
func quantize8(r []float32, q []int8, scale float32) {
	q = q[:len(r)]
	for j, u := range r {
		x := u / scale
		if x > 127 {
			x = 127
		} else if x < -127 {
			x = -127
		}
		y := float32(x + roundMagic)
		// y's bits are those of roundMagic plus the integer.
		q[j] = int8(int32(math.Float32bits(y)) - 0x4b400000)
		r[j] = u - float32(float32(y-roundMagic)*scale)
	}
}

// decodeValues writes one blob's decoded update, decode(code), to out: the
// float32 values a lossy payload stands for.
func decodeValues(c Codec, half []uint16, q []int8, scale float32, out []float32) {
	switch c {
	case CodecFP16:
		half = half[:len(out)]
		for j := range out {
			out[j] = halfToFloat32(half[j])
		}
	case CodecBF16:
		half = half[:len(out)]
		for j := range out {
			out[j] = bf16ToFloat32(half[j])
		}
	case CodecInt8:
		q = q[:len(out)]
		for j := range out {
			out[j] = float32(float32(q[j]) * scale)
		}
	}
}

// decodeUpdate reconstructs one blob of weights from a lossy payload: out =
// g + decode(code), in float32 (out may be g).
func decodeUpdate(c Codec, g []float32, half []uint16, q []int8, scale float32, out []float32) {
	out = out[:len(g)]
	switch c {
	case CodecFP16:
		half = half[:len(g)]
		for j := range g {
			out[j] = g[j] + halfToFloat32(half[j])
		}
	case CodecBF16:
		half = half[:len(g)]
		for j := range g {
			out[j] = g[j] + bf16ToFloat32(half[j])
		}
	case CodecInt8:
		q = q[:len(g)]
		for j := range g {
			out[j] = g[j] + float32(float32(q[j])*scale)
		}
	}
}

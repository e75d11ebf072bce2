package parallel

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestHalfConversion(t *testing.T) {
	cases := []struct {
		f float32
		h uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{65504, 0x7bff},
		{0.5, 0x3800},
		{1.0 / (1 << 24), 0x0001},        // smallest subnormal
		{1.0 / (1 << 14), 0x0400},        // smallest normal
		{1 + 1.0/(1<<11), 0x3c00},        // tie to even (down)
		{1 + 3.0/(1<<11), 0x3c02},        // tie to even (up)
		{1 + 1.0/(1<<11) + 1e-7, 0x3c01}, // above the tie
		{1.0 / (1 << 25), 0x0000},        // half of the smallest subnormal: tie to even 0
		{1.5 / (1 << 25), 0x0001},        // rounds up to the smallest subnormal
		{65519, 0x7bff},                  // below the overflow tie
		{0.1, 0x2e66},
	}
	for _, c := range cases {
		if got := float32ToHalf(c.f); got != c.h {
			t.Errorf("float32ToHalf(%v) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	// Every finite half converts to float32 and back to itself.
	for h := 0; h < 1<<16; h++ {
		if !halfFinite(uint16(h)) {
			continue
		}
		f := halfToFloat32(uint16(h))
		if back := float32ToHalf(f); back != uint16(h) {
			t.Fatalf("half %#04x -> %v -> %#04x", h, f, back)
		}
	}
	if halfFinite(0x7c00) || halfFinite(0xfe00) || !halfFinite(0x7bff) {
		t.Error("halfFinite misclassifies inf/nan/max")
	}
}

func TestBF16Conversion(t *testing.T) {
	cases := []struct {
		f float32
		h uint16
	}{
		{1, 0x3f80},
		{-2, 0xc000},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie to even (down)
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie to even (up)
		{math.Float32frombits(0x3f808001), 0x3f81},
		{maxBF16, 0x7f7f},
	}
	for _, c := range cases {
		if got := float32ToBF16(c.f); got != c.h {
			t.Errorf("float32ToBF16(%v) = %#04x, want %#04x", c.f, got, c.h)
		}
		if back := bf16ToFloat32(c.h); float32ToBF16(back) != c.h {
			t.Errorf("bf16 %#04x does not round trip", c.h)
		}
	}
}

// TestErrorFeedback checks that, over many rounds, the updates the driver
// reconstructs add up to the true updates up to the last residual: error
// feedback delays what a message could not carry, it never loses it.
func TestErrorFeedback(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n, rounds = 200, 50
	for _, c := range []Codec{CodecFP16, CodecBF16, CodecInt8} {
		res := make([]float32, n)
		trueSum := make([]float64, n)
		sentSum := make([]float64, n)
		g := make([]float32, n)
		w := make([]float32, n)
		half := make([]uint16, n)
		q := make([]int8, n)
		out := make([]float32, n)
		for round := 0; round < rounds; round++ {
			for j := range w {
				g[j] = float32(r.NormFloat64())
				// Updates of very different sizes, so int8's per-blob scale
				// drowns the small ones in a single message.
				w[j] = g[j] + float32(r.NormFloat64()*math.Pow(10, -float64(j%5)))
				trueSum[j] += float64(w[j] - g[j])
			}
			scale := encodeUpdate(c, w, g, res, half, q)
			decodeUpdate(c, g, half, q, scale, out)
			for j := range out {
				sentSum[j] += float64(out[j] - g[j])
			}
		}
		var worst float64
		for j := range trueSum {
			// sent + residual = true, up to float32 rounding of the sums.
			d := math.Abs(sentSum[j] + float64(res[j]) - trueSum[j])
			worst = max(worst, d)
		}
		if worst > 1e-4 {
			t.Errorf("%s: sent + residual differs from the true update sum by %g", c, worst)
		}
		// Without error feedback the small updates would be lost entirely
		// with int8: check the residual stays bounded by one quantum.
		if c == CodecInt8 {
			for j, v := range res {
				if math.Abs(float64(v)) > 0.05 {
					t.Errorf("int8 residual %d = %v grew beyond one quantum", j, v)
					break
				}
			}
		}
	}
}

func TestInt8Encoding(t *testing.T) {
	w := []float32{1, 2, 3, 4}
	g := []float32{0, 0, 0, 4}
	res := make([]float32, 4)
	q := make([]int8, 4)
	scale := encodeUpdate(CodecInt8, w, g, res, nil, q)
	if scale != float32(3)/127 {
		t.Errorf("scale = %v, want 3/127", scale)
	}
	if q[0] != 42 || q[1] != 85 || q[2] != 127 || q[3] != 0 {
		t.Errorf("codes = %v, want [42 85 127 0]", q)
	}
	if want := float32(1) - float32(float32(42)*scale); res[0] != want {
		t.Errorf("residual[0] = %v, want %v", res[0], want)
	}
	// All-zero updates have scale 0 and codes 0.
	if s := encodeUpdate(CodecInt8, g, g, make([]float32, 4), nil, q); s != 0 || q[0] != 0 {
		t.Errorf("zero update: scale %v codes %v", s, q)
	}
}

func TestParseCodecAndMode(t *testing.T) {
	for i, n := range codecNames {
		c, err := ParseCodec(n)
		if err != nil || c != Codec(i) || c.String() != n {
			t.Errorf("ParseCodec(%q) = %v, %v", n, c, err)
		}
	}
	if _, err := ParseCodec("zip"); err == nil {
		t.Error("ParseCodec accepted zip")
	}
	if m, err := ParseMomentumMode("average"); err != nil || m != MomentumAverage {
		t.Errorf("ParseMomentumMode(average) = %v, %v", m, err)
	}
	if _, err := ParseMomentumMode("global"); err == nil {
		t.Error("ParseMomentumMode accepted global")
	}
	if b := CodecInt8.PayloadBytes(1000, 4); b != 1016 {
		t.Errorf("int8 payload of 1000 params in 4 blobs = %d bytes, want 1016", b)
	}
}

// TestQuantize8MatchesRoundToEven: the fast int8 quantizer gives the
// codes and residuals of the plain definition (float64 RoundToEven, then
// clamping), ties and clamped values included.
func TestQuantize8MatchesRoundToEven(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 200; trial++ {
		n := 1000
		u := make([]float32, n)
		scale := float32(math.Ldexp(1+r.Float64(), r.IntN(60)-30))
		if trial%2 == 0 {
			scale = float32(math.Ldexp(1, r.IntN(60)-30)) // ties are exact
		}
		for j := range u {
			switch r.IntN(4) {
			case 0: // exact ties k + 0.5
				u[j] = float32(float64(r.IntN(254)-127)+0.5) * scale
			case 1: // beyond the clamp
				u[j] = float32(r.NormFloat64()*200) * scale
			default:
				u[j] = float32(r.NormFloat64()*40) * scale
			}
		}
		got, gq := append([]float32(nil), u...), make([]int8, n)
		quantize8(got, gq, scale)
		for j, x := range u {
			k := math.RoundToEven(float64(x / scale))
			k = min(max(k, -127), 127)
			res := x - float32(float32(k)*scale)
			if gq[j] != int8(k) || math.Float32bits(got[j]) != math.Float32bits(res) {
				t.Fatalf("u=%v scale=%v: code %d residual %v, want %d %v", x, scale, gq[j], got[j], int8(k), res)
			}
		}
	}
}

package parallel

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestBroadcastErrorFeedback: each update brings the replica R to the
// global weights G up to the codec's quantization, what is lost stays in
// G - R and goes with the next update, so with G fixed R converges to it;
// a worker applying the update to its copy of R gets the driver's R bit for
// bit.
func TestBroadcastErrorFeedback(t *testing.T) {
	l, err := NewLayout([]string{"w", "b", "tiny"}, []int{300, 20, 5})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range []Codec{CodecFP16, CodecBF16, CodecInt8} {
		g := make([]float32, l.Len())
		for j := range g {
			g[j] = float32(r.NormFloat64() * math.Ldexp(1, -(j%300)/30)) // magnitudes over 10 binades
		}
		rep := make([]float32, l.Len()) // the driver's replica
		worker := make([]float32, l.Len())
		scratch := make([]float32, l.Len())
		var b Broadcast
		prev := math.Inf(1)
		for round := 0; round < 6; round++ {
			if !b.encode(c, l, g, rep, scratch) {
				t.Fatalf("%s: round %d: encode failed", c, round)
			}
			if err := b.Check(l); err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			if got, want := b.PayloadBytes(), c.PayloadBytes(l.Len(), l.Blobs()); got != want {
				t.Errorf("%s: payload %d bytes, want %d", c, got, want)
			}
			b.Apply(l, worker)
			if j := firstDiff(worker, rep); j >= 0 {
				t.Fatalf("%s: round %d: the worker's replica differs from the driver's at %d: %v, %v", c, round, j, worker[j], rep[j])
			}
			gap := 0.0
			for j := range g {
				gap = max(gap, math.Abs(float64(g[j]-rep[j])))
			}
			if gap > prev {
				t.Errorf("%s: round %d: |G - R| grew from %g to %g", c, round, prev, gap)
			}
			prev = gap
		}
		// fp16 flushes tiny differences to zero (its subnormals end at
		// 6e-8); the others converge to the last bits.
		if lim := map[Codec]float64{CodecFP16: 1e-7, CodecBF16: 1e-6, CodecInt8: 1e-6}[c]; prev > lim {
			t.Errorf("%s: |G - R| is still %g after 6 updates", c, prev)
		}
	}
}

// TestBroadcastOverflowAndCheck: a difference that overflows float32 makes
// encode fail without touching the replica; Check rejects malformed
// updates.
func TestBroadcastOverflowAndCheck(t *testing.T) {
	l, _ := NewLayout([]string{"a", "b"}, []int{2, 2})
	g := []float32{3e38, 0, 1, 2}
	rep := []float32{-3e38, 0, 0, 0}
	var b Broadcast
	if b.encode(CodecInt8, l, g, rep, make([]float32, 4)) || rep[0] != -3e38 || rep[2] != 0 {
		t.Errorf("an overflowing int8 update was encoded; replica %v", rep)
	}
	for name, tc := range map[string]struct {
		b    Broadcast
		want string
	}{
		"short":       {Broadcast{Codec: CodecInt8, Int8: make([]int8, 3), Scales: []float32{1, 1}}, "int8 codes"},
		"scales":      {Broadcast{Codec: CodecInt8, Int8: make([]int8, 4), Scales: []float32{1}}, "scales"},
		"NaN scale":   {Broadcast{Codec: CodecInt8, Int8: make([]int8, 4), Scales: []float32{1, float32(math.NaN())}}, "scale of blob 1"},
		"inf fp16":    {Broadcast{Codec: CodecFP16, Half: []uint16{0, 0x7c00, 0, 0}}, "not finite"},
		"NaN bf16":    {Broadcast{Codec: CodecBF16, Half: []uint16{0, 0, 0x7fc0, 0}}, "not finite"},
		"not lossy":   {Broadcast{Codec: CodecNone}, "not lossy"},
		"mixed codes": {Broadcast{Codec: CodecFP16, Half: make([]uint16, 4), Int8: make([]int8, 4)}, "fp16 codes"},
	} {
		if err := tc.b.Check(l); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
}

func firstDiff(a, b []float32) int {
	for j := range a {
		if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
			return j
		}
	}
	return -1
}

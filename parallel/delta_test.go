package parallel

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func testLayout(t *testing.T) Layout {
	t.Helper()
	l, err := NewLayout([]string{"ip/0", "ip/1", "out/0"}, []int{12, 3, 5})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testDelta makes a delta of the given codec with random weights around
// global g.
func testDelta(l Layout, c Codec, part int, g []float32, history bool, seed uint64) *Delta {
	r := rand.New(rand.NewPCG(seed, 9))
	d := &Delta{Run: "run-x", Round: 3, Iter: 30, Partition: part, Partitions: 4, Codec: c, Counts: l.Counts(),
		Stats: WorkerStats{Steps: 10, Loss: 0.5, Smoothed: 0.6, LR: 0.01, Compute: time.Millisecond, Total: 2 * time.Millisecond}}
	w := make([]float32, l.Len())
	for j := range w {
		w[j] = g[j] + float32(r.NormFloat64()*0.1)
	}
	switch c {
	case CodecNone:
		for i := 0; i < l.Blobs(); i++ {
			d.Weights = append(d.Weights, l.Segment(w, i))
		}
	default:
		res := make([]float32, l.Len())
		d.Half = make([]uint16, l.Len())
		d.Int8 = make([]int8, l.Len())
		d.Scales = make([]float32, l.Blobs())
		for i := 0; i < l.Blobs(); i++ {
			lo, hi := l.Offset(i), l.Offset(i)+l.Count(i)
			d.Scales[i] = encodeUpdate(c, w[lo:hi], g[lo:hi], res[lo:hi], d.Half[lo:hi], d.Int8[lo:hi])
		}
		if c == CodecInt8 {
			d.Half = nil
		} else {
			d.Int8, d.Scales = nil, nil
		}
	}
	if history {
		h := make([]float32, l.Len())
		for j := range h {
			h[j] = float32(r.NormFloat64())
		}
		for i := 0; i < l.Blobs(); i++ {
			d.History = append(d.History, l.Segment(h, i))
		}
	}
	return d
}

func TestDeltaRoundTrip(t *testing.T) {
	l := testLayout(t)
	g := make([]float32, l.Len())
	for _, c := range []Codec{CodecNone, CodecFP16, CodecBF16, CodecInt8} {
		for _, hist := range []bool{false, true} {
			d := testDelta(l, c, 2, g, hist, 1)
			b, err := d.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != d.EncodedSize() {
				t.Errorf("%s: encoded %d bytes, EncodedSize says %d", c, len(b), d.EncodedSize())
			}
			e := Expect{Run: "run-x", Round: 3, Iter: 30, Partitions: 4, Codec: c, Layout: l}
			if hist {
				e.HistorySets = 1
			}
			got, err := Decode(b, e)
			if err != nil {
				t.Fatalf("%s history=%v: %v", c, hist, err)
			}
			again, _ := got.MarshalBinary()
			if string(again) != string(b) {
				t.Errorf("%s history=%v: decode + encode changed the bytes", c, hist)
			}
			if got.Stats != d.Stats || got.Partition != 2 {
				t.Errorf("%s: stats %+v partition %d, want %+v 2", c, got.Stats, got.Partition, d.Stats)
			}
		}
	}
	// Sizes: int8 is about a quarter of none.
	none := testDelta(l, CodecNone, 0, g, false, 1).EncodedSize()
	i8 := testDelta(l, CodecInt8, 0, g, false, 1).EncodedSize()
	if i8 >= none {
		t.Errorf("int8 delta %d bytes, none %d", i8, none)
	}
}

func TestDecodeRejects(t *testing.T) {
	l := testLayout(t)
	g := make([]float32, l.Len())
	e := Expect{Run: "run-x", Round: 3, Iter: 30, Partitions: 4, Codec: CodecNone, Layout: l}
	good := testDelta(l, CodecNone, 1, g, false, 2)
	b, _ := good.MarshalBinary()
	mutate := func(f func(d *Delta)) []byte {
		d := testDelta(l, CodecNone, 1, g, false, 2)
		f(d)
		b, err := d.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	flip := append([]byte(nil), b...)
	flip[len(flip)/2] ^= 1
	otherLayout, _ := NewLayout([]string{"a", "b", "c"}, []int{11, 4, 5})
	cases := []struct {
		name string
		b    []byte
		e    Expect
		want string
	}{
		{"truncated", b[:len(b)-3], e, "bytes"},
		{"empty", nil, e, "bytes"},
		{"bit flip", flip, e, "checksum"},
		{"other run", mutate(func(d *Delta) { d.Run = "run-y" }), e, "run"},
		{"other round", mutate(func(d *Delta) { d.Round = 2 }), e, "round"},
		{"other partitions", mutate(func(d *Delta) { d.Partitions = 5 }), e, "partition"},
		{"partition out of range", mutate(func(d *Delta) { d.Partition = 4 }), e, "partition"},
		{"NaN weight", mutate(func(d *Delta) { d.Weights[1][2] = float32(math.NaN()) }), e, "NaN"},
		{"infinite weight", mutate(func(d *Delta) { d.Weights[0][0] = float32(math.Inf(-1)) }), e, "Inf"},
		{"NaN loss", mutate(func(d *Delta) { d.Stats.Loss = float32(math.NaN()) }), e, "non-finite"},
		{"other shapes", b, Expect{Run: "run-x", Round: 3, Iter: 30, Partitions: 4, Codec: CodecNone, Layout: otherLayout}, "elements"},
		{"other codec", b, Expect{Run: "run-x", Round: 3, Iter: 30, Partitions: 4, Codec: CodecFP16, Layout: l}, "bytes"},
		{"unexpected history", b, Expect{Run: "run-x", Round: 3, Iter: 30, Partitions: 4, Codec: CodecNone, Layout: l, HistorySets: 1}, "bytes"},
	}
	for _, c := range cases {
		_, err := Decode(c.b, c.e)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !errors.Is(err, ErrBadDelta) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want one wrapping ErrBadDelta mentioning %q", c.name, err, c.want)
		}
	}
	// A NaN in an int8 scale or an infinite fp16 code.
	d := testDelta(l, CodecInt8, 1, g, false, 3)
	d.Scales[1] = float32(math.NaN())
	bb, _ := d.MarshalBinary()
	if _, err := Decode(bb, Expect{Run: "run-x", Round: 3, Iter: 30, Partitions: 4, Codec: CodecInt8, Layout: l}); err == nil || !strings.Contains(err.Error(), "scale") {
		t.Errorf("NaN scale: %v", err)
	}
	d = testDelta(l, CodecFP16, 1, g, false, 3)
	d.Half[4] = 0x7c00
	bb, _ = d.MarshalBinary()
	if _, err := Decode(bb, Expect{Run: "run-x", Round: 3, Iter: 30, Partitions: 4, Codec: CodecFP16, Layout: l}); err == nil || !strings.Contains(err.Error(), "fp16") {
		t.Errorf("infinite fp16 code: %v", err)
	}
}

func TestCombinerRejectsAndAverages(t *testing.T) {
	l := testLayout(t)
	g := make([]float32, l.Len())
	for j := range g {
		g[j] = float32(j) * 0.01
	}
	e := Expect{Run: "run-x", Round: 3, Iter: 30, Partitions: 4, Codec: CodecNone, Layout: l}
	c := NewCombiner(e, g)
	d0 := testDelta(l, CodecNone, 0, g, false, 5)
	d1 := testDelta(l, CodecNone, 1, g, false, 6)
	if err := c.Add(d0); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name string
		d    *Delta
	}{
		{"duplicate partition", testDelta(l, CodecNone, 0, g, false, 7)},
		{"NaN", func() *Delta {
			d := testDelta(l, CodecNone, 2, g, false, 8)
			d.Weights[2][0] = float32(math.NaN())
			return d
		}()},
		{"short blob", func() *Delta { d := testDelta(l, CodecNone, 2, g, false, 8); d.Weights[0] = d.Weights[0][:5]; return d }()},
		{"wrong codec", testDelta(l, CodecInt8, 2, g, false, 8)},
		{"wrong round", func() *Delta { d := testDelta(l, CodecNone, 2, g, false, 8); d.Round = 4; return d }()},
		{"history not asked for", testDelta(l, CodecNone, 2, g, true, 8)},
	}
	for _, b := range bad {
		if err := c.Add(b.d); !errors.Is(err, ErrBadDelta) {
			t.Errorf("%s: Add returned %v, want an ErrBadDelta", b.name, err)
		}
	}
	if err := c.AddNoCopy(d1); err != nil {
		t.Fatal(err)
	}
	if c.Count() != 2 {
		t.Fatalf("count %d after two good deltas", c.Count())
	}
	mean := make([]float32, l.Len())
	n, err := c.Finish(mean, nil)
	if err != nil || n != 2 {
		t.Fatalf("Finish = %d, %v", n, err)
	}
	for i := 0; i < l.Blobs(); i++ {
		for j := range l.Segment(mean, i) {
			want := float32((float64(d0.Weights[i][j]) + float64(d1.Weights[i][j])) / 2)
			if got := l.Segment(mean, i)[j]; got != want {
				t.Fatalf("mean of blob %d element %d = %v, want %v", i, j, got, want)
			}
		}
	}
	if err := c.Add(testDelta(l, CodecNone, 3, g, false, 9)); !errors.Is(err, ErrRoundClosed) {
		t.Errorf("Add after Finish: %v, want ErrRoundClosed", err)
	}
	if want := int64(d0.EncodedSize() + d1.EncodedSize()); c.Bytes() != want {
		t.Errorf("bytes %d, want %d", c.Bytes(), want)
	}
}

// TestCombinerPathsAgree feeds the same deltas to combiners in different
// orders and through the streaming, zero-copy and wire paths, for every
// codec, with history: every result must be the same bits.
func TestCombinerPathsAgree(t *testing.T) {
	l := testLayout(t)
	g := make([]float32, l.Len())
	for j := range g {
		g[j] = float32(math.Ldexp(1, j%40-20)) // wide magnitudes
	}
	for _, c := range []Codec{CodecNone, CodecFP16, CodecBF16, CodecInt8} {
		e := Expect{Run: "run-x", Round: 3, Iter: 30, Partitions: 4, Codec: c, Layout: l, HistorySets: 1}
		var ds []*Delta
		for p := 0; p < 4; p++ {
			ds = append(ds, testDelta(l, c, p, g, true, uint64(10+p)))
		}
		var ref, refH []float32
		for trial, order := range [][]int{{0, 1, 2, 3}, {3, 1, 0, 2}, {2, 3, 1, 0}} {
			for _, path := range []string{"add", "nocopy", "wire", "mixed"} {
				comb := NewCombiner(e, g)
				for k, p := range order {
					d := ds[p]
					var err error
					switch {
					case path == "add" || path == "mixed" && k%2 == 0:
						err = comb.Add(d)
					case path == "nocopy" || path == "mixed":
						err = comb.AddNoCopy(d)
					case path == "wire":
						b, _ := d.MarshalBinary()
						var dd *Delta
						if dd, err = Decode(b, e); err == nil {
							err = comb.Add(dd)
						}
					}
					if err != nil {
						t.Fatalf("%s %s: %v", c, path, err)
					}
				}
				mean := make([]float32, l.Len())
				hist := make([]float32, l.Len())
				if _, err := comb.Finish(mean, hist); err != nil {
					t.Fatal(err)
				}
				if ref == nil {
					ref, refH = mean, hist
					continue
				}
				for j := range ref {
					if math.Float32bits(mean[j]) != math.Float32bits(ref[j]) || math.Float32bits(hist[j]) != math.Float32bits(refH[j]) {
						t.Fatalf("%s: order %d path %s: element %d = %v/%v, first path gave %v/%v", c, trial, path, j, mean[j], hist[j], ref[j], refH[j])
					}
				}
			}
		}
	}
}

// TestCombinerRejectsNaNAtFinish: deltas added without copying are checked
// in the averaging pass; one with a NaN is dropped and reported, and the
// mean is that of the others.
func TestCombinerRejectsNaNAtFinish(t *testing.T) {
	l := testLayout(t)
	g := make([]float32, l.Len())
	for _, hist := range []bool{false, true} {
		e := Expect{Run: "run-x", Round: 3, Iter: 30, Partitions: 4, Codec: CodecNone, Layout: l}
		if hist {
			e.HistorySets = 1
		}
		c := NewCombiner(e, g)
		good := testDelta(l, CodecNone, 0, g, hist, 1)
		bad := testDelta(l, CodecNone, 2, g, hist, 2)
		if hist {
			bad.History[1][0] = float32(math.Inf(1))
		} else {
			bad.Weights[1][0] = float32(math.NaN())
		}
		for _, d := range []*Delta{good, bad} {
			if err := c.AddNoCopy(d); err != nil {
				t.Fatalf("AddNoCopy: %v (values are checked at Finish)", err)
			}
		}
		mean := make([]float32, l.Len())
		var h []float32
		if hist {
			h = make([]float32, l.Len())
		}
		n, err := c.Finish(mean, h)
		if err != nil || n != 1 {
			t.Fatalf("history=%v: Finish = %d, %v; want the good delta alone", hist, n, err)
		}
		rej := c.Rejected()
		if len(rej) != 1 || !errors.Is(rej[2], ErrBadDelta) {
			t.Errorf("history=%v: rejected %v, want partition 2", hist, rej)
		}
		for i := 0; i < l.Blobs(); i++ {
			if j := sameBits(l.Segment(mean, i), good.Weights[i]); j >= 0 {
				t.Fatalf("history=%v: mean of blob %d differs from the good delta at %d", hist, i, j)
			}
		}
		if got := c.Partitions(); len(got) != 1 || got[0] != 0 {
			t.Errorf("partitions %v, want [0]", got)
		}
	}
}

func sameBits(a, b []float32) int {
	for j := range a {
		if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
			return j
		}
	}
	return -1
}

// TestCombinerLossyAddsMeanUpdate: with a lossy codec the combiner adds the
// exact mean of the workers' decoded updates to the global weights it was
// given (not to the weights the workers started from, which a compressed
// broadcast makes differ).
func TestCombinerLossyAddsMeanUpdate(t *testing.T) {
	l, err := NewLayout([]string{"a", "b"}, []int{3, 2})
	if err != nil {
		t.Fatal(err)
	}
	g := []float32{1, 2, 3, -4, 0.5}
	e := Expect{Run: "run-x", Round: 1, Iter: 1, Partitions: 2, Codec: CodecInt8, Layout: l}
	mk := func(p int, q []int8, scales []float32) *Delta {
		return &Delta{Run: "run-x", Round: 1, Iter: 1, Partition: p, Partitions: 2, Codec: CodecInt8,
			Counts: l.Counts(), Int8: q, Scales: scales}
	}
	d0 := mk(0, []int8{1, -2, 127, 0, 3}, []float32{0.25, 0.125})
	d1 := mk(1, []int8{3, 2, -1, 5, 0}, []float32{0.5, 1})
	c := NewCombiner(e, g)
	if err := c.Add(d0); err != nil {
		t.Fatal(err)
	}
	if err := c.AddNoCopy(d1); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 5)
	if n, err := c.Finish(got, nil); n != 2 || err != nil {
		t.Fatalf("Finish = %d, %v", n, err)
	}
	// Blob a: scales 0.25 and 0.5; blob b: 0.125 and 1.
	u0 := []float64{0.25, -0.5, 31.75, 0, 0.375}
	u1 := []float64{1.5, 1, -0.5, 5, 0}
	for j := range g {
		want := g[j] + float32((u0[j]+u1[j])/2)
		if got[j] != want {
			t.Errorf("element %d: %v, want %v", j, got[j], want)
		}
	}
	// An update that takes a global weight to infinity is refused.
	big := mk(0, []int8{127, 0, 0, 0, 0}, []float32{3e38, 0})
	c = NewCombiner(e, []float32{3e38, 0, 0, 0, 0})
	if err := c.Add(big); !errors.Is(err, ErrBadDelta) || !strings.Contains(err.Error(), "plus its update") {
		t.Errorf("an overflowing update: %v", err)
	}
}

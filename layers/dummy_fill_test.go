package layers

import (
	"math"
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/internal/threads"
)

// The ziggurat draws standard normal deviates: moments, the mass within
// one sigma and the tail beyond its last strip match N(0, 1).
func TestFillNormalBlockDistribution(t *testing.T) {
	const n = 1 << 21
	d := make([]float32, n)
	for b := 0; b*fillBlock < n; b++ {
		fillNormalBlock(d[b*fillBlock:(b+1)*fillBlock], 0, 1, 12345, uint64(b))
	}
	var s1, s2, s4 float64
	var in1, tail int
	for _, v := range d {
		x := float64(v)
		s1 += x
		s2 += x * x
		s4 += x * x * x * x
		if math.Abs(x) < 1 {
			in1++
		}
		if math.Abs(x) > zigR {
			tail++
		}
	}
	mean, vr, kurt := s1/n, s2/n, s4/n
	within := float64(in1) / n
	tailP := float64(tail) / n
	wantTail := math.Erfc(zigR / math.Sqrt2)
	if math.Abs(mean) > 0.004 || math.Abs(vr-1) > 0.006 || math.Abs(kurt-3) > 0.04 ||
		math.Abs(within-0.682689) > 0.002 || math.Abs(tailP-wantTail) > 0.25*wantTail {
		t.Errorf("mean %g, variance %g, 4th moment %g, P(|x|<1) %g, P(|x|>%g) %g (want %g)", mean, vr, kurt, within, zigR, tailP, wantTail)
	}
	// Scaled and shifted; uniform within its bounds with the right mean.
	fillNormalBlock(d[:fillBlock], 5, 0.5, 1, 0)
	var s float64
	for _, v := range d[:fillBlock] {
		s += float64(v)
	}
	if m := s / fillBlock; math.Abs(m-5) > 0.02 {
		t.Errorf("mean of N(5, 0.25) draws %g", m)
	}
	fillUniformBlock(d[:fillBlock], -2, 3, 1, 0)
	s = 0
	for _, v := range d[:fillBlock] {
		if v < -2 || v >= 3 {
			t.Fatalf("uniform draw %g outside [-2, 3)", v)
		}
		s += float64(v)
	}
	if m := s / fillBlock; math.Abs(m-0.5) > 0.05 {
		t.Errorf("mean of U(-2, 3) draws %g", m)
	}
}

// DummyData's parallel refills give the same bits on 1 and 3 threads, and
// differ from one Forward to the next.
func TestDummyDataRefillThreadInvariance(t *testing.T) {
	defer threads.SetThreads(0)
	var ref [][]float32
	for _, nt := range []int{1, 3} {
		threads.SetThreads(nt)
		l := coreLayer(t, pb.Phase_TRAIN, `name: "d" type: "DummyData" dummy_data_param {
			data_filler { type: "gaussian" std: 2 } data_filler { type: "uniform" min: 1 max: 2 }
			shape { dim: 3 dim: 8195 } shape { dim: 5 } }`)
		top := blobs(2)
		coreSetup(t, l, nil, top)
		var got [][]float32
		for it := 0; it < 2; it++ {
			l.Forward(nil, top)
			got = append(got, append([]float32(nil), top[0].Data...), append([]float32(nil), top[1].Data...))
		}
		if got[0][0] == got[2][0] && got[0][fillBlock+1] == got[2][fillBlock+1] {
			t.Errorf("%d threads: the gaussian top was not redrawn", nt)
		}
		if ref == nil {
			ref = got
			continue
		}
		for i := range got {
			for j := range got[i] {
				if math.Float32bits(got[i][j]) != math.Float32bits(ref[i][j]) {
					t.Fatalf("%d threads: buffer %d value %d = %g, 1 thread %g", nt, i, j, got[i][j], ref[i][j])
				}
			}
		}
	}
}

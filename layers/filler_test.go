package layers

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func fillerRand() *rand.Rand { return rand.New(rand.NewPCG(1701, 42)) }

func meanStd(d []float32) (mean, std float64) {
	for _, v := range d {
		mean += float64(v)
	}
	mean /= float64(len(d))
	for _, v := range d {
		std += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, math.Sqrt(std / float64(len(d)))
}

func mustFill(t *testing.T, b *tensor.Blob, p *pb.FillerParameter) {
	t.Helper()
	if err := Fill(b, p, fillerRand()); err != nil {
		t.Fatalf("Fill(%v): %v", p, err)
	}
}

func TestFillConstant(t *testing.T) {
	b := tensor.New(2, 3, 4, 5)
	mustFill(t, b, &pb.FillerParameter{Type: proto.String("constant"), Value: proto.Float32(10)})
	for i, v := range b.Data {
		if v != 10 {
			t.Fatalf("element %d = %g, want 10", i, v)
		}
	}
	b.Data[0] = 3
	if err := Fill(b, nil, fillerRand()); err != nil || b.Data[0] != 0 {
		t.Fatalf("nil filler: err %v, value %g; want 0", err, b.Data[0])
	}
}

func TestFillUniform(t *testing.T) {
	b := tensor.New(100, 100, 10)
	mustFill(t, b, &pb.FillerParameter{Type: proto.String("uniform"), Min: proto.Float32(1), Max: proto.Float32(2)})
	for i, v := range b.Data {
		if v < 1 || v >= 2 {
			t.Fatalf("element %d = %g outside [1, 2)", i, v)
		}
	}
	mean, std := meanStd(b.Data)
	if math.Abs(mean-1.5) > 0.005 || math.Abs(std-1/math.Sqrt(12)) > 0.005 {
		t.Errorf("uniform[1,2): mean %g std %g, want 1.5 and %g", mean, std, 1/math.Sqrt(12))
	}
}

func TestFillGaussian(t *testing.T) {
	b := tensor.New(100, 100, 10)
	mustFill(t, b, &pb.FillerParameter{Type: proto.String("gaussian"), Mean: proto.Float32(10), Std: proto.Float32(0.1)})
	mean, std := meanStd(b.Data)
	if math.Abs(mean-10) > 0.002 || math.Abs(std-0.1) > 0.002 {
		t.Errorf("gaussian: mean %g std %g, want 10 and 0.1", mean, std)
	}
}

func TestFillGaussianSparse(t *testing.T) {
	// Each value is kept with probability sparse/shape[0] = 25/100.
	b := tensor.New(100, 200)
	mustFill(t, b, &pb.FillerParameter{Type: proto.String("gaussian"), Std: proto.Float32(1), Sparse: proto.Int32(25)})
	zeros := 0
	var nz []float32
	for _, v := range b.Data {
		if v == 0 {
			zeros++
		} else {
			nz = append(nz, v)
		}
	}
	keep := 1 - float64(zeros)/float64(b.Count())
	if math.Abs(keep-0.25) > 0.01 {
		t.Errorf("sparse gaussian kept %g of values, want 0.25", keep)
	}
	_, std := meanStd(nz)
	if math.Abs(std-1) > 0.03 {
		t.Errorf("sparse gaussian non-zero std %g, want 1", std)
	}
	if err := Fill(tensor.New(10, 10), &pb.FillerParameter{Type: proto.String("gaussian"), Sparse: proto.Int32(11)}, fillerRand()); err == nil {
		t.Error("sparse above the number of outputs: want an error")
	}
}

func TestFillXavierMSRA(t *testing.T) {
	// Blob 1000 x 20 x 5 x 5: fan_in = 500, fan_out = 25000.
	shape := []int{1000, 20, 5, 5}
	fanIn, fanOut := 500.0, 25000.0
	cases := []struct {
		norm pb.FillerParameter_VarianceNorm
		n    float64
	}{
		{pb.FillerParameter_FAN_IN, fanIn},
		{pb.FillerParameter_FAN_OUT, fanOut},
		{pb.FillerParameter_AVERAGE, (fanIn + fanOut) / 2},
	}
	for _, c := range cases {
		b := tensor.New(shape...)
		mustFill(t, b, &pb.FillerParameter{Type: proto.String("xavier"), VarianceNorm: c.norm.Enum()})
		scale := math.Sqrt(3 / c.n)
		for _, v := range b.Data {
			if math.Abs(float64(v)) > scale {
				t.Fatalf("xavier %v: value %g beyond scale %g", c.norm, v, scale)
			}
		}
		mean, std := meanStd(b.Data)
		want := scale / math.Sqrt(3)
		if math.Abs(mean) > 0.01*want*10 || math.Abs(std-want)/want > 0.01 {
			t.Errorf("xavier %v: mean %g std %g, want 0 and %g", c.norm, mean, std, want)
		}

		mustFill(t, b, &pb.FillerParameter{Type: proto.String("msra"), VarianceNorm: c.norm.Enum()})
		mean, std = meanStd(b.Data)
		want = math.Sqrt(2 / c.n)
		if math.Abs(mean) > 0.01*want*10 || math.Abs(std-want)/want > 0.01 {
			t.Errorf("msra %v: mean %g std %g, want 0 and %g", c.norm, mean, std, want)
		}
	}
	// 2-D inner-product weights: fan_in is the second axis.
	b := tensor.New(10, 40000)
	mustFill(t, b, &pb.FillerParameter{Type: proto.String("xavier")})
	if _, std := meanStd(b.Data); math.Abs(std-math.Sqrt(1.0/40000))/math.Sqrt(1.0/40000) > 0.01 {
		t.Errorf("xavier 2-D: std %g, want %g", std, math.Sqrt(1.0/40000))
	}
}

func TestFillPositiveUnitball(t *testing.T) {
	b := tensor.New(7, 3, 4, 5)
	mustFill(t, b, &pb.FillerParameter{Type: proto.String("positive_unitball")})
	for i := 0; i < 7; i++ {
		var s float64
		for _, v := range b.Data[i*60 : (i+1)*60] {
			if v < 0 || v > 1 {
				t.Fatalf("value %g outside [0, 1]", v)
			}
			s += float64(v)
		}
		if math.Abs(s-1) > 1e-5 {
			t.Errorf("row %d sums to %g, want 1", i, s)
		}
	}
}

func TestFillBilinear(t *testing.T) {
	// Kernel 4 (upsampling by 2): f = 2, c = 0.75, the 1-D profile is
	// 1-|x/2-0.75| = 0.25, 0.75, 0.75, 0.25.
	b := tensor.New(2, 1, 4, 4)
	mustFill(t, b, &pb.FillerParameter{Type: proto.String("bilinear")})
	prof := []float32{0.25, 0.75, 0.75, 0.25}
	for ch := 0; ch < 2; ch++ {
		for y := 0; y < 4; y++ {
			for x := 0; x < 4; x++ {
				got := b.Data[ch*16+y*4+x]
				if want := prof[y] * prof[x]; math.Abs(float64(got-want)) > 1e-7 {
					t.Errorf("bilinear[%d][%d][%d] = %g, want %g", ch, y, x, got, want)
				}
			}
		}
	}
	// Kernel 5 (upsampling by 3): f = 3, c = 2/3: profile 1/3, 2/3, 1, 2/3, 1/3.
	b = tensor.New(1, 1, 5, 5)
	mustFill(t, b, &pb.FillerParameter{Type: proto.String("bilinear")})
	prof = []float32{1.0 / 3, 2.0 / 3, 1, 2.0 / 3, 1.0 / 3}
	for y := 0; y < 5; y++ {
		for x := 0; x < 5; x++ {
			got := b.Data[y*5+x]
			if want := prof[y] * prof[x]; math.Abs(float64(got-want)) > 1e-6 {
				t.Errorf("bilinear k5 [%d][%d] = %g, want %g", y, x, got, want)
			}
		}
	}
	if err := Fill(tensor.New(1, 1, 3, 4), &pb.FillerParameter{Type: proto.String("bilinear")}, fillerRand()); err == nil {
		t.Error("non-square bilinear: want an error")
	}
}

func TestFillErrors(t *testing.T) {
	b := tensor.New(3, 4)
	err := Fill(b, &pb.FillerParameter{Type: proto.String("nosuch")}, fillerRand())
	if err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("unknown type: err %v, want one naming the type", err)
	}
	if err := Fill(b, &pb.FillerParameter{Type: proto.String("uniform"), Sparse: proto.Int32(2)}, fillerRand()); err == nil {
		t.Error("sparse on uniform: want an error")
	}
}

func TestFillDeterministic(t *testing.T) {
	a, b := tensor.New(50, 10), tensor.New(50, 10)
	p := &pb.FillerParameter{Type: proto.String("gaussian")}
	mustFill(t, a, p)
	mustFill(t, b, p)
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			t.Fatal("the same seed gave different values")
		}
	}
}

package nn

import (
	"math"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
)

// ref64 is a float64 reference of cifar10_quick for one image, written
// directly from Caffe's layer definitions.
type ref64 struct{}

// conv is a 5x5 (k x k), stride-1 convolution with padding pad.
func (ref64) conv(x []float64, C, H, W int, w, b []float32, O, k, pad int) []float64 {
	y := make([]float64, O*H*W)
	for o := 0; o < O; o++ {
		for oy := 0; oy < H; oy++ {
			for ox := 0; ox < W; ox++ {
				s := float64(b[o])
				for c := 0; c < C; c++ {
					for i := 0; i < k; i++ {
						iy := oy - pad + i
						if iy < 0 || iy >= H {
							continue
						}
						for j := 0; j < k; j++ {
							ix := ox - pad + j
							if ix < 0 || ix >= W {
								continue
							}
							s += float64(w[((o*C+c)*k+i)*k+j]) * x[(c*H+iy)*W+ix]
						}
					}
				}
				y[(o*H+oy)*W+ox] = s
			}
		}
	}
	return y
}

// convBack returns dW, db and dx of conv.
func (ref64) convBack(x, dy []float64, C, H, W int, w []float32, O, k, pad int) (dw, db, dx []float64) {
	dw, db, dx = make([]float64, O*C*k*k), make([]float64, O), make([]float64, C*H*W)
	for o := 0; o < O; o++ {
		for oy := 0; oy < H; oy++ {
			for ox := 0; ox < W; ox++ {
				g := dy[(o*H+oy)*W+ox]
				db[o] += g
				for c := 0; c < C; c++ {
					for i := 0; i < k; i++ {
						iy := oy - pad + i
						if iy < 0 || iy >= H {
							continue
						}
						for j := 0; j < k; j++ {
							ix := ox - pad + j
							if ix < 0 || ix >= W {
								continue
							}
							wi := ((o*C+c)*k+i)*k + j
							dw[wi] += g * x[(c*H+iy)*W+ix]
							dx[(c*H+iy)*W+ix] += g * float64(w[wi])
						}
					}
				}
			}
		}
	}
	return
}

// pool is 3x3 stride-2 pooling without padding, ceil-rounded; it returns
// the output, the output size, and for MAX the argmax of each output.
func (ref64) pool(x []float64, C, H, W int, isMax bool) ([]float64, int, []int) {
	O := int(math.Ceil(float64(H-3)/2)) + 1
	y := make([]float64, C*O*O)
	arg := make([]int, C*O*O)
	for c := 0; c < C; c++ {
		for oy := 0; oy < O; oy++ {
			for ox := 0; ox < O; ox++ {
				h0, w0 := oy*2, ox*2
				h1, w1 := min(h0+3, H), min(w0+3, W)
				best, bi, sum := math.Inf(-1), -1, 0.0
				for iy := h0; iy < h1; iy++ {
					for ix := w0; ix < w1; ix++ {
						v := x[(c*H+iy)*W+ix]
						sum += v
						if v > best {
							best, bi = v, (c*H+iy)*W+ix
						}
					}
				}
				o := (c*O+oy)*O + ox
				if isMax {
					y[o], arg[o] = best, bi
				} else {
					y[o] = sum / float64((h1-h0)*(w1-w0))
				}
			}
		}
	}
	return y, O, arg
}

// poolBack spreads dy back through pool.
func (ref64) poolBack(dy []float64, C, H, W, O int, isMax bool, arg []int) []float64 {
	dx := make([]float64, C*H*W)
	for c := 0; c < C; c++ {
		for oy := 0; oy < O; oy++ {
			for ox := 0; ox < O; ox++ {
				o := (c*O+oy)*O + ox
				if isMax {
					dx[arg[o]] += dy[o]
					continue
				}
				h0, w0 := oy*2, ox*2
				h1, w1 := min(h0+3, H), min(w0+3, W)
				g := dy[o] / float64((h1-h0)*(w1-w0))
				for iy := h0; iy < h1; iy++ {
					for ix := w0; ix < w1; ix++ {
						dx[(c*H+iy)*W+ix] += g
					}
				}
			}
		}
	}
	return dx
}

func relu64(x []float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = math.Max(v, 0)
	}
	return y
}

func reluBack64(y, dy []float64) []float64 {
	dx := make([]float64, len(dy))
	for i, v := range y {
		if v > 0 {
			dx[i] = dy[i]
		}
	}
	return dx
}

func ip64(x []float64, w, b []float32, N int) []float64 {
	K := len(x)
	y := make([]float64, N)
	for o := 0; o < N; o++ {
		s := float64(b[o])
		for k := 0; k < K; k++ {
			s += float64(w[o*K+k]) * x[k]
		}
		y[o] = s
	}
	return y
}

func ipBack64(x, dy []float64, w []float32) (dw, db, dx []float64) {
	K, N := len(x), len(dy)
	dw, db, dx = make([]float64, N*K), make([]float64, N), make([]float64, K)
	for o := 0; o < N; o++ {
		db[o] = dy[o]
		for k := 0; k < K; k++ {
			dw[o*K+k] = dy[o] * x[k]
			dx[k] += dy[o] * float64(w[o*K+k])
		}
	}
	return
}

// TestGoldenCifar10QuickInit loads the weights Caffe's fillers produced for
// cifar10_quick, feeds 100 copies of a fixed image with label 0, and checks
// the loss and every parameter gradient against the float64 reference.
func TestGoldenCifar10QuickInit(t *testing.T) {
	dir := filepath.Join(fixtures, "cifar10-quick-init")
	np, err := caffe.LoadNet(filepath.Join(dir, "cifar10_quick_b100_time.prototxt"))
	if err != nil {
		t.Fatal(err)
	}
	// The DummyData layer becomes an Input layer that the test fills.
	d := np.Layer[0]
	d.Type = proto.String("Input")
	d.InputParam = &pb.InputParameter{Shape: d.GetDummyDataParam().GetShape()}
	d.DummyDataParam = nil
	net, err := New(np, &pb.NetState{Phase: pb.Phase_TRAIN.Enum()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := caffe.LoadWeights(filepath.Join(dir, "cifar10_quick_init_iter_0.caffemodel"))
	if err != nil {
		t.Fatal(err)
	}
	if err := net.CopyTrainedLayersFrom(w); err != nil {
		t.Fatal(err)
	}
	const C, H = 3, 32
	img := make([]float64, C*H*H)
	for i := range img {
		img[i] = float64(float32(math.Sin(0.37*float64(i)) + 0.3*math.Cos(0.011*float64(i*i%997))))
	}
	x := net.Blob("data")
	for i := range x.Data {
		x.Data[i] = float32(img[i%len(img)])
	}
	clear(net.Blob("label").Data)
	net.ClearParamDiffs()
	loss, err := net.ForwardBackward()
	if err != nil {
		t.Fatal(err)
	}

	// The reference, for one image (all 100 are the same, and the loss is
	// their mean, so the gradients equal one image's).
	var r ref64
	p := func(layer string, i int) []float32 { return net.Layer(layer).Params()[i].Data }
	c1 := r.conv(img, 3, 32, 32, p("conv1", 0), p("conv1", 1), 32, 5, 2)
	p1, o1, a1 := r.pool(c1, 32, 32, 32, true)
	r1 := relu64(p1)
	c2 := relu64(r.conv(r1, 32, o1, o1, p("conv2", 0), p("conv2", 1), 32, 5, 2))
	p2, o2, _ := r.pool(c2, 32, o1, o1, false)
	c3 := relu64(r.conv(p2, 32, o2, o2, p("conv3", 0), p("conv3", 1), 64, 5, 2))
	p3, o3, _ := r.pool(c3, 64, o2, o2, false)
	f1 := ip64(p3, p("ip1", 0), p("ip1", 1), 64)
	f2 := ip64(f1, p("ip2", 0), p("ip2", 1), 10)
	m := math.Inf(-1)
	for _, v := range f2 {
		m = math.Max(m, v)
	}
	var z float64
	for _, v := range f2 {
		z += math.Exp(v - m)
	}
	wantLoss := -(f2[0] - m - math.Log(z))
	if math.Abs(float64(loss)-wantLoss) > 1e-5*wantLoss {
		t.Errorf("loss %.7f, reference %.7f", loss, wantLoss)
	}
	t.Logf("loss %.6f (reference %.6f; Caffe's log on its random batch: 2.30255)", loss, wantLoss)
	df2 := make([]float64, 10)
	for i, v := range f2 {
		df2[i] = math.Exp(v-m) / z
	}
	df2[0]--
	dwIP2, dbIP2, df1 := ipBack64(f1, df2, p("ip2", 0))
	dwIP1, dbIP1, dp3 := ipBack64(p3, df1, p("ip1", 0))
	dc3 := reluBack64(c3, r.poolBack(dp3, 64, o2, o2, o3, false, nil))
	dwC3, dbC3, dp2 := r.convBack(p2, dc3, 32, o2, o2, p("conv3", 0), 64, 5, 2)
	dc2 := reluBack64(c2, r.poolBack(dp2, 32, o1, o1, o2, false, nil))
	dwC2, dbC2, dr1 := r.convBack(r1, dc2, 32, o1, o1, p("conv2", 0), 32, 5, 2)
	dc1 := r.poolBack(reluBack64(r1, dr1), 32, 32, 32, o1, true, a1)
	dwC1, dbC1, _ := r.convBack(img, dc1, 3, 32, 32, p("conv1", 0), 32, 5, 2)

	// Forward activations of the net (image 0) against the reference.
	compare(t, "pool3 (image 0)", net.Blob("pool3").Data[:len(p3)], p3, 1e-4)
	compare(t, "ip2 (image 0)", net.Blob("ip2").Data[:10], f2, 1e-4)
	for _, c := range []struct {
		layer string
		i     int
		want  []float64
	}{
		{"conv1", 0, dwC1}, {"conv1", 1, dbC1}, {"conv2", 0, dwC2}, {"conv2", 1, dbC2},
		{"conv3", 0, dwC3}, {"conv3", 1, dbC3}, {"ip1", 0, dwIP1}, {"ip1", 1, dbIP1},
		{"ip2", 0, dwIP2}, {"ip2", 1, dbIP2},
	} {
		compare(t, c.layer+" gradient "+string(rune('0'+c.i)), net.Layer(c.layer).Params()[c.i].Diff, c.want, 1e-3)
	}
}

// compare checks got against want with an error bound relative to the
// largest reference magnitude.
func compare(t *testing.T, what string, got []float32, want []float64, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale := 0.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	worst, at := 0.0, 0
	for i, v := range want {
		if d := math.Abs(float64(got[i]) - v); d > worst || math.IsNaN(float64(got[i])) {
			worst, at = d, i
		}
	}
	if worst > rel*scale || math.IsNaN(float64(got[at])) {
		t.Errorf("%s: element %d is %g, reference %g (max |ref| %g)", what, at, got[at], want[at], scale)
	}
}

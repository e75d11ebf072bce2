package layers

import (
	"fmt"
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

// convGeom describes a convolution for the float64 reference.
type convGeom struct {
	group, numOutput    int
	kernel, stride, pad []int
	dil                 []int
}

// refNext advances a row-major multi-index; it reports false after the last.
func refNext(pos, shape []int) bool {
	for d := len(pos) - 1; d >= 0; d-- {
		pos[d]++
		if pos[d] < shape[d] {
			return true
		}
		pos[d] = 0
	}
	return false
}

// refConv is a direct float64 convolution of x (shape [num, C, spatial...],
// channel axis 1) with weights w [O, C/g, kernel...] and bias b (may be nil).
func refConv(x *tensor.Blob, w, b []float32, g convGeom) ([]float64, []int) {
	shape := x.Shape()
	num, C := shape[0], shape[1]
	sp := shape[2:]
	ns := len(sp)
	out := make([]int, ns)
	for d := range sp {
		ext := g.dil[d]*(g.kernel[d]-1) + 1
		out[d] = (sp[d]+2*g.pad[d]-ext)/g.stride[d] + 1
	}
	outCount, inCount, kCount := 1, 1, 1
	for d := 0; d < ns; d++ {
		outCount *= out[d]
		inCount *= sp[d]
		kCount *= g.kernel[d]
	}
	O := g.numOutput
	cg, og := C/g.group, O/g.group
	y := make([]float64, num*O*outCount)
	opos := make([]int, ns)
	kpos := make([]int, ns)
	for n := 0; n < num; n++ {
		for o := 0; o < O; o++ {
			grp := o / og
			for oi := 0; oi < outCount; oi++ {
				// decode oi
				r := oi
				for d := ns - 1; d >= 0; d-- {
					opos[d] = r % out[d]
					r /= out[d]
				}
				s := 0.0
				if b != nil {
					s = float64(b[o])
				}
				for ci := 0; ci < cg; ci++ {
					c := grp*cg + ci
					clear(kpos)
					for ki := 0; ki < kCount; ki++ {
						idx, ok := 0, true
						for d := 0; d < ns; d++ {
							p := opos[d]*g.stride[d] - g.pad[d] + kpos[d]*g.dil[d]
							if p < 0 || p >= sp[d] {
								ok = false
							}
							idx = idx*sp[d] + p
						}
						if ok {
							wv := w[(o*cg+ci)*kCount+ki]
							s += float64(wv) * float64(x.Data[(n*C+c)*inCount+idx])
						}
						refNext(kpos, g.kernel)
					}
				}
				y[(n*O+o)*outCount+oi] = s
			}
		}
	}
	return y, append([]int{num, O}, out...)
}

// convText formats a convolution_param for a geometry.
func convText(typ string, g convGeom, bias bool) string {
	s := fmt.Sprintf("name: \"c\" type: %q convolution_param { num_output: %d group: %d bias_term: %v ", typ, g.numOutput, g.group, bias)
	for _, k := range g.kernel {
		s += fmt.Sprintf("kernel_size: %d ", k)
	}
	for _, v := range g.stride {
		s += fmt.Sprintf("stride: %d ", v)
	}
	for _, v := range g.pad {
		s += fmt.Sprintf("pad: %d ", v)
	}
	for _, v := range g.dil {
		s += fmt.Sprintf("dilation: %d ", v)
	}
	return s + `weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 0.5 } }`
}

var convCases = []struct {
	name  string
	shape []int
	g     convGeom
}{
	{"plain", []int{2, 3, 6, 5}, convGeom{1, 4, []int{3, 3}, []int{1, 1}, []int{0, 0}, []int{1, 1}}},
	{"pad-stride", []int{2, 3, 7, 6}, convGeom{1, 4, []int{3, 2}, []int{2, 3}, []int{1, 2}, []int{1, 1}}},
	{"group", []int{2, 4, 5, 5}, convGeom{2, 6, []int{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}}},
	{"dilation", []int{1, 2, 7, 7}, convGeom{1, 3, []int{3, 3}, []int{1, 1}, []int{2, 1}, []int{2, 3}}},
	{"1x1", []int{2, 5, 3, 4}, convGeom{1, 3, []int{1, 1}, []int{1, 1}, []int{0, 0}, []int{1, 1}}},
	{"1-D", []int{2, 3, 9}, convGeom{1, 2, []int{3}, []int{2}, []int{1}, []int{1}}},
	{"3-D", []int{2, 2, 4, 5, 3}, convGeom{2, 4, []int{2, 3, 2}, []int{1, 2, 1}, []int{1, 0, 1}, []int{1, 1, 2}}},
}

func TestConvolutionForwardMatchesReference(t *testing.T) {
	for _, c := range convCases {
		t.Run(c.name, func(t *testing.T) {
			for _, bias := range []bool{true, false} {
				l := coreLayer(t, pb.Phase_TRAIN, convText("Convolution", c.g, bias))
				x := gaussBlob(coreRand(), 1, c.shape...)
				top := blobs(1)
				coreForward(t, l, []*tensor.Blob{x}, top)
				var b []float32
				if bias {
					b = l.Params()[1].Data
				}
				want, wshape := refConv(x, l.Params()[0].Data, b, c.g)
				if !top[0].ShapeEquals(wshape...) {
					t.Fatalf("top shape %v, want %v", top[0].Shape(), wshape)
				}
				assertClose(t, "top", top[0].Data, want, 1e-4)
				// A second pass (buffers reused) gives the same values.
				l.Forward([]*tensor.Blob{x}, top)
				assertClose(t, "second top", top[0].Data, want, 1e-4)
			}
		})
	}
}

func TestConvolutionKnownValues(t *testing.T) {
	// 3x3 input 1..9, a 2x2 kernel of ones and bias 0.5: window sums + 0.5.
	l := coreLayer(t, pb.Phase_TEST, `name: "c" type: "Convolution" convolution_param {
		num_output: 1 kernel_size: 2 weight_filler { type: "constant" value: 1 }
		bias_filler { type: "constant" value: 0.5 } }`)
	x := blobOf([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3)
	top := blobs(1)
	coreForward(t, l, []*tensor.Blob{x}, top)
	assertClose(t, "top", top[0].Data, []float64{12.5, 16.5, 24.5, 28.5}, 0)
	if !top[0].ShapeEquals(1, 1, 2, 2) {
		t.Errorf("shape %v, want 1x1x2x2", top[0].Shape())
	}
	// Padding 1, stride 2: windows at (-1,-1), (-1,1), (1,-1), (1,1).
	l = coreLayer(t, pb.Phase_TEST, `name: "c" type: "Convolution" convolution_param {
		num_output: 1 kernel_size: 2 pad: 1 stride: 2 bias_term: false
		weight_filler { type: "constant" value: 1 } }`)
	coreForward(t, l, []*tensor.Blob{x}, top)
	assertClose(t, "padded top", top[0].Data, []float64{1, 5, 11, 28}, 0)
}

func TestConvolutionKernelHW(t *testing.T) {
	l := coreLayer(t, pb.Phase_TEST, `name: "c" type: "Convolution" convolution_param {
		num_output: 2 kernel_h: 3 kernel_w: 1 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0 }`)
	top := blobs(1)
	coreForward(t, l, []*tensor.Blob{tensor.New(1, 1, 5, 4)}, top)
	if !top[0].ShapeEquals(1, 2, 3, 4) {
		t.Errorf("shape %v, want 1x2x3x4", top[0].Shape())
	}
	if !l.Params()[0].ShapeEquals(2, 1, 3, 1) {
		t.Errorf("weight shape %v, want 2x1x3x1", l.Params()[0].Shape())
	}
}

func TestConvolutionAxis(t *testing.T) {
	// axis 2: the first two axes are both batch axes.
	l := coreLayer(t, pb.Phase_TEST, `name: "c" type: "Convolution" convolution_param {
		num_output: 3 kernel_size: 2 axis: 2 weight_filler { type: "gaussian" } }`)
	x := gaussBlob(coreRand(), 1, 2, 3, 2, 4, 4)
	top := blobs(1)
	coreForward(t, l, []*tensor.Blob{x}, top)
	if !top[0].ShapeEquals(2, 3, 3, 3, 3) {
		t.Fatalf("shape %v, want 2x3x3x3x3", top[0].Shape())
	}
	// Same as a 4-D convolution of the 6 images.
	x4 := blobOf(x.Data, 6, 2, 4, 4)
	want, _ := refConv(x4, l.Params()[0].Data, l.Params()[1].Data, convGeom{1, 3, []int{2, 2}, []int{1, 1}, []int{0, 0}, []int{1, 1}})
	assertClose(t, "top", top[0].Data, want, 1e-4)
}

func TestConvolutionErrors(t *testing.T) {
	cases := map[string]string{
		"no kernel":      `convolution_param { num_output: 2 }`,
		"bad group":      `convolution_param { num_output: 2 kernel_size: 1 group: 2 }`,
		"kernel too big": `convolution_param { num_output: 2 kernel_size: 9 }`,
		"two kernels":    `convolution_param { num_output: 2 kernel_size: 1 kernel_size: 2 kernel_size: 3 }`,
		"kernel_h only":  `convolution_param { num_output: 2 kernel_h: 2 }`,
	}
	for name, text := range cases {
		p := "name: \"c\" type: \"Convolution\" " + text
		l, err := newFromText(p)
		if err == nil {
			err = l.Setup([]*tensor.Blob{tensor.New(1, 3, 4, 4)}, blobs(1))
			if err == nil {
				err = l.Reshape([]*tensor.Blob{tensor.New(1, 3, 4, 4)}, blobs(1))
			}
		}
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestConvolutionGradient(t *testing.T) {
	for _, c := range convCases {
		t.Run(c.name, func(t *testing.T) {
			l := coreLayer(t, pb.Phase_TRAIN, convText("Convolution", c.g, true))
			x := gaussBlob(coreRand(), 1, c.shape...)
			newGradChecker().check(t, l, []*tensor.Blob{x}, blobs(1), nil)
		})
	}
}

func TestConvolutionTwoBottomsShareWeights(t *testing.T) {
	g := convGeom{1, 2, []int{2, 2}, []int{1, 1}, []int{0, 0}, []int{1, 1}}
	l := coreLayer(t, pb.Phase_TRAIN, convText("Convolution", g, true))
	r := coreRand()
	x1, x2 := gaussBlob(r, 1, 2, 2, 3, 3), gaussBlob(r, 1, 2, 2, 3, 3)
	top := blobs(2)
	coreForward(t, l, []*tensor.Blob{x1, x2}, top)
	for i, x := range []*tensor.Blob{x1, x2} {
		want, _ := refConv(x, l.Params()[0].Data, l.Params()[1].Data, g)
		assertClose(t, fmt.Sprint("top ", i), top[i].Data, want, 1e-4)
	}
	newGradChecker().checkAfterSetup(t, l, []*tensor.Blob{x1, x2}, top, nil)
}

func TestConvolutionFrozenParams(t *testing.T) {
	l := coreLayer(t, pb.Phase_TRAIN, `name: "c" type: "Convolution" convolution_param {
		num_output: 2 kernel_size: 2 weight_filler { type: "gaussian" } }`)
	x := gaussBlob(coreRand(), 1, 1, 2, 3, 3)
	top := blobs(1)
	coreForward(t, l, []*tensor.Blob{x}, top)
	l.(ParamPropagator).SetParamPropagateDown(0, false)
	for i := range top[0].Diff {
		top[0].Diff[i] = 1
	}
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	for _, v := range l.Params()[0].Diff {
		if v != 0 {
			t.Fatal("weight gradient computed although turned off")
		}
	}
	// The bias gradient is the sum of the top gradient per channel: 4 each.
	assertClose(t, "bias diff", l.Params()[1].Diff, []float64{4, 4}, 0)
}

func newFromText(text string) (Layer, error) {
	p := &pb.LayerParameter{}
	if err := prototextUnmarshal(text, p); err != nil {
		return nil, err
	}
	return New(p, NewContext(pb.Phase_TRAIN, 1))
}

// With a tiny column budget every image is its own chunk: the results are
// the same.
func TestConvolutionChunked(t *testing.T) {
	defer func(b, c int) { convColBudget, convColCache = b, c }(convColBudget, convColCache)
	convColBudget, convColCache = 1, 1
	for _, c := range convCases[:4] {
		t.Run(c.name, func(t *testing.T) {
			l := coreLayer(t, pb.Phase_TRAIN, convText("Convolution", c.g, true))
			x := gaussBlob(coreRand(), 1, append([]int{3}, c.shape[1:]...)...)
			top := blobs(1)
			coreForward(t, l, []*tensor.Blob{x}, top)
			want, _ := refConv(x, l.Params()[0].Data, l.Params()[1].Data, c.g)
			assertClose(t, "top", top[0].Data, want, 1e-4)
			newGradChecker().checkAfterSetup(t, l, []*tensor.Blob{x}, top, nil)
		})
	}
	l := coreLayer(t, pb.Phase_TRAIN, `name: "d" type: "Deconvolution" convolution_param { num_output: 2 kernel_size: 3 stride: 2
		weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } }`)
	newGradChecker().check(t, l, []*tensor.Blob{gaussBlob(coreRand(), 1, 3, 2, 3, 3)}, blobs(1), nil)
}

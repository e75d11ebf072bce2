package nn

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/layers"
	"github.com/sparknet/sparknet/tensor"
)

// parse parses a prototxt net.
func parse(t *testing.T, text string) *pb.NetParameter {
	t.Helper()
	np, err := caffe.ParseNet("test.prototxt", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return np
}

// build builds a prototxt net in the given phase.
func build(t *testing.T, phase pb.Phase, text string) *Net {
	t.Helper()
	n, err := New(parse(t, text), &pb.NetState{Phase: phase.Enum()}, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func fill(b *tensor.Blob, f func(i int) float32) {
	for i := range b.Data {
		b.Data[i] = f(i)
	}
}

func TestStateMeetsRule(t *testing.T) {
	state := &pb.NetState{Phase: pb.Phase_TRAIN.Enum(), Level: proto.Int32(2), Stage: []string{"a", "b"}}
	cases := []struct {
		rule string
		want bool
	}{
		{``, true},
		{`phase: TRAIN`, true},
		{`phase: TEST`, false},
		{`min_level: 2`, true},
		{`min_level: 3`, false},
		{`max_level: 2`, true},
		{`max_level: 1`, false},
		{`stage: "a" stage: "b"`, true},
		{`stage: "a" stage: "c"`, false},
		{`not_stage: "c"`, true},
		{`not_stage: "b"`, false},
		{`phase: TRAIN min_level: 1 max_level: 3 stage: "a" not_stage: "x"`, true},
	}
	for _, c := range cases {
		r := &pb.NetStateRule{}
		if err := caffe.UnmarshalText("rule", []byte(c.rule), r); err != nil {
			t.Fatal(err)
		}
		if got := StateMeetsRule(state, r); got != c.want {
			t.Errorf("rule {%s}: %v, want %v", c.rule, got, c.want)
		}
	}
}

const filterNet = `
name: "f"
layer { name: "always" type: "Input" top: "x" input_param { shape { dim: 1 } } }
layer { name: "train" type: "Split" bottom: "x" top: "t" include { phase: TRAIN } }
layer { name: "test" type: "Split" bottom: "x" top: "t" include { phase: TEST } }
layer { name: "notest" type: "Split" bottom: "t" top: "u" exclude { phase: TEST } }
layer { name: "staged" type: "Split" bottom: "t" top: "v" include { stage: "deploy" } include { min_level: 5 } }
`

func TestFilterNet(t *testing.T) {
	cases := []struct {
		state *pb.NetState
		want  []string
	}{
		{&pb.NetState{Phase: pb.Phase_TRAIN.Enum()}, []string{"always", "train", "notest"}},
		{&pb.NetState{Phase: pb.Phase_TEST.Enum()}, []string{"always", "test"}},
		{&pb.NetState{Phase: pb.Phase_TEST.Enum(), Stage: []string{"deploy"}}, []string{"always", "test", "staged"}},
		{&pb.NetState{Phase: pb.Phase_TEST.Enum(), Level: proto.Int32(5)}, []string{"always", "test", "staged"}},
	}
	for _, c := range cases {
		np := parse(t, filterNet)
		np.State = c.state
		f, err := FilterNet(np)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range f.Layer {
			got = append(got, l.GetName())
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("state %v: layers %v, want %v", c.state, got, c.want)
		}
	}
	np := parse(t, `layer { name: "bad" type: "Split" include { phase: TEST } exclude { phase: TRAIN } }`)
	if _, err := FilterNet(np); err == nil || !strings.Contains(err.Error(), `"bad"`) {
		t.Errorf("include and exclude: err %v, want one naming the layer", err)
	}
}

const splitNet = `
name: "s"
layer { name: "in" type: "Input" top: "data" top: "label" input_param { shape { dim: 2 dim: 3 } shape { dim: 2 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 4 weight_filler { type: "gaussian" } } }
layer { name: "relu" type: "ReLU" bottom: "ip" top: "ip" }
layer { name: "a" type: "InnerProduct" bottom: "ip" top: "a" inner_product_param { num_output: 3 weight_filler { type: "gaussian" } } }
layer { name: "b" type: "InnerProduct" bottom: "ip" top: "b" inner_product_param { num_output: 3 weight_filler { type: "gaussian" } } }
layer { name: "loss_a" type: "SoftmaxWithLoss" bottom: "a" bottom: "label" top: "loss_a" }
layer { name: "loss_b" type: "SoftmaxWithLoss" bottom: "b" bottom: "label" top: "loss_b" loss_weight: 0.5 }
`

func TestSplitInsertionAndInPlace(t *testing.T) {
	n := build(t, pb.Phase_TRAIN, splitNet)
	want := []string{"in", "label_in_1_split", "ip", "relu", "ip_relu_0_split", "a", "b", "loss_a", "loss_b"}
	if got := strings.Join(n.LayerNames(), ","); got != strings.Join(want, ",") {
		t.Fatalf("layers %s, want %s", got, strings.Join(want, ","))
	}
	lp := n.LayerParams()[n.LayerIndex("ip_relu_0_split")]
	if lp.GetType() != "Split" || strings.Join(lp.Top, ",") != "ip_relu_0_split_0,ip_relu_0_split_1" || lp.Bottom[0] != "ip" {
		t.Errorf("split layer %v", lp)
	}
	if b := n.LayerParams()[n.LayerIndex("b")].Bottom[0]; b != "ip_relu_0_split_1" {
		t.Errorf("layer b reads %q, want ip_relu_0_split_1", b)
	}
	if b := n.LayerParams()[n.LayerIndex("loss_b")].Bottom[1]; b != "label_in_1_split_1" {
		t.Errorf("loss_b reads %q, want label_in_1_split_1", b)
	}
	// In place: relu's top is its bottom.
	ri := n.LayerIndex("relu")
	if n.Tops(ri)[0] != n.Bottoms(ri)[0] || n.Tops(ri)[0] != n.Blob("ip") {
		t.Error("relu is not in place on blob ip")
	}
	if got := strings.Join(n.OutputNames(), ","); got != "loss_a,loss_b" {
		t.Errorf("outputs %s, want loss_a,loss_b", got)
	}
	if w := n.BlobLossWeight("loss_b"); w != 0.5 {
		t.Errorf("loss_b weight %g, want 0.5", w)
	}
	if w := n.BlobLossWeight("loss_a"); w != 1 {
		t.Errorf("loss_a weight %g, want 1 (the default of loss layers)", w)
	}
}

func TestSplitCarriesLossWeight(t *testing.T) {
	// A top with a loss weight that also feeds a layer gets a split whose
	// first top carries the loss.
	n := build(t, pb.Phase_TRAIN, `
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" loss_weight: 2 inner_product_param { num_output: 2 weight_filler { type: "gaussian" } } }
layer { name: "relu" type: "ReLU" bottom: "y" top: "z" loss_weight: 3 }`)
	si := n.LayerIndex("y_ip_0_split")
	if si < 0 {
		t.Fatalf("no split layer y_ip_0_split in %v", n.LayerNames())
	}
	lp := n.LayerParams()[si]
	if len(lp.LossWeight) != 2 || lp.LossWeight[0] != 2 || lp.LossWeight[1] != 0 {
		t.Errorf("split loss weights %v, want [2 0]", lp.LossWeight)
	}
	if len(n.LayerParams()[n.LayerIndex("ip")].LossWeight) != 0 {
		t.Error("the producing layer kept its loss weight")
	}
	fill(n.Blob("x"), func(i int) float32 { return float32(i) - 2 })
	loss, err := n.Forward()
	if err != nil {
		t.Fatal(err)
	}
	var want float64
	for i, v := range n.Blob("y").Data {
		want += 2*float64(v) + 3*float64(n.Blob("z").Data[i])
	}
	if math.Abs(float64(loss)-want) > 1e-5*math.Max(1, math.Abs(want)) {
		t.Errorf("loss %g, want %g", loss, want)
	}
}

func TestLossWeightScalesLossAndGradient(t *testing.T) {
	run := func(weight string) (float32, []float32) {
		n := build(t, pb.Phase_TRAIN, `
layer { name: "in" type: "Input" top: "x" top: "l" input_param { shape { dim: 4 dim: 3 } shape { dim: 4 } } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 5 weight_filler { type: "gaussian" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "l" top: "loss" `+weight+` }`)
		fill(n.Blob("x"), func(i int) float32 { return float32(math.Sin(float64(i))) })
		fill(n.Blob("l"), func(i int) float32 { return float32(i % 5) })
		loss, err := n.ForwardBackward()
		if err != nil {
			t.Fatal(err)
		}
		return loss, append([]float32(nil), n.Params()[0].Diff...)
	}
	l1, g1 := run("")
	l3, g3 := run("loss_weight: 3")
	if math.Abs(float64(l3-3*l1)) > 1e-5 {
		t.Errorf("loss with weight 3 is %g, want 3 x %g", l3, l1)
	}
	for i := range g1 {
		if math.Abs(float64(g3[i]-3*g1[i])) > 1e-5 {
			t.Fatalf("gradient %d with weight 3 is %g, want 3 x %g", i, g3[i], g1[i])
		}
	}
}

const sharedNet = `
layer { name: "in" type: "Input" top: "x" top: "l" input_param { shape { dim: 2 dim: 3 } shape { dim: 2 } } }
layer { name: "ip1" type: "InnerProduct" bottom: "x" top: "h1" param { name: "w" } param { name: "b" lr_mult: 2 } inner_product_param { num_output: 3 weight_filler { type: "gaussian" } } }
layer { name: "ip2" type: "InnerProduct" bottom: "h1" top: "h2" param { name: "w" } param { name: "b" } inner_product_param { num_output: 3 weight_filler { type: "gaussian" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "h2" bottom: "l" top: "loss" }
`

func TestParamSharing(t *testing.T) {
	n := build(t, pb.Phase_TRAIN, sharedNet)
	if len(n.Params()) != 2 {
		t.Fatalf("%d learnable params, want 2 (shared once)", len(n.Params()))
	}
	info := n.ParamInfo()
	if info[0].Layer != "ip1" || info[0].Name != "w" || info[1].Name != "b" || info[1].LrMult != 2 || info[1].DecayMult != 1 {
		t.Errorf("param info %+v", info)
	}
	w1, w2 := n.Layer("ip1").Params()[0], n.Layer("ip2").Params()[0]
	if &w1.Data[0] != &w2.Data[0] || &w1.Diff[0] != &w2.Diff[0] {
		t.Fatal("shared weights do not alias")
	}
	fill(n.Blob("x"), func(i int) float32 { return float32(i%3) - 0.7 })
	fill(n.Blob("l"), func(i int) float32 { return float32(i) })
	if _, err := n.ForwardBackward(); err != nil {
		t.Fatal(err)
	}
	shared := append([]float32(nil), w1.Diff...)

	// The same net without sharing, with the same weights: the shared
	// gradient is the sum of the two layers' gradients.
	u := build(t, pb.Phase_TRAIN, strings.NewReplacer(`name: "w"`, `name: "w1"`, `param { name: "w" } param { name: "b" }`, `param { name: "w2" } param { name: "b2" }`).Replace(sharedNet))
	for _, l := range []string{"ip1", "ip2"} {
		for j, p := range u.Layer(l).Params() {
			copy(p.Data, n.Layer("ip1").Params()[j].Data)
		}
	}
	copy(u.Blob("x").Data, n.Blob("x").Data)
	copy(u.Blob("l").Data, n.Blob("l").Data)
	if _, err := u.ForwardBackward(); err != nil {
		t.Fatal(err)
	}
	for i := range shared {
		want := u.Layer("ip1").Params()[0].Diff[i] + u.Layer("ip2").Params()[0].Diff[i]
		if math.Abs(float64(shared[i]-want)) > 1e-6 {
			t.Fatalf("shared gradient %d = %g, want %g", i, shared[i], want)
		}
	}
}

func TestParamSharingChecks(t *testing.T) {
	base := `
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 6 } } }
layer { name: "ip1" type: "InnerProduct" bottom: "x" top: "h1" param { name: "w" %s } inner_product_param { num_output: 3 bias_term: false } }
layer { name: "ip2" type: "InnerProduct" bottom: "x" top: "h2" param { name: "w" %s } inner_product_param { num_output: %s bias_term: false %s } }`
	cases := []struct {
		a, b, out, extra string
		err              string
	}{
		{"", "", "3", "", ""},
		{"", "", "2", "", "shape mismatch"},
		{"", "", "2", "", "ip2"},
		{"", "share_mode: PERMISSIVE", "3", "transpose: true", ""},
		{"", "share_mode: PERMISSIVE", "2", "", "count mismatch"},
		{"lr_mult: 1", "lr_mult: 2", "3", "", "lr_mult"},
		{"decay_mult: 1", "decay_mult: 0", "3", "", "decay_mult"},
	}
	for _, c := range cases {
		text := strings.NewReplacer("%s", "\x00").Replace(base)
		for _, v := range []string{c.a, c.b, c.out, c.extra} {
			text = strings.Replace(text, "\x00", v, 1)
		}
		_, err := New(parse(t, text), nil, Options{})
		if c.err == "" && err != nil {
			t.Errorf("%+v: %v", c, err)
		}
		if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%+v: err %v, want one containing %q", c, err, c.err)
		}
	}
}

func TestBackwardDecisions(t *testing.T) {
	const net = `
force_backward: %s
layer { name: "in" type: "Input" top: "x" top: "l" input_param { shape { dim: 2 dim: 1 dim: 4 dim: 4 } shape { dim: 2 } } }
layer { name: "conv" type: "Convolution" bottom: "x" top: "c" %s convolution_param { num_output: 2 kernel_size: 3 weight_filler { type: "gaussian" } } }
layer { name: "relu" type: "ReLU" bottom: "c" top: "c" }
layer { name: "ip" type: "InnerProduct" bottom: "c" top: "y" %s inner_product_param { num_output: 3 weight_filler { type: "gaussian" } } }
layer { name: "acc" type: "Accuracy" bottom: "y" bottom: "l" top: "acc" }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "l" top: "loss" }`
	cases := []struct {
		name              string
		force, conv, ip   string
		need              map[string]bool
		convBottom, label bool
	}{
		{"default", "false", "", "", map[string]bool{"in": false, "conv": true, "relu": true, "ip": true, "acc": false, "loss": true}, false, false},
		{"propagate_down false", "false", "", "propagate_down: false", map[string]bool{"conv": false, "relu": false, "ip": true, "loss": true}, false, false},
		{"frozen conv", "false", "param { lr_mult: 0 } param { lr_mult: 0 }", "", map[string]bool{"conv": false, "relu": false, "ip": true}, false, false},
		{"force_backward", "true", "", "", map[string]bool{"in": true, "conv": true, "acc": true, "loss": true}, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := strings.Replace(net, "%s", c.force, 1)
			text = strings.Replace(text, "%s", c.conv, 1)
			text = strings.Replace(text, "%s", c.ip, 1)
			n := build(t, pb.Phase_TRAIN, text)
			for _, name := range n.LayerNames() {
				want, ok := c.need[name]
				if ok && n.NeedsBackward(n.LayerIndex(name)) != want {
					t.Errorf("layer %s needs backward: %v, want %v", name, !want, want)
				}
			}
			if got := n.BottomNeedsBackward(n.LayerIndex("conv"))[0]; got != c.convBottom {
				t.Errorf("conv bottom needs backward: %v, want %v", got, c.convBottom)
			}
			li := n.LayerIndex("loss")
			if got := n.BottomNeedsBackward(li)[1]; got != c.label {
				t.Errorf("loss label needs backward: %v, want %v", got, c.label)
			}
			// The pass runs and frozen parameters get no gradient.
			fill(n.Blob("x"), func(i int) float32 { return float32(math.Cos(float64(i))) })
			fill(n.Blob("l"), func(i int) float32 { return float32(i) })
			n.ClearParamDiffs()
			if _, err := n.ForwardBackward(); err != nil {
				t.Fatal(err)
			}
			var convGrad float64
			for _, v := range n.Layer("conv").Params()[0].Diff {
				convGrad += math.Abs(float64(v))
			}
			if wantGrad := c.need["conv"] && c.name != "propagate_down false"; (convGrad != 0) != wantGrad {
				t.Errorf("conv weight gradient |g| = %g, want nonzero: %v", convGrad, wantGrad)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	cases := map[string]string{
		`unknown bottom blob "nope"`: `layer { name: "r" type: "ReLU" bottom: "nope" top: "y" }`,
		`produced by multiple sources`: `layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 } } }
			layer { name: "in2" type: "Input" top: "x" input_param { shape { dim: 1 } } }`,
		`unknown layer type "Nope"`: `layer { name: "n" type: "Nope" }`,
		`layer "loss": Python layers are not supported (python_param module "pyloss", layer "EuclideanLossLayer")`: `
			layer { name: "x" type: "DummyData" top: "x" dummy_data_param { shape { dim: 2 dim: 3 } } }
			layer { name: "loss" type: "Python" bottom: "x" top: "loss" loss_weight: 1
			  python_param { module: "pyloss" layer: "EuclideanLossLayer" } }`,
		`layer "lstm": type "LSTM" is not supported`: `layer { name: "lstm" type: "LSTM" }`,
		`layer "slice"`: `layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 4 dim: 1 dim: 3 dim: 3 } } }
			layer { name: "slice" type: "Slice" bottom: "x" top: "a" top: "b" slice_param { slice_dim: 1 slice_point: 1 } }`,
		`layer "sum"`: `layer { name: "in" type: "Input" top: "x" top: "y" input_param { shape { dim: 2 dim: 3 } shape { dim: 2 dim: 4 } } }
			layer { name: "sum" type: "Eltwise" bottom: "x" bottom: "y" top: "z" }`,
		`layer "r"`: `layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 } } }
			layer { name: "r" type: "ReLU" bottom: "x" bottom: "x" top: "y" }`,
		`propagate_down`: `layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 } } }
			layer { name: "r" type: "ReLU" bottom: "x" top: "y" propagate_down: true propagate_down: false }`,
		`loss_weight`: `layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 } } }
			layer { name: "r" type: "ReLU" bottom: "x" top: "y" loss_weight: 1 loss_weight: 2 }`,
		`"conv"`: `layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 1 dim: 2 dim: 2 } } }
			layer { name: "conv" type: "Convolution" bottom: "x" top: "y" convolution_param { num_output: 1 kernel_size: 3 } }`,
	}
	for want, text := range cases {
		_, err := New(parse(t, text), nil, Options{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err %v, want one containing %q", err, want)
		}
	}
}

func TestFailingLayerStopsForward(t *testing.T) {
	n := build(t, pb.Phase_TRAIN, `
layer { name: "feed" type: "MemoryData" top: "x" top: "l" memory_data_param { batch_size: 2 channels: 1 height: 1 width: 3 } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 2 } }`)
	_, err := n.Forward()
	if err == nil || !strings.Contains(err.Error(), `"feed"`) || !strings.Contains(err.Error(), "Reset") {
		t.Errorf("forward without Reset: err %v, want one naming the layer", err)
	}
}

const lenetTest = `
name: "LeNet"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 3 dim: 1 dim: 28 dim: 28 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 20 kernel_size: 5 weight_filler { type: "xavier" } } }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "ip1" type: "InnerProduct" bottom: "pool1" top: "ip1" inner_product_param { num_output: 10 weight_filler { type: "xavier" } bias_filler { type: "gaussian" } } }
layer { name: "prob" type: "Softmax" bottom: "ip1" top: "prob" }`

func TestCopyTrainedLayersAndToProto(t *testing.T) {
	a := build(t, pb.Phase_TEST, lenetTest)
	fill(a.Blob("data"), func(i int) float32 { return float32(i%17) / 17 })
	if _, err := a.Forward(); err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), a.Blob("prob").Data...)

	// Round trip through a .caffemodel file.
	path := filepath.Join(t.TempDir(), "w.caffemodel")
	if err := caffe.WriteBinary(path, a.ToProto(false)); err != nil {
		t.Fatal(err)
	}
	w, err := caffe.LoadWeights(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Layer) != len(a.Layers()) || len(w.Layer[1].Blobs) != 2 || len(w.Layer[1].Blobs[0].Diff) != 0 {
		t.Fatalf("ToProto wrote %d layers, conv1 with %d blobs", len(w.Layer), len(w.Layer[1].Blobs))
	}
	b, err := New(parse(t, lenetTest), nil, Options{Seed: 99})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CopyTrainedLayersFrom(w); err != nil {
		t.Fatal(err)
	}
	copy(b.Blob("data").Data, a.Blob("data").Data)
	if _, err := b.Forward(); err != nil {
		t.Fatal(err)
	}
	for i, v := range b.Blob("prob").Data {
		if v != want[i] {
			t.Fatalf("prob %d after copying weights: %g, want %g", i, v, want[i])
		}
	}
	// A NetParameter with blobs in its layers builds a net with them.
	c, err := New(w, &pb.NetState{Phase: pb.Phase_TEST.Enum()}, Options{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Layer("ip1").Params()[1].Data[3]; got != a.Layer("ip1").Params()[1].Data[3] {
		t.Errorf("net built from ToProto: bias %g, want %g", got, a.Layer("ip1").Params()[1].Data[3])
	}
	// With diffs.
	a.Layer("ip1").Params()[0].Diff[0] = 42
	if d := a.ToProto(true).Layer[3].Blobs[0].Diff; len(d) == 0 || d[0] != 42 {
		t.Error("ToProto(true) did not write the gradient")
	}

	// Layers absent from the weights keep their values; a shape mismatch
	// names the layer and both shapes.
	partial := proto.Clone(w).(*pb.NetParameter)
	partial.Layer = partial.Layer[:2] // data and conv1 only
	d, _ := New(parse(t, lenetTest), nil, Options{Seed: 7})
	before := d.Layer("ip1").Params()[0].Data[0]
	if err := d.CopyTrainedLayersFrom(partial); err != nil {
		t.Fatal(err)
	}
	if d.Layer("ip1").Params()[0].Data[0] != before || d.Layer("conv1").Params()[0].Data[0] != a.Layer("conv1").Params()[0].Data[0] {
		t.Error("partial copy: wrong layers changed")
	}
	bad := proto.Clone(w).(*pb.NetParameter)
	bad.Layer[3].Blobs[0].Shape.Dim = []int64{5, 2880}
	bad.Layer[3].Blobs[0].Data = make([]float32, 5*2880)
	err = d.CopyTrainedLayersFrom(bad)
	if err == nil || !strings.Contains(err.Error(), `"ip1"`) || !strings.Contains(err.Error(), "5x2880") || !strings.Contains(err.Error(), "10x2880") {
		t.Errorf("shape mismatch: err %v, want one naming ip1, 5x2880 and 10x2880", err)
	}
	// Legacy 4-D shapes (1 x 1 x 10 x 2880) match 10x2880.
	legacy := proto.Clone(w).(*pb.NetParameter)
	bp := legacy.Layer[3].Blobs[0]
	bp.Shape = nil
	bp.Num, bp.Channels, bp.Height, bp.Width = proto.Int32(1), proto.Int32(1), proto.Int32(10), proto.Int32(2880)
	if err := d.CopyTrainedLayersFrom(legacy); err != nil {
		t.Errorf("legacy 4-D blob shape: %v", err)
	}
}

func TestShareTrainedLayersWith(t *testing.T) {
	train := build(t, pb.Phase_TRAIN, lenetTest)
	test := build(t, pb.Phase_TEST, lenetTest)
	if err := test.ShareTrainedLayersWith(train); err != nil {
		t.Fatal(err)
	}
	p := train.Params()[0]
	for i := range p.Diff {
		p.Diff[i] = 0.5
	}
	old := p.Data[0]
	train.Update()
	if got := test.Layer("conv1").Params()[0].Data[0]; got != old-0.5 {
		t.Errorf("test net weight %g after the train net's update, want %g", got, old-0.5)
	}
}

// TestZeroAllocs checks that steady-state training iterations of LeNet and
// cifar10_quick (convolutions with padding, MAX and AVE pooling) allocate
// nothing.
func TestZeroAllocs(t *testing.T) {
	for _, file := range []string{"lenet_b64_time.prototxt", "cifar10_quick_b100_time.prototxt"} {
		np, err := caffe.LoadNet(filepath.Join("../bench/prototxt", file))
		if err != nil {
			t.Fatal(err)
		}
		n, err := New(np, &pb.NetState{Phase: pb.Phase_TRAIN.Enum()}, Options{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.ForwardBackward(); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(2, func() {
			n.ClearParamDiffs()
			if _, err := n.ForwardBackward(); err != nil {
				t.Fatal(err)
			}
			n.Update()
		})
		if allocs != 0 {
			t.Errorf("%s: an iteration allocates %g times, want 0", file, allocs)
		}
	}
}

var _ layers.Layer = (*layers.Split)(nil)

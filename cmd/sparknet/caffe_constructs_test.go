package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
)

// The nets of testdata/nets reproduce, small, the constructs of the nets in
// Caffe's examples/ and models/ folders; their expected shapes are worked
// out by hand in the comments of each file.
const testNets = "testdata/nets"

// runSummaryStage is runSummaryArgs with a stage.
func runSummaryStage(t *testing.T, model, phase, stage, format, shapes string) string {
	t.Helper()
	var out bytes.Buffer
	old := summaryStdout
	summaryStdout = &out
	defer func() { summaryStdout = old }()
	args := []string{"summary", "-model", model, "-phase", phase, "-format", format, "-input-shape", shapes, "-weights", "", "-stage", stage, "-level", "0"}
	if code := run(args); code != 0 {
		t.Fatalf("sparknet %s: exit status %d", strings.Join(args, " "), code)
	}
	return out.String()
}

func TestSummaryCaffeConstructs(t *testing.T) {
	cases := []struct {
		file, phase, stage, shapes string
		want                       string // tsv
		params                     string // "Total parameters: " line
	}{
		{file: "inception.prototxt", phase: "TEST", want: `input	Input	data	2x3x33x33
conv1	Convolution	conv1	2x8x16x16
relu1	ReLU	conv1	2x8x16x16
pool1	Pooling	pool1	2x8x8x8
conv2	Convolution	conv2	2x12x8x8
inc/1x1	Convolution	inc/1x1	2x4x8x8
inc/3x3	Convolution	inc/3x3	2x6x8x8
inc/5x5	Convolution	inc/5x5	2x2x8x8
inc/pool	Pooling	inc/pool	2x12x8x8
inc/proj	Convolution	inc/proj	2x3x8x8
inc/output	Concat	inc/output	2x15x8x8
pool2	Pooling	pool2	2x15x5x5
pool3	Pooling	pool3	2x15x2x2
pool4	Pooling	pool4	2x15x1x1
fc	InnerProduct	fc	2x10
prob	Softmax	prob	2x10
`,
			// conv1 8x3x5x5+8, conv2 12x2x3x3+12 (group 4), 1x1 4x12+4,
			// 3x3 6x12x3x3+6, 5x5 2x12x5x5+2, proj 3x12+3, fc 10x15+10.
			params: "Total parameters: 2,343 "},
		{file: "siamese_v1.prototxt", phase: "TRAIN", want: `input	Input	pair	4x2x6x6
input	Input	sim	4x1x1x1
slice	Slice	a	4x1x6x6
slice	Slice	b	4x1x6x6
conv_a	Convolution	conv_a	4x3x4x4
conv_b	Convolution	conv_b	4x3x4x4
ip_a	InnerProduct	ip_a	4x2
ip_b	InnerProduct	ip_b	4x2
diff	Eltwise	diff	4x2
loss	ContrastiveLoss	loss	
cls_loss	SoftmaxWithLoss	(automatic)	
`,
			// conv_a 3x1x3x3+3 and ip_a 2x48+2; conv_b and ip_b share them.
			params: "Total parameters: 128 "},
		{file: "tiny_v0.prototxt", phase: "TEST", want: `input	Input	data	1x1x9x9
conv1	Convolution	conv1	1x4x5x5
pool1	Pooling	pool1	1x4x3x3
fc	InnerProduct	fc	1x5
prob	Softmax	prob	1x5
`,
			params: "Total parameters: 225 "},
		{file: "staged_data.prototxt", phase: "TRAIN", want: `digits	Data	data	5x1x28x28
digits	Data	label	5
flat	Flatten	flat	5x784
ip	InnerProduct	ip	5x10
loss	SoftmaxWithLoss	loss	
`,
			params: "Total parameters: 7,850 "},
		{file: "staged_data.prototxt", phase: "TEST", stage: "on-test", want: `digits	Data	data	3x1x28x28
digits	Data	label	3
flat	Flatten	flat	3x784
ip	InnerProduct	ip	3x10
loss	SoftmaxWithLoss	loss	
`,
			params: "Total parameters: 7,850 "},
		{file: "pairs_data.prototxt", phase: "TEST", shapes: "pair=2x2x28x28,sim=2", want: `pairs	Data	pair	2x2x28x28
pairs	Data	sim	2
slice	Slice	a	2x1x28x28
slice	Slice	b	2x1x28x28
silence	Silence	
ip	InnerProduct	ip	2x2
`,
			params: "Total parameters: 1,570 "},
	}
	for _, c := range cases {
		model := filepath.Join(testNets, c.file)
		got := runSummaryStage(t, model, c.phase, c.stage, "tsv", c.shapes)
		if strings.Contains(c.want, "silence") {
			// A layer without tops has no tsv line.
			c.want = strings.Replace(c.want, "silence\tSilence\t\n", "", 1)
		}
		if got != c.want {
			t.Errorf("%s %s: got\n%s\nwant\n%s", c.file, c.phase, got, c.want)
		}
		text := runSummaryStage(t, model, c.phase, c.stage, "text", c.shapes)
		if !strings.Contains(text, c.params) {
			t.Errorf("%s %s: text summary lacks %q:\n%s", c.file, c.phase, c.params, text)
		}
	}
	// Synthetic input is marked in the text listing.
	text := runSummaryStage(t, filepath.Join(testNets, "staged_data.prototxt"), "TRAIN", "", "text", "")
	if !strings.Contains(text, "digits (Data, synthetic)") {
		t.Errorf("text summary does not mark the synthetic data layer:\n%s", text)
	}
}

func TestInspectionNotesAndHints(t *testing.T) {
	staged := filepath.Join(testNets, "staged_data.prototxt")
	var notes bytes.Buffer
	in, err := buildInspectionNet(staged, pb.Phase_TRAIN, 0, "", "", &notes)
	if err != nil {
		t.Fatal(err)
	}
	// One note, for the data layer of the phase only.
	if n := strings.Count(notes.String(), "note: "); n != 1 || !strings.Contains(notes.String(), `"no/such/train_lmdb" is missing; using synthetic input data 5x1x28x28, label 5`) {
		t.Errorf("notes:\n%s", notes.String())
	}
	if got := in.layerType(0); got != "Data" {
		t.Errorf("synthetic layer type %q, want the declared Data", got)
	}

	// Without its stage the TEST phase has no data layer: the error says
	// which stage the left-out layers need.
	_, err = buildInspectionNet(staged, pb.Phase_TEST, 0, "", "", &notes)
	if err == nil || !strings.Contains(err.Error(), `unknown bottom blob "data"`) || !strings.Contains(err.Error(), `stage "on-test"`) || !strings.Contains(err.Error(), "-stage") {
		t.Errorf("TEST without stage: err %v, want one naming the stage to give", err)
	}

	// Pairs stored as 2-channel images cannot be guessed: the error suggests
	// -input-shape with the guessed shapes.
	_, err = buildInspectionNet(filepath.Join(testNets, "pairs_data.prototxt"), pb.Phase_TEST, 0, "", "", &notes)
	if err == nil || !strings.Contains(err.Error(), `layer "slice"`) || !strings.Contains(err.Error(), "-input-shape pair=2x1x28x28,sim=2") {
		t.Errorf("pairs: err %v, want one suggesting -input-shape", err)
	}
}

func TestTimeBackwardRunsEveryLayer(t *testing.T) {
	// In a deploy net no layer reaches a loss, so the net's backward pass
	// skips them all; 'caffe time' still runs each layer's backward, which
	// computes the parameter gradients.
	in, err := buildInspectionNet(filepath.Join(testNets, "inception.prototxt"), pb.Phase_TEST, 0, "", "", &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	net := in.net
	data := net.Blob("data").Data
	for k := range data {
		data[k] = float32(k%7) - 3
	}
	for _, l := range net.Layers() {
		for _, p := range l.Params() {
			for k := range p.Data {
				p.Data[k] = float32(k%5)/10 - 0.15
			}
		}
	}
	if _, err := net.Forward(); err != nil {
		t.Fatal(err)
	}
	i := net.LayerIndex("inc/proj")
	if net.NeedsBackward(i) {
		t.Fatal("a deploy net's layer needs backward")
	}
	for _, top := range net.Tops(i) {
		for k := range top.Diff {
			top.Diff[k] = 1
		}
	}
	w := net.Layers()[i].Params()[0]
	clear(w.Diff)
	bottom := net.Bottoms(i)[0]
	clear(bottom.Diff)
	backwardLayer(net, i)
	var sum float64
	for _, v := range w.Diff {
		sum += float64(v) * float64(v)
	}
	if sum == 0 {
		t.Error("the layer's backward did not run: its weight gradient is zero")
	}
	for _, v := range bottom.Diff {
		if v != 0 {
			t.Fatal("the layer wrote the gradient of a bottom that needs none")
		}
	}

	var out bytes.Buffer
	old := timeStdout
	timeStdout = &out
	defer func() { timeStdout = old }()
	args := []string{"time", "-model", filepath.Join(testNets, "inception.prototxt"), "-iterations", "1", "-threads", "0", "-phase", "TEST", "-input-shape", "", "-stage", "", "-level", "0"}
	if code := run(args); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	for _, want := range []string{"  inc/proj\tbackward: ", "Average Forward pass: ", "Average Backward pass: ", "Average Forward-Backward: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("time output lacks %q:\n%s", want, out.String())
		}
	}
}

// runUpgrade runs `sparknet upgrade` with every flag given (flag values
// persist between runs).
func runUpgrade(t *testing.T, model, solver, out string) {
	t.Helper()
	args := []string{"upgrade", "-model", model, "-solver", solver, "-weights", "", "-out", out}
	if code := run(args); code != 0 {
		t.Fatalf("sparknet %s: exit status %d", strings.Join(args, " "), code)
	}
}

func TestUpgradeV1SiameseKeepsSharing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "up.prototxt")
	runUpgrade(t, filepath.Join(testNets, "siamese_v1.prototxt"), "", out)
	text, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(text), "layers {") || strings.Contains(string(text), "input_dim") {
		t.Fatalf("not upgraded to V2:\n%s", text)
	}
	np, err := caffe.LoadNet(out)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*pb.LayerParameter{}
	for _, l := range np.Layer {
		byName[l.GetName()] = l
	}
	in := np.Layer[0]
	if in.GetType() != "Input" || strings.Join(in.Top, ",") != "pair,sim" {
		t.Errorf("first layer %v, want the Input layer of pair and sim", in)
	}
	cb := byName["conv_b"]
	if cb == nil || len(cb.Param) != 2 {
		t.Fatalf("conv_b: %v", cb)
	}
	for j, want := range []struct {
		name      string
		lr, decay float32
	}{{"cw", 1, 1}, {"cb", 2, 0}} {
		p := cb.Param[j]
		if p.GetName() != want.name || p.GetLrMult() != want.lr || p.GetDecayMult() != want.decay {
			t.Errorf("conv_b param %d: %v, want name %q lr_mult %g decay_mult %g", j, p, want.name, want.lr, want.decay)
		}
	}
	if l := byName["cls_loss"]; l == nil || l.GetType() != "SoftmaxWithLoss" || len(l.Top) != 0 {
		t.Errorf("cls_loss: %v, want a SoftmaxWithLoss without tops", l)
	}
}

func TestUpgradeSolverUpgradesInlineNet(t *testing.T) {
	out := filepath.Join(t.TempDir(), "solver.prototxt")
	runUpgrade(t, "", filepath.Join(testNets, "solver_inline_v1.prototxt"), out)
	sp, err := caffe.LoadSolver(out)
	if err != nil {
		t.Fatal(err)
	}
	if sp.GetType() != "Nesterov" || sp.SolverType != nil {
		t.Errorf("type %q, solver_type %v: want type Nesterov only", sp.GetType(), sp.SolverType)
	}
	np := sp.GetNetParam()
	if len(np.GetLayers()) != 0 || len(np.GetInput()) != 0 || len(np.GetLayer()) != 2 {
		t.Fatalf("inline net not upgraded: %v", np)
	}
	ip := np.Layer[1]
	if ip.GetType() != "InnerProduct" || len(ip.Param) != 2 || ip.Param[0].GetLrMult() != 1 || ip.Param[1].GetLrMult() != 2 {
		t.Errorf("inline ip layer: %v", ip)
	}
}

// A V1 caffemodel with legacy 4-D blob dimensions comes out of `upgrade
// -weights` as V2 layers whose blobs have today's shapes and the same
// values.
func TestUpgradeWeightsV1LegacyBlobs(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "v1.caffemodel"), filepath.Join(dir, "v2.caffemodel")
	legacy := func(n, c, h, w int32) *pb.BlobProto {
		b := &pb.BlobProto{Num: &n, Channels: &c, Height: &h, Width: &w}
		for i := range n * c * h * w {
			b.Data = append(b.Data, float32(i)/7)
		}
		return b
	}
	ipType, convType := pb.V1LayerParameter_INNER_PRODUCT, pb.V1LayerParameter_CONVOLUTION
	v1 := &pb.NetParameter{Name: proto.String("legacy"), Layers: []*pb.V1LayerParameter{
		{Name: proto.String("conv"), Type: &convType, Blobs: []*pb.BlobProto{legacy(4, 3, 5, 5), legacy(1, 1, 1, 4)}},
		{Name: proto.String("ip"), Type: &ipType, Blobs: []*pb.BlobProto{legacy(1, 1, 10, 20), legacy(1, 1, 1, 10)}},
	}}
	if err := caffe.WriteBinary(in, v1); err != nil {
		t.Fatal(err)
	}
	args := []string{"upgrade", "-model", "", "-solver", "", "-weights", in, "-out", out}
	if code := run(args); code != 0 {
		t.Fatalf("sparknet %s: exit status %d", strings.Join(args, " "), code)
	}
	got, err := caffe.LoadWeights(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.GetLayers()) != 0 || len(got.GetLayer()) != 2 {
		t.Fatalf("not upgraded to V2 layers: %v", got)
	}
	for i, want := range []struct {
		typ    string
		shapes [][]int64
	}{{"Convolution", [][]int64{{4, 3, 5, 5}, {4}}}, {"InnerProduct", [][]int64{{10, 20}, {10}}}} {
		l := got.Layer[i]
		if l.GetType() != want.typ || len(l.Blobs) != 2 {
			t.Fatalf("layer %d: type %q with %d blobs, want %s with 2", i, l.GetType(), len(l.Blobs), want.typ)
		}
		for j, b := range l.Blobs {
			if !slices.Equal(b.GetShape().GetDim(), want.shapes[j]) || b.Num != nil || b.Width != nil {
				t.Errorf("%s blob %d: shape %v (num %v), want %v and no legacy dims", want.typ, j, b.GetShape().GetDim(), b.Num, want.shapes[j])
			}
			if !slices.Equal(b.Data, v1.Layers[i].Blobs[j].Data) {
				t.Errorf("%s blob %d: values changed", want.typ, j)
			}
		}
	}
}

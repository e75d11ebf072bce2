package caffe

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

const fixtures = "../testdata/caffe"

// fixtureFiles lists the fixture files with the given extension.
func fixtureFiles(t testing.TB, ext string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(fixtures, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ext) {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no %s files under %s", ext, fixtures)
	}
	return files
}

func isSolverFile(path string) bool { return strings.Contains(filepath.Base(path), "solver") }

// TestFixturePrototxts reads every net and solver fixture and checks that
// text -> binary -> message and message -> text -> message round-trip.
func TestFixturePrototxts(t *testing.T) {
	nets, solvers := 0, 0
	for _, path := range fixtureFiles(t, ".prototxt") {
		t.Run(path, func(t *testing.T) {
			var m, back proto.Message
			var err error
			if isSolverFile(path) {
				solvers++
				m, err = LoadSolver(path)
				back = &pb.SolverParameter{}
			} else {
				nets++
				var net *pb.NetParameter
				net, err = LoadNet(path)
				if err == nil && len(net.Layer) == 0 {
					t.Fatalf("net has no layers")
				}
				m, back = net, &pb.NetParameter{}
			}
			if err != nil {
				t.Fatal(err)
			}
			bin, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if err := decodeBinary(bytes.NewReader(bin), int64(len(bin)), back); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(m, back) {
				t.Fatalf("text -> binary -> message differs")
			}
			text := MarshalText(back)
			again := back.ProtoReflect().New().Interface()
			if err := UnmarshalText("printed", text, again); err != nil {
				t.Fatalf("printed text does not parse: %v\n%s", err, text)
			}
			if !proto.Equal(m, again) {
				t.Fatalf("message -> text -> message differs:\n%s", text)
			}
			if !bytes.Equal(MarshalText(again), text) {
				t.Fatalf("printing is not stable")
			}
		})
	}
	if nets < 10 || solvers < 10 {
		t.Fatalf("read %d nets and %d solvers; expected the fixtures to hold more", nets, solvers)
	}
}

// TestFixtureCaffemodels loads every .caffemodel and checks the streaming
// reader against proto.Unmarshal, and that writing it back reproduces
// Caffe's bytes exactly.
func TestFixtureCaffemodels(t *testing.T) {
	for _, path := range fixtureFiles(t, ".caffemodel") {
		t.Run(path, func(t *testing.T) {
			net, err := LoadWeights(path)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ref := &pb.NetParameter{}
			if err := proto.Unmarshal(data, ref); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(net, ref) {
				t.Fatal("streaming reader and proto.Unmarshal disagree")
			}
			if len(net.ProtoReflect().GetUnknown()) != 0 {
				t.Fatal("unknown fields: the schema does not match the file")
			}
			out := filepath.Join(t.TempDir(), "w.caffemodel")
			if err := WriteBinary(out, net); err != nil {
				t.Fatal(err)
			}
			written, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(written, data) {
				t.Fatalf("re-encoded weights differ from Caffe's file (%d vs %d bytes)", len(written), len(data))
			}
		})
	}
}

type blobShapes map[string][][]int

func layerBlobShapes(t *testing.T, net *pb.NetParameter) blobShapes {
	t.Helper()
	got := blobShapes{}
	for _, l := range net.Layer {
		for _, b := range l.Blobs {
			s, err := BlobShape(b)
			if err != nil {
				t.Fatal(err)
			}
			got[l.GetName()] = append(got[l.GetName()], s)
		}
	}
	return got
}

func checkShapes(t *testing.T, got, want blobShapes) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d layers with blobs, want %d: %v", len(got), len(want), got)
	}
	for name, w := range want {
		g := got[name]
		if len(g) != len(w) {
			t.Errorf("layer %s: %d blobs, want %d", name, len(g), len(w))
			continue
		}
		for i := range w {
			if tensor.JoinDims(g[i]) != tensor.JoinDims(w[i]) {
				t.Errorf("layer %s blob %d: shape %v, want %v", name, i, g[i], w[i])
			}
		}
	}
}

var lenetShapes = blobShapes{
	"conv1": {{20, 1, 5, 5}, {20}},
	"conv2": {{50, 20, 5, 5}, {50}},
	"ip1":   {{500, 800}, {500}},
	"ip2":   {{10, 500}, {10}},
}

func TestLeNetWeights(t *testing.T) {
	net, err := LoadWeights(fixtures + "/lenet-fashion/lenet_fmnist_iter_10000.caffemodel")
	if err != nil {
		t.Fatal(err)
	}
	if net.GetName() != "LeNet" {
		t.Errorf("name %q", net.GetName())
	}
	checkShapes(t, layerBlobShapes(t, net), lenetShapes)
	for _, l := range net.Layer {
		for i, b := range l.Blobs {
			nonzero := 0
			for _, v := range b.Data {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("layer %s blob %d holds %v", l.GetName(), i, v)
				}
				if v != 0 {
					nonzero++
				}
			}
			if nonzero == 0 {
				t.Errorf("layer %s blob %d is all zero after 10000 iterations", l.GetName(), i)
			}
		}
	}
	// The weights load into blobs of the net's shapes.
	w := tensor.New(500, 800)
	if err := BlobFromProto(w, net.Layer[findLayer(t, net, "ip1")].Blobs[0], false); err != nil {
		t.Fatal(err)
	}
	if w.Data[0] != net.Layer[findLayer(t, net, "ip1")].Blobs[0].Data[0] {
		t.Error("values not copied")
	}
}

func findLayer(t *testing.T, net *pb.NetParameter, name string) int {
	t.Helper()
	for i, l := range net.Layer {
		if l.GetName() == name {
			return i
		}
	}
	t.Fatalf("no layer %q", name)
	return -1
}

func TestCifarWeights(t *testing.T) {
	net, err := LoadWeights(fixtures + "/cifar10-quick-init/cifar10_quick_init_iter_0.caffemodel")
	if err != nil {
		t.Fatal(err)
	}
	checkShapes(t, layerBlobShapes(t, net), blobShapes{
		"conv1": {{32, 3, 5, 5}, {32}},
		"conv2": {{32, 32, 5, 5}, {32}},
		"conv3": {{64, 32, 5, 5}, {64}},
		"ip1":   {{64, 1024}, {64}},
		"ip2":   {{10, 64}, {10}},
	})
}

func TestLeNetSolverState(t *testing.T) {
	st, err := LoadSolverState(fixtures + "/lenet-fashion/lenet_fmnist_iter_10000.solverstate")
	if err != nil {
		t.Fatal(err)
	}
	if st.GetIter() != 10000 || st.GetCurrentStep() != 0 || st.GetLearnedNet() != "lenet_fmnist_iter_10000.caffemodel" {
		t.Errorf("iter %d, current_step %d, learned_net %q", st.GetIter(), st.GetCurrentStep(), st.GetLearnedNet())
	}
	order := []string{"conv1", "conv2", "ip1", "ip2"}
	if len(st.History) != 8 {
		t.Fatalf("%d history blobs, want 8", len(st.History))
	}
	for i, b := range st.History {
		s, err := BlobShape(b)
		if err != nil {
			t.Fatal(err)
		}
		want := lenetShapes[order[i/2]][i%2]
		if tensor.JoinDims(s) != tensor.JoinDims(want) {
			t.Errorf("history %d: shape %v, want %v", i, s, want)
		}
		if len(b.Data) != len(tensor.New(want...).Data) {
			t.Errorf("history %d: %d values", i, len(b.Data))
		}
	}
}

func TestSolverNets(t *testing.T) {
	t.Chdir(fixtures + "/lenet-fashion")
	sp, err := LoadSolver("lenet_fmnist_solver.prototxt")
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := SolverNets(sp)
	if err != nil {
		t.Fatal(err)
	}
	if train.GetState().GetPhase() != pb.Phase_TRAIN || len(test) != 1 || test[0].GetState().GetPhase() != pb.Phase_TEST {
		t.Fatalf("train state %v, %d test nets", train.GetState(), len(test))
	}
	if len(train.Layer) != 11 || train.Layer[0].GetDataParam().GetSource() != "fmnist_train_lmdb" {
		t.Errorf("train net has %d layers, want 11", len(train.Layer))
	}
}

func TestSolverNetsConsolidated(t *testing.T) {
	sp, err := LoadSolver(fixtures + "/reference-nets/examples/mnist/lenet_consolidated_solver.prototxt")
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := SolverNets(sp)
	if err != nil {
		t.Fatal(err)
	}
	if len(train.Layers) != 0 || len(train.Layer) == 0 || train.Layer[0].GetType() != "Data" {
		t.Fatalf("inline V1 net was not upgraded")
	}
	if len(test) != 2 {
		t.Fatalf("%d test nets, want 2", len(test))
	}
	for i, stage := range []string{"test-on-test-set", "test-on-train-set"} {
		st := test[i].GetState()
		if st.GetPhase() != pb.Phase_TEST || len(st.Stage) != 1 || st.Stage[0] != stage {
			t.Errorf("test net %d state %v, want TEST with stage %q", i, st, stage)
		}
	}
	if sp.NetParam.Layer != nil {
		t.Error("SolverNets modified the solver's inline net")
	}
}

func TestSolverNetsErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{`base_lr: 0.1`, "names no train net"},
		{`net: "a" train_net: "b"`, "more than one train net"},
		{`net_param { name: "x" } test_net: "t1" test_net: "t2" test_iter: 1 test_interval: 1`, "2 test nets but 1 test_iter"},
		{`net_param { name: "x" } test_iter: 1 test_iter: 2 test_state { } test_interval: 1`, "2 test nets but 1 test_state"},
		{`net_param { name: "x" } test_iter: 5`, "no positive test_interval"},
		{`train_net_param { layers { type: CONVOLUTION } layer { type: "ReLU" } }`, "both V2 'layer' and V1 'layers'"},
	} {
		sp, err := ParseSolver("s", []byte(tc.text))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = SolverNets(sp)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.text, err, tc.want)
		}
	}
}

// TestUpgrades checks that old nets and solvers upgrade to the hand-written
// V2 text of what they mean.
func TestUpgrades(t *testing.T) {
	for _, tc := range []struct {
		in     string
		solver bool
	}{
		{in: "lenet_v1"},
		{in: "caffenet_v0"},
		{in: "data_v0"},
		{in: "deploy_input_shape"},
		{in: "solver_v1", solver: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			in := filepath.Join("testdata/upgrade", tc.in+".prototxt")
			wantPath := filepath.Join("testdata/upgrade", tc.in+".upgraded.prototxt")
			wantText, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatal(err)
			}
			var got, want proto.Message
			if tc.solver {
				got, err = LoadSolver(in)
				want = &pb.SolverParameter{}
			} else {
				var net *pb.NetParameter
				net, err = LoadNet(in)
				if err == nil && NetNeedsV1ToV2Upgrade(net) {
					t.Error("V1 layers left after upgrade")
				}
				got, want = net, &pb.NetParameter{}
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.solver {
				raw := &pb.NetParameter{}
				text, err := os.ReadFile(in)
				if err != nil {
					t.Fatal(err)
				}
				if err := UnmarshalText(in, text, raw); err != nil || !NetNeedsUpgrade(raw) {
					t.Errorf("NetNeedsUpgrade(%s) = false (%v)", in, err)
				}
			}
			if err := UnmarshalText(wantPath, wantText, want); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, want) {
				t.Fatalf("upgraded:\n%s\nwant:\n%s", MarshalText(got), MarshalText(want))
			}
		})
	}
}

// TestUpgradeV1Weights upgrades a binary V1 net with legacy 4-D blobs, the
// form of the original model-zoo .caffemodel files.
func TestUpgradeV1Weights(t *testing.T) {
	legacy := func(n, c, h, w int32) *pb.BlobProto {
		b := &pb.BlobProto{Num: &n, Channels: &c, Height: &h, Width: &w}
		b.Data = make([]float32, n*c*h*w)
		for i := range b.Data {
			b.Data[i] = float32(i) * 0.5
		}
		return b
	}
	v1 := &pb.NetParameter{
		Name: proto.String("old"),
		Layers: []*pb.V1LayerParameter{
			{Name: proto.String("conv1"), Type: pb.V1LayerParameter_CONVOLUTION.Enum(),
				Blobs: []*pb.BlobProto{legacy(4, 3, 2, 2), legacy(1, 1, 1, 4)}},
			{Name: proto.String("fc"), Type: pb.V1LayerParameter_INNER_PRODUCT.Enum(),
				Blobs: []*pb.BlobProto{legacy(1, 1, 5, 16), legacy(1, 1, 1, 5)}},
			{Name: proto.String("scale"), Type: pb.V1LayerParameter_POWER.Enum(),
				Blobs: []*pb.BlobProto{legacy(1, 1, 1, 3)}},
		},
	}
	bin, err := proto.Marshal(v1)
	if err != nil {
		t.Fatal(err)
	}
	net, err := DecodeWeights(bin)
	if err != nil {
		t.Fatal(err)
	}
	if len(net.Layers) != 0 || len(net.Layer) != 3 || net.Layer[1].GetType() != "InnerProduct" {
		t.Fatalf("not upgraded to V2:\n%s", MarshalText(net))
	}
	// Legacy blobs load into blobs of the modern shapes, as in Caffe.
	for _, c := range []struct {
		layer, blob int
		shape       []int
	}{{0, 0, []int{4, 3, 2, 2}}, {0, 1, []int{4}}, {1, 0, []int{5, 16}}, {1, 1, []int{5}}} {
		b := tensor.New(c.shape...)
		if err := BlobFromProto(b, net.Layer[c.layer].Blobs[c.blob], false); err != nil {
			t.Errorf("layer %d blob %d: %v", c.layer, c.blob, err)
		}
	}
	if n := UpgradeLegacyBlobs(net); n != 4 {
		t.Errorf("UpgradeLegacyBlobs rewrote %d blobs, want 4", n)
	}
	checkShapes(t, layerBlobShapes(t, net), blobShapes{
		"conv1": {{4, 3, 2, 2}, {4}},
		"fc":    {{5, 16}, {5}},
		"scale": {{1, 1, 1, 3}},
	})
	if !hasLegacyShape(net.Layer[2].Blobs[0]) {
		t.Error("a Power layer's blob lost its legacy dims")
	}
	if net.Layer[1].Blobs[0].Data[3] != 1.5 {
		t.Error("blob values changed")
	}
}

func TestUpgradeErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{`layers { layer { name: "r" type: "relu" num_output: 3 } bottom: "x" }`,
			`upgrading V0 layers: layer "r": bottom "x" is not an input`},
		{`input: "x" layers { layer { name: "r" type: "relu" num_output: 3 } bottom: "x" }`,
			`upgrading V0 layers: layer "r": parameter num_output does not apply to layer type "relu"`},
		{`layers { layer { name: "w" type: "warp" } }`, `layer "w": unknown V0 layer type "warp"`},
		{`layers { layer { name: "a" type: "relu" group: 2 } } layers { layer { name: "b" type: "warp" } }`,
			`upgrading V0 layers: layer "a": parameter group does not apply to layer type "relu"; layer "b": unknown V0 layer type "warp"`},
		{`input: "x" input: "y" input_dim: 1 input_dim: 2 input_dim: 3 input_dim: 4`, "2 inputs but 4 input_dim values"},
		{`input: "x" input_shape { dim: 1 } input_dim: 1`, "both input_shape and input_dim"},
		{`input: "x" input: "y" input_shape { dim: 1 }`, "2 inputs but 1 input_shape"},
		{`input: "a" input_dim: 1 input_dim: 1 input_dim: 1 input_dim: 1 layers { layer { name: "p" type: "padding" pad: 1 } bottom: "a" top: "b" } layers { layer { name: "r" type: "relu" } bottom: "b" top: "c" }`,
			`layer "r": a padding layer feeds a layer of type "relu"`},
	} {
		_, err := ParseNet("n.prototxt", []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "n.prototxt: ") {
			t.Errorf("%s:\nerror %v\nwant one containing %q", tc.text, err, tc.want)
		}
	}
	if _, err := ParseSolver("s.prototxt", []byte(`type: "SGD" solver_type: ADAM`)); err == nil ||
		err.Error() != "s.prototxt: upgrading solver_type: both the deprecated solver_type and type are given; use type only" {
		t.Errorf("solver with both types: %v", err)
	}
}

func TestBlobFromProto(t *testing.T) {
	bp := &pb.BlobProto{Shape: &pb.BlobShape{Dim: []int64{2, 3}}, Data: []float32{1, 2, 3, 4, 5, 6}, Diff: []float32{6, 5, 4, 3, 2, 1}}
	b := tensor.New(3, 2)
	if err := BlobFromProto(b, bp, false); err == nil || err.Error() != "shape mismatch: source blob is 2x3, target blob is 3x2" {
		t.Errorf("mismatch: %v", err)
	}
	if err := BlobFromProto(b, bp, true); err != nil {
		t.Fatal(err)
	}
	if !b.ShapeEquals(2, 3) || b.Data[5] != 6 || b.Diff[0] != 6 {
		t.Errorf("got %v %v %v", b.Shape(), b.Data, b.Diff)
	}
	back := BlobToProto(b, true)
	if !proto.Equal(back, bp) {
		t.Errorf("BlobToProto: %v", back)
	}
	if noDiff := BlobToProto(b, false); noDiff.Diff != nil {
		t.Error("diff written without withDiff")
	}

	dbl := &pb.BlobProto{Shape: &pb.BlobShape{Dim: []int64{2}}, DoubleData: []float64{0.25, -1}, Data: []float32{9, 9}}
	d := tensor.New(2)
	if err := BlobFromProto(d, dbl, false); err != nil || d.Data[0] != 0.25 || d.Data[1] != -1 {
		t.Errorf("double data: %v %v", err, d.Data)
	}

	for _, tc := range []struct {
		bp   *pb.BlobProto
		want string
	}{
		{&pb.BlobProto{Shape: &pb.BlobShape{Dim: []int64{2, 2}}, Data: []float32{1, 2, 3}}, "blob of shape 2x2 needs 4 values but its data has 3"},
		{&pb.BlobProto{Shape: &pb.BlobShape{Dim: []int64{2, -2}}}, "blob dimension -2 at axis 1 is out of range"},
		{&pb.BlobProto{Num: proto.Int32(-1), Data: []float32{1}}, "blob dimension -1 at axis 0 is negative"},
		{&pb.BlobProto{Shape: &pb.BlobShape{Dim: []int64{1 << 20, 1 << 20}}}, "blob shape 1048576x1048576 has more than 2147483647 elements"},
		{&pb.BlobProto{Shape: &pb.BlobShape{Dim: []int64{1 << 40}}}, "blob dimension 1099511627776 at axis 0 is out of range"},
		{&pb.BlobProto{Shape: &pb.BlobShape{Dim: []int64{3}}}, "blob of shape 3 has no values"},
		{&pb.BlobProto{Shape: &pb.BlobShape{Dim: make([]int64, 33)}}, "blob has 33 axes; at most 32 are supported"},
	} {
		dst := tensor.New(7)
		err := BlobFromProto(dst, tc.bp, true)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: error %v, want %q", tc.bp, err, tc.want)
		}
		if !dst.ShapeEquals(7) {
			t.Errorf("%v: dst changed on error", tc.bp)
		}
	}

	// Legacy 4-D protos match blobs of up to 4 axes padded with leading 1s.
	leg := &pb.BlobProto{Num: proto.Int32(1), Channels: proto.Int32(1), Height: proto.Int32(2), Width: proto.Int32(3)}
	for _, c := range []struct {
		shape []int
		ok    bool
	}{{[]int{2, 3}, true}, {[]int{1, 2, 3}, true}, {[]int{1, 1, 2, 3}, true}, {[]int{3, 2}, false}, {[]int{1, 1, 1, 2, 3}, false}, {[]int{6}, false}} {
		if got := ShapeMatches(c.shape, leg); got != c.ok {
			t.Errorf("ShapeMatches(%v, 1x1x2x3) = %v", c.shape, got)
		}
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "net.prototxt")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	net, err := LoadNet(fixtures + "/reference-nets/examples/mnist/lenet.prototxt")
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteText(path, net); err != nil {
		t.Fatal(err)
	}
	back, err := LoadNet(path)
	if err != nil || !proto.Equal(back, net) {
		t.Fatalf("text write/read: %v", err)
	}
	bin := filepath.Join(dir, "net.caffemodel")
	if err := WriteBinary(bin, net); err != nil {
		t.Fatal(err)
	}
	back, err = LoadWeights(bin)
	if err != nil || !proto.Equal(back, net) {
		t.Fatalf("binary write/read: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want 2 (temporary files left?)", len(entries))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	if err := WriteBinary(filepath.Join(dir, "missing", "x"), net); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

func TestFormatFloat32RoundTrips(t *testing.T) {
	for _, c := range []struct {
		f    float32
		want string
	}{
		{0.00390625, "0.00390625"}, {1e-8, "1e-08"}, {0.1, "0.1"}, {0.9, "0.9"}, {5e-4, "0.0005"},
		{1, "1"}, {-2.5, "-2.5"}, {1e6, "1e+06"}, {123456, "123456"}, {1.0 / 3, "0.333333343"},
		{float32(math.Inf(1)), "inf"}, {float32(math.Inf(-1)), "-inf"},
	} {
		if got := FormatFloat32(c.f); got != c.want {
			t.Errorf("FormatFloat32(%v) = %q, want %q", c.f, got, c.want)
		}
	}
	// Every float32 bit pattern class reads back exactly.
	for bits := uint32(0); bits < 1<<32-1<<20; bits += 1<<20 + 12345 {
		f := math.Float32frombits(bits)
		if f != f {
			continue
		}
		var m pb.FillerParameter
		m.Std = &f
		var back pb.FillerParameter
		if err := UnmarshalText("f", MarshalText(&m), &back); err != nil || back.GetStd() != f {
			t.Fatalf("%v (bits %#x) printed as %q reads back as %v, %v", f, bits, MarshalText(&m), back.GetStd(), err)
		}
	}
}

func TestBinaryErrors(t *testing.T) {
	data, err := os.ReadFile(fixtures + "/lenet-fashion/lenet_fmnist_iter_10000.caffemodel")
	if err != nil {
		t.Fatal(err)
	}
	// Every truncation is an error, never a panic.
	for _, n := range []int{1, 2, 10, 100, 1000, 5000, len(data) / 2, len(data) - 1} {
		_, err := DecodeWeights(data[:n])
		if err == nil || !errors.Is(err, ErrTruncated) && !strings.Contains(err.Error(), "overruns") {
			t.Errorf("truncated to %d bytes: %v", n, err)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("multi-line error: %q", err)
		}
	}
	dir := t.TempDir()
	trunc := filepath.Join(dir, "t.caffemodel")
	if err := os.WriteFile(trunc, data[:len(data)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWeights(trunc); err == nil || !strings.HasPrefix(err.Error(), trunc+": corrupt protobuf at byte ") || !errors.Is(err, ErrTruncated) {
		t.Errorf("truncated file: %v", err)
	}

	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"huge length", []byte{0x12, 0xff, 0xff, 0xff, 0xff, 0x0f}, "unexpected end of input"},
		{"bad wire type", []byte{0x0f}, "invalid wire type 7 for field 1"},
		{"field zero", []byte{0x00, 0x01}, "invalid field number 0"},
		{"varint overflow", []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, "varint overflows 64 bits"},
		{"odd packed floats", []byte{0xa2, 0x06, 0x05, 0x3a, 0x03, 0x2a, 0x01, 0x00}, "is not a multiple of 4"},
		{"blob shape vs data", mustMarshal(t, &pb.NetParameter{Layer: []*pb.LayerParameter{{Name: proto.String("ip"), Type: proto.String("InnerProduct"),
			Blobs: []*pb.BlobProto{{Shape: &pb.BlobShape{Dim: []int64{2, 2}}, Data: []float32{1}}}}}}),
			`layer "ip" (InnerProduct) blob 0: blob of shape 2x2 needs 4 values but its data has 1`},
		{"negative dim", mustMarshal(t, &pb.NetParameter{Layer: []*pb.LayerParameter{{Name: proto.String("c"),
			Blobs: []*pb.BlobProto{{Shape: &pb.BlobShape{Dim: []int64{-1}}}}}}}), `layer "c" blob 0: blob dimension -1 at axis 0 is out of range`},
		{"missing required", mustMarshal(t, &pb.NetParameter{Layer: []*pb.LayerParameter{{ClipParam: &pb.ClipParameter{Min: proto.Float32(0)}}}}), "required field caffe.ClipParameter.max not set"},
	} {
		_, err := DecodeWeights(tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}

	hdf5 := filepath.Join(dir, "w.h5")
	os.WriteFile(hdf5, append([]byte("\x89HDF\r\n\x1a\n"), make([]byte, 100)...), 0o644)
	if _, err := LoadWeights(hdf5); err == nil || !strings.Contains(err.Error(), "is an HDF5 file") {
		t.Errorf("HDF5: %v", err)
	}
	if _, err := LoadNet(fixtures + "/lenet-fashion/lenet_fmnist_iter_10000.caffemodel"); err == nil ||
		!strings.HasSuffix(err.Error(), "(the file looks like a .caffemodel, not a text prototxt)") {
		t.Errorf("weights as net: %v", err)
	}
	text := fixtures + "/reference-nets/examples/mnist/lenet.prototxt"
	if _, err := LoadWeights(text); err == nil || !strings.Contains(err.Error(), "the file looks like text; expected a binary .caffemodel") {
		t.Errorf("text as weights: %v", err)
	}
	if _, err := LoadBlobProto(filepath.Join(dir, "missing.binaryproto")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := DecodeBlobProto([]byte{0x3a, 0x02, 0x08, 0x03, 0x2a, 0x04, 0, 0, 0, 0}); err == nil ||
		err.Error() != "blob of shape 3 needs 3 values but its data has 1" {
		t.Errorf("short mean blob: %v", err)
	}
	if _, err := DecodeSolverState(mustMarshal(t, &pb.SolverState{History: []*pb.BlobProto{{Shape: &pb.BlobShape{Dim: []int64{2}}, Data: []float32{1}}}})); err == nil ||
		err.Error() != "history blob 0: blob of shape 2 needs 2 values but its data has 1" {
		t.Errorf("bad history: %v", err)
	}
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadWeightsUnknownSize streams weights from a reader of unknown
// length, where buffers must grow as bytes arrive.
func TestReadWeightsUnknownSize(t *testing.T) {
	data, err := os.ReadFile(fixtures + "/cifar10-quick-init/cifar10_quick_init_iter_0.caffemodel")
	if err != nil {
		t.Fatal(err)
	}
	net, err := ReadWeights(struct{ *bytes.Reader }{bytes.NewReader(data)}, -1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := DecodeWeights(data)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(net, ref) {
		t.Fatal("unknown-size read differs")
	}
	if _, err := ReadWeights(bytes.NewReader(data[:len(data)-10]), -1); !errors.Is(err, ErrTruncated) {
		t.Errorf("truncated stream: %v", err)
	}
}

// TestBlobProtoFile reads a mean-image .binaryproto written with the legacy
// 4-D dimensions, as Caffe's compute_image_mean writes it.
func TestBlobProtoFile(t *testing.T) {
	mean := &pb.BlobProto{Num: proto.Int32(1), Channels: proto.Int32(3), Height: proto.Int32(4), Width: proto.Int32(5), Data: make([]float32, 60)}
	for i := range mean.Data {
		mean.Data[i] = 100 + float32(i)
	}
	path := filepath.Join(t.TempDir(), "mean.binaryproto")
	if err := WriteBinary(path, mean); err != nil {
		t.Fatal(err)
	}
	bp, err := LoadBlobProto(path)
	if err != nil {
		t.Fatal(err)
	}
	shape, err := BlobShape(bp)
	if err != nil || tensor.JoinDims(shape) != "1x3x4x5" || !proto.Equal(bp, mean) {
		t.Fatalf("shape %v, %v", shape, err)
	}
}

// TestBinaryUnknownFields checks that fields this schema does not know, of
// every wire type and at every level, are kept exactly as proto.Unmarshal
// keeps them and written back unchanged.
func TestBinaryUnknownFields(t *testing.T) {
	unknown := func(b []byte) []byte {
		b = protowire.AppendTag(b, 900, protowire.VarintType)
		b = append(b, 0xff, 0x00) // a non-minimal varint stays as written
		b = protowire.AppendTag(b, 901, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, 7)
		b = protowire.AppendTag(b, 902, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, 8)
		b = protowire.AppendTag(b, 903, protowire.BytesType)
		b = protowire.AppendBytes(b, []byte("xyz"))
		b = protowire.AppendTag(b, 904, protowire.StartGroupType)
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, 5)
		b = protowire.AppendTag(b, 2, protowire.StartGroupType)
		b = protowire.AppendTag(b, 2, protowire.EndGroupType)
		b = protowire.AppendTag(b, 904, protowire.EndGroupType)
		return b
	}
	blob := mustMarshal(t, &pb.BlobProto{Shape: &pb.BlobShape{Dim: []int64{2}}, Data: []float32{1, 2}})
	blob = unknown(blob)
	// An unpacked float element of data, which parsers must also accept.
	blob = protowire.AppendTag(blob, 5, protowire.Fixed32Type)
	blob = protowire.AppendFixed32(blob, math.Float32bits(3))
	blob = protowire.AppendTag(blob, 7, protowire.BytesType) // shape again: merged
	blob = protowire.AppendBytes(blob, mustMarshal(t, &pb.BlobShape{Dim: []int64{3}}))
	layer := mustMarshal(t, &pb.LayerParameter{Name: proto.String("l")})
	layer = protowire.AppendTag(layer, 7, protowire.BytesType)
	layer = protowire.AppendBytes(layer, blob)
	layer = unknown(layer)
	var net []byte
	net = protowire.AppendTag(net, 100, protowire.BytesType)
	net = protowire.AppendBytes(net, layer)
	net = unknown(net)

	got, ref := &pb.NetParameter{}, &pb.NetParameter{}
	if err := decodeBinary(bytes.NewReader(net), int64(len(net)), got); err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(net, ref); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, ref) {
		t.Fatal("streaming reader and proto.Unmarshal disagree on unknown fields")
	}
	b := got.Layer[0].Blobs[0]
	if len(b.Data) != 3 || b.Data[2] != 3 || len(b.Shape.Dim) != 2 {
		t.Errorf("blob %v", b)
	}
	if len(got.ProtoReflect().GetUnknown()) == 0 || len(b.ProtoReflect().GetUnknown()) == 0 {
		t.Error("unknown fields dropped")
	}
	out, err := proto.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, unknown(nil)) {
		t.Error("unknown fields not written back as read")
	}
	for _, bad := range [][]byte{
		append(protowire.AppendTag(nil, 904, protowire.StartGroupType), protowire.AppendTag(nil, 905, protowire.EndGroupType)...),
		protowire.AppendTag(nil, 904, protowire.EndGroupType),
		protowire.AppendTag(nil, 904, protowire.StartGroupType),
	} {
		if err := decodeBinary(bytes.NewReader(bad), int64(len(bad)), &pb.NetParameter{}); err == nil {
			t.Errorf("%x: no error for a malformed group", bad)
		}
	}
}

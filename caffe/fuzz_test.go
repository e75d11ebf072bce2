package caffe

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

// Fuzz targets. Seeds are the fixture and upgrade-test files plus small
// binary messages built here; crashers found while fuzzing are kept under
// testdata/fuzz/<Target>/ and replayed by plain `go test`.
//
//	go test -run '^$' -fuzz '^FuzzParseNet$' -fuzztime 2m ./caffe

func addTextSeeds(f *testing.F, solvers bool) {
	f.Helper()
	var files []string
	for _, pattern := range []string{"testdata/upgrade/*.prototxt", fixtures + "/*/*.prototxt", fixtures + "/*/*/*/*.prototxt", fixtures + "/*/*/*.prototxt"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	n := 0
	for _, path := range files {
		if isSolverFile(path) != solvers {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		n++
	}
	if n == 0 {
		f.Fatal("no seed files")
	}
}

// checkTextRoundTrip checks that whatever parses prints back to text that
// parses to the same message, and that printing is stable.
func checkTextRoundTrip(t *testing.T, m proto.Message) {
	text := MarshalText(m)
	back := m.ProtoReflect().New().Interface()
	if err := UnmarshalText("printed", text, back); err != nil {
		t.Fatalf("printed text does not parse: %v\n%s", err, text)
	}
	if !proto.Equal(m, back) {
		t.Fatalf("text round trip differs:\n%s", text)
	}
	if !bytes.Equal(MarshalText(back), text) {
		t.Fatalf("printing is not stable")
	}
	bin, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	again := m.ProtoReflect().New().Interface()
	if err := decodeBinary(bytes.NewReader(bin), int64(len(bin)), again); err != nil {
		t.Fatalf("binary of a parsed message does not decode: %v", err)
	}
	if !proto.Equal(m, again) {
		t.Fatalf("binary round trip differs")
	}
}

func checkSyntaxError(t *testing.T, err error) {
	var se *SyntaxError
	if errors.As(err, &se) {
		if se.Line < 1 || se.Col < 1 || strings.Contains(err.Error(), "\n") {
			t.Fatalf("bad error position or text: %q", err)
		}
	}
}

func FuzzParseNet(f *testing.F) {
	addTextSeeds(f, false)
	f.Fuzz(func(t *testing.T, text []byte) {
		raw := &pb.NetParameter{}
		err := UnmarshalText("fuzz.prototxt", text, raw)
		if err != nil {
			checkSyntaxError(t, err)
			return
		}
		checkTextRoundTrip(t, raw)
		net, err := ParseNet("fuzz.prototxt", text)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.prototxt: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("upgrade error without the file name or on several lines: %q", err)
			}
			return
		}
		if NetNeedsV0ToV1Upgrade(net) || NetNeedsV1ToV2Upgrade(net) || NetNeedsInputUpgrade(net) || NetNeedsDataUpgrade(net) {
			t.Fatalf("upgraded net still needs an upgrade:\n%s", MarshalText(net))
		}
		checkTextRoundTrip(t, net)
	})
}

func FuzzParseSolver(f *testing.F) {
	addTextSeeds(f, true)
	f.Fuzz(func(t *testing.T, text []byte) {
		sp, err := ParseSolver("fuzz.prototxt", text)
		if err != nil {
			checkSyntaxError(t, err)
			return
		}
		if sp.SolverType != nil {
			t.Fatal("solver_type left after upgrade")
		}
		checkTextRoundTrip(t, sp)
	})
}

// binarySeeds returns small binary messages of each kind.
func binarySeeds(t testing.TB) [][]byte {
	four := func(n, c, h, w int32) *pb.BlobProto {
		b := &pb.BlobProto{Num: &n, Channels: &c, Height: &h, Width: &w, Data: make([]float32, n*c*h*w)}
		for i := range b.Data {
			b.Data[i] = float32(i) - 1.5
		}
		return b
	}
	shaped := &pb.BlobProto{Shape: &pb.BlobShape{Dim: []int64{2, 3}}, Data: []float32{1, 2, 3, 4, 5, 6}, Diff: []float32{0, 0, 0, 0, 0, 1}}
	dbl := &pb.BlobProto{Shape: &pb.BlobShape{Dim: []int64{2}}, DoubleData: []float64{0.5, 1}, DoubleDiff: []float64{1, 2}}
	msgs := []proto.Message{
		shaped, dbl, four(1, 3, 2, 2),
		&pb.NetParameter{Name: proto.String("tiny"), Layer: []*pb.LayerParameter{
			{Name: proto.String("ip"), Type: proto.String("InnerProduct"), Bottom: []string{"x"}, Top: []string{"y"},
				Param: []*pb.ParamSpec{{LrMult: proto.Float32(1)}}, Blobs: []*pb.BlobProto{shaped, {Shape: &pb.BlobShape{Dim: []int64{2}}, Data: []float32{0, 1}}},
				InnerProductParam: &pb.InnerProductParameter{NumOutput: proto.Uint32(2)}},
			{Name: proto.String("c"), Type: proto.String("Clip"), ClipParam: &pb.ClipParameter{Min: proto.Float32(0), Max: proto.Float32(6)}},
		}},
		&pb.NetParameter{Input: []string{"data"}, InputDim: []int32{1, 1, 2, 2}, Layers: []*pb.V1LayerParameter{
			{Name: proto.String("fc"), Type: pb.V1LayerParameter_INNER_PRODUCT.Enum(), Bottom: []string{"data"}, Top: []string{"fc"},
				BlobsLr: []float32{1, 2}, Blobs: []*pb.BlobProto{four(1, 1, 2, 4), four(1, 1, 1, 2)}},
			{Layer: &pb.V0LayerParameter{Name: proto.String("r"), Type: proto.String("relu")}, Bottom: []string{"fc"}, Top: []string{"fc"}},
		}},
		&pb.SolverState{Iter: proto.Int32(7), LearnedNet: proto.String("w.caffemodel"), History: []*pb.BlobProto{shaped, dbl}, CurrentStep: proto.Int32(1)},
	}
	var seeds [][]byte
	for _, m := range msgs {
		seeds = append(seeds, mustMarshal(t, m))
	}
	// The head of a real Caffe file: layer headers and the start of a blob.
	if data, err := os.ReadFile(fixtures + "/lenet-fashion/lenet_fmnist_iter_10000.caffemodel"); err == nil {
		seeds = append(seeds, data[:600])
	} else {
		t.Fatal(err)
	}
	return seeds
}

// checkBinary decodes data with the streaming reader and with
// proto.Unmarshal and checks that they agree.
func checkBinary(t *testing.T, data []byte, m proto.Message) {
	err := decodeBinary(bytes.NewReader(data), int64(len(data)), m)
	ref := m.ProtoReflect().New().Interface()
	refErr := proto.Unmarshal(data, ref)
	if (err == nil) != (refErr == nil) {
		t.Fatalf("streaming reader error %v, proto.Unmarshal error %v", err, refErr)
	}
	if err != nil {
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
		return
	}
	if !proto.Equal(m, ref) {
		t.Fatalf("streaming reader and proto.Unmarshal disagree")
	}
	// Unknown-size streams decode the same.
	again := m.ProtoReflect().New().Interface()
	if err := decodeBinary(struct{ *bytes.Reader }{bytes.NewReader(data)}, -1, again); err != nil || !proto.Equal(again, m) {
		t.Fatalf("unknown-size decode differs: %v", err)
	}
}

func FuzzLoadWeights(f *testing.F) {
	for _, s := range binarySeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkBinary(t, data, &pb.NetParameter{})
		net, err := DecodeWeights(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		for _, l := range net.Layer {
			for _, b := range l.Blobs {
				if err := ValidateBlobProto(b); err != nil {
					t.Fatalf("accepted an invalid blob: %v", err)
				}
			}
		}
	})
}

func FuzzLoadBlobProto(f *testing.F) {
	for _, s := range binarySeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkBinary(t, data, &pb.BlobProto{})
		bp, err := DecodeBlobProto(data)
		if err != nil {
			return
		}
		// A valid blob with values loads into a tensor; one without values
		// is refused before anything is allocated for it.
		shape, err := BlobShape(bp)
		if err != nil {
			t.Fatal(err)
		}
		count, _ := checkShape(shape)
		dst := &tensor.Blob{}
		err = BlobFromProto(dst, bp, true)
		hasValues := len(bp.Data) > 0 || len(bp.DoubleData) > 0 || count == 0
		if hasValues != (err == nil) {
			t.Fatalf("BlobFromProto of a %d-element blob with %d values: %v", count, max(len(bp.Data), len(bp.DoubleData)), err)
		}
		if err == nil && dst.Count() != count {
			t.Fatalf("loaded %d elements, want %d", dst.Count(), count)
		}
	})
}

func FuzzLoadSolverState(f *testing.F) {
	for _, s := range binarySeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkBinary(t, data, &pb.SolverState{})
		_, _ = DecodeSolverState(data)
	})
}

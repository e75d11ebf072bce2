package caffe

import (
	"errors"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe/pb"
)

// TestTextLeniency checks the syntax the C++ TextFormat parser accepts and
// Caffe's files rely on.
func TestTextLeniency(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       *pb.NetParameter
	}{
		{"comments and separators", "# a net\nname: 'x' ; # trailing\nforce_backward: true,\n",
			&pb.NetParameter{Name: proto.String("x"), ForceBackward: proto.Bool(true)}},
		{"colon before message, angle brackets", `layer: { name: "a" } layer < name: "b" >`,
			&pb.NetParameter{Layer: []*pb.LayerParameter{{Name: proto.String("a")}, {Name: proto.String("b")}}}},
		{"lists", `input_dim: [1, 3, 5] input: [] layer: [{name: "a"}, {name: "b"}]`,
			&pb.NetParameter{InputDim: []int32{1, 3, 5}, Layer: []*pb.LayerParameter{{Name: proto.String("a")}, {Name: proto.String("b")}}}},
		{"string escapes and concatenation", `name: "a\tb\"c" '\'d\x41\101\u00e9' "\n"`,
			&pb.NetParameter{Name: proto.String("a\tb\"c'dAA\u00e9\n")}},
		{"integers", `input_dim: 0x10 input_dim: 010 input_dim: -2147483648 input_dim: 2147483647 input_dim: - 7`,
			&pb.NetParameter{InputDim: []int32{16, 8, math.MinInt32, math.MaxInt32, -7}}},
		{"bools", `force_backward: t debug_info: 0`,
			&pb.NetParameter{ForceBackward: proto.Bool(true), DebugInfo: proto.Bool(false)}},
		{"enum by name and number", `state { phase: TRAIN } layer { phase: 1 }`,
			&pb.NetParameter{State: &pb.NetState{Phase: pb.Phase_TRAIN.Enum()}, Layer: []*pb.LayerParameter{{Phase: pb.Phase_TEST.Enum()}}}},
		{"floats", `layer { loss_weight: 1 loss_weight: 1.5e-3 loss_weight: .5 loss_weight: 2. loss_weight: 1e2 loss_weight: -0.25f loss_weight: 3F loss_weight: 18446744073709551616 }`,
			&pb.NetParameter{Layer: []*pb.LayerParameter{{LossWeight: []float32{1, 1.5e-3, .5, 2, 100, -0.25, 3, 18446744073709551616}}}}},
		{"special floats", `layer { loss_weight: inf loss_weight: -Infinity loss_weight: 1e999 }`,
			&pb.NetParameter{Layer: []*pb.LayerParameter{{LossWeight: []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Inf(1))}}}}},
		{"int64 extremes", `input_shape { dim: -9223372036854775808 dim: 9223372036854775807 }`,
			&pb.NetParameter{InputShape: []*pb.BlobShape{{Dim: []int64{math.MinInt64, math.MaxInt64}}}}},
		{"empty input", "  \n# nothing\n", &pb.NetParameter{}},
		{"byte order mark", "\xef\xbb\xbfname: \"bom\"", &pb.NetParameter{Name: proto.String("bom")}},
	} {
		got := &pb.NetParameter{}
		if err := UnmarshalText("t", []byte(tc.text), got); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !proto.Equal(got, tc.want) {
			t.Errorf("%s: got\n%s\nwant\n%s", tc.name, MarshalText(got), MarshalText(tc.want))
		}
	}
	nan := &pb.NetParameter{}
	if err := UnmarshalText("t", []byte("layer { loss_weight: nan loss_weight: -NaN }"), nan); err != nil ||
		!math.IsNaN(float64(nan.Layer[0].LossWeight[0])) || !math.IsNaN(float64(nan.Layer[0].LossWeight[1])) {
		t.Errorf("nan: %v %v", err, nan)
	}
	if string(MarshalText(nan)) != "layer {\n  loss_weight: nan\n  loss_weight: nan\n}\n" {
		t.Errorf("nan printed as %q", MarshalText(nan))
	}
}

// TestTextErrors checks that every kind of error reads FILE:LINE:COL and
// names the layer it is in.
func TestTextErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"layer {\n  name: \"conv1\"\n  type: \"Convolution\"\n  convolution_param { kernelsize: 5 }\n}",
			`net.prototxt:4:23: layer "conv1" (Convolution): unknown field "kernelsize" in ConvolutionParameter; did you mean "kernel_size"?`},
		// The name and type are found even when they come after the error.
		{"layer {\n  bogus: 1\n  name: \"ip\" type: \"InnerProduct\"\n}",
			`net.prototxt:2:3: layer "ip" (InnerProduct): unknown field "bogus" in LayerParameter`},
		{"layers {\n  name: \"old\"\n  type: CONVOLUTION\n  blobs_lr: x\n}",
			`net.prototxt:4:13: layer "old" (CONVOLUTION): invalid value for "blobs_lr": expected a number, found "x"`},
		{"layers { layer { name: \"v0\" type: \"conv\" kernel_size: 3 } }",
			`net.prototxt:1:42: layer "v0" (conv): unknown field "kernel_size" in V0LayerParameter; did you mean "kernelsize"?`},
		{"name: \"n\"\nlayer {\n  name: \"p\"\n  type: \"Pooling\"\n  pooling_param { pool: MEAN }\n}",
			`net.prototxt:5:25: layer "p" (Pooling): unknown value "MEAN" for enum field "pool"; expected one of MAX, AVE, STOCHASTIC`},
		{"layer { name: \"c\" type: \"Clip\" clip_param { min: 0 } }",
			`net.prototxt:1:52: layer "c" (Clip): missing required field "max" in ClipParameter`},
		{"layer { name: \"a\" name: \"b\" }", `net.prototxt:1:19: layer "a": non-repeated field "name" is specified more than once`},
		{"layer { name: \"a\"", `net.prototxt:1:18: layer "a": unexpected end of file: expected "}" to close LayerParameter`},
		{"layer { name \"a\" }", `net.prototxt:1:14: layer: expected ':' after field name "name", found string "a"`},
		{"name: \"a", `net.prototxt:1:7: string literal is not terminated on its line`},
		{"name: \"a\nb\"", `net.prototxt:1:7: string literal is not terminated on its line`},
		{"input_dim: 3000000000", `net.prototxt:1:12: value "3000000000" out of range for int32 field "input_dim"`},
		{"input_dim: -2147483649", `net.prototxt:1:12: value "-2147483649" out of range for int32 field "input_dim"`},
		{"layer { convolution_param { num_output: -1 } }", `net.prototxt:1:41: layer: invalid value for "num_output": expected a non-negative integer, found "-1"`},
		{"input_dim: 1.5", `net.prototxt:1:12: invalid value for "input_dim": expected an integer, found "1.5"`},
		{"input_dim: 09", `net.prototxt:1:12: invalid octal number "09"`},
		{"input_dim: 5abc", `net.prototxt:1:12: malformed number "5a": need space between a number and what follows`},
		{"layer { loss_weight: 0x10 }", `net.prototxt:1:22: layer: invalid value for "loss_weight": expected a decimal number, found "0x10"`},
		{"force_backward: yes", `net.prototxt:1:17: invalid value for "force_backward": expected true or false, found "yes"`},
		{"name: 5", `net.prototxt:1:7: invalid value for "name": expected a quoted string, found "5"`},
		{"state { phase: 7 }", `net.prototxt:1:16: unknown value "7" for enum field "phase"; expected one of TRAIN, TEST`},
		{"name: [\"a\"]", `net.prototxt:1:7: field "name" is not repeated; a [...] list cannot be used`},
		{"input_dim: [1 2]", `net.prototxt:1:15: expected ',' or ']' in the list of "input_dim", found "2"`},
		{"}", `net.prototxt:1:1: unexpected "}": no message is open`},
		{"layers { name: \"c\" type: \"Convolution\" }", `net.prototxt:1:26: layer "c" (Convolution): V1 'layers' entries take an enum type such as CONVOLUTION, not the string "Convolution"; write V2 layers as 'layer { type: "Convolution" }'`},
		{"[caffe.ext]: 1", `net.prototxt:1:1: extensions and Any expansions are not supported`},
		{"layer 5", `net.prototxt:1:7: expected '{' to open "layer" (LayerParameter), found "5"`},
		{"name: \"\\q\"", `net.prototxt:1:8: invalid escape sequence \q in string`},
		{"name: \"a\\\nb\"", `net.prototxt:1:7: string literal is not terminated on its line`},
		{"name: \"\\\x01\"", `net.prototxt:1:8: invalid escape sequence: backslash before byte 0x01 in string`},
		{"layer { type: \"a\\nb\" bogus: 1 }", `net.prototxt:1:22: layer ("a\nb"): unknown field "bogus" in LayerParameter`},
		{"name: \"\xff\"", ``}, // raw bytes inside a string are allowed, as in C++
		{"\xff", `net.prototxt:1:1: invalid byte 0xff`},
		{"name: \"x\" \u00e9", `net.prototxt:1:11: unexpected character "é"`},
	} {
		err := UnmarshalText("net.prototxt", []byte(tc.text), &pb.NetParameter{})
		got := ""
		if err != nil {
			got = err.Error()
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("%q: error is %T, not *SyntaxError", tc.text, err)
			}
		}
		if got != tc.want {
			t.Errorf("%q:\n got  %s\n want %s", tc.text, got, tc.want)
		}
	}
}

func TestTextPrinter(t *testing.T) {
	m := &pb.NetParameter{
		Name: proto.String("n\"\x01é"),
		Layer: []*pb.LayerParameter{{
			Name:             proto.String("c"),
			Phase:            pb.Phase_TEST.Enum(),
			Blobs:            []*pb.BlobProto{{Shape: &pb.BlobShape{Dim: []int64{2}}, Data: []float32{0.1, -3}}},
			ConvolutionParam: &pb.ConvolutionParameter{KernelSize: []uint32{3}, WeightFiller: &pb.FillerParameter{}},
		}},
		ForceBackward: proto.Bool(false),
	}
	want := `name: "n\"\001\303\251"
force_backward: false
layer {
  name: "c"
  blobs {
    data: 0.1
    data: -3
    shape {
      dim: 2
    }
  }
  phase: TEST
  convolution_param {
    kernel_size: 3
    weight_filler {
    }
  }
}
`
	if got := string(MarshalText(m)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

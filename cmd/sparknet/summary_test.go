package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const referenceNets = "../../testdata/caffe/reference-nets"

// runSummaryArgs runs `sparknet summary` with all its flags given (the flag
// variables are shared between runs) and returns its output.
func runSummaryArgs(t *testing.T, model, phase, format, shapes string) string {
	t.Helper()
	var out bytes.Buffer
	old := summaryStdout
	summaryStdout = &out
	defer func() { summaryStdout = old }()
	args := []string{"summary", "-model", model, "-phase", phase, "-format", format, "-input-shape", shapes, "-weights", "", "-stage", "", "-level", "0"}
	if code := run(args); code != 0 {
		t.Fatalf("sparknet %s: exit status %d", strings.Join(args, " "), code)
	}
	return out.String()
}

// The top shapes Caffe reports for the deploy nets (the README of the
// reference nets).
func TestSummaryShapesMatchCaffe(t *testing.T) {
	cases := map[string]map[string]string{
		"examples/mnist/lenet.prototxt": {
			"data": "64x1x28x28", "conv1": "64x20x24x24", "pool1": "64x20x12x12", "conv2": "64x50x8x8",
			"pool2": "64x50x4x4", "ip1": "64x500", "ip2": "64x10", "prob": "64x10",
		},
		"examples/cifar10/cifar10_quick.prototxt": {
			"data": "1x3x32x32", "conv1": "1x32x32x32", "pool1": "1x32x16x16", "conv2": "1x32x16x16",
			"pool2": "1x32x8x8", "conv3": "1x64x8x8", "pool3": "1x64x4x4", "ip1": "1x64", "ip2": "1x10",
		},
		"models/bvlc_reference_caffenet/deploy.prototxt": {
			"data": "10x3x227x227", "conv1": "10x96x55x55", "pool1": "10x96x27x27", "conv2": "10x256x27x27",
			"pool2": "10x256x13x13", "conv3": "10x384x13x13", "conv5": "10x256x13x13", "pool5": "10x256x6x6",
			"fc6": "10x4096", "fc8": "10x1000",
		},
	}
	for file, want := range cases {
		out := runSummaryArgs(t, filepath.Join(referenceNets, file), "TEST", "tsv", "")
		got := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Split(line, "\t")
			if len(f) != 4 {
				t.Fatalf("%s: line %q does not have 4 fields", file, line)
			}
			got[f[2]] = f[3]
		}
		for top, shape := range want {
			if got[top] != shape {
				t.Errorf("%s: top %s is %q, Caffe has %s", file, top, got[top], shape)
			}
		}
	}
}

func TestSummaryAllReferenceNets(t *testing.T) {
	var nets []string
	filepath.WalkDir(referenceNets, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".prototxt") && !strings.Contains(path, "solver") {
			nets = append(nets, path)
		}
		return nil
	})
	if len(nets) < 8 {
		t.Fatalf("found only %d reference nets", len(nets))
	}
	for _, n := range nets {
		// CaffeNet's train_val net has batches of 256 and 50 images: a
		// small batch of the same images keeps the test light.
		shapes := ""
		if strings.HasSuffix(n, "caffenet/train_val.prototxt") {
			shapes = "data=2x3x227x227,label=2"
		}
		for _, phase := range []string{"TRAIN", "TEST"} {
			out := runSummaryArgs(t, n, phase, "text", shapes)
			if !strings.Contains(out, "Total parameters:") {
				t.Errorf("%s %s: no totals in\n%s", n, phase, out)
			}
		}
	}
}

func TestSummaryTrainTestNet(t *testing.T) {
	// The TEST phase of LeNet's train_test net: its Data layer is missing, so
	// it becomes synthetic input (listed with its declared type); the split
	// of the labels is not listed.
	out := runSummaryArgs(t, filepath.Join(referenceNets, "examples/mnist/lenet_train_test.prototxt"), "TEST", "tsv", "")
	want := `mnist	Data	data	100x1x28x28
mnist	Data	label	100
conv1	Convolution	conv1	100x20x24x24
pool1	Pooling	pool1	100x20x12x12
conv2	Convolution	conv2	100x50x8x8
pool2	Pooling	pool2	100x50x4x4
ip1	InnerProduct	ip1	100x500
relu1	ReLU	ip1	100x500
ip2	InnerProduct	ip2	100x10
accuracy	Accuracy	accuracy	
loss	SoftmaxWithLoss	loss	
`
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	// -input-shape overrides the guess.
	out = runSummaryArgs(t, filepath.Join(referenceNets, "examples/mnist/lenet_train_test.prototxt"), "TRAIN", "tsv", "data=8x1x32x32,label=8")
	if !strings.Contains(out, "conv1\tConvolution\tconv1\t8x20x28x28\n") {
		t.Errorf("with -input-shape data=8x1x32x32:\n%s", out)
	}
	text := runSummaryArgs(t, filepath.Join(referenceNets, "examples/mnist/lenet.prototxt"), "TEST", "text", "")
	for _, s := range []string{"conv1 (Convolution)", "431,080", "Forward multiply-adds: 146,752,000"} {
		if !strings.Contains(text, s) {
			t.Errorf("text summary lacks %q:\n%s", s, text)
		}
	}
}

func TestSummaryUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"summary", "-model", ""},
		{"summary", "-model", "x.prototxt", "-format", "xml"},
		{"summary", "-model", "x.prototxt", "-format", "tsv", "-phase", "VAL"},
	} {
		if code := run(args); code != 2 {
			t.Errorf("%v: exit status %d, want 2", args, code)
		}
	}
	if code := run([]string{"summary", "-model", "/nonexistent.prototxt", "-phase", "TEST", "-format", "tsv"}); code != 1 {
		t.Errorf("missing model: exit status %d, want 1", code)
	}
}

package nn

import (
	"math"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/data"
	"github.com/sparknet/sparknet/layers"
)

const (
	fixtures     = "../testdata/caffe"
	fashionMNIST = "/usr/share/datasets/fashion-mnist"
)

// withMemoryData replaces the net's Data layers by MemoryData layers of the
// same name, batch size and 1x28x28 examples (the caller applies the
// transform_param scale itself, as Caffe's transformer would).
func withMemoryData(np *pb.NetParameter) {
	for _, l := range np.Layer {
		if l.GetType() != "Data" {
			continue
		}
		l.Type = proto.String("MemoryData")
		l.MemoryDataParam = &pb.MemoryDataParameter{
			BatchSize: proto.Uint32(l.GetDataParam().GetBatchSize()),
			Channels:  proto.Uint32(1), Height: proto.Uint32(28), Width: proto.Uint32(28),
		}
		l.DataParam, l.TransformParam = nil, nil
	}
}

// TestGoldenLeNetFashionMNIST runs Caffe's `caffe test` on the trained
// LeNet over the 10,000 Fashion-MNIST test images and compares with the
// numbers Caffe printed: accuracy = 0.8951, loss = 0.325343.
func TestGoldenLeNetFashionMNIST(t *testing.T) {
	dir := filepath.Join(fixtures, "lenet-fashion")
	np, err := caffe.LoadNet(filepath.Join(dir, "lenet_fmnist_train_test.prototxt"))
	if err != nil {
		t.Fatal(err)
	}
	withMemoryData(np)
	net, err := New(np, &pb.NetState{Phase: pb.Phase_TEST.Enum()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := caffe.LoadWeights(filepath.Join(dir, "lenet_fmnist_iter_10000.caffemodel"))
	if err != nil {
		t.Fatal(err)
	}
	if err := net.CopyTrainedLayersFrom(w); err != nil {
		t.Fatal(err)
	}
	dims, pixels, err := data.ReadIDX(filepath.Join(fashionMNIST, "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	_, labels, err := data.ReadIDX(filepath.Join(fashionMNIST, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	n := dims[0]
	x := make([]float32, len(pixels))
	for i, v := range pixels {
		x[i] = float32(v) * 0.00390625 // Caffe's DataTransformer: float(uint8) * scale
	}
	y := make([]float32, len(labels))
	for i, v := range labels {
		y[i] = float32(v)
	}
	md, ok := net.Layer("mnist").(*layers.MemoryData)
	if !ok {
		t.Fatalf("layer mnist is %T, want *layers.MemoryData", net.Layer("mnist"))
	}
	if err := md.Reset(x, y, n); err != nil {
		t.Fatal(err)
	}
	iters := n / md.BatchSize()
	names := net.OutputNames()
	sums := make([]float64, len(names))
	var lossSum float64
	for it := 0; it < iters; it++ {
		loss, err := net.Forward()
		if err != nil {
			t.Fatal(err)
		}
		lossSum += float64(loss)
		for j, b := range net.Outputs() {
			sums[j] += float64(b.Data[0])
		}
	}
	got := map[string]float64{}
	for j, name := range names {
		got[name] = sums[j] / float64(iters)
	}
	t.Logf("iterations %d: accuracy %.6f, loss %.6f (Caffe: 0.8951, 0.325343)", iters, got["accuracy"], got["loss"])
	if math.Abs(got["accuracy"]-0.8951) > 1e-4 || math.Abs(got["loss"]-0.325343) > 1e-4 {
		t.Errorf("accuracy %.6f loss %.6f, want 0.8951 and 0.325343 (+-1e-4)", got["accuracy"], got["loss"])
	}
	if math.Abs(lossSum/float64(iters)-got["loss"]) > 1e-6 {
		t.Errorf("Forward's loss %g differs from the loss output %g", lossSum/float64(iters), got["loss"])
	}
}
